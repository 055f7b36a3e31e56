//! End to end, calendar mirroring (`GHL_CALENDAR_ID`): a booking creates the
//! GHL calendar event (its id stored on the appointment); a confirmation made in
//! GHL (signed AppointmentUpdate) confirms ours without bouncing back; our
//! cancellation sets the event's status in ghl-sim, and GHL's webhook about that
//! write is recognised as our own (`unchanged`). Without `GHL_CALENDAR_ID` no
//! calendar call is made.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use anyhow::Result;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use tests::webhook::{Signer, wait_for_drained_queue};
use tests::{LOCATION_ID, Stack};

const CALENDAR: &str = "cal-e2e-1";

async fn stored_event_id(stack: &Stack, appointment: &str) -> Result<Option<String>> {
    let url = &stack.db.as_ref().unwrap().url;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let id: Option<String> =
        sqlx::query_scalar("SELECT ghl_appointment_id FROM appointments WHERE id = $1::uuid")
            .bind(appointment)
            .fetch_one(&mut conn)
            .await?;
    Ok(id)
}

fn start_in_days(days: i64) -> DateTime<Utc> {
    (Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
        .unwrap()
}

async fn book(
    stack: &Stack,
    contact: &str,
    email: &str,
    start: DateTime<Utc>,
) -> Result<(String, String)> {
    let (status, created) = stack
        .send(
            Method::POST,
            "/api/appointments",
            &json!({
                "customer": {"name": "Jan Jansen", "email": email, "address": "Dorpsstraat 1, Utrecht"},
                "serviceType": "maintenance",
                "startTime": start.to_rfc3339(),
                "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
                "ghlContactId": contact,
            }),
        )
        .await?;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let job = created["syncJobId"].as_str().unwrap().to_owned();
    let sync = stack.wait_for_sync(&id, &job).await?;
    assert_eq!(sync["status"], "succeeded", "{sync}");
    Ok((id, job))
}

fn appointment_update(webhook_id: &str, event: &Value, status: &str) -> Value {
    let mut appointment = event.clone();
    appointment["appointmentStatus"] = json!(status);
    appointment["dateUpdated"] = json!(Utc::now().to_rfc3339());
    json!({
        "type": "AppointmentUpdate",
        "locationId": LOCATION_ID,
        "webhookId": webhook_id,
        "timestamp": Utc::now().to_rfc3339(),
        "appointment": appointment,
    })
}

#[tokio::test]
async fn bookings_are_mirrored_into_the_ghl_calendar_and_status_flows_both_ways() -> Result<()> {
    let signer = Signer::new()?;
    let stack = Stack::start_configured(
        &[("GHL_WEBHOOK_ED25519_PUBLIC_KEY", signer.pem())],
        &[("GHL_CALENDAR_ID", CALENDAR.to_owned())],
    )
    .await?;
    let contact = stack.seed_contact("jan@example.com").await?;
    let start = start_in_days(4);
    let (id, create_job) = book(&stack, &contact, "jan@example.com", start).await?;

    // The booking created one event in the configured calendar, linked here.
    let events = stack.sim_contact(&contact).await?["appointments"].clone();
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
    let event = events[0].clone();
    assert_eq!(event["calendarId"], CALENDAR);
    assert_eq!(event["contactId"], contact.as_str());
    assert_eq!(event["appointmentStatus"], "new");
    assert!(
        event["title"]
            .as_str()
            .unwrap()
            .starts_with("maintenance [booking "),
        "{event}"
    );
    let starts: DateTime<Utc> = event["startTime"].as_str().unwrap().parse()?;
    assert_eq!(starts, start);
    let event_id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(
        stored_event_id(&stack, &id).await?.as_deref(),
        Some(event_id.as_str())
    );
    let calendar_calls: Vec<Value> = stack
        .sim_calls()
        .await?
        .into_iter()
        .filter(|c| {
            c["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/calendars/"))
        })
        .collect();
    assert_eq!(calendar_calls.len(), 1, "{calendar_calls:?}");
    assert_eq!(calendar_calls[0]["status"], 200);

    // GHL: the appointment was confirmed there. Applied here, nothing written back.
    wait_for_drained_queue(&stack).await?;
    let before = stack.sim_calls().await?.len();
    let confirmed = appointment_update("e2e-cal-confirmed", &event, "confirmed");
    let (status, answer) = signer.deliver(&stack, &confirmed).await?;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    let (_, appointment) = stack.get(&format!("/api/appointments/{id}")).await?;
    assert_eq!(appointment["status"], "confirmed");
    assert_eq!(
        appointment["sync"]["jobId"],
        create_job.as_str(),
        "no sync job for a GHL change"
    );
    wait_for_drained_queue(&stack).await?;
    assert_eq!(
        stack.sim_calls().await?.len(),
        before,
        "the GHL confirmation bounced back"
    );

    // Ours: cancelled here → the event's status in GHL follows.
    let (status, cancelled) = stack
        .send(
            Method::PATCH,
            &format!("/api/appointments/{id}/status"),
            &json!({"status": "cancelled", "reason": "moved abroad"}),
        )
        .await?;
    assert_eq!(status, 200, "{cancelled}");
    let cancel_job = cancelled["syncJobId"].as_str().unwrap().to_owned();
    let sync = stack.wait_for_sync(&id, &cancel_job).await?;
    assert_eq!(sync["status"], "succeeded", "{sync}");
    let events = stack.sim_contact(&contact).await?["appointments"].clone();
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(1),
        "updated, not created again: {events}"
    );
    assert_eq!(events[0]["id"], event_id.as_str());
    assert_eq!(events[0]["appointmentStatus"], "cancelled");

    // GHL's webhook about our own write is recognised and changes nothing.
    wait_for_drained_queue(&stack).await?;
    let before = stack.sim_calls().await?.len();
    let echo = appointment_update("e2e-cal-echo", &events[0], "cancelled");
    let (status, answer) = signer.deliver(&stack, &echo).await?;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("unchanged")),
        "{answer}"
    );
    let (_, appointment) = stack.get(&format!("/api/appointments/{id}")).await?;
    assert_eq!(appointment["sync"]["jobId"], cancel_job.as_str());
    wait_for_drained_queue(&stack).await?;
    assert_eq!(
        stack.sim_calls().await?.len(),
        before,
        "the echo bounced back"
    );
    stack.stop().await
}

#[tokio::test]
async fn without_a_calendar_id_no_calendar_call_is_made() -> Result<()> {
    let stack = Stack::start().await?;
    let contact = stack.seed_contact("piet@example.com").await?;
    let (id, _) = book(&stack, &contact, "piet@example.com", start_in_days(5)).await?;
    let calls = stack.sim_calls().await?;
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c["path"]
            .as_str()
            .is_some_and(|p| !p.starts_with("/calendars/") && !p.ends_with("/appointments"))),
        "{calls:?}"
    );
    assert_eq!(
        stack.sim_contact(&contact).await?["appointments"],
        json!([])
    );
    assert_eq!(stored_event_id(&stack, &id).await?, None);
    stack.stop().await
}

//! End to end, GHL → booking: a signed AppointmentUpdate ("confirmed in GHL")
//! reaches the real api; the appointment is confirmed here, and nothing is
//! written back to GHL (no ping-pong): once the worker has drained the queue,
//! ghl-sim has received no call beyond those of the booking itself.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use anyhow::Result;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tests::webhook::{Signer, wait_for_drained_queue};
use tests::{LOCATION_ID, Stack};

fn writes(calls: &[Value]) -> usize {
    calls
        .iter()
        .filter(|c| c["method"].as_str().is_some_and(|m| m != "GET"))
        .count()
}

#[tokio::test]
async fn an_appointment_confirmed_in_ghl_is_confirmed_here_without_bouncing_back() -> Result<()> {
    let signer = Signer::new()?;
    let stack =
        Stack::start_configured(&[("GHL_WEBHOOK_ED25519_PUBLIC_KEY", signer.pem())], &[]).await?;
    let contact = stack.seed_contact("jan@example.com").await?;
    let start = (Utc::now() + chrono::Duration::days(4))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
        .unwrap();
    let (status, created) = stack
        .send(
            Method::POST,
            "/api/appointments",
            &json!({
                "customer": {"name": "Jan Jansen", "email": "jan@example.com"},
                "serviceType": "maintenance",
                "startTime": start.to_rfc3339(),
                "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
                "ghlContactId": contact,
            }),
        )
        .await?;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let create_job = created["syncJobId"].as_str().unwrap().to_owned();
    let sync = stack.wait_for_sync(&id, &create_job).await?;
    assert_eq!(sync["status"], "succeeded", "{sync}");
    let before = stack.sim_calls().await?;
    let tags_after_booking = stack.sim_contact(&contact).await?["contact"]["tags"].clone();

    // GHL: the appointment was confirmed there.
    let confirmed = json!({
        "type": "AppointmentUpdate",
        "locationId": LOCATION_ID,
        "webhookId": "e2e-appointment-confirmed",
        "timestamp": Utc::now().to_rfc3339(),
        "appointment": {
            "id": "ghl-event-1",
            "calendarId": "cal-1",
            "contactId": contact,
            "appointmentStatus": "confirmed",
            "startTime": start.to_rfc3339(),
            "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
            "dateUpdated": Utc::now().to_rfc3339(),
        }
    });
    let (status, answer) = signer.deliver(&stack, &confirmed).await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "applied");
    // GHL delivers it again (a retry): nothing changes.
    let (status, answer) = signer.deliver(&stack, &confirmed).await?;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );

    // Our writes coming back: GHL reports the tags the worker wrote for the booking.
    let echo = json!({
        "type": "ContactTagUpdate",
        "locationId": LOCATION_ID,
        "webhookId": "e2e-tags-echo",
        "timestamp": Utc::now().to_rfc3339(),
        "id": contact,
        "email": "jan@example.com",
        "tags": tags_after_booking,
    });
    let (status, answer) = signer.deliver(&stack, &echo).await?;
    assert_eq!(status, 200, "{answer}");

    let (_, appointment) = stack.get(&format!("/api/appointments/{id}")).await?;
    assert_eq!(appointment["status"], "confirmed");
    assert_eq!(
        appointment["sync"]["jobId"], create_job,
        "a change that came from GHL enqueues no sync job"
    );
    wait_for_drained_queue(&stack).await?;
    let after = stack.sim_calls().await?;
    assert_eq!(writes(&after), writes(&before), "ghl-sim received writes");
    assert_eq!(
        after.len(),
        before.len(),
        "ghl-sim received calls after the GHL-side confirmation: {:?}",
        after.get(before.len()..)
    );
    // The api logged what happened by id and outcome, never the person.
    let logs = stack.api.logs();
    assert!(logs.contains("webhook applied"), "{logs}");
    assert!(logs.contains("e2e-appointment-confirmed") || logs.contains("AppointmentUpdate"));
    assert!(
        !logs.contains("jan@example.com"),
        "personal data in the api log"
    );
    stack.stop().await
}

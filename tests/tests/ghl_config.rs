//! A misconfigured custom field produces one clear, actionable error: the job is
//! dead-lettered on its first attempt, not retried.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use anyhow::Result;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::json;
use tests::{LOCATION_ID, Stack};

#[tokio::test]
async fn a_configured_field_that_ghl_lacks_dead_letters_the_job_at_once() -> Result<()> {
    let stack = Stack::start_with(&[(
        "GHL_FIELD_APPOINTMENT_STATUS",
        "appointment_stage".to_owned(),
    )])
    .await?;
    let contact = stack.seed_contact("field@example.com").await?;
    let start = (Utc::now() + chrono::Duration::days(3))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
        .unwrap();
    let body = json!({
        "customer": {"name": "Field Test", "email": "field@example.com"},
        "serviceType": "maintenance",
        "startTime": start.to_rfc3339(),
        "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
        "ghlContactId": contact,
    });
    let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
    assert_eq!(status, 201, "{created}");
    let sync = stack
        .wait_for_sync(
            created["id"].as_str().unwrap(),
            created["syncJobId"].as_str().unwrap(),
        )
        .await?;

    assert_eq!(sync["status"], "dead", "{sync}");
    assert_eq!(sync["attempts"], 1, "{sync}");
    assert_eq!(sync["errorClass"], "validation", "{sync}");
    assert_eq!(
        sync["lastError"],
        format!(
            "custom field `appointment_stage` does not exist in GHL location \
             {LOCATION_ID}; create it or change the configuration"
        ),
        "{sync}"
    );
    // The steps before the field update ran; nothing after it.
    let calls = stack.sim_calls().await?;
    let puts = calls.iter().filter(|c| c["method"] == "PUT").count();
    assert_eq!(puts, 0);
    stack.stop().await
}

#[tokio::test]
async fn with_upserts_on_a_lead_without_a_contact_gets_one_and_keeps_it() -> Result<()> {
    let stack = Stack::start_with(&[("GHL_UPSERT_MISSING_CONTACTS", "true".to_owned())]).await?;
    let start = (Utc::now() + chrono::Duration::days(4))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
        .unwrap();
    let body = json!({
        "customer": {"name": "New Person", "email": "new.person@example.com", "phone": "+31 6 5555 1234"},
        "serviceType": "installation",
        "startTime": start.to_rfc3339(),
        "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
    });
    let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
    assert_eq!(status, 201, "{created}");
    let appointment = created["id"].as_str().unwrap().to_owned();
    let sync = stack
        .wait_for_sync(&appointment, created["syncJobId"].as_str().unwrap())
        .await?;
    assert_eq!(sync["status"], "succeeded", "{sync}");

    // GHL got the contact (upserted by email/phone with the location) and the effects.
    let calls = stack.sim_calls().await?;
    let upsert = calls
        .iter()
        .find(|c| c["path"] == "/contacts/upsert")
        .expect("no upsert call");
    assert_eq!(upsert["body"]["locationId"], LOCATION_ID);
    assert_eq!(upsert["body"]["email"], "new.person@example.com");
    let note = calls
        .iter()
        .find(|c| c["method"] == "POST" && c["path"].as_str().unwrap().ends_with("/notes"))
        .expect("no note");
    let contact_id = note["path"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(2)
        .unwrap()
        .to_owned();

    // The lead is linked: the next change of the appointment needs no upsert.
    let (_, lead) = stack
        .get(&format!(
            "/api/leads/{}",
            created["leadId"].as_str().unwrap()
        ))
        .await?;
    assert_eq!(lead["ghlContactId"], contact_id.as_str(), "{lead}");
    let (status, _) = stack
        .send(
            Method::PATCH,
            &format!("/api/appointments/{appointment}/status"),
            &json!({"status": "confirmed"}),
        )
        .await?;
    assert_eq!(status, 200);
    let (_, current) = stack
        .get(&format!("/api/appointments/{appointment}"))
        .await?;
    let job = current["sync"]["jobId"].as_str().unwrap().to_owned();
    stack.wait_for_sync(&appointment, &job).await?;
    let upserts = stack
        .sim_calls()
        .await?
        .iter()
        .filter(|c| c["path"] == "/contacts/upsert")
        .count();
    assert_eq!(upserts, 1);
    stack.stop().await
}

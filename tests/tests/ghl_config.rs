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

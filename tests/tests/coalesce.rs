//! Coalescing end to end: changes made while no worker runs are synced
//! together: every note and task written once, the tags and fields in one
//! merged update, the calls saved reported in the worker's log.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{GHL_API_KEY, LOCATION_ID, Stack, spawn_service};

#[tokio::test]
async fn changes_pending_together_are_synced_with_fewer_calls_and_nothing_lost() -> Result<()> {
    let mut stack = Stack::start().await?;
    let contact = stack.seed_contact("coalesce@example.com").await?;
    // No worker while the changes are made.
    stack.worker.terminate(Duration::from_secs(20)).await?;

    let start = (Utc::now() + chrono::Duration::days(5))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
        .unwrap();
    let body = json!({
        "customer": { "name": "Cor Samen", "email": "coalesce@example.com" },
        "serviceType": "maintenance",
        "startTime": start.to_rfc3339(),
        "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
        "ghlContactId": contact,
    });
    let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let mut last_job = String::new();
    for change in ["confirmed", "cancelled"] {
        let (status, changed) = stack
            .send(
                Method::PATCH,
                &format!("/api/appointments/{id}/status"),
                &json!({ "status": change, "reason": "plans changed" }),
            )
            .await?;
        assert_eq!(status, 200, "{changed}");
        last_job = changed["syncJobId"].as_str().unwrap().to_owned();
    }

    let env = [
        ("DATABASE_URL", stack.db.as_ref().unwrap().url.clone()),
        ("GHL_LOCATION_ID", LOCATION_ID.to_owned()),
        ("GHL_API_KEY", GHL_API_KEY.to_owned()),
        ("GHL_API_BASE_URL", stack.sim_url.clone()),
        ("WORKER_POLL_INTERVAL_MS", "200".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
    ];
    stack.worker = spawn_service("worker", &[], &env, &stack.log_dir)?;
    let sync = stack.wait_for_sync(&id, &last_job).await?;
    assert_eq!(sync["status"], "succeeded", "{sync}");

    let state = stack.sim_contact(&contact).await?;
    let texts = |kind: &str, field: &str| -> Vec<String> {
        state[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n[field].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let notes = texts("notes", "body");
    assert_eq!(notes.len(), 3, "every change keeps its note: {notes:?}");
    assert!(notes[0].starts_with("Appointment booked"));
    assert!(notes[1].contains("confirmed by the customer"));
    assert!(notes[2].contains("Reason: plans changed"));
    assert_eq!(texts("tasks", "title").len(), 3, "and its task");
    let tags: Vec<&str> = state["contact"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, ["appointment-cancelled"]);
    assert_eq!(
        stack.sim_fields(&contact).await?["appointment_status"],
        "cancelled"
    );

    let calls = stack.sim_calls().await?;
    let writes = calls.iter().filter(|c| c["method"] != "GET").count();
    // 3 notes + 3 tasks + one add, one remove, one field update; separately: 3 + 3 + 8.
    assert_eq!(writes, 9, "{calls:#?}");
    let logs = stack.worker.logs();
    let saved: u64 = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "job succeeded")
        .filter_map(|l| l["fields"]["coalesced.calls_saved"].as_u64())
        .sum();
    assert_eq!(saved, 5, "{logs}");
    stack.stop().await
}

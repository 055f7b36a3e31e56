//! End to end: the real `api`, `worker` and `ghl-sim` binaries on a fresh
//! PostgreSQL database. An appointment goes in through the HTTP API and comes
//! out as notes, tags, custom fields and tasks on the contact in ghl-sim.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tests::Stack;

/// A two-hour visit `days` from now, at a whole hour (never overlapping another day's).
fn visit(days: i64) -> (String, String) {
    let start = (Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
        .unwrap();
    (
        start.to_rfc3339(),
        (start + chrono::Duration::hours(2)).to_rfc3339(),
    )
}

async fn book(stack: &Stack, days: i64, email: &str, contact: Option<&str>) -> Result<Value> {
    let (start, end) = visit(days);
    let mut body = json!({
        "customer": { "name": "Jan Jansen", "email": email, "phone": "+31 6 1234 5678", "address": "Dorpsstraat 1, Utrecht" },
        "serviceType": "maintenance",
        "startTime": start,
        "endTime": end,
    });
    if let Some(contact) = contact {
        body["ghlContactId"] = json!(contact);
    }
    let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
    assert_eq!(status, 201, "{created}");
    Ok(created)
}

fn ids(v: &Value) -> (String, String) {
    (
        v["id"].as_str().unwrap().to_owned(),
        v["syncJobId"].as_str().unwrap().to_owned(),
    )
}

fn tags(contact: &Value) -> Vec<String> {
    let mut tags: Vec<String> = contact["contact"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    tags
}

fn bodies(contact: &Value, kind: &str, field: &str) -> Vec<String> {
    contact[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The marker the worker puts on notes and tasks: `[sync <12 hex of the job id>/<step>]`.
fn marker(job_id: &str, step: &str) -> String {
    let hex: String = job_id.chars().filter(|c| *c != '-').collect();
    format!("[sync {}/{step}]", &hex[hex.len() - 12..])
}

#[tokio::test]
async fn appointment_changes_reach_ghl_exactly_once() -> Result<()> {
    // Every change synced on its own, so that the calls can be counted exactly
    // (coalescing has its own test in coalesce.rs).
    let stack = Stack::start_with(&[("SYNC_COALESCE", "false".to_owned())]).await?;
    let contacts = [
        stack.seed_contact("confirm@example.com").await?,
        stack.seed_contact("cancel@example.com").await?,
        stack.seed_contact("complete@example.com").await?,
        stack.seed_contact("move@example.com").await?,
    ];
    let mut booked = Vec::new();
    for (i, contact) in contacts.iter().enumerate() {
        let created = book(
            &stack,
            2 + i as i64,
            &format!("c{i}@example.com"),
            Some(contact),
        )
        .await?;
        assert_eq!(created["status"], "scheduled");
        booked.push(ids(&created));
    }

    let (status, confirmed) = stack
        .send(
            Method::PATCH,
            &format!("/api/appointments/{}/status", booked[0].0),
            &json!({"status": "confirmed"}),
        )
        .await?;
    assert_eq!(status, 200, "{confirmed}");
    let (status, cancelled) = stack
        .send(
            Method::POST,
            "/api/appointments/status",
            &json!({"appointmentId": booked[1].0, "status": "cancelled", "reason": "moved abroad"}),
        )
        .await?;
    assert_eq!(status, 200, "{cancelled}");
    let (status, completed) = stack
        .send(
            Method::PATCH,
            &format!("/api/appointments/{}/status", booked[2].0),
            &json!({"status": "completed"}),
        )
        .await?;
    assert_eq!(status, 200, "{completed}");
    let (new_start, _) = visit(20);
    let (status, moved) = stack
        .send(
            Method::PATCH,
            &format!("/api/appointments/{}", booked[3].0),
            &json!({"startTime": new_start}),
        )
        .await?;
    assert_eq!(status, 200, "{moved}");

    let second_jobs = [&confirmed, &cancelled, &completed, &moved].map(|v| ids(v).1);
    for (i, (appointment, _)) in booked.iter().enumerate() {
        let sync = stack.wait_for_sync(appointment, &second_jobs[i]).await?;
        assert_eq!(sync["status"], "succeeded", "{sync}");
    }

    // Confirmed: two notes (booked, confirmed), scheduled tag swapped, two tasks.
    let c = stack.sim_contact(&contacts[0]).await?;
    let notes = bodies(&c, "notes", "body");
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("Appointment booked: maintenance")
                && n.ends_with(&marker(&booked[0].1, "note")))
    );
    assert!(notes.iter().any(|n| n.contains("confirmed by the customer")
        && n.ends_with(&marker(&second_jobs[0], "note"))));
    assert_eq!(tags(&c), ["appointment-confirmed"]);
    assert_eq!(bodies(&c, "tasks", "title").len(), 2);
    let fields = stack.sim_fields(&contacts[0]).await?;
    assert_eq!(
        fields.get("appointment_status").map(String::as_str),
        Some("confirmed")
    );
    let (start0, _) = visit(2);
    assert_eq!(
        fields.get("next_appointment_date").map(String::as_str),
        Some(&start0[..10])
    );

    // Cancelled: reason in the note, cancelled tag only, next date cleared, rebook task.
    let c = stack.sim_contact(&contacts[1]).await?;
    let notes = bodies(&c, "notes", "body");
    assert_eq!(notes.len(), 2);
    assert!(notes.iter().any(|n| n.contains("Reason: moved abroad.")));
    assert_eq!(tags(&c), ["appointment-cancelled"]);
    let titles = bodies(&c, "tasks", "title");
    assert!(titles.iter().any(|t| t.contains("rebook")), "{titles:?}");
    let fields = stack.sim_fields(&contacts[1]).await?;
    assert_eq!(
        fields.get("appointment_status").map(String::as_str),
        Some("cancelled")
    );
    assert!(
        fields
            .get("next_appointment_date")
            .is_none_or(|v| v.is_empty()),
        "{fields:?}"
    );

    // Completed: customer tags, last service date, satisfaction call.
    let c = stack.sim_contact(&contacts[2]).await?;
    assert_eq!(tags(&c), ["customer", "service-completed"]);
    let fields = stack.sim_fields(&contacts[2]).await?;
    assert_eq!(
        fields.get("appointment_status").map(String::as_str),
        Some("completed")
    );
    let (start2, _) = visit(4);
    assert_eq!(
        fields.get("last_service_date").map(String::as_str),
        Some(&start2[..10])
    );
    assert!(bodies(&c, "tasks", "title").contains(&"Satisfaction call".to_owned()));

    // Rescheduled: a note describing the move, the new date, no new task.
    let c = stack.sim_contact(&contacts[3]).await?;
    let notes = bodies(&c, "notes", "body");
    assert_eq!(notes.len(), 2);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("Appointment changed") && n.contains("startTime"))
    );
    assert_eq!(bodies(&c, "tasks", "title").len(), 1);
    let fields = stack.sim_fields(&contacts[3]).await?;
    assert_eq!(
        fields.get("next_appointment_date").map(String::as_str),
        Some(&new_start[..10])
    );

    // Exactly the expected GHL calls, and no duplicates: every write request is distinct.
    let calls = stack.sim_calls().await?;
    let writes: Vec<String> = calls
        .iter()
        .filter(|c| c["method"] != "GET")
        .map(|c| format!("{} {} {}", c["method"], c["path"], c["body"]))
        .collect();
    let mut unique = writes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        writes.len(),
        "duplicate GHL writes: {writes:#?}"
    );
    assert!(
        calls
            .iter()
            .all(|c| c["status"].as_u64().is_some_and(|s| s < 300)),
        "{calls:#?}"
    );
    // create = note + tags + fields + task (4) for each of 4; confirm/cancel/complete add
    // note + add + remove + fields + task (5 each); update adds note + fields (2).
    assert_eq!(writes.len(), 4 * 4 + 3 * 5 + 2, "{writes:#?}");

    // Completing made the lead a customer.
    let lead_id = completed["leadId"].as_str().unwrap();
    let (_, lead) = stack.get(&format!("/api/leads/{lead_id}")).await?;
    assert_eq!(lead["lifecycle"], "customer");
    assert_eq!(lead["servicesCompleted"], 1);

    // A person can follow the appointment through the logs by its ids, and the logs
    // carry no email, phone number or token.
    let logs = format!(
        "{}{}{}",
        stack.api.logs(),
        stack.worker.logs(),
        stack.sim.logs()
    );
    assert!(
        stack.api.logs().contains(&booked[0].0),
        "api logs name the appointment"
    );
    assert!(
        stack.worker.logs().contains(&second_jobs[0]),
        "worker logs name the job"
    );
    for secret in [
        "example.com",
        "+31612345678",
        "1234 5678",
        stack.token.as_str(),
        tests::GHL_API_KEY,
        tests::JWT_SECRET,
        "Dorpsstraat",
        "Jansen",
    ] {
        assert!(!logs.contains(secret), "logs contain {secret:?}");
    }

    stack.stop().await
}

#[tokio::test]
async fn an_appointment_without_a_ghl_contact_is_skipped_with_its_reason() -> Result<()> {
    let stack = Stack::start().await?;
    let created = book(&stack, 3, "nobody@example.com", None).await?;
    let (appointment, job) = ids(&created);
    let sync = stack.wait_for_sync(&appointment, &job).await?;
    assert_eq!(sync["status"], "skipped");
    assert!(
        sync["lastError"]
            .as_str()
            .unwrap()
            .contains("No GoHighLevel contact"),
        "{sync}"
    );
    assert!(stack.sim_calls().await?.is_empty());
    stack.stop().await
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused_with_401() -> Result<()> {
    let stack = Stack::start().await?;
    let response = stack
        .http
        .get(stack.api("/api/availability?date=2030-01-20"))
        .send()
        .await?;
    let (status, body) = tests::read(response).await?;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized");
    let response = stack
        .http
        .get(stack.api("/api/availability?date=2030-01-20"))
        .bearer_auth("not.a.token")
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 401);
    // Health needs no token.
    let response = stack.http.get(stack.api("/healthz")).send().await?;
    assert_eq!(response.status().as_u16(), 200);
    let response = stack.http.get(stack.api("/readyz")).send().await?;
    assert_eq!(response.status().as_u16(), 200);
    stack.stop().await
}

#[tokio::test]
async fn a_cancelled_appointment_frees_its_slot() -> Result<()> {
    let stack = Stack::start().await?;
    let first = book(&stack, 5, "slot@example.com", None).await?;
    let (start, end) = visit(5);
    let again = json!({
        "customer": { "name": "Piet", "email": "piet@example.com" },
        "serviceType": "repair", "startTime": start, "endTime": end,
    });
    let (status, body) = stack
        .send(Method::POST, "/api/appointments", &again)
        .await?;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "slot_unavailable");
    let (status, _) = stack
        .send(
            Method::PATCH,
            &format!("/api/appointments/{}/status", ids(&first).0),
            &json!({"status": "cancelled"}),
        )
        .await?;
    assert_eq!(status, 200);
    let (status, body) = stack
        .send(Method::POST, "/api/appointments", &again)
        .await?;
    assert_eq!(status, 201, "{body}");
    stack.stop().await
}

#[tokio::test]
async fn services_stop_cleanly_on_sigterm() -> Result<()> {
    let mut stack = Stack::start().await?;
    stack.worker.wait_for_log("worker started").await?;
    let status = stack.worker.terminate(Duration::from_secs(20)).await?;
    assert!(status.success(), "worker exit: {status}");
    assert!(stack.worker.logs().contains("worker stopped"));
    let status = stack.api.terminate(Duration::from_secs(20)).await?;
    assert!(status.success(), "api exit: {status}");
    stack.stop().await
}

//! End to end, operations: the real binaries. The worker's sync shows up in its
//! `/metrics` and in the api's `/monitor`; `POST /sync` runs a job through the
//! api when no worker is running; and the JSON logs of the whole flow (with
//! spans) hold no email, phone number, name, address or token.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use tests::Stack;

async fn book(stack: &Stack, days: i64, email: &str, contact: &str) -> Result<(String, String)> {
    let start = (Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .unwrap()
        .and_utc();
    let body = json!({
        "customer": { "name": "Piet Pietersen", "email": email, "phone": "+31 6 8765 4321", "address": "Kerkstraat 7, Gouda" },
        "serviceType": "installation",
        "startTime": start.to_rfc3339(),
        "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
        "ghlContactId": contact,
    });
    let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
    assert_eq!(status, 201, "{created}");
    Ok((
        created["id"].as_str().unwrap().to_owned(),
        created["syncJobId"].as_str().unwrap().to_owned(),
    ))
}

async fn text(stack: &Stack, url: &str) -> Result<String> {
    let response = stack.http.get(url).send().await?;
    assert_eq!(response.status().as_u16(), 200, "{url}");
    Ok(response.text().await?)
}

#[tokio::test]
async fn operators_see_syncs_in_metrics_and_monitor_and_can_sync_on_request() -> Result<()> {
    let mut stack = Stack::start().await?;
    let contact = stack.seed_contact("piet@example.com").await?;

    // The worker syncs a booking; its admin port counts it.
    let (first, job) = book(&stack, 5, "piet@example.com", &contact).await?;
    let sync = stack.wait_for_sync(&first, &job).await?;
    assert_eq!(sync["status"], "succeeded", "{sync}");
    let metrics = text(&stack, &format!("{}/metrics", stack.worker_admin_url)).await?;
    for needle in [
        r#"sync_jobs_finished_total{action="create",outcome="succeeded",source="worker"} 1"#,
        r#"ghl_requests_total{operation="add_note",outcome="ok"} 1"#,
        "ghl_request_duration_seconds_bucket",
        "sync_commit_to_done_seconds_bucket",
        r#"sync_jobs{status="succeeded"} 1"#,
        "sync_dead_letter_size 0",
        r#"ghl_daily_budget_remaining{location="e2e-location"}"#,
        r#"ghl_location_paused{location="e2e-location"} 0"#,
    ] {
        assert!(
            metrics.contains(needle),
            "worker /metrics lacks {needle}:\n{metrics}"
        );
    }
    assert_eq!(
        text(&stack, &format!("{}/healthz", stack.worker_admin_url)).await?,
        "ok"
    );

    // The monitor agrees.
    let (status, monitor) = stack.get("/monitor?action=status").await?;
    assert_eq!(status, 200, "{monitor}");
    assert_eq!(monitor["data"]["totalSyncs"], 1);
    assert_eq!(monitor["data"]["successful"], 1);
    assert_eq!(monitor["data"]["successRate"], 100.0);
    assert_eq!(monitor["data"]["systemHealth"]["status"], "healthy");
    let (status, health) = stack
        .get("/.netlify/functions/gohighlevel-sync-monitor?action=health")
        .await?;
    assert_eq!(status, 200, "{health}");

    // Without a worker, POST /sync runs the job itself.
    let exit = stack.worker.terminate(Duration::from_secs(20)).await?;
    assert!(exit.success());
    let (second, _) = book(&stack, 6, "piet@example.com", &contact).await?;
    let request = json!({"appointmentId": second, "action": "create"});
    let (status, synced) = stack.send(Method::POST, "/sync", &request).await?;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["success"], true);
    assert_eq!(synced["ghlContactId"], contact.as_str());
    assert_eq!(
        synced["syncDetails"]["tagsApplied"],
        json!(["appointment-scheduled"])
    );
    let (status, again) = stack.send(Method::POST, "/sync", &request).await?;
    assert_eq!((status, &again), (200, &synced));
    let (_, view) = stack.get(&format!("/api/appointments/{second}")).await?;
    assert_eq!(view["sync"]["status"], "succeeded");

    // The api's metrics (no METRICS_TOKEN here: open).
    let metrics = text(&stack, &stack.api("/metrics")).await?;
    for needle in [
        r#"http_requests_total{route="/sync",method="POST",status="200"} 2"#,
        r#"sync_jobs_finished_total{action="create",outcome="succeeded",source="api"} 1"#,
        r#"sync_jobs{status="succeeded"} 2"#,
    ] {
        assert!(
            metrics.contains(needle),
            "api /metrics lacks {needle}:\n{metrics}"
        );
    }

    // The api's and the worker's logs are JSON lines (with their spans); all
    // logs, ghl-sim's too, are free of personal data and tokens.
    let services = format!("{}{}", stack.api.logs(), stack.worker.logs());
    let logs = format!("{services}{}", stack.sim.logs());
    for line in services.lines().filter(|l| !l.trim().is_empty()) {
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        assert!(parsed.get("timestamp").is_some(), "{line}");
    }
    assert!(logs.contains("\"span\""), "spans are logged");
    assert!(
        logs.contains(&second),
        "the api's sync log names the appointment"
    );
    for secret in [
        "example.com",
        "piet@",
        "+31687654321",
        "8765 4321",
        "Pietersen",
        "Kerkstraat",
        "Gouda",
        stack.token.as_str(),
        tests::GHL_API_KEY,
        tests::JWT_SECRET,
    ] {
        assert!(!logs.contains(secret), "logs contain {secret:?}");
    }
    stack.stop().await
}

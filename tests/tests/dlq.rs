//! `worker dlq …` end to end: jobs die in the real worker (a custom field GHL
//! does not have), an operator lists them with the real `worker` binary,
//! discards one, is refused a retry without confirmation, fixes the
//! configuration and replays the rest; the replayed jobs re-plan from the
//! appointment's current state.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use tests::{GHL_API_KEY, LOCATION_ID, Stack, binary, spawn_service};

const EMAIL: &str = "dlq-person@example.com";

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

async fn book(stack: &Stack, days: i64, contact: &str) -> Result<(String, String)> {
    let (start, end) = visit(days);
    let body = json!({
        "customer": { "name": "Dirk Dood", "email": EMAIL, "phone": "+31 6 9999 0000" },
        "serviceType": "repair",
        "startTime": start,
        "endTime": end,
        "ghlContactId": contact,
    });
    let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
    assert_eq!(status, 201, "{created}");
    Ok((
        created["id"].as_str().unwrap().to_owned(),
        created["syncJobId"].as_str().unwrap().to_owned(),
    ))
}

async fn set_status(stack: &Stack, appointment: &str, status: &str) -> Result<String> {
    let (code, body) = stack
        .send(
            Method::PATCH,
            &format!("/api/appointments/{appointment}/status"),
            &json!({ "status": status, "reason": "changed plans" }),
        )
        .await?;
    assert_eq!(code, 200, "{body}");
    Ok(body["syncJobId"].as_str().unwrap().to_owned())
}

/// Runs `worker dlq <args>` against the stack's database, stdin not a terminal.
fn dlq(database_url: &str, args: &[&str]) -> Output {
    Command::new(binary("worker").unwrap())
        .arg("dlq")
        .args(args)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Polls the job statuses of the database until `check` accepts them.
async fn wait_for_jobs(
    url: &str,
    what: &str,
    check: impl Fn(&[(String, String)]) -> bool,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id::text, status FROM sync_jobs ORDER BY seq")
                .fetch_all(&mut conn)
                .await?;
        conn.close().await?;
        if check(&rows) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: not reached in 30 s; jobs {rows:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count_containing(contact: &Value, kind: &str, field: &str, needle: &str) -> usize {
    contact[kind]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n[field].as_str().unwrap_or_default().contains(needle))
        .count()
}

#[tokio::test]
async fn an_operator_lists_discards_and_replays_dead_jobs_with_the_worker_cli() -> Result<()> {
    // A custom field GHL does not have: every job dies at its custom-field step
    // (after its note and tags were written), a validation error.
    let mut stack =
        Stack::start_with(&[("GHL_FIELD_APPOINTMENT_STATUS", "no_such_field".to_owned())]).await?;
    let url = stack.db.as_ref().unwrap().url.clone();
    let contact = stack.seed_contact(EMAIL).await?;
    let (appointment, create) = book(&stack, 3, &contact).await?;
    let confirm = set_status(&stack, &appointment, "confirmed").await?;
    let cancel = set_status(&stack, &appointment, "cancelled").await?;
    let (_, other) = book(&stack, 4, &contact).await?;
    wait_for_jobs(&url, "four dead jobs", |rows| {
        rows.len() == 4 && rows.iter().all(|(_, s)| s == "dead")
    })
    .await?;

    // list: a table of the four, newest first, without personal data.
    let listed = dlq(&url, &["list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let table = stdout(&listed);
    for id in [&create, &confirm, &cancel, &other] {
        assert!(table.contains(id.as_str()), "{table}");
    }
    assert!(
        table.contains("validation") && table.contains("4 job(s)"),
        "{table}"
    );
    assert!(!table.contains(EMAIL) && !table.contains("Dirk"), "{table}");
    let filtered = dlq(
        &url,
        &["list", "--action", "confirm", "--since", "1h", "--json"],
    );
    assert!(filtered.status.success(), "{}", stderr(&filtered));
    let rows: Value = serde_json::from_str(&stdout(&filtered))?;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["id"], confirm.as_str());
    assert_eq!(rows[0]["errorClass"], "validation");
    let bad = dlq(&url, &["list", "--error-class", "sometimes"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unknown error class"),
        "{}",
        stderr(&bad)
    );

    // discard the other appointment's job; it leaves the queue.
    let discarded = dlq(&url, &["discard", &other, "--yes"]);
    assert!(discarded.status.success(), "{}", stderr(&discarded));
    assert!(stdout(&discarded).contains("discarded 1 job(s)"));
    assert!(!stdout(&dlq(&url, &["list"])).contains(other.as_str()));
    let again = dlq(&url, &["discard", &other, "--yes"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not in the dead-letter queue"));

    // Without --yes and without a terminal, nothing is replayed.
    let refused = dlq(&url, &["retry", "--all"]);
    assert!(!refused.status.success());
    assert!(stdout(&refused).contains("3 dead job(s) to replay at bulk priority"));
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert!(stdout(&dlq(&url, &["list"])).contains("3 job(s)"));

    // Fix the configuration: a worker with the right field key.
    stack.worker.terminate(Duration::from_secs(20)).await?;
    let env = [
        ("DATABASE_URL", url.clone()),
        ("GHL_LOCATION_ID", LOCATION_ID.to_owned()),
        ("GHL_API_KEY", GHL_API_KEY.to_owned()),
        ("GHL_API_BASE_URL", stack.sim_url.clone()),
        ("WORKER_POLL_INTERVAL_MS", "200".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
    ];
    stack.worker = spawn_service("worker", &[], &env, &stack.log_dir)?;

    // One job at live priority: the create. Its note is journaled; the
    // appointment is cancelled now, so no reminder task: +cancelled,
    // −confirmed/−scheduled, fields = 3 calls.
    let one = dlq(&url, &["retry", &create, "--yes"]);
    assert!(one.status.success(), "{}", stderr(&one));
    assert!(
        stdout(&one).contains("1 dead job(s) to replay at live priority, about 3 GHL call(s)"),
        "{}",
        stdout(&one)
    );
    // The rest: confirm 3 calls (no preparation task), cancel 4 (its follow-up task).
    let rest = dlq(&url, &["retry", "--all", "--yes"]);
    assert!(rest.status.success(), "{}", stderr(&rest));
    assert!(
        stdout(&rest).contains("2 dead job(s) to replay at bulk priority, about 7 GHL call(s)"),
        "{}",
        stdout(&rest)
    );
    assert!(stdout(&rest).contains("replayed 2 job(s)"));
    wait_for_jobs(&url, "the replayed jobs succeed", |rows| {
        rows.iter()
            .filter(|(id, _)| [&create, &confirm, &cancel].contains(&id))
            .all(|(_, s)| s == "succeeded")
    })
    .await?;

    let state = stack.sim_contact(&contact).await?;
    let mut tags: Vec<&str> = state["contact"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["appointment-cancelled"], "{state}");
    assert_eq!(
        stack.sim_fields(&contact).await?["appointment_status"],
        "cancelled"
    );
    assert_eq!(
        stack
            .sim_fields(&contact)
            .await?
            .get("next_appointment_date")
            .map(String::as_str)
            .unwrap_or(""),
        ""
    );
    assert_eq!(
        count_containing(&state, "notes", "body", "Appointment booked"),
        2,
        "both bookings' notes, once each"
    );
    assert_eq!(
        count_containing(&state, "notes", "body", "confirmed by the customer"),
        1
    );
    assert_eq!(count_containing(&state, "notes", "body", "cancelled"), 1);
    assert_eq!(
        count_containing(&state, "tasks", "title", "rebook"),
        1,
        "{state}"
    );
    assert_eq!(
        count_containing(&state, "tasks", "title", "reminder"),
        0,
        "{state}"
    );
    assert_eq!(
        count_containing(&state, "tasks", "title", "Prepare"),
        0,
        "{state}"
    );
    assert!(stdout(&dlq(&url, &["list"])).contains("empty"));
    stack.stop().await
}

//! Three worker processes share one GHL location's budget through the database: a
//! backlog drains against ghl-sim enforcing a scaled-down limit (20 requests per second)
//! without a single 429.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection as _;
use tests::{GHL_API_KEY, LOCATION_ID, Service, Stack, spawn_service};

const APPOINTMENTS: i64 = 100;
const BURST: u64 = 20;
const WINDOW_MS: u64 = 1_000;

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

fn worker_env(stack: &Stack, id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", stack.db.as_ref().unwrap().url.clone()),
        ("GHL_LOCATION_ID", LOCATION_ID.to_owned()),
        ("APP_ENV", "production".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("GHL_API_KEY", GHL_API_KEY.to_owned()),
        ("GHL_API_BASE_URL", stack.sim_url.clone()),
        ("WORKER_ID", id.to_owned()),
        ("WORKER_POLL_INTERVAL_MS", "200".to_owned()),
        ("SYNC_RETRY_BASE_SECONDS", "0.2".to_owned()),
        ("SYNC_RETRY_MAX_SECONDS", "1".to_owned()),
        // The scaled-down limit the sim enforces; the default headroom (10 %).
        ("GHL_RATE_LIMIT_BURST", BURST.to_string()),
        ("GHL_RATE_LIMIT_WINDOW_MS", WINDOW_MS.to_string()),
    ]
}

async fn job_counts(url: &str) -> Result<Vec<(String, i64)>> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM sync_jobs GROUP BY status ORDER BY status")
            .fetch_all(&mut conn)
            .await?;
    conn.close().await?;
    Ok(rows)
}

#[tokio::test]
async fn three_workers_drain_a_backlog_within_ghls_limit_without_a_429() -> Result<()> {
    let mut stack = Stack::start().await?;
    // The backlog builds up while no worker runs.
    stack.worker.terminate(Duration::from_secs(20)).await?;
    let (status, control) = stack
        .send_sim_control(&json!({"rateLimit": {"burst": BURST, "windowMs": WINDOW_MS}}))
        .await?;
    assert_eq!(status, 200, "{control}");

    for day in 1..=APPOINTMENTS {
        let email = format!("backlog{day}@example.com");
        let contact = stack.seed_contact(&email).await?;
        let (start, end) = visit(day);
        let body = json!({
            "customer": {"name": "Backlog Customer", "email": email},
            "serviceType": "maintenance",
            "startTime": start,
            "endTime": end,
            "ghlContactId": contact,
        });
        let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
        assert_eq!(status, 201, "{created}");
    }
    let db_url = stack.db.as_ref().unwrap().url.clone();
    assert_eq!(
        job_counts(&db_url).await?,
        [("pending".to_owned(), APPOINTMENTS)]
    );

    let mut workers: Vec<Service> = Vec::new();
    for id in ["w1", "w2", "w3"] {
        workers.push(spawn_service(
            "worker",
            &[],
            &worker_env(&stack, id),
            &stack.log_dir,
        )?);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let counts = job_counts(&db_url).await?;
        if counts == [("succeeded".to_owned(), APPOINTMENTS)] {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the backlog did not drain in 180 s: {counts:?}\n{}",
                workers[0].logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let calls = stack.sim_calls().await?;
    let statuses: Vec<u64> = calls
        .iter()
        .map(|c| c["status"].as_u64().unwrap())
        .collect();
    assert!(!statuses.contains(&429), "GHL answered 429");
    assert!(
        statuses.iter().all(|s| (200..300).contains(s)),
        "{statuses:?}"
    );

    // What the calls were, by operation.
    let mut by_operation = std::collections::BTreeMap::<String, usize>::new();
    for call in &calls {
        let path = call["path"].as_str().unwrap();
        let template = if path.starts_with("/locations/") {
            "/locations/{id}/customFields".to_owned()
        } else {
            let tail = path.split('/').skip(3).collect::<Vec<_>>().join("/");
            format!("/contacts/{{id}}/{tail}")
        };
        *by_operation
            .entry(format!("{} {template}", call["method"].as_str().unwrap()))
            .or_default() += 1;
    }
    println!("calls by operation: {by_operation:?}");
    for effect in [
        "POST /contacts/{id}/notes",
        "POST /contacts/{id}/tags",
        "PUT /contacts/{id}/",
        "POST /contacts/{id}/tasks",
    ] {
        assert_eq!(by_operation.get(effect), Some(&100), "{by_operation:?}");
    }
    // The custom fields are listed at most once per worker process (a process that
    // got no job lists nothing).
    let listings = by_operation
        .get("GET /locations/{id}/customFields")
        .copied()
        .unwrap_or(0);
    assert!((1..=3).contains(&listings), "{by_operation:?}");

    // The budget was shared: at least two worker processes drained jobs (on a loaded
    // machine one may start late and find little left).
    let busy = workers
        .iter()
        .filter(|w| w.logs().contains("job succeeded"))
        .count();
    assert!(busy >= 2, "only {busy} worker(s) took part");

    // Budget use: the busiest 1-s window, and the rate over the whole drain.
    let times: Vec<DateTime<Utc>> = calls
        .iter()
        .map(|c| c["at"].as_str().unwrap().parse().unwrap())
        .collect();
    let window = chrono::Duration::milliseconds(i64::try_from(WINDOW_MS).unwrap());
    let busiest = (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < window)
                .count()
        })
        .max()
        .unwrap_or(0);
    let span = (*times.last().unwrap() - times[0])
        .num_milliseconds()
        .max(1);
    #[allow(clippy::cast_precision_loss)]
    let per_window = calls.len() as f64 * WINDOW_MS as f64 / span as f64;
    println!(
        "budget use: {} GHL calls for {APPOINTMENTS} create jobs in {span} ms by 3 workers; \
         {per_window:.1} per {WINDOW_MS} ms on average, busiest window {busiest}, allowed {BURST}",
        calls.len()
    );
    assert!(busiest <= usize::try_from(BURST).unwrap());

    for mut worker in workers {
        worker.terminate(Duration::from_secs(20)).await?;
    }
    stack.stop().await
}

trait SimControl {
    async fn send_sim_control(&self, body: &Value) -> Result<(u16, Value)>;
}

impl SimControl for Stack {
    async fn send_sim_control(&self, body: &Value) -> Result<(u16, Value)> {
        let response = self
            .http
            .put(format!("{}/_sim/control", self.sim_url))
            .json(body)
            .send()
            .await?;
        tests::read(response).await
    }
}

//! A refused GHL token (ghl-sim answering every API call with 401): the location is
//! paused for auth, its jobs stay pending (not dead-lettered, attempts not used up) while
//! the worker probes GHL once per pause period, the health view reports the location,
//! and once the token works again the jobs drain.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection as _;
use tests::{LOCATION_ID, Stack};

const APPOINTMENTS: i64 = 3;

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

async fn sim_control(stack: &Stack, body: &Value) -> Result<()> {
    let response = stack
        .http
        .put(format!("{}/_sim/control", stack.sim_url))
        .json(body)
        .send()
        .await?;
    let (status, answer) = tests::read(response).await?;
    anyhow::ensure!(status == 200, "sim control refused: {answer}");
    Ok(())
}

/// (status, attempts) of every job.
async fn jobs(url: &str) -> Result<Vec<(String, i32)>> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let rows = sqlx::query_as("SELECT status, attempts FROM sync_jobs ORDER BY seq")
        .fetch_all(&mut conn)
        .await?;
    conn.close().await?;
    Ok(rows)
}

#[tokio::test]
async fn a_refused_token_pauses_the_location_and_its_jobs_wait_until_it_works_again() -> Result<()>
{
    let stack = Stack::start_with(&[
        ("GHL_AUTH_PAUSE_SECONDS", "1".to_owned()),
        // Without the auth pause, jobs would be dead-lettered after two attempts.
        ("SYNC_MAX_ATTEMPTS", "2".to_owned()),
        ("GHL_RETRY_MAX", "0".to_owned()),
    ])
    .await?;
    let db_url = stack.db.as_ref().unwrap().url.clone();
    let pool = storage::PgPool::connect(&db_url).await?;
    // The token is revoked: every GHL API call answers 401.
    sim_control(&stack, &json!({"faultRate": 1.0, "faultKinds": ["401"]})).await?;

    for day in 1..=APPOINTMENTS {
        let email = format!("revoked{day}@example.com");
        let contact = stack.seed_contact(&email).await?;
        let (start, end) = visit(day);
        let body = json!({
            "customer": {"name": "Revoked Token", "email": email},
            "serviceType": "maintenance",
            "startTime": start,
            "endTime": end,
            "ghlContactId": contact,
        });
        let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
        assert_eq!(status, 201, "{created}");
    }

    // Paused, and probed again and again (three periods at least) without any job dying.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let paused = loop {
        let paused = storage::auth_paused_locations(&pool).await?;
        if paused.first().is_some_and(|p| p.rechecks >= 3) {
            break paused;
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "no auth pause with three refused rechecks in 60 s: {paused:?}, jobs {:?}\n{}",
                jobs(&db_url).await?,
                stack.worker.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0].location_id, LOCATION_ID);
    assert!(paused[0].reason.contains("401"), "{}", paused[0].reason);
    let waiting = jobs(&db_url).await?;
    assert_eq!(waiting.len(), usize::try_from(APPOINTMENTS)?);
    for (status, attempts) in &waiting {
        assert_eq!(status, "pending", "{waiting:?}");
        assert!(*attempts <= 1, "a refused attempt was counted: {waiting:?}");
    }
    let logs = stack.worker.logs();
    assert_eq!(
        logs.matches("GHL location paused for auth").count(),
        1,
        "one line per pause, not per job or per probe:\n{logs}"
    );
    assert!(!logs.contains("job dead-lettered"), "{logs}");

    // The monitor's health names the location and what to do, and is unhealthy.
    let (status, health) = stack.get("/monitor?action=health").await?;
    assert_eq!(status, 503, "{health}");
    let text = health.to_string();
    assert!(
        text.contains(&format!("GHL location {LOCATION_ID} refuses our token"))
            && text.contains("reconnect the GHL app or renew the token"),
        "{health}"
    );

    // The token works again: the next probe ends the pause and the jobs drain.
    sim_control(&stack, &json!({"faultRate": 0.0})).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = jobs(&db_url).await?;
        if now.iter().all(|(status, _)| status == "succeeded") {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the jobs did not drain in 60 s: {now:?}\n{}",
                stack.worker.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(storage::auth_paused_locations(&pool).await?.is_empty());
    assert!(stack.worker.logs().contains("GHL accepts the token again"));
    pool.close().await;
    stack.stop().await
}

async fn sim_oauth(stack: &Stack, method: reqwest::Method, path: &str, body: &Value) -> Result<()> {
    let response = stack
        .http
        .request(method, format!("{}{path}", stack.sim_url))
        .json(body)
        .send()
        .await?;
    let (status, answer) = tests::read(response).await?;
    anyhow::ensure!(status == 200, "sim refused {path}: {answer}");
    Ok(())
}

async fn book(stack: &Stack, day: i64) -> Result<()> {
    let email = format!("oauth{day}@example.com");
    let contact = stack.seed_contact(&email).await?;
    let (start, end) = visit(day);
    let body = json!({
        "customer": {"name": "OAuth Customer", "email": email},
        "serviceType": "maintenance",
        "startTime": start,
        "endTime": end,
        "ghlContactId": contact,
    });
    let (status, created) = stack.send(Method::POST, "/api/appointments", &body).await?;
    anyhow::ensure!(status == 201, "{created}");
    Ok(())
}

async fn wait_until_all_succeeded(stack: &Stack, db_url: &str, expected: usize) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = jobs(db_url).await?;
        if now.len() == expected && now.iter().all(|(status, _)| status == "succeeded") {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the jobs did not drain in 60 s: {now:?}\n{}",
                stack.worker.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn with_oauth_a_revoked_refresh_token_pauses_the_location_until_it_is_restored() -> Result<()>
{
    let stack = Stack::start_with(&[
        ("GHL_AUTH_PAUSE_SECONDS", "1".to_owned()),
        ("SYNC_MAX_ATTEMPTS", "2".to_owned()),
        ("GHL_OAUTH_CLIENT_ID", ghl_sim::oauth::CLIENT_ID.to_owned()),
        (
            "GHL_OAUTH_CLIENT_SECRET",
            ghl_sim::oauth::CLIENT_SECRET.to_owned(),
        ),
        (
            "GHL_OAUTH_REFRESH_TOKEN",
            ghl_sim::oauth::INITIAL_REFRESH_TOKEN.to_owned(),
        ),
        ("GHL_OAUTH_LOCATION_ID", LOCATION_ID.to_owned()),
    ])
    .await?;
    let db_url = stack.db.as_ref().unwrap().url.clone();
    let pool = storage::PgPool::connect(&db_url).await?;

    // OAuth works: the bootstrap refresh token is traded and rotated in the database.
    book(&stack, 1).await?;
    wait_until_all_succeeded(&stack, &db_url, 1).await?;
    let (access, refresh): (String, String) = sqlx::query_as(
        "SELECT access_token, refresh_token FROM oauth_tokens WHERE location_id = $1",
    )
    .bind(LOCATION_ID)
    .fetch_one(&pool)
    .await?;
    assert!(!access.is_empty());
    assert_ne!(refresh, ghl_sim::oauth::INITIAL_REFRESH_TOKEN);
    let logs = stack.worker.logs();
    assert!(
        !logs.contains(&access) && !logs.contains(&refresh),
        "a token was logged"
    );

    // The app's access is revoked: access and refresh tokens refused.
    sim_oauth(
        &stack,
        reqwest::Method::POST,
        "/_sim/oauth/revoke",
        &json!({"accessTokens": true, "refreshTokens": true}),
    )
    .await?;
    book(&stack, 2).await?;
    book(&stack, 3).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let paused = storage::auth_paused_locations(&pool).await?;
        if paused.first().is_some_and(|p| p.rechecks >= 2) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("no auth pause in 60 s: {paused:?}\n{}", stack.worker.logs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let waiting = jobs(&db_url).await?;
    assert_eq!(
        waiting.iter().filter(|(s, _)| s == "pending").count(),
        2,
        "{waiting:?}"
    );
    assert!(waiting.iter().all(|(s, _)| s != "dead"), "{waiting:?}");

    // Access restored (the sim accepts the stored refresh token again): the jobs drain.
    sim_oauth(
        &stack,
        reqwest::Method::PUT,
        "/_sim/oauth",
        &json!({"grantRefreshToken": refresh}),
    )
    .await?;
    wait_until_all_succeeded(&stack, &db_url, 3).await?;
    assert!(storage::auth_paused_locations(&pool).await?.is_empty());
    pool.close().await;
    stack.stop().await
}

//! The dashboard in a real browser (Debian's headless chromium through
//! chromedriver) against the real binaries: it logs in with a token, shows the
//! same figures as `/monitor`, retries a dead-lettered job with a click (the
//! worker then syncs it), and saves a screenshot to `target/dashboard.png`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use tests::Stack;
use tests::webdriver::Browser;

/// The contact the booking names, created in ghl-sim only after the job died.
const LATE_CONTACT: &str = "late-contact-0001";

async fn book(stack: &Stack, days: i64, contact: &str) -> Result<(String, String)> {
    let start = (Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .unwrap()
        .and_utc();
    let body = json!({
        "customer": { "name": "Kees de Vries", "email": "kees@example.com" },
        "serviceType": "repair",
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

async fn wait_for(stack: &Stack, appointment: &str, status: &str) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, view) = stack
            .get(&format!("/api/appointments/{appointment}"))
            .await?;
        if view["sync"]["status"] == status {
            return Ok(view);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("sync of {appointment} is not {status}: {view}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn screenshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("dashboard.png")
}

#[tokio::test]
async fn the_dashboard_matches_the_monitor_and_retries_a_dead_job_by_click() -> Result<()> {
    let stack = Stack::start().await?;
    // One good sync, one that dies: its contact does not exist (yet) in GHL.
    let contact = stack.seed_contact("kees@example.com").await?;
    let (good, good_job) = book(&stack, 5, &contact).await?;
    stack.wait_for_sync(&good, &good_job).await?;
    let (dead, _) = book(&stack, 6, LATE_CONTACT).await?;
    let view = wait_for(&stack, &dead, "dead").await?;
    let dead_job = view["sync"]["jobId"].as_str().unwrap().to_owned();

    let browser = Browser::start().await?;
    let result = async {
        // Without a session: the login form.
        browser.goto(&stack.api("/dashboard")).await?;
        assert!(browser.exists("#login").await?, "login form expected");
        // ?token= logs in once and is redirected out of the address bar.
        browser
            .goto(&stack.api(&format!("/dashboard?token={}", stack.token)))
            .await?;
        assert!(!browser.current_url().await?.contains("token="));

        let (_, monitor) = stack.get("/monitor?action=status").await?;
        let data = &monitor["data"];
        assert_eq!(
            browser.text("#total-syncs").await?,
            data["totalSyncs"].to_string()
        );
        let rate = browser.text("#success-rate").await?;
        let rate: f64 = rate.trim_end_matches('%').parse()?;
        assert_eq!(Some(rate), data["successRate"].as_f64());
        assert_eq!(
            browser.text("#dlq-size").await?,
            data["deadLetterQueueSize"].to_string()
        );
        assert_eq!(
            browser.text("#health-status").await?,
            data["systemHealth"]["status"].as_str().unwrap()
        );
        assert_eq!(data["deadLetterQueueSize"], 1);
        let budget = browser.text("#rate-limit").await?;
        assert!(budget.ends_with("left"), "{budget}");
        let causes = browser.text("#causes").await?;
        assert!(causes.contains("not_found"), "{causes}");
        assert!(browser.exists(&format!("#retry-{dead_job}")).await?);
        browser.screenshot(&screenshot_path()).await?;

        // Fix the cause (the contact now exists), then retry by clicking.
        let response = stack
            .http
            .post(format!("{}/_sim/contacts", stack.sim_url))
            .json(&json!({ "id": LATE_CONTACT, "email": "kees@example.com" }))
            .send()
            .await?;
        assert!(response.status().is_success());
        browser.click(&format!("#retry-{dead_job}")).await?;
        browser.wait_for("#flash").await?;
        assert_eq!(browser.text("#flash").await?, "Done: retried-1");
        wait_for(&stack, &dead, "succeeded").await?;
        let (_, monitor) = stack.get("/monitor?action=status").await?;
        assert_eq!(monitor["data"]["deadLetterQueueSize"], 0);
        browser.goto(&stack.api("/dashboard")).await?;
        assert_eq!(browser.text("#dlq-size").await?, "0");
        Ok::<_, anyhow::Error>(())
    }
    .await;
    browser.quit().await?;
    result?;
    stack.stop().await
}

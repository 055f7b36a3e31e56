//! Alerts against a local webhook receiver over real HTTP: Slack- and
//! Discord-compatible bodies, one message per cause within the de-duplication
//! interval, health changes only.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use domain::AppointmentId;
use domain::health::{HealthChecks, HealthReport, HealthStatus};
use domain::ids::LocationId;
use domain::intent::SyncAction;
use domain::job::{CrmError, ErrorClass};
use secrecy::SecretString;
use serde_json::Value;
use worker::alerts::{AlertConfig, Alerter, DeadJobInfo};

type Inbox = Arc<Mutex<Vec<Value>>>;

async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(inbox): State<Inbox>, Json(body): Json<Value>| async move {
                    inbox.lock().unwrap().push(body);
                    "ok"
                },
            ),
        )
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook"), inbox)
}

async fn wait_for(inbox: &Inbox, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = inbox.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} alerts arrived: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn job(location: &str) -> DeadJobInfo {
    DeadJobInfo {
        action: SyncAction::Confirm,
        appointment_id: AppointmentId::new(),
        location_id: LocationId::parse(location).unwrap(),
        attempts: 4,
    }
}

fn report(status: HealthStatus, issue: &str) -> HealthReport {
    HealthReport {
        status,
        issues: vec![issue.to_owned()],
        checks: HealthChecks {
            environment: true,
            sync_performance: status == HealthStatus::Healthy,
            dead_letter_queue: true,
            recent_failures: true,
        },
        recommendations: vec!["Check GoHighLevel API status and rate limits".into()],
    }
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[tokio::test]
async fn dead_letters_and_health_changes_reach_the_webhook_once_per_cause() {
    install_crypto();
    let (url, inbox) = receiver().await;
    let alerter = Alerter::new(AlertConfig {
        webhook_url: SecretString::from(url),
        dedup: Duration::from_secs(300),
        max_per_hour: 20,
    })
    .unwrap();
    let unauthorized = CrmError::new(ErrorClass::Auth, Some(401), "token rejected");

    assert!(alerter.dead_lettered(&job("loc-a"), &unauthorized));
    // The same cause again: suppressed; another location: sent.
    assert!(!alerter.dead_lettered(&job("loc-a"), &unauthorized));
    assert!(alerter.dead_lettered(&job("loc-b"), &unauthorized));
    // Healthy at start: nothing; a change: one message; the same status again: nothing.
    assert!(!alerter.health(&report(HealthStatus::Healthy, "none")));
    assert!(alerter.health(&report(
        HealthStatus::Degraded,
        "Success rate 80% is at or below 90%"
    )));
    assert!(!alerter.health(&report(HealthStatus::Degraded, "still")));

    let got = wait_for(&inbox, 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    for body in &got {
        assert_eq!(
            body["text"], body["content"],
            "Slack and Discord see the same text"
        );
    }
    let texts: Vec<&str> = got.iter().map(|b| b["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts.iter().filter(|t| t.contains("dead-lettered")).count(),
        2
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("location loc-b") && t.contains("auth (401)"))
    );
    let health = texts.iter().find(|t| t.contains("Sync health")).unwrap();
    assert!(
        health.contains("healthy → degraded") && health.contains("at or below 90%"),
        "{health}"
    );
}

#[tokio::test]
async fn an_unreachable_webhook_does_not_fail_the_caller() {
    install_crypto();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let alerter = Alerter::new(AlertConfig {
        webhook_url: SecretString::from(url),
        dedup: Duration::from_secs(300),
        max_per_hour: 20,
    })
    .unwrap();
    let error = CrmError::new(ErrorClass::Validation, Some(422), "bad field");
    assert!(alerter.dead_lettered(&job("loc-a"), &error));
}

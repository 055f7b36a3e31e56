//! Per-call retries and the location budget, over real HTTP (ghl-sim's faults and rate
//! limit, and the scripted server).

use std::time::Duration;

use domain::job::ErrorClass;
use domain::plan::{NoteEffect, TaskEffect};
use domain::ports::{CrmGateway, RateLimits};
use ghl_adapter::GhlClient;
use ghl_sim::{FaultKind, RateLimit, SimConfig};
use serde_json::json;

use crate::fake::{Answer, FakeGhl};
use crate::support::{TestSim, config, contact_id, install_crypto, location};

fn faulty(kinds: &[FaultKind], after_write_share: f64) -> SimConfig {
    SimConfig {
        fault_rate: 1.0,
        fault_kinds: kinds.to_vec(),
        fault_after_write_share: after_write_share,
        ..SimConfig::default()
    }
}

fn note() -> NoteEffect {
    NoteEffect {
        body: "Appointment confirmed [sync j/1]".into(),
    }
}

fn heal(t: &TestSim) {
    let mut control = t.sim.control();
    control.fault_rate = 0.0;
    t.sim.set_control(control).unwrap();
}

#[tokio::test]
async fn idempotent_calls_are_retried_three_times_on_server_errors() {
    let t = TestSim::with_config(faulty(&[FaultKind::Status503], 0.0)).await;
    let contact = t.seed_contact();
    let error = t
        .client
        .get_contact(&t.location, &contact)
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(error.status, Some(503));
    // 1 attempt + 3 retries.
    assert_eq!(t.sim.calls().len(), 4);
}

#[tokio::test]
async fn a_retry_that_succeeds_hides_the_failure() {
    let fake = FakeGhl::script(vec![
        Answer::json(502, json!({"message": "bad gateway"})),
        Answer::json(200, json!({"contact": {"id": "c1", "tags": ["a"]}})),
    ])
    .await;
    install_crypto();
    let client = GhlClient::new(config(&fake.base_url, "t")).unwrap();
    let found = client
        .get_contact(&location("loc1"), &contact_id("c1"))
        .await
        .unwrap();
    assert_eq!(found.tags, ["a"]);
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn a_note_is_not_sent_again_after_an_in_doubt_failure() {
    for kind in [FaultKind::Status500, FaultKind::Drop] {
        // The fault comes after the write: the note exists, the client saw a failure.
        let t = TestSim::with_config(faulty(&[kind], 1.0)).await;
        let contact = t.seed_contact();
        let error = t
            .client
            .add_note(&t.location, &contact, &note())
            .await
            .unwrap_err();
        assert_eq!(error.class, ErrorClass::Transient, "{kind}");
        assert_eq!(t.sim.calls().len(), 1, "{kind}: the note was sent again");
        assert_eq!(t.sim.contact(contact.as_str()).unwrap().notes.len(), 1);
    }
}

#[tokio::test]
async fn a_task_is_not_sent_again_after_a_timeout() {
    let t = TestSim::with_config(faulty(&[FaultKind::Timeout], 1.0)).await;
    install_crypto();
    let client = GhlClient::new(
        config(&t.sim.base_url, &t.sim.config().api_key)
            .with_request_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let contact = t.seed_contact();
    let task = TaskEffect {
        title: "Call back".into(),
        body: "[sync j/2]".into(),
        due_at: chrono::Utc::now(),
    };
    let error = client
        .create_task(&t.location, &contact, &task)
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(t.sim.calls().len(), 1);
    assert_eq!(t.sim.contact(contact.as_str()).unwrap().tasks.len(), 1);
}

#[tokio::test]
async fn idempotent_writes_are_retried_after_in_doubt_failures() {
    let t = TestSim::with_config(faulty(&[FaultKind::Drop], 1.0)).await;
    let contact = t.seed_contact();
    // Every attempt is dropped after being applied: 4 attempts, the tag is there once.
    let error = t
        .client
        .add_tags(&t.location, &contact, &["vip".to_owned()])
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(t.sim.calls().len(), 4);
    assert_eq!(
        t.sim.contact(contact.as_str()).unwrap().contact.tags,
        ["vip"]
    );
}

#[tokio::test]
async fn a_note_refused_before_it_reached_ghl_is_retried() {
    // 429 is GHL's rate limiter refusing the call before any handler ran.
    let fake = FakeGhl::script(vec![
        Answer::json(429, json!({"message": "Too many requests"})).with_header("retry-after", "0"),
        Answer::json(201, json!({"note": {"id": "n1", "body": "x"}})),
    ])
    .await;
    install_crypto();
    let client = GhlClient::new(config(&fake.base_url, "t")).unwrap();
    client
        .add_note(&location("loc1"), &contact_id("c1"), &note())
        .await
        .unwrap();
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn a_401_is_not_retried() {
    let t = TestSim::with_config(faulty(&[FaultKind::Status401], 0.0)).await;
    let contact = t.seed_contact();
    let error = t
        .client
        .get_contact(&t.location, &contact)
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Auth);
    assert_eq!(t.sim.calls().len(), 1);
    heal(&t);
    t.client.get_contact(&t.location, &contact).await.unwrap();
}

#[tokio::test]
async fn the_headers_slow_the_client_down_before_ghl_says_429() {
    // The client believes the budget is huge; only GHL's headers tell it otherwise.
    let t = TestSim::with_config(SimConfig {
        rate_limit: RateLimit {
            burst: 10,
            window_ms: 300,
            daily: 1_000,
        },
        ..SimConfig::default()
    })
    .await;
    let contact = t.seed_contact();
    for _ in 0..35 {
        t.client.get_contact(&t.location, &contact).await.unwrap();
    }
    let stats = t.sim.stats();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert_eq!(stats.requests, 35);
}

#[tokio::test]
async fn a_429_pauses_the_location_and_the_call_is_retried_after_the_window() {
    // The sim allows 2 per 400 ms; the client's own limiter would allow far more.
    let t = TestSim::with_config(SimConfig {
        rate_limit: RateLimit {
            burst: 2,
            window_ms: 400,
            daily: 1_000,
        },
        ..SimConfig::default()
    })
    .await;
    let contact = t.seed_contact();
    // Another client (no header feedback shared) spends the window.
    let other = reqwest::Client::new();
    for _ in 0..2 {
        other
            .get(format!("{}/contacts/{contact}", t.sim.base_url))
            .bearer_auth("sim-api-key")
            .header("Version", "2021-07-28")
            .send()
            .await
            .unwrap();
    }
    t.client.get_contact(&t.location, &contact).await.unwrap();
    let statuses: Vec<u16> = t.sim.calls().iter().map(|c| c.status).collect();
    // One 429, then the client waited out the window (not a retry storm).
    assert_eq!(statuses, [200, 200, 429, 200]);
}

#[test]
fn the_default_limits_are_ghls_with_a_tenth_in_reserve() {
    let limits = RateLimits::default();
    assert_eq!(limits.planned_per_window(), 90);
    assert_eq!(limits.interval(), Duration::from_secs(10) / 90);
}

//! GHL's rate limits, injected faults and latency, and the `/_sim/control` and
//! `/_sim/stats` endpoints.

use std::time::{Duration, Instant};

use ghl_sim::{FaultKind, LatencyMs, RateLimit, SimConfig};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestSim, send};

fn limited(burst: u32, window_ms: u64, daily: u64) -> SimConfig {
    SimConfig {
        rate_limit: RateLimit {
            burst,
            window_ms,
            daily,
        },
        ..SimConfig::default()
    }
}

fn faulty(rate: f64, kinds: &[FaultKind], after_write_share: f64) -> SimConfig {
    SimConfig {
        fault_rate: rate,
        fault_kinds: kinds.to_vec(),
        fault_after_write_share: after_write_share,
        ..SimConfig::default()
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_rate_limit_headers_count_down_and_the_request_past_the_burst_gets_429() {
    let t = TestSim::with(limited(3, 60_000, 1_000)).await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}", contact.id);

    let mut seen = Vec::new();
    for _ in 0..4 {
        let response = t.api(Method::GET, &path).send().await.unwrap();
        seen.push((
            response.status().as_u16(),
            header(&response, "X-RateLimit-Remaining"),
            header(&response, "X-RateLimit-Daily-Remaining"),
        ));
        assert_eq!(header(&response, "X-RateLimit-Max"), "3");
        assert_eq!(
            header(&response, "X-RateLimit-Interval-Milliseconds"),
            "60000"
        );
        assert_eq!(header(&response, "X-RateLimit-Limit-Daily"), "1000");
    }
    let owned = |s: &str| s.to_owned();
    assert_eq!(
        seen,
        [
            (200, owned("2"), owned("999")),
            (200, owned("1"), owned("998")),
            (200, owned("0"), owned("997")),
            (429, owned("0"), owned("997")),
        ]
    );
    // GHL documents no Retry-After; the sim sends none.
    let response = t.api(Method::GET, &path).send().await.unwrap();
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(response.status(), 429);

    let (_, stats) = send(t.bare(Method::GET, "/_sim/stats")).await;
    assert_eq!(
        stats,
        json!({"requests": 5, "byStatus": {"200": 3, "429": 2}, "faultsInjected": 0,
               "rateLimited": 2})
    );
    assert_eq!(t.sim.calls().last().unwrap().status, 429);
}

#[tokio::test]
async fn a_new_window_restores_the_burst() {
    let t = TestSim::with(limited(2, 200, 1_000)).await;
    for _ in 0..2 {
        assert_eq!(t.call(Method::GET, "/contacts/ghost", None).await.0, 400);
    }
    assert_eq!(t.call(Method::GET, "/contacts/ghost", None).await.0, 429);
    // Poll (with a deadline) until the window has passed.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = t.api(Method::GET, "/contacts/ghost").send().await.unwrap();
        if response.status() != 429 {
            assert_eq!(header(&response, "X-RateLimit-Remaining"), "1");
            break;
        }
        assert!(Instant::now() < deadline, "the window never reset");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_daily_limit_refuses_even_in_a_fresh_window() {
    let t = TestSim::with(limited(100, 60_000, 2)).await;
    let statuses: Vec<u16> = futures_statuses(&t, 3).await;
    assert_eq!(statuses, [400, 400, 429]);
}

async fn futures_statuses(t: &TestSim, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(t.call(Method::GET, "/contacts/ghost", None).await.0);
    }
    out
}

#[tokio::test]
async fn by_default_the_limit_is_ghls_and_nothing_is_injected() {
    let t = TestSim::start().await;
    let response = t.api(Method::GET, "/contacts/ghost").send().await.unwrap();
    assert_eq!(header(&response, "X-RateLimit-Max"), "100");
    assert_eq!(header(&response, "X-RateLimit-Remaining"), "99");
    assert_eq!(
        header(&response, "X-RateLimit-Interval-Milliseconds"),
        "10000"
    );
    assert_eq!(header(&response, "X-RateLimit-Limit-Daily"), "200000");
    assert_eq!(header(&response, "X-RateLimit-Daily-Remaining"), "199999");

    let (status, control) = send(t.bare(Method::GET, "/_sim/control")).await;
    assert_eq!(status, 200);
    assert_eq!(
        control,
        json!({"faultRate": 0.0, "faultKinds": ["500", "502", "503", "timeout", "drop"],
               "faultAfterWriteShare": 0.5, "latencyMs": {"min": 0, "max": 0},
               "rateLimit": {"burst": 100, "windowMs": 10000, "daily": 200000}})
    );
}

#[tokio::test]
async fn control_changes_a_subset_at_run_time_and_refuses_nonsense() {
    let t = TestSim::start().await;
    let (status, control) = send(
        t.bare(Method::PUT, "/_sim/control")
            .json(&json!({"faultRate": 0.2, "rateLimit": {"burst": 20, "windowMs": 1000}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        control,
        json!({"faultRate": 0.2, "faultKinds": ["500", "502", "503", "timeout", "drop"],
               "faultAfterWriteShare": 0.5, "latencyMs": {"min": 0, "max": 0},
               "rateLimit": {"burst": 20, "windowMs": 1000, "daily": 200000}})
    );
    assert_eq!(t.sim.control().rate_limit.burst, 20);

    for bad in [
        json!({"faultRate": 2}),
        json!({"faultKinds": ["418"]}),
        json!({"latencyMs": {"min": 9, "max": 1}}),
        json!({"rateLimit": {"burst": 0}}),
        json!({"faultRat": 0.1}),
    ] {
        let (status, body) = send(t.bare(Method::PUT, "/_sim/control").json(&bad)).await;
        assert_eq!(status, 422, "{bad}");
        assert!(body["message"].is_array(), "{body}");
    }
    // Nothing of the refused bodies was applied.
    assert_eq!(t.sim.control().fault_rate, 0.2);
}

#[tokio::test]
async fn faults_come_at_the_configured_rate() {
    let kinds = [
        FaultKind::Status500,
        FaultKind::Status502,
        FaultKind::Status503,
    ];
    let t = TestSim::with(SimConfig {
        rate_limit: RateLimit {
            burst: 10_000,
            ..RateLimit::default()
        },
        ..faulty(0.3, &kinds, 0.5)
    })
    .await;
    let n = 400;
    let mut faults = 0;
    for _ in 0..n {
        let (status, _) = t.call(Method::GET, "/contacts/ghost", None).await;
        match status {
            400 => {}
            500 | 502 | 503 => faults += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // 0.3 × 400 = 120, standard deviation ≈ 9.2: ±40 is more than 4 of them.
    assert!((80..=160).contains(&faults), "{faults} faults in {n} calls");
    let stats = t.sim.stats();
    assert_eq!(stats.faults_injected, faults);
    assert_eq!(stats.requests, n);
}

#[tokio::test]
async fn a_fault_after_the_write_still_stores_it() {
    let t = TestSim::with(faulty(1.0, &[FaultKind::Status500], 1.0)).await;
    let contact = t.seed_email("ann@example.com");
    let (status, _) = t
        .call(
            Method::POST,
            &format!("/contacts/{}/notes", contact.id),
            Some(json!({"body": "stored anyway"})),
        )
        .await;
    assert_eq!(status, 500);
    let notes = t.sim.contact(&contact.id).unwrap().notes;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].body, "stored anyway");
    let call = t.sim.calls().pop().unwrap();
    assert_eq!(
        (call.status, call.fault, call.applied_status),
        (500, Some(FaultKind::Status500), Some(201))
    );
}

#[tokio::test]
async fn a_connection_dropped_after_the_write_leaves_the_write_in_doubt_but_stored() {
    let t = TestSim::with(faulty(1.0, &[FaultKind::Drop], 1.0)).await;
    let contact = t.seed_email("ann@example.com");
    let result = t
        .api(Method::POST, &format!("/contacts/{}/tasks", contact.id))
        .json(&json!({"title": "call back", "dueDate": "2030-01-01T10:00:00Z", "completed": false}))
        .send()
        .await;
    assert!(result.is_err(), "expected no response, got {result:?}");
    assert_eq!(t.sim.contact(&contact.id).unwrap().tasks.len(), 1);
    let call = t.sim.calls().pop().unwrap();
    assert_eq!(
        (call.status, call.fault, call.applied_status),
        (0, Some(FaultKind::Drop), Some(201))
    );
    assert_eq!(t.sim.stats().by_status.get("drop"), Some(&1));
}

#[tokio::test]
async fn a_fault_before_the_write_stores_nothing_and_the_server_keeps_serving() {
    let t = TestSim::with(faulty(1.0, &[FaultKind::Drop], 0.0)).await;
    let contact = t.seed_email("ann@example.com");
    let notes = format!("/contacts/{}/notes", contact.id);
    let result = t
        .api(Method::POST, &notes)
        .json(&json!({"body": "lost"}))
        .send()
        .await;
    assert!(result.is_err());
    assert!(t.sim.contact(&contact.id).unwrap().notes.is_empty());

    let mut control = t.sim.control();
    control.fault_rate = 0.0;
    t.sim.set_control(control).unwrap();
    let (status, _) = t
        .call(Method::POST, &notes, Some(json!({"body": "kept"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(t.sim.contact(&contact.id).unwrap().notes.len(), 1);
}

#[tokio::test]
async fn an_injected_401_refuses_the_write() {
    let t = TestSim::with(faulty(1.0, &[FaultKind::Status401], 1.0)).await;
    let contact = t.seed_email("ann@example.com");
    let (status, body) = t
        .call(
            Method::POST,
            &format!("/contacts/{}/notes", contact.id),
            Some(json!({"body": "refused"})),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["statusCode"], 401);
    assert!(t.sim.contact(&contact.id).unwrap().notes.is_empty());
}

#[tokio::test]
async fn a_timeout_holds_the_response_until_the_client_gives_up_and_does_not_block_shutdown() {
    let t = TestSim::with(faulty(1.0, &[FaultKind::Timeout], 0.0)).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result = client
        .get(t.url("/contacts/ghost"))
        .bearer_auth("sim-api-key")
        .header("Version", "2021-07-28")
        .send()
        .await;
    let error = result.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let call = t.sim.calls().pop().unwrap();
    assert_eq!((call.status, call.fault), (0, Some(FaultKind::Timeout)));

    // Another held request is in flight; shutting down ends the hold.
    let url = t.url("/contacts/ghost");
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .get(url)
            .bearer_auth("sim-api-key")
            .header("Version", "2021-07-28")
            .send()
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.sim.calls().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the second request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sim = t.sim;
    tokio::time::timeout(Duration::from_secs(30), sim.shutdown())
        .await
        .expect("shutdown waited for the held request")
        .unwrap();
    assert!(pending.await.unwrap().is_err());
}

#[tokio::test]
async fn latency_delays_every_answer_by_at_least_the_minimum() {
    let t = TestSim::with(SimConfig {
        latency_ms: LatencyMs { min: 40, max: 60 },
        ..SimConfig::default()
    })
    .await;
    let started = Instant::now();
    let (status, _) = t.call(Method::GET, "/contacts/ghost", None).await;
    assert_eq!(status, 400);
    assert!(started.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn stats_can_be_cleared() {
    let t = TestSim::start().await;
    t.call(Method::GET, "/contacts/ghost", None).await;
    let (status, _) = send(t.bare(Method::DELETE, "/_sim/stats")).await;
    assert_eq!(status, 204);
    let (_, stats) = send(t.bare(Method::GET, "/_sim/stats")).await;
    assert_eq!(stats["requests"], Value::from(0));
}

//! GHL webhooks in-process: the real router and PostgreSQL adapters on a fresh
//! database per test, bodies signed with test keys (Ed25519 generated per test,
//! RSA from `fixtures/ghl/test-rsa-*.pem`), GHL's documented samples as payloads.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use api::auth::JwtVerifier;
use api::ghl_signature::{GHL_ED25519_PUBLIC_KEY, SignatureVerifier, ed25519_pem};
use api::routes::webhooks::{WebhookState, routes};
use api::webhook_config::WebhookSettings;
use api::{App, AppState, Readiness};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use domain::LocationId;
use domain::ports::{SystemClock, WebhookInbox};
use domain::service::BookingService;
use domain::slot::BookingCalendar;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use storage::PgStore;
use tower::ServiceExt;

const SECRET: &str = "webhook-test-secret-that-is-long-enough-01";
const LOCATION: &str = "ve9EPM428h8vShlRW1KT";
const WORKFLOW_SECRET: &str = "workflow-secret-0123456789";
const RSA_PRIVATE: &str = include_str!("fixtures/ghl/test-rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("fixtures/ghl/test-rsa-public.pem");
const CONTACT_CREATE: &str = include_str!("fixtures/ghl/ContactCreate.example.json");
const CONTACT_UPDATE: &str = include_str!("fixtures/ghl/ContactUpdate.example.json");
const CONTACT_DELETE: &str = include_str!("fixtures/ghl/ContactDelete.example.json");
const TAG_UPDATE: &str = include_str!("fixtures/ghl/ContactTagUpdate.example.json");
const APPOINTMENT_UPDATE: &str = include_str!("fixtures/ghl/AppointmentUpdate.example.json");
const NOTE_CREATE: &str = include_str!("fixtures/ghl/NoteCreate.example.json");

/// Request headers of one test case.
type Headers = Vec<(&'static str, String)>;

struct Ready;
#[async_trait::async_trait]
impl Readiness for Ready {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

struct Harness {
    app: Router,
    webhooks: WebhookState,
    pool: PgPool,
    key: Ed25519KeyPair,
    store: Arc<PgStore>,
}

fn settings(ed25519_pem: &str, workflow: Option<&str>) -> WebhookSettings {
    WebhookSettings {
        verifier: SignatureVerifier::from_pems(ed25519_pem, RSA_PUBLIC).unwrap(),
        skip_signatures: false,
        tolerance: Some(Duration::from_secs(300)),
        max_body_bytes: 16 * 1024,
        workflow_secret: workflow.map(|s| SecretString::from(s.to_owned())),
        workflow_window: Duration::from_secs(300),
        retry_interval: Duration::from_secs(30),
    }
}

fn harness(pool: PgPool) -> Harness {
    harness_with(pool, false)
}

fn harness_with(pool: PgPool, skip_signatures: bool) -> Harness {
    harness_configured(pool, skip_signatures, 16 * 1024)
}

fn harness_configured(pool: PgPool, skip_signatures: bool, max_body_bytes: usize) -> Harness {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let pem = ed25519_pem(key.public_key().as_ref());
    let store = Arc::new(PgStore::new(pool.clone()));
    let location = LocationId::parse(LOCATION).unwrap();
    let state = AppState(Arc::new(App {
        booking: BookingService {
            appointments: store.clone(),
            leads: store.clone(),
            clock: Arc::new(SystemClock),
            calendar: BookingCalendar::default(),
            location: location.clone(),
        },
        appointments: store.clone(),
        leads: store.clone(),
        jwt: JwtVerifier::new(SecretString::from(SECRET)),
        readiness: Arc::new(Ready),
        ops: Arc::new(api::ops::Operations::new(store.clone(), None)),
    }));
    let webhooks = WebhookState {
        inbox: store.clone(),
        location,
        clock: Arc::new(SystemClock),
        settings: Arc::new(WebhookSettings {
            skip_signatures,
            max_body_bytes,
            ..settings(&pem, Some(WORKFLOW_SECRET))
        }),
    };
    Harness {
        app: api::routes::router_with(state, routes(webhooks.clone())),
        webhooks,
        pool,
        key,
        store,
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn rsa_sign(body: &[u8]) -> String {
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            RSA_PRIVATE
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), body, &mut sig)
        .unwrap();
    b64(&sig)
}

/// A documented sample with envelope fields added and fields overridden.
fn event(sample: &str, event_type: &str, webhook_id: Option<&str>, overrides: Value) -> String {
    let mut value: Value = serde_json::from_str(sample).unwrap();
    value["type"] = json!(event_type);
    if let Some(id) = webhook_id {
        value["webhookId"] = json!(id);
        value["timestamp"] = json!(chrono::Utc::now().to_rfc3339());
    }
    for (k, v) in overrides.as_object().unwrap() {
        value[k] = v.clone();
    }
    value.to_string()
}

impl Harness {
    async fn send(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(&str, String)],
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json");
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body.to_vec())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
        (status, value)
    }

    /// Posts `body` to /webhooks/ghl signed with the test Ed25519 key.
    async fn deliver(&self, body: &str) -> (StatusCode, Value) {
        let sig = b64(self.key.sign(body.as_bytes()).as_ref());
        self.send(
            "/webhooks/ghl",
            body.as_bytes(),
            &[("x-ghl-signature", sig)],
        )
        .await
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    async fn lead(&self, contact: &str) -> Value {
        let row: (Option<String>, Option<String>, Option<Vec<String>>, String) = sqlx::query_as(
            "SELECT email, name, ghl_tags, source FROM leads WHERE ghl_contact_id = $1",
        )
        .bind(contact)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        json!({"email": row.0, "name": row.1, "tags": row.2, "source": row.3})
    }

    async fn book(&self, email: &str, contact: Option<&str>) -> Value {
        let start = (chrono::Utc::now() + chrono::Duration::days(3))
            .date_naive()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc();
        let mut body = json!({
            "customer": {"name": "Jan Jansen", "email": email, "phone": "+31 6 12345678"},
            "serviceType": "maintenance",
            "startTime": start.to_rfc3339(),
            "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
        });
        if let Some(contact) = contact {
            body["ghlContactId"] = json!(contact);
        }
        let exp = chrono::Utc::now().timestamp() + 600;
        let token =
            JwtVerifier::new(SecretString::from(SECRET)).sign(&json!({"sub": "t", "exp": exp}));
        let (status, created) = self
            .send(
                "/api/appointments",
                body.to_string().as_bytes(),
                &[("authorization", format!("Bearer {token}"))],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_signed_contact_create_creates_exactly_one_lead_however_often_it_is_delivered(
    pool: PgPool,
) {
    let h = harness(pool);
    let body = event(CONTACT_CREATE, "ContactCreate", Some("wh-1"), json!({}));
    let (status, answer) = h.deliver(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "created_lead");
    for _ in 0..3 {
        let (status, answer) = h.deliver(&body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["status"], "duplicate");
    }
    // The same event id with another body is still the same delivery.
    let changed = event(
        CONTACT_CREATE,
        "ContactCreate",
        Some("wh-1"),
        json!({"email": "other@example.com"}),
    );
    assert_eq!(h.deliver(&changed).await.1["status"], "duplicate");
    assert_eq!(h.count("SELECT count(*) FROM leads").await, 1);
    assert_eq!(h.count("SELECT count(*) FROM webhook_events").await, 1);
    let lead = h.lead("nmFmQEsNgz6AVpgLVUJ0").await;
    assert_eq!(lead["email"], "johndeo@gmail.comm");
    assert_eq!(lead["name"], "John Deo");
    assert_eq!(lead["source"], "ghl");
    assert_eq!(
        lead["tags"],
        json!(["Duis dolor commodo aliqua", "id magna sed Lorem"])
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_body_without_webhook_id_is_deduplicated_by_its_content(pool: PgPool) {
    let h = harness(pool);
    let body = event(CONTACT_CREATE, "ContactCreate", None, json!({}));
    assert_eq!(h.deliver(&body).await.1["outcome"], "created_lead");
    assert_eq!(h.deliver(&body).await.1["status"], "duplicate");
    assert_eq!(h.count("SELECT count(*) FROM leads").await, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn forged_tampered_or_unsigned_webhooks_are_401_and_store_nothing(pool: PgPool) {
    let h = harness(pool);
    let body = event(
        CONTACT_CREATE,
        "ContactCreate",
        Some("wh-forged"),
        json!({}),
    );
    // Signed by another key.
    let other = Ed25519KeyPair::from_pkcs8(
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .unwrap()
            .as_ref(),
    )
    .unwrap();
    let forged = b64(other.sign(body.as_bytes()).as_ref());
    let tampered_sig = b64(h.key.sign(body.as_bytes()).as_ref());
    let tampered = body.replace("John", "Eve");
    let cases: Vec<(Vec<u8>, Headers)> = vec![
        (body.clone().into_bytes(), vec![("x-ghl-signature", forged)]),
        (
            tampered.into_bytes(),
            vec![("x-ghl-signature", tampered_sig.clone())],
        ),
        (body.clone().into_bytes(), vec![]),
        (
            body.clone().into_bytes(),
            vec![("x-ghl-signature", "N/A".into())],
        ),
        (
            body.clone().into_bytes(),
            vec![("x-ghl-signature", "%%%".into())],
        ),
        // A bad Ed25519 signature is not rescued by a good legacy one.
        (
            body.clone().into_bytes(),
            vec![
                ("x-ghl-signature", b64(&[0; 64])),
                ("x-wh-signature", rsa_sign(body.as_bytes())),
            ],
        ),
    ];
    for (payload, headers) in cases {
        let (status, answer) = h.send("/webhooks/ghl", &payload, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(answer["error"], "invalid_signature");
    }
    assert_eq!(h.count("SELECT count(*) FROM webhook_events").await, 0);
    assert_eq!(h.count("SELECT count(*) FROM leads").await, 0);
    // GHL's real key is not ours: a body signed for the test key fails against it.
    let ghl = SignatureVerifier::from_pems(GHL_ED25519_PUBLIC_KEY, RSA_PUBLIC).unwrap();
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-ghl-signature", tampered_sig.parse().unwrap());
    assert!(ghl.verify(&headers, body.as_bytes()).is_err());
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn with_signature_checks_skipped_an_unsigned_webhook_is_accepted(pool: PgPool) {
    // Development only: production refuses this setting at start-up (config tests).
    let h = harness_with(pool, true);
    let body = event(
        CONTACT_CREATE,
        "ContactCreate",
        Some("wh-unsigned"),
        json!({}),
    );
    let (status, answer) = h.send("/webhooks/ghl", body.as_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "created_lead");
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn the_legacy_rsa_signature_is_accepted_when_it_is_the_only_one(pool: PgPool) {
    let h = harness(pool);
    let body = event(CONTACT_CREATE, "ContactCreate", Some("wh-rsa"), json!({}));
    let (status, answer) = h
        .send(
            "/.netlify/functions/gohighlevel-webhook",
            body.as_bytes(),
            &[("x-wh-signature", rsa_sign(body.as_bytes()))],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "created_lead");
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn bad_bodies_are_4xx_with_json_errors_and_unknown_types_are_stored(pool: PgPool) {
    let h = harness(pool);
    let big = format!(
        "{{\"type\":\"ContactCreate\",\"pad\":\"{}\"}}",
        "x".repeat(20_000)
    );
    let (status, answer) = h.deliver(&big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"], "payload_too_large");
    let (status, answer) = h.deliver("{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "malformed_json");
    let (status, answer) = h.deliver(r#"{"id":"no type"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "invalid_event");
    let note = event(NOTE_CREATE, "NoteCreate", Some("wh-note"), json!({}));
    let (status, answer) = h.deliver(&note).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["outcome"], "ignored");
    assert_eq!(
        h.count("SELECT count(*) FROM webhook_events WHERE event_type = 'NoteCreate'")
            .await,
        1
    );
    // A known type without its id is stored and reported invalid, not retried forever.
    let broken = json!({"type": "ContactUpdate", "webhookId": "wh-broken", "locationId": LOCATION})
        .to_string();
    assert_eq!(h.deliver(&broken).await.1["outcome"], "invalid");
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn the_webhook_limit_replaces_the_apis_smaller_body_limit(pool: PgPool) {
    let h = harness_configured(pool, false, 256 * 1024);
    let padding = "x".repeat(100 * 1024); // over the API's 64 KiB, under 256 KiB
    let body = event(
        NOTE_CREATE,
        "NoteCreate",
        Some("wh-big"),
        json!({ "body": padding }),
    );
    let (status, answer) = h.deliver(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let too_big = event(
        NOTE_CREATE,
        "NoteCreate",
        Some("wh-too-big"),
        json!({ "body": "x".repeat(300 * 1024) }),
    );
    assert_eq!(h.deliver(&too_big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_timestamp_outside_the_window_is_refused(pool: PgPool) {
    let h = harness(pool);
    let mut value: Value = serde_json::from_str(CONTACT_CREATE).unwrap();
    value["webhookId"] = json!("wh-old");
    value["timestamp"] = json!((chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339());
    let (status, answer) = h.deliver(&value.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"], "timestamp_out_of_window");
    assert_eq!(h.count("SELECT count(*) FROM webhook_events").await, 0);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_contact_with_the_email_of_a_booking_lead_links_that_lead(pool: PgPool) {
    let h = harness(pool);
    h.book("johndeo@gmail.comm", None).await;
    let body = event(CONTACT_CREATE, "ContactCreate", Some("wh-link"), json!({}));
    assert_eq!(h.deliver(&body).await.1["outcome"], "linked_lead");
    assert_eq!(h.count("SELECT count(*) FROM leads").await, 1);
    let lead = h.lead("nmFmQEsNgz6AVpgLVUJ0").await;
    assert_eq!(lead["source"], "booking");
    assert_eq!(
        h.count("SELECT count(*) FROM sync_jobs").await,
        1,
        "only the booking's job"
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn stale_contact_events_never_overwrite_newer_data(pool: PgPool) {
    let h = harness(pool);
    let newer = event(
        CONTACT_UPDATE,
        "ContactUpdate",
        Some("wh-new"),
        json!({"email": "new@example.com", "dateUpdated": "2030-01-02T00:00:00Z"}),
    );
    let older = event(
        CONTACT_UPDATE,
        "ContactUpdate",
        Some("wh-old"),
        json!({"email": "old@example.com", "dateUpdated": "2030-01-01T00:00:00Z"}),
    );
    assert_eq!(h.deliver(&newer).await.1["outcome"], "created_lead");
    assert_eq!(h.deliver(&older).await.1["outcome"], "stale");
    assert_eq!(
        h.lead("nmFmQEsNgz6AVpgLVUJ0").await["email"],
        "new@example.com"
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn tag_updates_replace_the_tags_and_an_echo_of_the_same_tags_changes_nothing(pool: PgPool) {
    let h = harness(pool);
    h.deliver(&event(
        CONTACT_CREATE,
        "ContactCreate",
        Some("wh-c"),
        json!({}),
    ))
    .await;
    let tags = event(
        TAG_UPDATE,
        "ContactTagUpdate",
        Some("wh-t1"),
        json!({"tags": ["appointment-scheduled", "vip"], "email": "ignored@example.com"}),
    );
    assert_eq!(h.deliver(&tags).await.1["outcome"], "applied");
    let lead = h.lead("nmFmQEsNgz6AVpgLVUJ0").await;
    assert_eq!(lead["tags"], json!(["appointment-scheduled", "vip"]));
    assert_eq!(
        lead["email"], "johndeo@gmail.comm",
        "a tag update changes only tags"
    );
    let echo = event(
        TAG_UPDATE,
        "ContactTagUpdate",
        Some("wh-t2"),
        json!({"tags": ["vip", "appointment-scheduled"]}),
    );
    assert_eq!(h.deliver(&echo).await.1["outcome"], "unchanged");
    assert_eq!(h.count("SELECT count(*) FROM sync_jobs").await, 0);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn contact_delete_unlinks_and_a_late_update_does_not_bring_the_contact_back(pool: PgPool) {
    let h = harness(pool);
    h.deliver(&event(
        CONTACT_CREATE,
        "ContactCreate",
        Some("wh-c"),
        json!({"dateUpdated": "2030-01-01T00:00:00Z"}),
    ))
    .await;
    let delete = event(
        CONTACT_DELETE,
        "ContactDelete",
        Some("wh-d"),
        json!({"dateUpdated": "2030-01-03T00:00:00Z"}),
    );
    assert_eq!(h.deliver(&delete).await.1["outcome"], "unlinked");
    assert_eq!(
        h.count("SELECT count(*) FROM leads WHERE ghl_contact_id IS NOT NULL")
            .await,
        0
    );
    let late = event(
        CONTACT_UPDATE,
        "ContactUpdate",
        Some("wh-late"),
        json!({"dateUpdated": "2030-01-02T00:00:00Z"}),
    );
    assert_eq!(h.deliver(&late).await.1["outcome"], "stale");
    assert_eq!(h.count("SELECT count(*) FROM leads").await, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn an_appointment_confirmed_in_ghl_is_confirmed_here_without_a_sync_job(pool: PgPool) {
    let h = harness(pool);
    let created = h.book("jan@example.com", Some("contact-jan")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let start = created["startTime"].as_str().unwrap().to_owned();
    let mut value: Value = serde_json::from_str(APPOINTMENT_UPDATE).unwrap();
    value["type"] = json!("AppointmentUpdate");
    value["locationId"] = json!(LOCATION);
    value["webhookId"] = json!("wh-appt");
    value["appointment"]["contactId"] = json!("contact-jan");
    value["appointment"]["startTime"] = json!(start);
    value["appointment"]["dateUpdated"] = json!(chrono::Utc::now().to_rfc3339());
    value["appointment"]["appointmentStatus"] = json!("confirmed");
    let (status, answer) = h.deliver(&value.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "applied");
    let row: (String, Option<String>, i64) = sqlx::query_as(
        "SELECT status, ghl_appointment_id, version FROM appointments WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        ("confirmed".into(), Some("0007BWpSzSwfiuSl0tR2".into()), 2)
    );
    assert_eq!(
        h.count("SELECT count(*) FROM sync_jobs").await,
        1,
        "no job for a change from GHL"
    );
    // The same status again (our own write echoed back) changes nothing.
    value["webhookId"] = json!("wh-appt-2");
    assert_eq!(
        h.deliver(&value.to_string()).await.1["outcome"],
        "unchanged"
    );
    // "showed" completes it and makes the lead a customer; a later "cancelled" cannot undo that.
    value["webhookId"] = json!("wh-appt-3");
    value["appointment"]["appointmentStatus"] = json!("showed");
    assert_eq!(h.deliver(&value.to_string()).await.1["outcome"], "applied");
    value["webhookId"] = json!("wh-appt-4");
    value["appointment"]["appointmentStatus"] = json!("cancelled");
    assert_eq!(h.deliver(&value.to_string()).await.1["outcome"], "ignored");
    assert_eq!(
        h.count("SELECT count(*) FROM leads WHERE lifecycle = 'customer'")
            .await,
        1
    );
    assert_eq!(h.count("SELECT count(*) FROM sync_jobs").await, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn workflow_webhooks_need_the_secret_and_are_deduplicated_by_content(pool: PgPool) {
    let h = harness(pool);
    let body = json!({
        "contact_id": "wf-contact-1",
        "full_name": "Piet Pieters",
        "email": "piet@example.com",
        "tags": "lead, airco",
        "location": {"id": LOCATION},
        "Preferred Date": "2030-02-01"
    })
    .to_string();
    let (status, answer) = h.send("/webhooks/ghl/workflow", body.as_bytes(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let wrong = [("x-webhook-secret", "wrong-secret-0123456789".to_owned())];
    assert_eq!(
        h.send("/webhooks/ghl/workflow", body.as_bytes(), &wrong)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let right = [("x-webhook-secret", WORKFLOW_SECRET.to_owned())];
    let (status, answer) = h
        .send("/webhooks/ghl/workflow", body.as_bytes(), &right)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "created_lead");
    assert_eq!(
        h.send("/webhooks/ghl/workflow", body.as_bytes(), &right)
            .await
            .1["status"],
        "duplicate"
    );
    assert_eq!(
        h.lead("wf-contact-1").await["tags"],
        json!(["airco", "lead"])
    );
    assert_eq!(h.count("SELECT count(*) FROM webhook_events").await, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn without_a_workflow_secret_the_workflow_path_does_not_exist(pool: PgPool) {
    let store = Arc::new(PgStore::new(pool));
    let webhooks = WebhookState {
        inbox: store,
        location: LocationId::parse(LOCATION).unwrap(),
        clock: Arc::new(SystemClock),
        settings: Arc::new(settings(GHL_ED25519_PUBLIC_KEY, None)),
    };
    let app: Router = routes(webhooks).with_state(AppState(Arc::new(App {
        booking: BookingService {
            appointments: Arc::new(PgStore::new(PgPool::connect_lazy("postgres://x").unwrap())),
            leads: Arc::new(PgStore::new(PgPool::connect_lazy("postgres://x").unwrap())),
            clock: Arc::new(SystemClock),
            calendar: BookingCalendar::default(),
            location: LocationId::parse(LOCATION).unwrap(),
        },
        appointments: Arc::new(PgStore::new(PgPool::connect_lazy("postgres://x").unwrap())),
        leads: Arc::new(PgStore::new(PgPool::connect_lazy("postgres://x").unwrap())),
        jwt: JwtVerifier::new(SecretString::from(SECRET)),
        readiness: Arc::new(Ready),
        ops: Arc::new(api::ops::Operations::new(
            Arc::new(PgStore::new(PgPool::connect_lazy("postgres://x").unwrap())),
            None,
        )),
    })));
    let response = app
        .oneshot(
            Request::post("/webhooks/ghl/workflow")
                .header("x-webhook-secret", "anything")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn when_the_event_cannot_be_stored_the_answer_makes_ghl_deliver_again(pool: PgPool) {
    let h = harness(pool.clone());
    pool.close().await;
    let body = event(CONTACT_CREATE, "ContactCreate", Some("wh-down"), json!({}));
    let (status, answer) = h.deliver(&body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"], "unavailable");
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_stored_but_unapplied_event_is_applied_exactly_once_by_the_retry_pass(pool: PgPool) {
    let h = harness(pool);
    // Stored but not applied (as after a crash between the two steps).
    let record = domain::ports::InboundRecord {
        source: domain::ports::InboundSource::Webhook,
        webhook_id: "wh-crash".into(),
        event_type: "ContactCreate".into(),
        location_id: Some(LOCATION.into()),
        payload: serde_json::from_str(CONTACT_CREATE).unwrap(),
        timestamp: None,
        content_hash: None,
        received_at: chrono::Utc::now(),
    };
    let domain::ports::Recorded::New(id) = h.store.record(&record, None).await.unwrap() else {
        panic!("not stored")
    };
    assert_eq!(h.store.unprocessed(10).await.unwrap(), vec![id]);
    // The retry pass (run at start-up and periodically) applies it.
    assert_eq!(api::routes::webhooks::retry_once(&h.webhooks).await, 1);
    assert_eq!(h.count("SELECT count(*) FROM leads").await, 1);
    assert_eq!(api::routes::webhooks::retry_once(&h.webhooks).await, 0);
    // Two processors racing on one stored event: exactly one applies it.
    let record = domain::ports::InboundRecord {
        webhook_id: "wh-crash-2".into(),
        payload: serde_json::from_str(TAG_UPDATE).unwrap(),
        event_type: "ContactTagUpdate".into(),
        ..record
    };
    let domain::ports::Recorded::New(id) = h.store.record(&record, None).await.unwrap() else {
        panic!("not stored")
    };
    let location = LocationId::parse(LOCATION).unwrap();
    let (a, b) = tokio::join!(
        h.store.process(id, &location, chrono::Utc::now()),
        h.store.process(id, &location, chrono::Utc::now())
    );
    let applied = [a.unwrap(), b.unwrap()].into_iter().flatten().count();
    assert_eq!(
        applied, 1,
        "exactly one of two concurrent processors applies it"
    );
    assert_eq!(
        h.store
            .process(id, &location, chrono::Utc::now())
            .await
            .unwrap(),
        None
    );
    assert!(h.store.unprocessed(10).await.unwrap().is_empty());
    assert_eq!(h.count("SELECT count(*) FROM leads").await, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn arbitrary_signed_bodies_and_mutated_samples_never_cause_a_5xx(pool: PgPool) {
    let h = harness(pool);
    let samples: Vec<Value> = [
        CONTACT_CREATE,
        TAG_UPDATE,
        CONTACT_DELETE,
        APPOINTMENT_UPDATE,
        NOTE_CREATE,
    ]
    .iter()
    .map(|s| serde_json::from_str(s).unwrap())
    .collect();
    let bytes = proptest::collection::vec(proptest::num::u8::ANY, 0..300);
    let leaf = proptest::prop_oneof![
        proptest::strategy::Just(Value::Null),
        proptest::bool::ANY.prop_map(Value::Bool),
        proptest::num::i64::ANY.prop_map(|n| json!(n)),
        ".{0,30}".prop_map(Value::String),
        proptest::strategy::Just(json!({"id": 1})),
        proptest::strategy::Just(json!(["a", 2])),
    ];
    let mut runner = TestRunner::deterministic();
    for case in 0..150 {
        let body: Vec<u8> = if case % 3 == 0 {
            bytes.new_tree(&mut runner).unwrap().current()
        } else {
            let mut value = samples[case % samples.len()].clone();
            let keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            let replacement = leaf.new_tree(&mut runner).unwrap().current();
            let key = &keys[(case * 7) % keys.len()];
            value[key] = replacement;
            if case % 2 == 0 {
                value["webhookId"] = json!(format!("prop-{case}"));
            }
            value.to_string().into_bytes()
        };
        let sig = b64(h.key.sign(&body).as_ref());
        let (status, answer) = h
            .send("/webhooks/ghl", &body, &[("x-ghl-signature", sig)])
            .await;
        assert!(
            status.is_success() || status.is_client_error(),
            "case {case}: {status} {answer} for {}",
            String::from_utf8_lossy(&body)
        );
    }
}

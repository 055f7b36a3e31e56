//! The HTTP API in-process (the real router and PostgreSQL adapters), one fresh
//! database per test: status codes, error bodies, and what is stored.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;

use api::auth::JwtVerifier;
use api::{App, AppState, Readiness};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::LocationId;
use domain::ports::SystemClock;
use domain::service::BookingService;
use domain::slot::BookingCalendar;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use storage::PgStore;
use tower::ServiceExt;

const SECRET: &str = "http-test-secret-that-is-long-enough-0123";

struct Ready;
#[async_trait::async_trait]
impl Readiness for Ready {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

fn app(pool: PgPool) -> Router {
    let store = Arc::new(PgStore::new(pool));
    let ops = Arc::new(api::ops::Operations::new(store.clone(), None));
    api::routes::router(AppState(Arc::new(App {
        booking: BookingService {
            appointments: store.clone(),
            leads: store.clone(),
            clock: Arc::new(SystemClock),
            calendar: BookingCalendar::default(),
            location: LocationId::parse("loc1").unwrap(),
        },
        appointments: store.clone(),
        leads: store,
        jwt: JwtVerifier::new(SecretString::from(SECRET)),
        readiness: Arc::new(Ready),
        ops,
    })))
}

fn token() -> String {
    let exp = chrono::Utc::now().timestamp() + 600;
    JwtVerifier::new(SecretString::from(SECRET)).sign(&json!({"sub": "test", "exp": exp}))
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", token()));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(Body::from(body.unwrap_or_default().to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    (status, value)
}

fn booking(days: i64, email: &str) -> Value {
    let start = (chrono::Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    json!({
        "customer": {"name": "Jan Jansen", "email": email, "phone": "+31 6 12345678", "address": "Dorpsstraat 1"},
        "serviceType": "maintenance",
        "startTime": start.to_rfc3339(),
        "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
    })
}

async fn create(app: &Router, body: &Value) -> Value {
    let (status, created) = call(
        app,
        "POST",
        "/api/appointments",
        Some(&body.to_string()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn booking_answers_201_with_the_appointment_and_its_pending_sync_job(pool: PgPool) {
    let app = app(pool.clone());
    let created = create(&app, &booking(3, "jan@example.com")).await;
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["customer"]["email"], "jan@example.com");
    let id = created["id"].as_str().unwrap();
    let (status, fetched) = call(&app, "GET", &format!("/api/appointments/{id}"), None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["sync"]["jobId"], created["syncJobId"]);
    assert_eq!(fetched["sync"]["action"], "create");
    assert_eq!(fetched["sync"]["status"], "pending");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn malformed_json_is_a_400_with_a_json_error(pool: PgPool) {
    let (status, body) = call(
        &app(pool),
        "POST",
        "/api/appointments",
        Some("{\"customer\": "),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "malformed_json");
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_missing_field_is_a_422_naming_it(pool: PgPool) {
    let mut body = booking(3, "jan@example.com");
    body.as_object_mut().unwrap().remove("serviceType");
    let (status, error) = call(
        &app(pool),
        "POST",
        "/api/appointments",
        Some(&body.to_string()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"], "invalid_field");
    assert!(
        error["message"].as_str().unwrap().contains("serviceType"),
        "{error}"
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn invalid_values_are_422_naming_the_field_without_echoing_personal_data(pool: PgPool) {
    let app = app(pool.clone());
    let cases = [
        ("/customer/email", json!("jan-at-example"), "customer.email"),
        ("/customer/phone", json!("call me maybe"), "customer.phone"),
        ("/customer/name", json!("   "), "customer.name"),
        ("/startTime", json!("tomorrow"), "startTime"),
        ("/serviceType", json!(""), "serviceType"),
    ];
    for (pointer, value, field) in cases {
        let mut body = booking(3, "jan@example.com");
        *body.pointer_mut(pointer).unwrap() = value.clone();
        let (status, error) = call(
            &app,
            "POST",
            "/api/appointments",
            Some(&body.to_string()),
            &[],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{pointer}: {error}"
        );
        assert_eq!(error["field"], field, "{error}");
        if let Some(text) = value.as_str().filter(|t| !t.trim().is_empty()) {
            assert!(
                !error["message"].as_str().unwrap().contains(text),
                "{error}"
            );
        }
    }
    let mut body = booking(3, "jan@example.com");
    body["endTime"] = body["startTime"].clone();
    let (status, error) = call(
        &app,
        "POST",
        "/api/appointments",
        Some(&body.to_string()),
        &[],
    )
    .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("endTime"))
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing is stored for a refused request");
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_booking_in_the_past_is_refused(pool: PgPool) {
    let (status, error) = call(
        &app(pool),
        "POST",
        "/api/appointments",
        Some(&booking(-2, "a@b.nl").to_string()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"], "booking_in_the_past");
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_body_without_json_content_type_is_415_and_a_huge_one_413(pool: PgPool) {
    let app = app(pool);
    let request = Request::post("/api/appointments")
        .header("authorization", format!("Bearer {}", token()))
        .body(Body::from(booking(3, "a@b.nl").to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"notes\": \"{}\"}}", "x".repeat(200_000));
    let (status, error) = call(&app, "POST", "/api/appointments", Some(&huge), &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error["error"], "payload_too_large");
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn every_api_route_needs_a_valid_token(pool: PgPool) {
    let app = app(pool);
    for (method, path) in [
        ("POST", "/api/appointments"),
        (
            "GET",
            "/api/appointments/0190e7d2-0000-7000-8000-000000000000",
        ),
        (
            "PATCH",
            "/api/appointments/0190e7d2-0000-7000-8000-000000000000/status",
        ),
        ("GET", "/api/availability?date=2030-01-01"),
        ("GET", "/api/leads?email=a@b.nl"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    let expired =
        JwtVerifier::new(SecretString::from(SECRET)).sign(&json!({"sub": "x", "exp": 1_000}));
    let request = Request::get("/api/availability?date=2030-01-01")
        .header("authorization", format!("Bearer {expired}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn unknown_and_malformed_ids(pool: PgPool) {
    let app = app(pool);
    let (status, error) = call(
        &app,
        "GET",
        "/api/appointments/0190e7d2-0000-7000-8000-000000000000",
        None,
        &[],
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, error) = call(&app, "GET", "/api/appointments/not-a-uuid", None, &[]).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (status, error) = call(&app, "GET", "/nowhere", None, &[]).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn status_changes_follow_the_state_machine(pool: PgPool) {
    let app = app(pool.clone());
    let created = create(&app, &booking(3, "jan@example.com")).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/appointments/{id}/status");
    let (status, confirmed) =
        call(&app, "PATCH", &path, Some(r#"{"status":"confirmed"}"#), &[]).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed");
    assert_ne!(confirmed["syncJobId"], created["syncJobId"]);
    let (status, error) = call(&app, "PATCH", &path, Some(r#"{"status":"confirmed"}"#), &[]).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition"))
    );
    let (status, error) = call(
        &app,
        "PATCH",
        &path,
        Some(r#"{"status":"rescheduled"}"#),
        &[],
    )
    .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );
    // The seed's route name, body carrying the id.
    let body = json!({"appointmentId": id, "status": "completed"}).to_string();
    let (status, completed) =
        call(&app, "POST", "/api/appointments/status", Some(&body), &[]).await;
    assert_eq!(status, StatusCode::OK, "{completed}");
    let (status, _) = call(&app, "PATCH", &path, Some(r#"{"status":"cancelled"}"#), &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let lead = completed["leadId"].as_str().unwrap();
    let (_, lead) = call(&app, "GET", &format!("/api/leads/{lead}"), None, &[]).await;
    assert_eq!(lead["lifecycle"], "customer");
    let jobs: Vec<String> = sqlx::query_scalar("SELECT action FROM sync_jobs ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(jobs, ["create", "confirm", "complete"]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn rescheduling_moves_the_slot_and_keeps_the_length(pool: PgPool) {
    let app = app(pool);
    let created = create(&app, &booking(3, "jan@example.com")).await;
    let id = created["id"].as_str().unwrap();
    let new_start = (chrono::Utc::now() + chrono::Duration::days(6))
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let body = json!({"startTime": new_start.to_rfc3339()}).to_string();
    let (status, moved) = call(
        &app,
        "PATCH",
        &format!("/api/appointments/{id}"),
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let end: chrono::DateTime<chrono::Utc> = moved["endTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(end - new_start, chrono::Duration::hours(2));
    let (status, error) = call(
        &app,
        "PATCH",
        &format!("/api/appointments/{id}"),
        Some("{}"),
        &[],
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field"))
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_full_slot_is_409_and_cancelling_frees_it(pool: PgPool) {
    let app = app(pool);
    let first = create(&app, &booking(4, "a@example.com")).await;
    let (status, error) = call(
        &app,
        "POST",
        "/api/appointments",
        Some(&booking(4, "b@example.com").to_string()),
        &[],
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::CONFLICT, Some("slot_unavailable"))
    );
    let path = format!("/api/appointments/{}/status", first["id"].as_str().unwrap());
    let (status, _) = call(
        &app,
        "PATCH",
        &path,
        Some(r#"{"status":"cancelled","reason":"sick"}"#),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    create(&app, &booking(4, "b@example.com")).await;
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn an_idempotency_key_replays_the_first_booking(pool: PgPool) {
    let app = app(pool.clone());
    let body = booking(5, "jan@example.com").to_string();
    let key = [("idempotency-key", "booking-123")];
    let (status, first) = call(&app, "POST", "/api/appointments", Some(&body), &key).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = call(&app, "POST", "/api/appointments", Some(&body), &key).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["syncJobId"], again["syncJobId"]);
    let other = booking(6, "jan@example.com").to_string();
    let (status, error) = call(&app, "POST", "/api/appointments", Some(&other), &key).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn leads_are_found_by_email_or_contact_id(pool: PgPool) {
    let app = app(pool);
    let mut body = booking(3, "Jan@Example.com");
    body["ghlContactId"] = json!("contact-1");
    let created = create(&app, &body).await;
    let (status, found) = call(&app, "GET", "/api/leads?email=jan@example.com", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["leads"][0]["id"], created["leadId"]);
    assert_eq!(found["leads"][0]["ghlContactId"], "contact-1");
    let (_, found) = call(&app, "GET", "/api/leads?ghlContactId=contact-1", None, &[]).await;
    assert_eq!(found["leads"].as_array().unwrap().len(), 1);
    let (status, error) = call(&app, "GET", "/api/leads", None, &[]).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    // A second booking by the same person reuses the lead.
    let again = create(&app, &booking(5, "jan@example.com")).await;
    assert_eq!(again["leadId"], created["leadId"]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn availability_lists_the_days_slots(pool: PgPool) {
    let app = app(pool);
    let date = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive();
    let (status, body) = call(
        &app,
        "GET",
        &format!("/api/availability?date={date}"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["slots"].as_array().unwrap().len(), 5);
    assert!(
        body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["available"] == true)
    );
    let (status, error) = call(&app, "GET", "/api/availability?date=20-01-2030", None, &[]).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (status, _) = call(&app, "GET", "/api/availability", None, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn every_response_carries_a_request_id(pool: PgPool) {
    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    let response = app(pool).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"].len(), 36);
}

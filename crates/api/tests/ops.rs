//! `POST /sync`, `/monitor` and `/metrics` in-process: the real router on a
//! fresh database, `POST /sync` running `run_job` against an in-process ghl-sim
//! (or a scripted failing server) over real HTTP. Bodies are held against the
//! seed's examples (`tests/fixtures/seed/`) field by field.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;

use api::auth::JwtVerifier;
use api::ops::Operations;
use api::{App, AppState, Readiness};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use domain::LocationId;
use domain::ports::SystemClock;
use domain::service::{BookingService, SyncDeps};
use domain::slot::BookingCalendar;
use ghl_adapter::{GhlClient, GhlConfig};
use ghl_sim::{RunningSim, SeedContact, Sim, SimConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use storage::PgStore;
use tower::ServiceExt;

const SECRET: &str = "ops-test-secret-that-is-long-enough-01234";
const LOCATION: &str = "sim-location";

struct Ready;
#[async_trait::async_trait]
impl Readiness for Ready {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/seed/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Same field names at every level and the same JSON types; arrays are
/// compared by their first elements. `free` lists paths whose keys are data
/// (e.g. custom-field keys): only the type is compared there.
fn assert_shape(expected: &Value, actual: &Value, path: &str, free: &[&str]) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            if free.contains(&path) {
                return;
            }
            let ek: Vec<_> = e.keys().collect();
            let ak: Vec<_> = a.keys().collect();
            assert_eq!(ak, ek, "fields of {path} differ from the seed's");
            for (k, v) in e {
                assert_shape(v, &a[k], &format!("{path}.{k}"), free);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e0), Some(a0)) = (e.first(), a.first()) {
                assert_shape(e0, a0, &format!("{path}[0]"), free);
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        (e, a) => panic!("{path}: the seed has {e}, we answer {a}"),
    }
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The app; `ghl` is `(base_url, api_key)` of the GHL it syncs to, if any.
fn app(pool: PgPool, ghl: Option<(&str, &str)>) -> Router {
    let store = Arc::new(PgStore::new(pool));
    let sync = ghl.map(|(base_url, key)| {
        install_crypto();
        let crm = GhlClient::new(
            GhlConfig::new(SecretString::from(key.to_owned())).with_base_url(base_url),
        )
        .unwrap();
        SyncDeps {
            appointments: store.clone(),
            leads: store.clone(),
            queue: store.clone(),
            crm: Arc::new(crm),
            clock: Arc::new(SystemClock),
            settings: Default::default(),
            retry: domain::retry::RetryPolicy::JOB_DEFAULT,
        }
    });
    let ops = Operations::new(store.clone(), sync);
    router(store, ops)
}

fn router(store: Arc<PgStore>, ops: Operations) -> Router {
    api::routes::router(AppState(Arc::new(App {
        booking: BookingService {
            appointments: store.clone(),
            leads: store.clone(),
            clock: Arc::new(SystemClock),
            calendar: BookingCalendar::default(),
            location: LocationId::parse(LOCATION).unwrap(),
        },
        appointments: store.clone(),
        leads: store,
        jwt: JwtVerifier::new(SecretString::from(SECRET)),
        readiness: Arc::new(Ready),
        ops: Arc::new(ops),
    })))
}

fn token() -> String {
    let exp = chrono::Utc::now().timestamp() + 600;
    JwtVerifier::new(SecretString::from(SECRET)).sign(&json!({"sub": "test", "exp": exp}))
}

async fn call_with(
    app: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
    auth: Option<String>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, value)
}

async fn call(app: &Router, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let (status, _, body) =
        call_with(app, method, path, body, Some(format!("Bearer {}", token()))).await;
    (status, body)
}

async fn sync(app: &Router, id: &str, action: &str) -> (StatusCode, HeaderMap, Value) {
    call_with(
        app,
        "POST",
        "/sync",
        Some(json!({"appointmentId": id, "action": action, "timestamp": "2024-01-15T10:00:00Z"})),
        Some(format!("Bearer {}", token())),
    )
    .await
}

/// Books an appointment (for `contact` when given) and returns its id.
async fn book(app: &Router, days: i64, contact: Option<&str>) -> String {
    let start = (chrono::Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    let mut body = json!({
        "customer": {"name": "Jan Jansen", "email": format!("jan{days}@example.com"), "phone": "+31 6 12345678"},
        "serviceType": "maintenance",
        "startTime": start.to_rfc3339(),
        "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
    });
    if let Some(contact) = contact {
        body["ghlContactId"] = json!(contact);
    }
    let (status, created) = call(app, "POST", "/api/appointments", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn sim() -> RunningSim {
    Sim::start(SimConfig::default()).await.unwrap()
}

fn seed_contact(sim: &RunningSim) -> String {
    sim.seed_contact(SeedContact {
        email: Some("ann@example.com".into()),
        first_name: Some("Ann".into()),
        ..Default::default()
    })
    .unwrap()
    .id
}

async fn job_status(pool: &PgPool, appointment: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT status FROM sync_jobs WHERE appointment_id = $1::uuid ORDER BY seq")
        .bind(appointment)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn sync_runs_the_pending_job_now_and_answers_the_seeds_success_body(pool: PgPool) {
    let sim = sim().await;
    let app = app(pool.clone(), Some((&sim.base_url, &sim.config().api_key)));
    let contact = seed_contact(&sim);
    let id = book(&app, 3, Some(&contact)).await;

    let (status, _, body) = sync(&app, &id, "create").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape(
        &fixture("sync-success-response.json"),
        &body,
        "$",
        &["$.syncDetails.customFieldsUpdated"],
    );
    assert_eq!(body["success"], true);
    assert_eq!(body["appointmentId"], id);
    assert_eq!(body["action"], "create");
    assert_eq!(body["ghlContactId"], contact);
    let details = &body["syncDetails"];
    assert_eq!(details["notesCreated"], true);
    assert_eq!(details["contactUpdated"], true);
    assert_eq!(details["taskCreated"], true);
    assert_eq!(details["tagsApplied"], json!(["appointment-scheduled"]));
    assert_eq!(
        details["customFieldsUpdated"]["appointment_status"],
        "scheduled"
    );
    assert!(body["processingTime"].as_u64().is_some());
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());

    // It ran through the outbox job: the job is done and GHL has its effects.
    assert_eq!(job_status(&pool, &id).await, ["succeeded"]);
    let state = sim.contact(&contact).unwrap();
    assert!(
        state
            .contact
            .tags
            .iter()
            .any(|t| t == "appointment-scheduled")
    );
    let calls = sim.calls().len();

    // A repeat within 5 minutes gets the stored answer and syncs nothing.
    let (status, headers, again) = sync(&app, &id, "create").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, body);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(sim.calls().len(), calls);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_requests")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        stored, 1,
        "the answer is stored in the database (shared by replicas)"
    );

    // The netlify path is the same endpoint.
    let (status, _, body) = call_with(
        &app,
        "POST",
        "/.netlify/functions/gohighlevel-appointment-sync",
        Some(json!({"appointmentId": id, "action": "confirm"})),
        Some(format!("Bearer {}", token())),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "nothing_to_sync", "{body}");
    assert!(body["message"].as_str().unwrap().contains("confirm"));
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_later_change_waits_for_the_earlier_one(pool: PgPool) {
    let sim = sim().await;
    let app = app(pool.clone(), Some((&sim.base_url, &sim.config().api_key)));
    let contact = seed_contact(&sim);
    let id = book(&app, 3, Some(&contact)).await;
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/api/appointments/{id}/status"),
        Some(json!({"status": "confirmed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = sync(&app, &id, "confirm").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "sync_out_of_order");
    assert!(
        body["message"].as_str().unwrap().contains("`create`"),
        "{body}"
    );
    assert_eq!(job_status(&pool, &id).await, ["pending", "pending"]);

    assert_eq!(sync(&app, &id, "create").await.0, StatusCode::OK);
    let (status, _, body) = sync(&app, &id, "confirm").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["syncDetails"]["tagsApplied"],
        json!(["appointment-confirmed"])
    );
    assert_eq!(job_status(&pool, &id).await, ["succeeded", "succeeded"]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_lead_without_a_ghl_contact_is_skipped_with_a_200(pool: PgPool) {
    let sim = sim().await;
    let app = app(pool.clone(), Some((&sim.base_url, &sim.config().api_key)));
    let id = book(&app, 3, None).await;
    let (status, _, body) = sync(&app, &id, "create").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["skipped"], true);
    assert_eq!(body["ghlContactId"], Value::Null);
    assert_eq!(body["syncDetails"]["notesCreated"], false);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("No GoHighLevel contact")
    );
    assert_eq!(job_status(&pool, &id).await, ["skipped"]);
    assert!(sim.calls().is_empty());
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_permanent_ghl_failure_is_a_502_dead_letter_that_the_monitor_explains_and_retries(
    pool: PgPool,
) {
    let sim = sim().await;
    // A revoked token: GHL answers 401, which no retry can fix.
    let app = app(pool.clone(), Some((&sim.base_url, "revoked-token")));
    let contact = seed_contact(&sim);
    let id = book(&app, 3, Some(&contact)).await;

    let (status, _, body) = sync(&app, &id, "create").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let mut seed = fixture("sync-error-response.json");
    seed["retryAfter"] = Value::Null; // nothing to wait for
    assert_shape(&seed, &body, "$", &[]);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], "Sync failed");
    assert_eq!(body["retryable"], false);
    assert_eq!(body["appointmentId"], id);
    assert!(!body["message"].as_str().unwrap().contains("revoked-token"));
    assert_eq!(job_status(&pool, &id).await, ["dead"]);

    // The monitor shows it, with the cause and what to do.
    let (status, monitor) = call(&app, "GET", "/monitor?action=status", None).await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    let mut seed = fixture("monitor-status-response.json");
    seed["data"]["systemHealth"]["checks"] = fixture("health-check.json")["checks"].clone();
    assert_shape(&seed, &monitor, "$", &[]);
    let data = &monitor["data"];
    assert_eq!(data["totalSyncs"], 1);
    assert_eq!(data["successful"], 0);
    assert_eq!(data["failed"], 1);
    assert_eq!(data["successRate"], 0.0);
    assert_eq!(data["deadLetterQueueSize"], 1);
    assert_eq!(data["recentFailures"][0]["appointmentId"], id);
    assert_eq!(data["recentFailures"][0]["attempts"], 1);
    assert_eq!(data["systemHealth"]["checks"]["syncPerformance"], false);
    assert_eq!(data["systemHealth"]["status"], "degraded");
    let advice = data["recommendations"].to_string();
    assert!(
        advice.contains("location sim-location: GHL refuses our token (401 × 1)")
            && advice.contains("reconnect"),
        "{advice}"
    );

    // Per appointment: another appointment's figures are empty.
    let other = book(&app, 4, None).await;
    let (_, filtered) = call(
        &app,
        "GET",
        &format!("/monitor?action=status&appointmentId={other}"),
        None,
    )
    .await;
    assert_eq!(filtered["data"]["totalSyncs"], 0);
    assert_eq!(filtered["data"]["deadLetterQueueSize"], 0);

    // retry (GET as in the seed, and POST) replays the dead job.
    let (status, retried) = call(
        &app,
        "POST",
        &format!("/.netlify/functions/gohighlevel-sync-monitor?action=retry&appointmentId={id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(
        retried,
        json!({"success": true, "action": "retry", "data": {"retried": 1}})
    );
    assert_eq!(job_status(&pool, &id).await, ["pending"]);
    let (_, again) = call(&app, "GET", "/monitor?action=retry", None).await;
    assert_eq!(again["data"]["retried"], 0);
}

/// A GHL that always answers 503.
async fn failing_ghl() -> String {
    let app = Router::new().fallback(|| async {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"message": "down for maintenance"})),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_transient_ghl_failure_is_a_503_with_retry_after(pool: PgPool) {
    let base = failing_ghl().await;
    let app = app(pool.clone(), Some((&base, "key")));
    let id = book(&app, 3, Some("contact-1")).await;
    let (status, headers, body) = sync(&app, &id, "create").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_shape(&fixture("sync-error-response.json"), &body, "$", &[]);
    assert_eq!(body["retryable"], true);
    let wait = body["retryAfter"].as_i64().unwrap();
    assert!(wait >= 1);
    assert_eq!(headers["retry-after"], wait.to_string().as_str());
    assert_eq!(job_status(&pool, &id).await, ["pending"]);
    // Not stored: asking again tries again (the job is still the next one).
    let (status, _, _) = sync(&app, &id, "create").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM sync_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 2);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn client_mistakes_are_4xx_and_a_missing_key_is_a_clear_503(pool: PgPool) {
    let app_without_ghl = app(pool.clone(), None);
    let id = book(&app_without_ghl, 3, None).await;
    let (status, _, body) = sync(&app_without_ghl, &id, "create").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "sync_unavailable");
    assert!(body["message"].as_str().unwrap().contains("GHL_API_KEY"));
    let (status, health) = call(&app_without_ghl, "GET", "/monitor?action=health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health["data"]["status"], "unhealthy");
    assert_eq!(health["data"]["checks"]["environment"], false);
    assert_shape(
        &fixture("health-check.json")["checks"],
        &health["data"]["checks"],
        "$",
        &[],
    );

    let sim = sim().await;
    let app = app(pool, Some((&sim.base_url, &sim.config().api_key)));
    let (status, health) = call(&app, "GET", "/monitor?action=health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["data"]["status"], "healthy");
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        sync(&app, &unknown, "create").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _, body) = sync(&app, &id, "explode").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "action");
    let (status, _, body) = sync(&app, "not-a-uuid", "create").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "appointmentId");
    let (status, body) = call(
        &app,
        "POST",
        "/sync",
        Some(json!({"appointmentId": id, "action": "create", "timestamp": "yesterday"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "timestamp");
    let (status, body) = call(&app, "GET", "/monitor?action=reboot", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_query");
    let (status, _) = call(&app, "GET", "/monitor?appointmentId=nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for (method, path) in [("POST", "/sync"), ("GET", "/monitor"), ("POST", "/monitor")] {
        let (status, _, _) = call_with(&app, method, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn metrics_need_the_metrics_token_when_one_is_set(pool: PgPool) {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    let handle = HANDLE
        .get_or_init(|| api::metrics::install().unwrap())
        .clone();
    let store = Arc::new(PgStore::new(pool));
    let ops = Operations {
        metrics: Some(handle),
        metrics_token: Some(SecretString::from("scrape-me")),
        ..Operations::new(store.clone(), None)
    };
    let app = router(store, ops);
    book(&app, 3, None).await;
    let (status, _, _) = call_with(&app, "GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call_with(
        &app,
        "GET",
        "/metrics",
        None,
        Some(format!("Bearer {}", token())),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a JWT is not the metrics token"
    );
    let (status, _, text) = call_with(
        &app,
        "GET",
        "/metrics",
        None,
        Some("Bearer scrape-me".into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{route="/api/appointments",method="POST",status="201"}"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"sync_jobs{status="pending"} 1"#), "{text}");
    assert!(text.contains("sync_dead_letter_size 0"), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_job_a_worker_holds_is_not_taken_from_it(pool: PgPool) {
    use domain::ports::SyncQueue;
    let sim = sim().await;
    let app = app(pool.clone(), Some((&sim.base_url, &sim.config().api_key)));
    let contact = seed_contact(&sim);
    let id = book(&app, 3, Some(&contact)).await;
    let store = PgStore::new(pool.clone());
    let claimed = store
        .claim("worker-1", 10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let (status, _, body) = sync(&app, &id, "create").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "sync_in_progress");
    assert!(sim.calls().is_empty());
    // The worker's lease still holds: it can finish the job.
    let lease = claimed[0].lease.unwrap();
    store.release(claimed[0].id, lease).await.unwrap();
}

async fn raw(
    app: &Router,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if form.is_some() {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    let request = request
        .body(Body::from(form.unwrap_or_default().to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn the_dashboard_needs_a_session_and_refuses_forged_posts(pool: PgPool) {
    let app = app(pool.clone(), None);
    let (status, _, html) = raw(&app, "GET", "/dashboard", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("id=\"login\"") && !html.contains("total-syncs"));
    let (status, _, _) = raw(&app, "GET", "/dashboard?token=forged", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // ?token= sets a strict, HttpOnly cookie and redirects the token out of the URL.
    let token = token();
    let (status, headers, _) = raw(
        &app,
        "GET",
        &format!("/dashboard?token={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/dashboard");
    let cookie = headers["set-cookie"].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/dashboard"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    // The login form does the same.
    let (status, headers, _) = raw(
        &app,
        "POST",
        "/dashboard/login",
        None,
        Some(&format!("token={token}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers.contains_key("set-cookie"));

    let (status, _, html) = raw(&app, "GET", "/dashboard", Some(&session), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"total-syncs\"") && html.contains("<svg"));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));

    // A dead job, and a POST without the page's CSRF token: refused, nothing replayed.
    let id = book(&app, 3, None).await;
    sqlx::query(
        "UPDATE sync_jobs SET status = 'dead', next_attempt_at = NULL, finished_at = now(),
                last_error = 'boom', error_class = 'permanent' WHERE appointment_id = $1::uuid",
    )
    .bind(&id)
    .execute(&pool)
    .await
    .unwrap();
    let job: String = sqlx::query_scalar("SELECT id::text FROM sync_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    let (_, _, html) = raw(&app, "GET", "/dashboard", Some(&session), None).await;
    assert!(html.contains(&format!("id=\"retry-{job}\"")));
    let form = format!("job={job}&csrf=guess");
    let (status, _, _) = raw(
        &app,
        "POST",
        "/dashboard/retry",
        Some(&session),
        Some(&form),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = raw(&app, "POST", "/dashboard/discard", None, Some(&form)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(job_status(&pool, &id).await, ["dead"]);

    // With the page's token, discard works.
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let form = format!("job={job}&csrf={csrf}");
    let (status, headers, _) = raw(
        &app,
        "POST",
        "/dashboard/discard",
        Some(&session),
        Some(&form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/dashboard?done=discarded-1");
    let (_, _, html) = raw(&app, "GET", "/dashboard", Some(&session), None).await;
    assert!(!html.contains(&format!("id=\"retry-{job}\"")));
}

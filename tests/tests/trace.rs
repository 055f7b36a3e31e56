//! One trace from the API request through the worker's job to the GHL calls,
//! in-process with an in-memory span exporter: the api router books an
//! appointment (its request span's context is stored with the sync job), the
//! worker's `sync.job` span continues it, and the `ghl.call` spans (real HTTP
//! to an in-process ghl-sim) are its children.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use api::auth::JwtVerifier;
use api::{App, AppState, Readiness};
use axum::body::Body;
use axum::http::Request;
use domain::LocationId;
use domain::job::JobOutcome;
use domain::ports::{SyncQueue, SystemClock};
use domain::service::{BookingService, SyncDeps, run_job};
use domain::slot::BookingCalendar;
use ghl_adapter::{GhlClient, GhlConfig, Metered};
use ghl_sim::{SeedContact, Sim, SimConfig};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use secrecy::SecretString;
use serde_json::{Value, json};
use storage::PgStore;
use tower::ServiceExt;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const SECRET: &str = "trace-test-secret-that-is-long-enough-0123";

struct Ready;
#[async_trait::async_trait]
impl Readiness for Ready {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

async fn post(app: &axum::Router, path: &str, body: Value, traceparent: Option<&str>) -> Value {
    let exp = chrono::Utc::now().timestamp() + 600;
    let token = JwtVerifier::new(SecretString::from(SECRET)).sign(&json!({"sub": "t", "exp": exp}));
    let mut request = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(tp) = traceparent {
        request = request.header("traceparent", tp);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[tokio::test]
async fn one_trace_runs_from_the_request_through_the_job_to_the_ghl_calls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(otel::layer(&provider, "test"));
    let _default = tracing::subscriber::set_default(subscriber);

    let db = tests::TestDb::create().await.unwrap();
    let pool = storage::connect(&db.url, 4).await.unwrap();
    storage::migrate(&pool).await.unwrap();
    let store = Arc::new(PgStore::new(pool.clone()));
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let contact = sim
        .seed_contact(SeedContact {
            email: Some("tess@example.com".into()),
            ..Default::default()
        })
        .unwrap()
        .id;
    let app = api::routes::router(AppState(Arc::new(App {
        booking: BookingService {
            appointments: store.clone(),
            leads: store.clone(),
            clock: Arc::new(SystemClock),
            calendar: BookingCalendar::default(),
            location: LocationId::parse(&sim.config().location_id).unwrap(),
        },
        appointments: store.clone(),
        leads: store.clone(),
        jwt: JwtVerifier::new(SecretString::from(SECRET)),
        readiness: Arc::new(Ready),
        ops: Arc::new(api::ops::Operations::new(store.clone(), None)),
    })));

    // The API request, without a traceparent of its own.
    let start = (chrono::Utc::now() + chrono::Duration::days(3))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    let booked = post(
        &app,
        "/api/appointments",
        json!({
            "customer": {"name": "Tess Test", "email": "tess@example.com"},
            "serviceType": "maintenance",
            "startTime": start.to_rfc3339(),
            "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
            "ghlContactId": contact,
        }),
        None,
    )
    .await;

    // The worker's side: claim, then run_job inside the worker's job span.
    let jobs = store
        .claim("trace-test", 1, Duration::from_secs(60))
        .await
        .unwrap();
    let job = jobs.into_iter().next().unwrap();
    assert_eq!(job.id.to_string(), booked["syncJobId"].as_str().unwrap());
    let stored = job
        .traceparent
        .clone()
        .expect("the job carries a traceparent");
    let crm = GhlClient::new(
        GhlConfig::new(SecretString::from(sim.config().api_key.clone()))
            .with_base_url(&sim.base_url),
    )
    .unwrap();
    let deps = SyncDeps {
        appointments: store.clone(),
        leads: store.clone(),
        queue: store.clone(),
        crm: Arc::new(Metered::new(crm)),
        clock: Arc::new(SystemClock),
        settings: Default::default(),
        retry: domain::retry::RetryPolicy::JOB_DEFAULT,
    };
    let span = worker::runner::job_span(&job);
    let outcome = run_job(&deps, job, 0.5).instrument(span).await.unwrap();
    assert!(matches!(outcome, JobOutcome::Succeeded(_)), "{outcome:?}");

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let request = named(&spans, "request");
    let job_span = named(&spans, "sync.job");
    let calls = named(&spans, "ghl.call");
    assert_eq!(request.len(), 1, "{spans:#?}");
    assert_eq!(job_span.len(), 1, "{spans:#?}");
    assert_eq!(calls.len(), 4, "note, tags, fields, task: {spans:#?}");
    let (request, job_span) = (request[0], job_span[0]);
    let trace = request.span_context.trace_id();
    assert_ne!(trace, TraceId::INVALID);
    assert_eq!(
        request.parent_span_id,
        SpanId::INVALID,
        "the request started the trace"
    );
    assert_eq!(
        stored,
        format!("00-{}-{}-01", trace, request.span_context.span_id()),
        "the stored traceparent is the request span's"
    );
    assert_eq!(job_span.span_context.trace_id(), trace);
    assert_eq!(job_span.parent_span_id, request.span_context.span_id());
    for call in &calls {
        assert_eq!(call.span_context.trace_id(), trace);
        assert_eq!(call.parent_span_id, job_span.span_context.span_id());
    }

    // A caller's traceparent is continued by the request span.
    let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let id = booked["id"].as_str().unwrap();
    post(
        &app,
        "/api/appointments/status",
        json!({"appointmentId": id, "status": "confirmed"}),
        Some(caller),
    )
    .await;
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let continued = named(&spans, "request")
        .into_iter()
        .find(|s| s.span_context.trace_id().to_string() == "0af7651916cd43dd8448eb211c80319c")
        .expect("the second request continues the caller's trace");
    assert_eq!(continued.parent_span_id.to_string(), "b7ad6b7169203331");

    pool.close().await;
    db.drop_database().await.unwrap();
}

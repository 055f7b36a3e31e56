//! `POST /webhooks/ghl` (also `/.netlify/functions/gohighlevel-webhook`, the
//! seed's path) and `POST /webhooks/ghl/workflow`. Not behind the JWT: the first
//! is authenticated by GHL's signature, the second by a shared secret.
//!
//! Order of checks for a signed webhook: size (413) → signature over the raw
//! bytes (401, nothing stored) → JSON (400) → envelope (400) → duplicate
//! `webhookId` (200, nothing changes) → timestamp window (401) → store (503 if
//! that fails, so GHL delivers again) → apply (a failure here still answers 200:
//! the event is stored and the retry loop applies it) → 200.
//!
//! A body without `webhookId` (GHL's documented examples have none) is
//! identified by `sha256:<hex of the raw body>`: GHL's retries resend the same
//! bytes, and its signatures are deterministic, so a repeat is recognised; a
//! replayed body is a duplicate forever (the inbox keeps its ids). A body
//! without `timestamp` skips the window check for the same reason: its replay
//! cannot change anything.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use domain::LocationId;
use domain::inbound::{parse_envelope, parse_workflow};
use domain::ports::{Clock, InboundOutcome, InboundRecord, InboundSource, Recorded, WebhookInbox};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::webhook_config::WebhookSettings;

/// The header that carries the workflow webhook secret.
pub const WORKFLOW_SECRET_HEADER: &str = "x-webhook-secret";

/// What the webhook handlers need.
#[derive(Clone)]
pub struct WebhookState {
    pub inbox: Arc<dyn WebhookInbox>,
    pub location: LocationId,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<WebhookSettings>,
}

/// The webhook routes, to be merged into the main router (`routes::router_with`).
pub fn routes(state: WebhookState) -> Router<AppState> {
    Router::new()
        .route("/webhooks/ghl", post(ghl))
        .route("/.netlify/functions/gohighlevel-webhook", post(ghl))
        .route("/webhooks/ghl/workflow", post(workflow))
        .with_state(state)
}

/// A refused webhook: the API's error shape `{"error", "message"}`.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refused {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        tracing::warn!(webhook.refused = self.code, "webhook refused");
        (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response()
    }
}

enum Failure {
    Refused(Refused),
    Api(ApiError),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Refused(r) => r.into_response(),
            Failure::Api(e) => e.into_response(),
        }
    }
}

impl From<Refused> for Failure {
    fn from(r: Refused) -> Self {
        Failure::Refused(r)
    }
}

async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Refused> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("webhook bodies are limited to {limit} bytes"),
        )
    })
}

fn json_body(bytes: &[u8]) -> Result<Value, Refused> {
    let value = serde_json::from_slice(bytes).map_err(|e| {
        Refused::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    // PostgreSQL's jsonb cannot hold U+0000; no real GHL event contains one.
    if contains_nul(&value) {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body contains a NUL character (\\u0000), which is not accepted",
        ));
    }
    Ok(value)
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

fn accepted(status: &'static str, outcome: Option<&InboundOutcome>) -> Response {
    let mut body = json!({ "status": status });
    if let Some(outcome) = outcome {
        body["outcome"] = json!(outcome.as_str());
    }
    (StatusCode::OK, Json(body)).into_response()
}

/// Stores the event, then applies it. Storing fails → 503 (delivered again).
async fn store_and_apply(
    state: &WebhookState,
    record: InboundRecord,
    window: Option<Duration>,
) -> Result<Response, Failure> {
    let event_type = record.event_type.clone();
    let id = match state.inbox.record(&record, window).await {
        Ok(Recorded::New(id)) => id,
        Ok(Recorded::Duplicate) => {
            tracing::info!(webhook.event_type = %event_type, "duplicate webhook ignored");
            return Ok(accepted("duplicate", None));
        }
        Err(e) => return Err(Failure::Api(ApiError::Unavailable(e))),
    };
    match state
        .inbox
        .process(id, &state.location, state.clock.now())
        .await
    {
        Ok(outcome) => {
            if let Some(outcome) = &outcome {
                tracing::info!(
                    webhook.id = %id,
                    webhook.event_type = %event_type,
                    webhook.outcome = outcome.as_str(),
                    webhook.detail = outcome.detail().unwrap_or(""),
                    "webhook applied"
                );
            }
            Ok(accepted("processed", outcome.as_ref()))
        }
        Err(e) => {
            // Stored: the retry loop applies it. GHL must not deliver it again.
            tracing::error!(webhook.id = %id, error = %e, "webhook stored but not applied yet");
            Ok(accepted("stored", None))
        }
    }
}

async fn ghl(State(state): State<WebhookState>, headers: HeaderMap, body: Body) -> Response {
    match ghl_inner(&state, &headers, body).await {
        Ok(r) => r,
        Err(f) => f.into_response(),
    }
}

async fn ghl_inner(
    state: &WebhookState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let settings = &state.settings;
    let bytes = read_body(body, settings.max_body_bytes).await?;
    if settings.skip_signatures {
        tracing::warn!(
            "GHL_SKIP_SIGNATURE_VALIDATION=true: accepting a webhook WITHOUT verifying its signature"
        );
    } else {
        let kind = settings.verifier.verify(headers, &bytes).map_err(|e| {
            Refused::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string())
        })?;
        tracing::debug!(webhook.signature = ?kind, "webhook signature verified");
    }
    let value = json_body(&bytes)?;
    let envelope = parse_envelope(&value)
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, "invalid_event", e.to_string()))?;
    let webhook_id = match &envelope.webhook_id {
        Some(id) => id.clone(),
        None => format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
    };
    match state.inbox.is_known(&webhook_id).await {
        Ok(true) => return Ok(accepted("duplicate", None)),
        Ok(false) => {}
        Err(e) => return Err(Failure::Api(ApiError::Unavailable(e))),
    }
    let now = state.clock.now();
    if let (Some(tolerance), Some(ts)) = (settings.tolerance, envelope.timestamp) {
        let skew = (now - ts).abs().to_std().unwrap_or(Duration::MAX);
        if skew > tolerance {
            return Err(Refused::new(
                StatusCode::UNAUTHORIZED,
                "timestamp_out_of_window",
                format!(
                    "the webhook timestamp is more than {} s from now",
                    tolerance.as_secs()
                ),
            )
            .into());
        }
    }
    let record = InboundRecord {
        source: InboundSource::Webhook,
        webhook_id,
        event_type: envelope.event_type,
        location_id: envelope.location_id,
        payload: value,
        timestamp: envelope.timestamp,
        content_hash: None,
        received_at: now,
    };
    store_and_apply(state, record, None).await
}

async fn workflow(State(state): State<WebhookState>, headers: HeaderMap, body: Body) -> Response {
    match workflow_inner(&state, &headers, body).await {
        Ok(r) => r,
        Err(f) => f.into_response(),
    }
}

async fn workflow_inner(
    state: &WebhookState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let settings = &state.settings;
    // Fail closed: without a configured secret the path does not exist.
    let Some(secret) = &settings.workflow_secret else {
        return Err(Failure::Api(ApiError::NotFound("route")));
    };
    let given = headers
        .get(WORKFLOW_SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !secret_matches(given, secret.expose_secret().as_bytes()) {
        return Err(Refused::new(
            StatusCode::UNAUTHORIZED,
            "invalid_secret",
            "missing or wrong X-Webhook-Secret header",
        )
        .into());
    }
    let bytes = read_body(body, settings.max_body_bytes).await?;
    let value = json_body(&bytes)?;
    let parsed = parse_workflow(&value)
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, "invalid_event", e.to_string()))?;
    let now = state.clock.now();
    let record = InboundRecord {
        source: InboundSource::Workflow,
        // No webhookId in workflow bodies: every accepted delivery gets its own;
        // repeats are caught by the content hash within the window.
        webhook_id: format!("workflow:{}", Uuid::now_v7()),
        event_type: "WorkflowWebhook".into(),
        location_id: parsed.location_id,
        payload: value,
        timestamp: None,
        content_hash: Some(hex::encode(Sha256::digest(&bytes))),
        received_at: now,
    };
    store_and_apply(state, record, Some(settings.workflow_window)).await
}

/// Constant-time comparison: both sides go through HMAC-SHA256 keyed with the
/// secret and the tags are compared with `verify_slice` (constant time), so
/// neither the content nor the length of the secret leaks through timing.
fn secret_matches(given: &[u8], secret: &[u8]) -> bool {
    let tag = |data: &[u8]| {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()?;
        mac.update(data);
        Some(mac)
    };
    let (Some(expected), Some(actual)) = (tag(secret), tag(given)) else {
        return false;
    };
    actual
        .verify_slice(&expected.finalize().into_bytes())
        .is_ok()
}

/// Applies stored events that were not applied (a failure after storing, a
/// crash): once now, then every `interval`. Runs until the task is dropped.
pub async fn retry_unprocessed(state: WebhookState, interval: Duration) {
    loop {
        retry_once(&state).await;
        tokio::time::sleep(interval).await;
    }
}

/// One pass over the unprocessed events (at most 100); how many were applied.
pub async fn retry_once(state: &WebhookState) -> usize {
    let ids = match state.inbox.unprocessed(100).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list unprocessed webhooks");
            return 0;
        }
    };
    let mut applied = 0;
    for id in ids {
        match state
            .inbox
            .process(id, &state.location, state.clock.now())
            .await
        {
            Ok(Some(outcome)) => {
                applied += 1;
                tracing::info!(
                    webhook.id = %id,
                    webhook.outcome = outcome.as_str(),
                    "stored webhook applied"
                );
            }
            Ok(None) => {}
            // One event that cannot be applied does not hold up the others.
            Err(e) => {
                tracing::warn!(webhook.id = %id, error = %e, "stored webhook still not applied")
            }
        }
    }
    applied
}

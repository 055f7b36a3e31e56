//! The two middleware layers of the API routes.
//!
//! [`record`] wraps every API request (also unknown routes and rejected ones): it buffers
//! the body, runs the rest, and appends a [`CallRecord`]. It is the one place that sees
//! every call with its final status, so it also applies the latency, GHL's rate limit
//! (with the `X-RateLimit-*` headers) and injected faults (before `next.run`, or after it
//! for in-doubt writes) of [`crate::behaviour`], and counts [`crate::SimStats`].
//!
//! [`gate`] runs on matched routes only and does what GHL checks before a handler runs:
//! the bearer token, the `Version` header, the location of a `{locationId}` path
//! parameter, and the JSON body against the operation's schema. A valid body is handed to
//! the handler as a [`ParsedBody`] extension (see [`crate::extract::ValidBody`]).

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng as _;
use rand::seq::IndexedRandom as _;
use serde_json::{Value, json};

use crate::behaviour::{FaultKind, SimControl, TIMEOUT_HOLD};

use crate::config::PUBLISHED_VERSIONS;
use crate::error::{GhlError, INVALID_TOKEN, VERSION_INVALID, VERSION_MISSING};
use crate::model::CallRecord;
use crate::openapi::Operation;
use crate::state::SimState;
use crate::{compat, ids};

/// Larger request bodies are refused with 413.
const BODY_LIMIT: usize = 1024 * 1024;

/// The request body after JSON parsing and validation.
#[derive(Debug, Clone)]
pub(crate) struct ParsedBody(pub(crate) Value);

pub(crate) async fn record(
    State(state): State<SimState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let at = ids::now();
    let method = request.method().to_string();
    let is_write = !matches!(request.method(), &Method::GET | &Method::HEAD);
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let route = state
        .spec()
        .match_request(&method, &path)
        .map_or("unknown", |(op, _)| op.path.as_str());
    let mut call = CallRecord {
        method: method.clone(),
        path,
        query,
        status: 0,
        body: Value::Null,
        at,
        fault: None,
        applied_status: None,
    };

    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let response = payload_too_large();
            call.status = response.status().as_u16();
            finish(&state, call, None);
            return response;
        }
    };
    call.body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let request = Request::from_parts(parts, Body::from(bytes));

    let latency = state.behaviour().control.latency_ms;
    if latency.max > 0 {
        let ms = rand::rng().random_range(latency.min..=latency.max);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let (verdict, fault) = {
        let mut behaviour = state.behaviour();
        let control = behaviour.control.clone();
        let verdict = behaviour.budget.take(control.rate_limit, Instant::now());
        let fault = if verdict.allowed {
            roll_fault(&control, is_write)
        } else {
            None
        };
        (verdict, fault)
    };

    let mut response = if !verdict.allowed {
        too_many_requests()
    } else if let Some((kind, after_write)) = fault {
        call.fault = Some(kind);
        if after_write {
            let applied = next.run(request).await;
            call.applied_status = Some(applied.status().as_u16());
        }
        match kind {
            FaultKind::Timeout | FaultKind::Drop => {
                finish(&state, call, Some(kind));
                tracing::info!(http.method = %method, http.route = %route, fault = %kind, "ghl call: injected fault, no response");
                if kind == FaultKind::Timeout {
                    state.hold(TIMEOUT_HOLD).await;
                }
                drop_connection();
            }
            _ => fault_response(kind),
        }
    } else {
        next.run(request).await
    };
    for (name, value) in verdict.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }

    let status = response.status().as_u16();
    call.status = status;
    let fault = call.fault;
    finish(&state, call, fault);
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    // Route templates only: paths carry ids, bodies carry personal data.
    tracing::info!(http.method = %method, http.route = %route, http.status = status, duration_ms, "ghl call");
    response
}

/// Records the call and counts it.
fn finish(state: &SimState, call: CallRecord, fault: Option<FaultKind>) {
    {
        let mut behaviour = state.behaviour();
        let stats = &mut behaviour.stats;
        stats.requests += 1;
        let key = match fault {
            Some(kind @ (FaultKind::Timeout | FaultKind::Drop)) => kind.as_str().to_owned(),
            _ => call.status.to_string(),
        };
        *stats.by_status.entry(key).or_default() += 1;
        if fault.is_some() {
            stats.faults_injected += 1;
        }
        if call.status == 429 {
            stats.rate_limited += 1;
        }
    }
    state.store().record_call(call);
}

/// Draws whether this request gets a fault, which kind, and (for a write) whether it comes
/// after the write was applied. A 401 always comes before: GHL checks the token first.
fn roll_fault(control: &SimControl, is_write: bool) -> Option<(FaultKind, bool)> {
    if control.fault_rate <= 0.0 || control.fault_kinds.is_empty() {
        return None;
    }
    let mut rng = rand::rng();
    if !rng.random_bool(control.fault_rate) {
        return None;
    }
    let kind = *control.fault_kinds.choose(&mut rng)?;
    let after_write = is_write
        && kind != FaultKind::Status401
        && rng.random_bool(control.fault_after_write_share);
    Some((kind, after_write))
}

/// The response of an injected status fault: GHL's 401 and 500 bodies; 502 and 503 come
/// from the load balancer in front of GHL, as HTML.
fn fault_response(kind: FaultKind) -> Response {
    match kind {
        FaultKind::Status401 => GhlError::Unauthorized(INVALID_TOKEN).into_response(),
        FaultKind::Status500 => {
            let body = json!({"statusCode": 500, "message": "Internal server error"});
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
        FaultKind::Status502 => gateway_page(StatusCode::BAD_GATEWAY),
        _ => gateway_page(StatusCode::SERVICE_UNAVAILABLE),
    }
}

fn gateway_page(status: StatusCode) -> Response {
    let text = status.canonical_reason().unwrap_or("error");
    let html = format!(
        "<html><head><title>{code} {text}</title></head><body><h1>{code} {text}</h1></body></html>",
        code = status.as_u16()
    );
    (status, [(header::CONTENT_TYPE, "text/html")], html).into_response()
}

/// GHL documents neither the body of a 429 nor a `Retry-After` header; the sim sends
/// GHL's usual error shape and the `X-RateLimit-*` headers only.
fn too_many_requests() -> Response {
    let body =
        json!({"statusCode": 429, "message": "Too many requests", "error": "Too Many Requests"});
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

/// Closes the connection without a response: unwinding the connection's task (without
/// running the panic hook, so nothing is printed) drops its socket. tokio contains the
/// unwind to that one task; the server keeps serving.
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new(ConnectionDropped))
}

/// The payload of [`drop_connection`]'s unwind.
struct ConnectionDropped;

pub(crate) async fn gate(State(state): State<SimState>, request: Request, next: Next) -> Response {
    match admit(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(response) => response,
    }
}

async fn admit(state: &SimState, request: Request) -> Result<Request, Response> {
    let config = state.config();
    authorize(request.headers(), &config.api_key, state).map_err(IntoResponse::into_response)?;
    // Every routed API path is a spec operation; anything else has no further checks.
    let Some((operation, params)) = state
        .spec()
        .match_request(request.method().as_str(), request.uri().path())
    else {
        return Ok(request);
    };
    check_version(
        request.headers(),
        operation,
        config.accept_all_published_versions,
    )
    .map_err(IntoResponse::into_response)?;
    let foreign_location = params
        .iter()
        .any(|(name, value)| name == "locationId" && *value != config.location_id);
    if foreign_location {
        return Err(GhlError::ForbiddenLocation.into_response());
    }
    let Some(schema) = state
        .spec()
        .request_schema(&operation.method, &operation.path)
    else {
        return Ok(request);
    };

    let (mut parts, body) = request.into_parts();
    let bytes = to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| payload_too_large())?;
    let value = parse_json(&parts.headers, &bytes).map_err(IntoResponse::into_response)?;
    schema
        .validate(&compat::for_validation(&value))
        .map_err(|messages| GhlError::Unprocessable(messages).into_response())?;
    parts.extensions.insert(ParsedBody(value));
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The static API key, or an access token issued by `POST /oauth/token` and still valid.
fn authorize(headers: &HeaderMap, api_key: &str, state: &SimState) -> Result<(), GhlError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if token == api_key => Ok(()),
        Some(token) if state.oauth().accepts(token) => Ok(()),
        _ => Err(GhlError::Unauthorized(INVALID_TOKEN)),
    }
}

/// A missing or unpublished `Version` is a 401 at GHL (integrators' live probes,
/// 2026-08-03), not a 400.
fn check_version(
    headers: &HeaderMap,
    operation: &Operation,
    any_published: bool,
) -> Result<(), GhlError> {
    let Some(version) = headers.get("version") else {
        return Err(GhlError::Unauthorized(VERSION_MISSING));
    };
    let version = version.to_str().unwrap_or_default().trim();
    let accepted = operation.versions.iter().any(|v| v == version)
        || (any_published && PUBLISHED_VERSIONS.contains(&version));
    if accepted {
        Ok(())
    } else {
        Err(GhlError::Unauthorized(VERSION_INVALID))
    }
}

/// Like Express's JSON body parser: only a JSON content type is parsed, anything else (or
/// nothing) is an empty object, and malformed JSON is a 400.
fn parse_json(headers: &HeaderMap, bytes: &Bytes) -> Result<Value, GhlError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if !is_json || bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| GhlError::BadRequest(format!("Unexpected token in JSON: {e}")))
}

fn payload_too_large() -> Response {
    let status = StatusCode::PAYLOAD_TOO_LARGE;
    let body = json!({"statusCode": status.as_u16(), "message": "request entity too large",
                      "error": "Payload Too Large"});
    (status, Json(body)).into_response()
}

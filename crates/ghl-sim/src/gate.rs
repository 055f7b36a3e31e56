//! The two middleware layers of the API routes.
//!
//! [`record`] wraps every API request (also unknown routes and rejected ones): it buffers
//! the body, runs the rest, and appends a [`CallRecord`]. It is the one place that sees
//! every call with its final status, so rate limiting (with GHL's `X-RateLimit-*`
//! headers), injected faults and latency belong here, before and after `next.run`.
//!
//! [`gate`] runs on matched routes only and does what GHL checks before a handler runs:
//! the bearer token, the `Version` header, the location of a `{locationId}` path
//! parameter, and the JSON body against the operation's schema. A valid body is handed to
//! the handler as a [`ParsedBody`] extension (see [`crate::extract::ValidBody`]).

use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let route = state
        .spec()
        .match_request(&method, &path)
        .map_or("unknown", |(op, _)| op.path.as_str());

    let (parts, body) = request.into_parts();
    let (response, recorded_body) = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => {
            let recorded = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            (response, recorded)
        }
        Err(_) => (payload_too_large(), Value::Null),
    };

    let status = response.status().as_u16();
    state.store().record_call(CallRecord {
        method: method.clone(),
        path,
        query,
        status,
        body: recorded_body,
        at,
    });
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    // Route templates only: paths carry ids, bodies carry personal data.
    tracing::info!(http.method = %method, http.route = %route, http.status = status, duration_ms, "ghl call");
    response
}

pub(crate) async fn gate(State(state): State<SimState>, request: Request, next: Next) -> Response {
    match admit(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(response) => response,
    }
}

async fn admit(state: &SimState, request: Request) -> Result<Request, Response> {
    let config = state.config();
    authorize(request.headers(), &config.api_key).map_err(IntoResponse::into_response)?;
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

fn authorize(headers: &HeaderMap, api_key: &str) -> Result<(), GhlError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if token == api_key => Ok(()),
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

//! The router: which paths exist, which need a token, and the layers around them.

mod appointments;
mod dashboard;
mod health;
mod leads;
mod monitor;
mod ops;
mod sync;
pub mod webhooks;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, patch, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::error::ApiError;
use crate::telemetry;

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The router with `extra` routes (the webhook endpoints, which are not behind
/// the JWT and read their bodies themselves) under the same layers.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let protected = Router::new()
        .route("/api/appointments", post(appointments::create))
        .route(
            "/api/appointments/create-with-sync",
            post(appointments::create),
        )
        .route(
            "/api/appointments/status",
            post(appointments::change_status_by_body),
        )
        .route(
            "/api/appointments/{id}",
            get(appointments::get_one).patch(appointments::edit),
        )
        .route(
            "/api/appointments/{id}/status",
            patch(appointments::change_status),
        )
        .route("/api/availability", get(appointments::availability))
        .route("/api/leads", get(leads::search))
        .route("/api/leads/{id}", get(leads::get_one))
        .merge(ops::protected())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ));

    let open = Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .merge(ops::open());

    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .merge(protected)
        .merge(open)
        .merge(extra)
        .fallback(|| async { ApiError::NotFound("route") })
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(telemetry::request_span)
                .on_response(telemetry::on_response)
                .on_request(())
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The trace context stored with a sync job: the request span's own
/// (OpenTelemetry on: the worker's job span becomes its child), else the
/// request's `traceparent` header if well-formed (W3C Trace Context).
pub(crate) fn traceparent(headers: &axum::http::HeaderMap) -> Option<String> {
    otel::traceparent_of(&tracing::Span::current()).or_else(|| traceparent_header(headers))
}

fn traceparent_header(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?.trim();
    let parts: Vec<&str> = value.split('-').collect();
    let well_formed = parts.len() == 4
        && parts[0].len() == 2
        && parts[1].len() == 32
        && parts[2].len() == 16
        && parts[3].len() == 2
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()));
    well_formed.then(|| value.to_ascii_lowercase())
}

//! Prometheus metrics of the api: HTTP requests by route and status, syncs run
//! on request, queue depth and dead-letter size (read from the database when
//! `/metrics` is scraped). The recorder is the `metrics` facade's global one;
//! `/metrics` renders it on our own route (no exporter HTTP server, no TLS stack).
//!
//! `/metrics` is outside the JWT-protected routes (scrapers cannot do JWT):
//! with `METRICS_TOKEN` set it requires `Authorization: Bearer <METRICS_TOKEN>`,
//! without it it is open (then bind the api to a private network).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;

use crate::AppState;
use crate::ops::problem;

/// Histogram buckets in seconds: HTTP requests, GHL calls, commit → done.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Installs the global recorder (once per process) and returns its handle.
pub fn install() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

/// Counts every request by matched route, method and status, and times it.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: Prometheus text format.
pub async fn render(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let ops = &state.ops;
    if let Some(token) = &ops.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.expose_secret().as_bytes()))
        {
            return problem(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>",
            );
        }
    }
    let Some(handle) = &ops.metrics else {
        return problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "metrics are not enabled in this process",
        );
    };
    match ops.depth.depth().await {
        Ok(depth) => {
            for status in domain::job::JobStatus::ALL {
                metrics::gauge!("sync_jobs", "status" => status.as_str())
                    .set(depth.of(status) as f64);
            }
            metrics::gauge!("sync_jobs_due").set(depth.due as f64);
            metrics::gauge!("sync_dead_letter_size").set(depth.dead as f64);
            let lag = depth.oldest_due_at.map_or(0.0, |at| {
                (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("sync_queue_lag_seconds").set(lag);
        }
        Err(e) => tracing::warn!(error = %e, "queue depth unavailable for /metrics"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

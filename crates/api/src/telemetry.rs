//! Tracing set-up for the api binary, and the per-request span.
//!
//! Spans carry the matched route (never the raw URI, whose query string may
//! hold an email or phone number) and the request id. Bodies are never logged.

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines (development).
    Pretty,
}

/// Installs the global subscriber: `RUST_LOG` filter (default `info`), to stderr.
///
/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP;
/// keep the returned guard until exit (dropping it flushes them).
pub fn init(format: LogFormat) -> Option<otel::Guard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (otel_layer, guard) = match otel::init("api") {
        Ok(Some((layer, guard))) => (Some(layer), Some(guard)),
        Ok(None) => (None, None),
        Err(e) => {
            eprintln!("api: traces are not exported: {e}");
            (None, None)
        }
    };
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
    if result.is_err() {
        eprintln!("tracing was already initialised");
    }
    guard
}

pub fn request_span<B>(request: &Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let span = tracing::info_span!(
        "request",
        http.method = %request.method(),
        http.route = route,
        request.id = request_id,
        auth.sub = tracing::field::Empty,
        otel.kind = "server",
    );
    // Continue the caller's trace (W3C traceparent), when there is one.
    if let Some(parent) = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        otel::set_parent(&span, parent);
    }
    span
}

pub fn on_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        http.status = response.status().as_u16(),
        duration_ms = latency.as_secs_f64() * 1000.0,
        "request done"
    );
}

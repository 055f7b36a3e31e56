//! The worker's small admin HTTP port (`WORKER_ADMIN_BIND`, default
//! `127.0.0.1:9091`; `off` disables it): `GET /metrics` (Prometheus text:
//! sync outcomes, commit → done and GHL call latencies, queue depth, dead-letter
//! size, each location's GHL daily budget used and remaining and whether it is
//! paused) and `GET /healthz`. Bind it to a private interface: it has no
//! authentication.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets in seconds (GHL calls and commit → done).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

#[derive(Clone)]
struct AdminState {
    handle: PrometheusHandle,
    pool: storage::PgPool,
    /// GHL's daily request budget per location (`GHL_RATE_LIMIT_DAILY`).
    daily_limit: u64,
}

/// Installs the global metrics recorder (once per process).
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

/// Binds `addr` and serves the admin routes in a background task; returns the
/// bound address (announced on stdout as `worker admin listening on http://…`).
pub async fn serve(
    addr: SocketAddr,
    handle: PrometheusHandle,
    pool: storage::PgPool,
    daily_limit: u64,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(AdminState {
            handle,
            pool,
            daily_limit,
        });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin server stopped");
        }
    });
    Ok(bound)
}

async fn metrics(State(state): State<AdminState>) -> Response {
    match storage::queue_depth(&state.pool).await {
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
        Err(e) => {
            tracing::warn!(error = %e, "queue depth unavailable for /metrics");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
        }
    }
    match storage::budget::budgets(&state.pool).await {
        Ok(budgets) => {
            for b in budgets {
                let location = b.location_id;
                metrics::gauge!("ghl_daily_requests_used", "location" => location.clone())
                    .set(b.used_today as f64);
                metrics::gauge!("ghl_daily_budget_remaining", "location" => location.clone())
                    .set(state.daily_limit.saturating_sub(b.used_today) as f64);
                metrics::gauge!("ghl_location_paused", "location" => location)
                    .set(if b.paused_until.is_some() { 1.0 } else { 0.0 });
            }
        }
        Err(e) => tracing::warn!(error = %e, "GHL budgets unavailable for /metrics"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.handle.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_lists_the_operations_variables() {
        let help = <crate::config::Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for var in [
            "WORKER_ADMIN_BIND",
            "ALERT_WEBHOOK_URL",
            "ALERT_DEDUP_SECONDS",
            "ALERT_MAX_PER_HOUR",
            "ALERT_HEALTH_INTERVAL_SECONDS",
        ] {
            assert!(help.contains(var), "--help does not mention {var}");
        }
    }
}

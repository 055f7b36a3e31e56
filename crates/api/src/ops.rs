//! What the operations endpoints (`POST /sync`, `/monitor`, `/metrics`,
//! `/dashboard`) need besides the booking use cases.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::health::Thresholds;
use domain::ports::{DeadLetters, DirectSync, SyncStats};
use domain::service::SyncDeps;
use secrecy::SecretString;
use serde_json::json;

/// How long a `POST /sync` answer is returned again for the same request
/// (the seed's 5-minute cache).
pub const SYNC_RESULT_TTL: chrono::Duration = chrono::Duration::minutes(5);

/// Window of the monitor's figures (`totalSyncs`, `successRate`, failure groups).
pub const MONITOR_WINDOW: chrono::Duration = chrono::Duration::hours(24);

pub struct Operations {
    /// The pipeline for `POST /sync`; `None` when `GHL_API_KEY` is not set.
    pub sync: Option<SyncDeps>,
    pub direct: Arc<dyn DirectSync>,
    pub stats: Arc<dyn SyncStats>,
    pub dead_letters: Arc<dyn DeadLetters>,
    /// Queue depth per status (`storage::queue_depth` in production).
    pub depth: Arc<dyn QueueDepthSource>,
    /// Who holds the leases taken by `POST /sync` (logs and `locked_by`).
    pub holder: String,
    pub lease: Duration,
    pub thresholds: Thresholds,
    /// Required settings that are not set (the monitor's environment check).
    pub missing_env: Vec<&'static str>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,
}

/// Sync jobs per status, as the monitor and the metrics show them.
#[async_trait::async_trait]
pub trait QueueDepthSource: Send + Sync {
    async fn depth(&self) -> Result<storage::QueueDepth, domain::ports::RepoError>;

    /// Each location's use of GHL's daily request budget (the workers' limiter).
    async fn budgets(
        &self,
    ) -> Result<Vec<storage::budget::LocationBudget>, domain::ports::RepoError> {
        Ok(Vec::new())
    }
}

#[async_trait::async_trait]
impl QueueDepthSource for storage::PgStore {
    async fn depth(&self) -> Result<storage::QueueDepth, domain::ports::RepoError> {
        storage::queue_depth(self.pool()).await
    }

    async fn budgets(
        &self,
    ) -> Result<Vec<storage::budget::LocationBudget>, domain::ports::RepoError> {
        storage::budget::budgets(self.pool()).await
    }
}

/// The API's usual error body, for the operations endpoints' own codes.
pub fn problem(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": code, "message": message.into() })),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
    }
    response
}

impl Operations {
    /// Everything backed by one PostgreSQL store, with the default thresholds,
    /// a lease of two minutes, no metrics and no metrics token. `sync` is the
    /// pipeline for `POST /sync` (`None`: `GHL_API_KEY` is missing).
    pub fn new(store: Arc<storage::PgStore>, sync: Option<SyncDeps>) -> Self {
        let missing_env = if sync.is_some() {
            Vec::new()
        } else {
            vec!["GHL_API_KEY"]
        };
        Self {
            sync,
            direct: store.clone(),
            stats: store.clone(),
            dead_letters: store.clone(),
            depth: store,
            holder: format!("api-{}", std::process::id()),
            lease: Duration::from_secs(120),
            thresholds: Thresholds::default(),
            missing_env,
            metrics: None,
            metrics_token: None,
        }
    }
}

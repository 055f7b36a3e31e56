//! `GET /monitor?action=status|retry|health&appointmentId=` (also
//! `/.netlify/functions/gohighlevel-sync-monitor`) and `POST /monitor` (for
//! `retry` from clients that do not change things with GET): the seed's monitor.
//!
//! - `status` (default): the seed's figures over the last 24 hours of attempts,
//!   the dead-letter size, recent failures, system health and recommendations.
//! - `health`: `{status, checks, issues, recommendations}`; 200 when healthy or
//!   degraded, 503 when unhealthy (usable as a probe).
//! - `retry`: replays the dead-lettered jobs (of one appointment when given).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use domain::AppointmentId;
use domain::health::{
    HealthReport, HealthStatus, SyncFigures, add_auth_pauses, assess, success_rate,
};
use domain::job::JobPriority;
use domain::ports::DeadJobFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::ops::MONITOR_WINDOW;

/// Most recent failures listed.
const RECENT_FAILURES: u32 = 10;
/// Most failure groups turned into recommendations.
const FAILURE_GROUPS: u32 = 10;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorQuery {
    pub action: Option<String>,
    pub appointment_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Status,
    Retry,
    Health,
}

fn parse(query: &MonitorQuery) -> Result<(Action, Option<AppointmentId>), ApiError> {
    let action = match query.action.as_deref().map(str::trim) {
        None | Some("") | Some("status") => Action::Status,
        Some("retry") => Action::Retry,
        Some("health") => Action::Health,
        Some(_) => {
            return Err(ApiError::InvalidQuery {
                message: "action must be status, retry or health".into(),
            });
        }
    };
    let appointment = match query.appointment_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(raw.parse().map_err(|_| ApiError::InvalidQuery {
            message: "appointmentId must be a UUID".into(),
        })?),
    };
    Ok((action, appointment))
}

pub async fn get(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<MonitorQuery>,
) -> Result<Response, ApiError> {
    let (action, appointment) = parse(&query)?;
    match action {
        Action::Status => status(&state, appointment).await,
        Action::Health => health(&state).await,
        Action::Retry => retry(&state, appointment).await,
    }
}

/// `POST /monitor?action=retry` (the only action that changes anything; the
/// others are answered as for GET).
pub async fn post(
    state: State<AppState>,
    query: QueryParams<MonitorQuery>,
) -> Result<Response, ApiError> {
    get(state, query).await
}

/// Everything the monitor and the dashboard show.
pub struct Snapshot {
    pub figures: SyncFigures,
    pub report: HealthReport,
}

pub async fn snapshot(
    state: &AppState,
    appointment: Option<AppointmentId>,
) -> Result<Snapshot, ApiError> {
    let now = Utc::now();
    let ops = &state.ops;
    let figures = ops
        .stats
        .figures(
            now - MONITOR_WINDOW,
            now - chrono::Duration::hours(1),
            appointment,
            RECENT_FAILURES,
        )
        .await?;
    let groups = ops
        .stats
        .failure_groups(now - MONITOR_WINDOW, FAILURE_GROUPS)
        .await?;
    let mut report = assess(&figures, &groups, &ops.missing_env, &ops.thresholds);
    add_auth_pauses(&mut report, &ops.stats.auth_paused().await?);
    Ok(Snapshot { figures, report })
}

fn health_json(report: &HealthReport) -> Value {
    json!({
        "status": report.status.as_str(),
        "issues": report.issues,
        "checks": report.checks,
    })
}

async fn status(
    state: &AppState,
    appointment: Option<AppointmentId>,
) -> Result<Response, ApiError> {
    let Snapshot { figures, report } = snapshot(state, appointment).await?;
    let recent: Vec<Value> = figures
        .recent_failures
        .iter()
        .map(|f| {
            json!({
                "appointmentId": f.appointment_id.to_string(),
                "error": f.error,
                "attempts": f.attempts,
                "lastAttempt": f.last_attempt.to_rfc3339_opts(SecondsFormat::Secs, true),
            })
        })
        .collect();
    let body = json!({
        "success": true,
        "action": "status",
        "data": {
            "totalSyncs": figures.total,
            "successful": figures.successful,
            "failed": figures.failed,
            "successRate": success_rate(&figures),
            "deadLetterQueueSize": figures.dead_letter_size,
            "recentFailures": recent,
            "systemHealth": health_json(&report),
            "recommendations": report.recommendations,
        }
    });
    Ok(Json(body).into_response())
}

async fn health(state: &AppState) -> Result<Response, ApiError> {
    let Snapshot { report, .. } = snapshot(state, None).await?;
    let mut data = health_json(&report);
    data["recommendations"] = json!(report.recommendations);
    let status = if report.status == HealthStatus::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "success": true, "action": "health", "data": data })),
    )
        .into_response())
}

async fn retry(state: &AppState, appointment: Option<AppointmentId>) -> Result<Response, ApiError> {
    let filter = DeadJobFilter {
        appointment_id: appointment,
        ..DeadJobFilter::default()
    };
    let retried = state
        .ops
        .dead_letters
        .replay(&filter, JobPriority::Live)
        .await?;
    tracing::info!(retried, "dead-lettered jobs replayed from the monitor");
    Ok(Json(json!({
        "success": true,
        "action": "retry",
        "data": { "retried": retried },
    }))
    .into_response())
}

//! `POST /sync` (also `/.netlify/functions/gohighlevel-appointment-sync`): the
//! seed's manual sync trigger. It claims the appointment's next unsynced job of
//! the requested action and runs it *now* through `run_job`, the worker's own
//! pipeline, then answers with the seed's bodies.
//!
//! | situation | status | body |
//! |---|---|---|
//! | synced | 200 | seed success (`syncDetails`, `ghlContactId`, `timestamp`, `processingTime`) |
//! | lead has no GHL contact (skipped) | 200 | seed success with `ghlContactId: null`, empty `syncDetails`, plus `skipped: true` and `message` |
//! | GHL failed, will be retried | 503 + `Retry-After` | seed failure, `retryable: true`, `retryAfter` = seconds until the scheduled retry |
//! | GHL failed for good (dead-lettered) | 502 | seed failure, `retryable: false`, `retryAfter: null` |
//! | unknown appointment | 404 | `{error: "not_found"}` |
//! | job running elsewhere | 409 | `{error: "sync_in_progress"}` |
//! | an earlier change must sync first | 409 | `{error: "sync_out_of_order"}` (names the action) |
//! | no unsynced change of that action | 409 | `{error: "nothing_to_sync"}` (names how the last one ended) |
//! | no `GHL_API_KEY` on the api | 503 | `{error: "sync_unavailable"}` |
//!
//! A 200 answer is stored for 5 minutes under the appointment and action; a
//! repeat gets it again (with `Idempotent-Replayed: true`) instead of a 409.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::AppointmentId;
use domain::intent::SyncAction;
use domain::job::{JobOutcome, SyncReport};
use domain::ports::{DirectClaim, LeaseError, StoredSyncResult};
use domain::service::run_job;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::ops::{SYNC_RESULT_TTL, problem};

/// The seed's request body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    pub appointment_id: String,
    pub action: String,
    /// When the client asked (informational; validated when present).
    pub timestamp: Option<String>,
}

pub async fn sync(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SyncRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let id: AppointmentId = body.appointment_id.trim().parse().map_err(|_| {
        ApiError::InvalidField(domain::contact::InvalidField::new(
            "appointmentId",
            "must be a UUID",
        ))
    })?;
    let action: SyncAction = body.action.trim().parse().map_err(|_| {
        ApiError::InvalidField(domain::contact::InvalidField::new(
            "action",
            "must be one of create, update, confirm, cancel, complete, no_show",
        ))
    })?;
    if let Some(ts) = &body.timestamp {
        DateTime::parse_from_rfc3339(ts).map_err(|_| {
            ApiError::InvalidField(domain::contact::InvalidField::new(
                "timestamp",
                "must be an RFC 3339 date-time",
            ))
        })?;
    }
    let ops = &state.ops;
    let Some(deps) = &ops.sync else {
        return Ok(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "sync_unavailable",
            "GHL_API_KEY is not configured on the api, so it cannot sync on request; the worker still syncs every change",
        ));
    };
    let appointment = state
        .appointments
        .get(id)
        .await?
        .filter(|a| a.location_id == state.booking.location)
        .ok_or(ApiError::NotFound("appointment"))?;

    let key = request_key(id, action);
    if let Some(stored) = ops.direct.stored_result(&key, Utc::now()).await? {
        tracing::info!(appointment.id = %id, sync.action = %action, "repeated sync request: stored answer");
        return Ok(replay(stored));
    }

    let job = match ops
        .direct
        .claim_next_of(id, action, &ops.holder, ops.lease)
        .await?
    {
        DirectClaim::Claimed(job) => job,
        DirectClaim::InProgress => {
            return Ok(problem(
                StatusCode::CONFLICT,
                "sync_in_progress",
                "this appointment's sync is running right now; check GET /api/appointments/{id} or retry shortly",
            ));
        }
        DirectClaim::Behind { next } => {
            return Ok(problem(
                StatusCode::CONFLICT,
                "sync_out_of_order",
                format!(
                    "an earlier `{next}` change of this appointment must sync first (POST /sync with action `{next}`)"
                ),
            ));
        }
        DirectClaim::NothingOpen { latest } => {
            let how = match latest {
                Some(status) => format!("the latest `{action}` sync ended {status}"),
                None => format!("the appointment has no `{action}` change"),
            };
            return Ok(problem(
                StatusCode::CONFLICT,
                "nothing_to_sync",
                format!(
                    "no unsynced `{action}` change of this appointment: {how}; dead-lettered syncs are replayed with /monitor?action=retry&appointmentId=…"
                ),
            ));
        }
    };

    let contact = state
        .leads
        .get(appointment.lead_id)
        .await?
        .and_then(|lead| lead.ghl_contact_id);
    let job_id = job.id;
    let created_at = job.created_at;
    let outcome = match run_job(deps, *job, unit_random()).await {
        Ok(outcome) => outcome,
        Err(LeaseError::Lost) => {
            return Ok(problem(
                StatusCode::CONFLICT,
                "sync_in_progress",
                "the sync was taken over by a worker meanwhile; check GET /api/appointments/{id}",
            ));
        }
        Err(LeaseError::Repo(e)) => return Err(ApiError::Unavailable(e)),
    };
    ghl_adapter::metered::record_job_outcome(action, created_at, &outcome, "api");
    let now = Utc::now();
    let processing_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        appointment.id = %id,
        sync.job_id = %job_id,
        sync.action = %action,
        sync.outcome = %outcome.status(),
        duration_ms = processing_ms,
        "sync on request"
    );
    let (status, body) = respond(
        id,
        action,
        contact.as_ref().map(|c| c.as_str()),
        &outcome,
        now,
        processing_ms,
    );
    if status == StatusCode::OK {
        let stored = StoredSyncResult {
            http_status: status.as_u16(),
            body: body.to_string(),
        };
        if let Err(e) = ops
            .direct
            .store_result(&key, &stored, now + SYNC_RESULT_TTL)
            .await
        {
            // The sync happened; only the replay of this answer is lost.
            tracing::warn!(appointment.id = %id, error = %e, "could not store the sync answer");
        }
    }
    let mut response = (status, Json(body)).into_response();
    if let JobOutcome::RetryAt { at, .. } = &outcome {
        let seconds = retry_after_seconds(*at, now);
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
    }
    Ok(response)
}

/// The seed's bodies for an outcome.
pub fn respond(
    id: AppointmentId,
    action: SyncAction,
    contact: Option<&str>,
    outcome: &JobOutcome,
    now: DateTime<Utc>,
    processing_ms: u64,
) -> (StatusCode, Value) {
    let timestamp = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    match outcome {
        JobOutcome::Succeeded(report) => (
            StatusCode::OK,
            json!({
                "success": true,
                "appointmentId": id.to_string(),
                "action": action.as_str(),
                "ghlContactId": contact,
                "syncDetails": details(report),
                "timestamp": timestamp,
                "processingTime": processing_ms,
            }),
        ),
        JobOutcome::Skipped { reason } => (
            StatusCode::OK,
            json!({
                "success": true,
                "skipped": true,
                "message": reason,
                "appointmentId": id.to_string(),
                "action": action.as_str(),
                "ghlContactId": Value::Null,
                "syncDetails": details(&SyncReport::default()),
                "timestamp": timestamp,
                "processingTime": processing_ms,
            }),
        ),
        JobOutcome::RetryAt { at, error, .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "success": false,
                "error": "Sync failed",
                "message": error.message,
                "retryable": true,
                "appointmentId": id.to_string(),
                "retryAfter": retry_after_seconds(*at, now),
            }),
        ),
        JobOutcome::Dead { error, .. } => (
            StatusCode::BAD_GATEWAY,
            json!({
                "success": false,
                "error": "Sync failed",
                "message": error.message,
                "retryable": false,
                "appointmentId": id.to_string(),
                "retryAfter": Value::Null,
            }),
        ),
    }
}

fn details(report: &SyncReport) -> Value {
    json!({
        "notesCreated": report.notes_created,
        "contactUpdated": report.contact_updated,
        "taskCreated": report.task_created,
        "tagsApplied": report.tags_applied,
        "customFieldsUpdated": report.custom_fields_updated,
    })
}

fn retry_after_seconds(at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (at - now).num_seconds().max(1)
}

/// The key under which an answer is stored: one per appointment and action.
fn request_key(id: AppointmentId, action: SyncAction) -> String {
    hex::encode(Sha256::digest(format!("sync:{id}:{action}").as_bytes()))
}

fn replay(stored: StoredSyncResult) -> Response {
    let status = StatusCode::from_u16(stored.http_status).unwrap_or(StatusCode::OK);
    let body: Value = serde_json::from_str(&stored.body).unwrap_or(Value::Null);
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// A number in [0, 1) for the retry jitter.
fn unit_random() -> f64 {
    rand::random::<f64>()
}

//! Inspection and control endpoints under `/_sim/` (no auth, not recorded).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::behaviour::{ControlPatch, SimControl, SimStats};
use crate::error::GhlError;
use crate::model::SeedContact;
use crate::state::SimState;
use crate::store::SeedError;

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/_sim/healthz", get(healthz))
        .route("/_sim/calls", get(calls).delete(clear_calls))
        .route("/_sim/contacts", axum::routing::post(seed_contact))
        .route("/_sim/contacts/{id}", get(contact))
        .route("/_sim/control", get(control).put(set_control))
        .route("/_sim/stats", get(stats).delete(clear_stats))
}

/// The rate limit, fault and latency settings.
async fn control(State(state): State<SimState>) -> Json<SimControl> {
    Json(state.control())
}

/// Changes any subset of the settings; answers the full new settings, or 422 naming the
/// problem.
async fn set_control(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let patch: ControlPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(e) => return GhlError::unprocessable(e.to_string()).into_response(),
    };
    let next = match state.control().patched(patch) {
        Ok(next) => next,
        Err(e) => return GhlError::unprocessable(e).into_response(),
    };
    match state.set_control(next.clone()) {
        Ok(()) => Json(next).into_response(),
        Err(e) => GhlError::unprocessable(e).into_response(),
    }
}

/// `{"requests", "byStatus", "faultsInjected", "rateLimited"}`.
async fn stats(State(state): State<SimState>) -> Json<SimStats> {
    Json(state.stats())
}

async fn clear_stats(State(state): State<SimState>) -> StatusCode {
    state.clear_stats();
    StatusCode::NO_CONTENT
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `[{"method", "path", "query"?, "status", "body", "at"}]` in arrival order.
async fn calls(State(state): State<SimState>) -> Response {
    Json(state.calls()).into_response()
}

async fn clear_calls(State(state): State<SimState>) -> StatusCode {
    state.clear_calls();
    StatusCode::NO_CONTENT
}

/// 201 `{"contact": {...}}`; 409 for a taken id, 422 for an unknown custom field or a
/// malformed body.
async fn seed_contact(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let seed: SeedContact = if body.is_empty() {
        SeedContact::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(seed) => seed,
            Err(e) => return GhlError::unprocessable(e.to_string()).into_response(),
        }
    };
    match state.seed_contact(seed) {
        Ok(contact) => (StatusCode::CREATED, Json(json!({ "contact": contact }))).into_response(),
        Err(e @ SeedError::DuplicateId(_)) => {
            let body = json!({ "statusCode": 409, "message": e.to_string() });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Err(e @ SeedError::UnknownCustomField(_)) => {
            GhlError::unprocessable(e.to_string()).into_response()
        }
    }
}

/// `{"contact": {...}, "notes": [...], "tasks": [...]}`, or 404.
async fn contact(State(state): State<SimState>, Path(id): Path<String>) -> Response {
    match state.contact(&id) {
        Some(contact) => Json(contact).into_response(),
        None => {
            let body = json!({ "statusCode": 404, "message": format!("no contact {id}") });
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
    }
}

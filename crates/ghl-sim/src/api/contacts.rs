//! `GET`/`PUT /contacts/{contactId}`, `POST /contacts/upsert`, `POST /contacts/`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::GhlError;
use crate::extract::ValidBody;
use crate::state::SimState;

type Body = ValidBody<Map<String, Value>>;

/// 200 `{"contact": {...}}`.
pub(super) async fn get_one(
    State(state): State<SimState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let store = state.store();
    let contact = store.contact(&id)?;
    Ok(Json(json!({ "contact": contact })))
}

/// 200 `{"succeded": true, "contact": {...}}` (GHL's spelling).
pub(super) async fn update(
    State(state): State<SimState>,
    Path(id): Path<String>,
    ValidBody(body): Body,
) -> Result<Json<Value>, GhlError> {
    let contact = state.store().update_contact(&id, &body)?;
    Ok(Json(json!({ "succeded": true, "contact": contact })))
}

/// 200 `{"new": bool, "contact": {...}, "traceId": "..."}`, for new contacts too.
pub(super) async fn upsert(
    State(state): State<SimState>,
    ValidBody(body): Body,
) -> Result<Json<Value>, GhlError> {
    let (new, contact) = state.store().upsert_contact(&body)?;
    let trace_id = uuid::Uuid::new_v4().to_string();
    Ok(Json(
        json!({ "new": new, "contact": contact, "traceId": trace_id }),
    ))
}

/// 201 `{"contact": {...}}`; 400 with the existing contact in `meta` for a duplicate.
pub(super) async fn create(
    State(state): State<SimState>,
    ValidBody(body): Body,
) -> Result<(StatusCode, Json<Value>), GhlError> {
    let contact = state.store().create_contact(&body)?;
    Ok((StatusCode::CREATED, Json(json!({ "contact": contact }))))
}

//! Calendar events of the calendars API (`Version: 2021-04-15`) and a contact's
//! appointments (contacts API).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use crate::error::GhlError;
use crate::extract::ValidBody;
use crate::state::SimState;

/// 200 `AppointmentSchemaResponse` (the spec lists 200, not 201).
pub(super) async fn create(
    State(state): State<SimState>,
    ValidBody(body): ValidBody<Map<String, Value>>,
) -> Result<Json<Value>, GhlError> {
    state.store().create_appointment(&body).map(Json)
}

/// 200 `AppointmentSchemaResponse`.
pub(super) async fn update(
    State(state): State<SimState>,
    Path(id): Path<String>,
    ValidBody(body): ValidBody<Map<String, Value>>,
) -> Result<Json<Value>, GhlError> {
    state.store().update_appointment(&id, &body).map(Json)
}

/// 200 `{"event": CalendarEventDTO}`.
pub(super) async fn get_one(
    State(state): State<SimState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let event = state.store().appointment(&id)?;
    Ok(Json(json!({ "event": event })))
}

/// 200 `{"events": [...]}`, oldest first.
pub(super) async fn of_contact(
    State(state): State<SimState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let events = state.store().appointments(&id)?;
    Ok(Json(json!({ "events": events })))
}

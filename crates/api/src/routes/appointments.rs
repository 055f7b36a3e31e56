use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use domain::AppointmentId;
use domain::appointment::Command;
use domain::ports::IdempotencyKey;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::traceparent;
use crate::AppState;
use crate::dto::{
    AppointmentView, CreateAppointmentBody, EditAppointmentBody, SlotView, StatusBody, SyncView,
};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam, QueryParams};

/// Idempotency keys longer than this are refused.
const MAX_IDEMPOTENCY_KEY: usize = 200;

fn idempotency_key(
    headers: &HeaderMap,
    body: &CreateAppointmentBody,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
        .ok_or(ApiError::InvalidField(domain::contact::InvalidField::new(
            "Idempotency-Key",
            "must be 1 to 200 visible ASCII characters",
        )))?;
    // The fingerprint covers what the booking is made of, not JSON formatting.
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    let fingerprint = hex::encode(Sha256::digest(&canonical));
    Ok(Some(IdempotencyKey {
        key: key.to_owned(),
        fingerprint,
    }))
}

/// `POST /api/appointments`: 201 with the appointment and its `syncJobId`
/// (200 with the original result when an `Idempotency-Key` repeats).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateAppointmentBody>,
) -> Result<(StatusCode, Json<AppointmentView>), ApiError> {
    let request = body.parse()?;
    let idempotency = idempotency_key(&headers, &body)?;
    let booked = state
        .booking
        .book(request, idempotency, traceparent(&headers))
        .await?;
    tracing::info!(
        appointment.id = %booked.appointment.id,
        sync.job_id = %booked.sync_job_id,
        replayed = booked.replayed,
        "appointment booked"
    );
    let mut view = AppointmentView::new(&booked.appointment);
    view.sync_job_id = Some(booked.sync_job_id);
    let status = if booked.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(view)))
}

/// `GET /api/appointments/{id}` with its latest sync state.
pub async fn get_one(
    State(state): State<AppState>,
    PathParam(id): PathParam<AppointmentId>,
) -> Result<Json<AppointmentView>, ApiError> {
    let appointment = state
        .appointments
        .get(id)
        .await?
        .filter(|a| a.location_id == state.booking.location)
        .ok_or(ApiError::NotFound("appointment"))?;
    let jobs = state.appointments.jobs_of(id).await?;
    let mut view = AppointmentView::new(&appointment);
    view.sync = jobs.first().map(SyncView::from);
    Ok(Json(view))
}

/// `PATCH /api/appointments/{id}`: reschedule or edit (sync action `update`).
pub async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParam(id): PathParam<AppointmentId>,
    JsonBody(body): JsonBody<EditAppointmentBody>,
) -> Result<Json<AppointmentView>, ApiError> {
    let current = state
        .appointments
        .get(id)
        .await?
        .filter(|a| a.location_id == state.booking.location)
        .ok_or(ApiError::NotFound("appointment"))?;
    let edit = body.parse(&current.slot)?;
    apply(&state, id, Command::Edit(edit), &headers).await
}

/// `PATCH /api/appointments/{id}/status` with `{status, reason?}`.
pub async fn change_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParam(id): PathParam<AppointmentId>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<AppointmentView>, ApiError> {
    let command = body.command()?;
    apply(&state, id, command, &headers).await
}

/// The seed's `POST /api/appointments/status` with `{appointmentId, status, reason?}`.
pub async fn change_status_by_body(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<AppointmentView>, ApiError> {
    let id = body.appointment_id()?;
    let command = body.command()?;
    apply(&state, id, command, &headers).await
}

async fn apply(
    state: &AppState,
    id: AppointmentId,
    command: Command,
    headers: &HeaderMap,
) -> Result<Json<AppointmentView>, ApiError> {
    let action = command.action();
    let changed = state
        .booking
        .change(id, command, traceparent(headers))
        .await?;
    tracing::info!(
        appointment.id = %id,
        sync.job_id = %changed.sync_job_id,
        sync.action = %action,
        status = %changed.appointment.status,
        "appointment changed"
    );
    let mut view = AppointmentView::new(&changed.appointment);
    view.sync_job_id = Some(changed.sync_job_id);
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
pub struct AvailabilityQuery {
    date: String,
}

/// `GET /api/availability?date=YYYY-MM-DD`: the day's slots and what is left of each.
pub async fn availability(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<AvailabilityQuery>,
) -> Result<Json<Value>, ApiError> {
    let date = NaiveDate::parse_from_str(q.date.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::InvalidQuery {
            message: "date: must be a calendar date like 2030-01-20".into(),
        }
    })?;
    let slots = state.booking.availability(date).await?;
    let slots: Vec<SlotView> = slots.iter().map(SlotView::from).collect();
    Ok(Json(json!({
        "date": date.to_string(),
        "timezone": state.booking.calendar.timezone.name(),
        "slots": slots,
    })))
}

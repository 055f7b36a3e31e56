//! Tags, notes and tasks of a contact.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::GhlError;
use crate::extract::ValidBody;
use crate::ids;
use crate::model::{Note, Task};
use crate::state::SimState;

type Created = (StatusCode, Json<Value>);

/// `TagsDTO`.
#[derive(Debug, Deserialize)]
pub(super) struct TagsBody {
    tags: Vec<String>,
}

/// `NotesDTO`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NoteBody {
    body: String,
    user_id: Option<String>,
    title: Option<String>,
    color: Option<String>,
    pinned: Option<bool>,
}

/// `CreateTaskParams`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskBody {
    title: String,
    body: Option<String>,
    due_date: String,
    completed: bool,
    assigned_to: Option<String>,
}

/// 201 `{"tags": [every tag of the contact now]}`.
pub(super) async fn add_tags(
    State(state): State<SimState>,
    Path(id): Path<String>,
    ValidBody(body): ValidBody<TagsBody>,
) -> Result<Created, GhlError> {
    let tags = state.store().add_tags(&id, &body.tags)?;
    Ok((StatusCode::CREATED, Json(json!({ "tags": tags }))))
}

/// 200 `{"tags": [the remaining tags]}`; the body (`TagsDTO`) comes with the DELETE.
pub(super) async fn remove_tags(
    State(state): State<SimState>,
    Path(id): Path<String>,
    ValidBody(body): ValidBody<TagsBody>,
) -> Result<Json<Value>, GhlError> {
    let tags = state.store().remove_tags(&id, &body.tags)?;
    Ok(Json(json!({ "tags": tags })))
}

/// 201 `{"note": {...}}`.
pub(super) async fn create_note(
    State(state): State<SimState>,
    Path(id): Path<String>,
    ValidBody(body): ValidBody<NoteBody>,
) -> Result<Created, GhlError> {
    let note = state.store().add_note(Note {
        id: ids::random_id(),
        body: body.body,
        user_id: body.user_id,
        title: body.title,
        color: body.color,
        pinned: body.pinned.unwrap_or(false),
        date_added: ids::now(),
        contact_id: id,
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "note": note }))))
}

/// 200 `{"notes": [...]}`, oldest first.
pub(super) async fn list_notes(
    State(state): State<SimState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let notes = state.store().notes(&id)?;
    Ok(Json(json!({ "notes": notes })))
}

/// 201 `{"task": {...}}`; `dueDate` must be an ISO 8601 date and is echoed in GHL's
/// format (`2020-10-25T11:00:00.000Z`).
pub(super) async fn create_task(
    State(state): State<SimState>,
    Path(id): Path<String>,
    ValidBody(body): ValidBody<TaskBody>,
) -> Result<Created, GhlError> {
    let due_date = normalize_date(&body.due_date)
        .ok_or_else(|| GhlError::unprocessable("dueDate must be a valid ISO 8601 date string"))?;
    let task = state.store().add_task(Task {
        id: ids::random_id(),
        title: body.title,
        body: body.body,
        assigned_to: body.assigned_to,
        due_date,
        completed: body.completed,
        contact_id: id,
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "task": task }))))
}

/// 200 `{"tasks": [...]}`, oldest first.
pub(super) async fn list_tasks(
    State(state): State<SimState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let tasks = state.store().tasks(&id)?;
    Ok(Json(json!({ "tasks": tasks })))
}

fn normalize_date(text: &str) -> Option<String> {
    let instant = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })?;
    Some(instant.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::normalize_date;

    #[test]
    fn due_dates_are_echoed_in_ghl_format() {
        assert_eq!(
            normalize_date("2020-10-25T13:00:00+02:00").as_deref(),
            Some("2020-10-25T11:00:00.000Z")
        );
        assert_eq!(
            normalize_date("2020-10-25").as_deref(),
            Some("2020-10-25T00:00:00.000Z")
        );
        assert_eq!(normalize_date("next tuesday"), None);
    }
}

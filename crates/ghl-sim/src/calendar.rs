//! Calendar events (appointments) of the sim's contacts, kept as the JSON of GHL's
//! `AppointmentSchemaResponse` / `CalendarEventDTO`.

use serde_json::{Map, Value, json};

use crate::error::GhlError;
use crate::ids;

/// Request fields that steer GHL's processing and are not stored on the event.
const NOT_STORED: [&str; 4] = [
    "toNotify",
    "ignoreDateRange",
    "ignoreFreeSlotValidation",
    "overrideLocationConfig",
];

/// A new event from a (schema-valid) `AppointmentCreateSchema` body.
pub(crate) fn new_event(location_id: &str, body: &Map<String, Value>) -> Result<Value, GhlError> {
    for key in ["calendarId", "contactId", "startTime"] {
        if body
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(|v| v.trim().is_empty())
        {
            return Err(GhlError::unprocessable(format!(
                "{key} should not be empty"
            )));
        }
    }
    let mut event = Map::new();
    event.insert("id".into(), json!(ids::random_id()));
    event.insert("locationId".into(), json!(location_id));
    event.insert("appointmentStatus".into(), json!("new"));
    event.insert("isRecurring".into(), json!(false));
    event.insert("dateAdded".into(), json!(ids::now()));
    apply(&mut event, body)?;
    Ok(Value::Object(event))
}

/// Applies an `AppointmentEditSchema` body to `event`.
pub(crate) fn apply(
    event: &mut Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<(), GhlError> {
    for key in ["startTime", "endTime"] {
        if let Some(text) = body.get(key).and_then(Value::as_str)
            && chrono::DateTime::parse_from_rfc3339(text).is_err()
        {
            return Err(GhlError::unprocessable(format!(
                "{key} must be a valid ISO 8601 date string"
            )));
        }
    }
    for (key, value) in body {
        if !NOT_STORED.contains(&key.as_str()) && key != "locationId" {
            event.insert(key.clone(), value.clone());
        }
    }
    event.insert("dateUpdated".into(), json!(ids::now()));
    Ok(())
}

/// GHL's answer for an unknown event id (the spec lists no 404 for these routes).
pub(crate) fn event_not_found(id: &str) -> GhlError {
    GhlError::BadRequest(format!("Appointment with id {id} not found"))
}

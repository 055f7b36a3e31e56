//! Calendar mirroring: the appointment's GHL calendar event (calendars API,
//! `Version: 2021-04-15`), and finding it again by the marker in its title
//! (`GET /contacts/{contactId}/appointments`, contacts API) after a create of
//! unknown outcome. Titles and addresses are never logged or copied into errors.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::ids::{GhlContactId, LocationId};
use domain::job::{CrmError, ErrorClass};
use domain::plan::CalendarEvent;
use serde::{Deserialize, Serialize};

use super::{GhlClient, contact_path};
use crate::operation::Operation;
use crate::transport::Call;

/// `AppointmentCreateSchema` (with `locationId`, `contactId`) and `AppointmentEditSchema`
/// (without). Our booking system owns the slots, so GHL's free-slot and date-range
/// checks are skipped.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppointmentRequest<'a> {
    calendar_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    location_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_id: Option<&'a str>,
    start_time: String,
    end_time: String,
    title: &'a str,
    appointment_status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
    ignore_date_range: bool,
    ignore_free_slot_validation: bool,
    to_notify: bool,
}

/// ISO 8601 with an offset, as the spec's examples (`2021-06-23T03:30:00+05:30`).
fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl<'a> AppointmentRequest<'a> {
    fn new(event: &'a CalendarEvent) -> Self {
        AppointmentRequest {
            calendar_id: &event.calendar_id,
            location_id: None,
            contact_id: None,
            start_time: iso(event.starts_at),
            end_time: iso(event.ends_at),
            title: &event.title,
            appointment_status: event.status,
            address: event.address.as_deref(),
            ignore_date_range: true,
            ignore_free_slot_validation: true,
            to_notify: event.notify,
        }
    }
}

/// `AppointmentSchemaResponse` (only the id is read).
#[derive(Debug, Deserialize)]
struct AppointmentReply {
    #[serde(default)]
    id: Option<String>,
}

/// `GetEventsSuccessfulResponseDto` of the contacts API.
#[derive(Debug, Deserialize)]
struct ContactEvents {
    #[serde(default)]
    events: Vec<ContactEvent>,
}

/// What we read of a `GetEventSchema`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContactEvent {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    calendar_id: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

fn event_path(event_id: &str) -> String {
    format!("/calendars/events/appointments/{event_id}")
}

impl GhlClient {
    pub(super) async fn post_calendar_event(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        event: &CalendarEvent,
    ) -> Result<String, CrmError> {
        let mut body = AppointmentRequest::new(event);
        body.location_id = Some(location.as_str());
        body.contact_id = Some(contact.as_str());
        let call = Call::new(
            Operation::CreateAppointment,
            location,
            "/calendars/events/appointments".into(),
        )
        .with_json(&body)?;
        let reply = self.transport.send(&call).await?;
        let created: AppointmentReply = reply.json()?;
        match created.id {
            Some(id) if !id.trim().is_empty() => Ok(id),
            _ => Err(CrmError::new(
                ErrorClass::Permanent,
                Some(reply.status.as_u16()),
                "create_appointment (POST /calendars/events/appointments) answered no event id",
            )),
        }
    }

    pub(super) async fn put_calendar_event(
        &self,
        location: &LocationId,
        event_id: &str,
        event: &CalendarEvent,
    ) -> Result<(), CrmError> {
        let call = Call::new(Operation::UpdateAppointment, location, event_path(event_id))
            .with_json(&AppointmentRequest::new(event))?;
        self.transport.send(&call).await.map(drop)
    }

    pub(super) async fn calendar_event_with_marker(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        calendar_id: &str,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        let call = Call::new(
            Operation::ListContactAppointments,
            location,
            contact_path(contact, "/appointments"),
        );
        let reply = self.transport.send(&call).await?;
        let list: ContactEvents = reply.json()?;
        Ok(list
            .events
            .into_iter()
            .filter(|e| e.calendar_id.as_deref().is_none_or(|c| c == calendar_id))
            .find(|e| e.title.as_deref().is_some_and(|t| t.contains(marker)))
            .and_then(|e| e.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_an_offset_and_status_is_ghls() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(iso(start), "2026-12-01T09:00:00+00:00");
    }
}

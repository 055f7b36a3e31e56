//! Calendar mirroring (`GHL_CALENDAR_ID`): the GHL calendar event that shows an
//! appointment to GHL users.
//!
//! One GHL event per appointment. Every job of the appointment (whatever its
//! action) makes the event equal to the appointment's *current* state: created
//! (`POST`) when the appointment has no event id yet, otherwise updated (`PUT`)
//! with times, title, address and status. Working from the current state makes
//! coalesced runs (one call for all folded jobs) and replays (never an older
//! status) right without special cases; the job's action only decides nothing.
//!
//! The status written is the inverse of the inbound mapping
//! (`inbound::appointment::command_for`), so GHL's webhook about our own write
//! is recognised as `Unchanged`.
//!
//! The title ends with a marker of the appointment (`[booking 3f9a0c1d2e4b]`):
//! after a create of unknown outcome the contact's appointments are searched
//! for it before posting again (a `POST` is not idempotent).

use chrono::{DateTime, Utc};

use crate::appointment::AppointmentStatus;
use crate::ids::AppointmentId;
use crate::intent::IntentPayload;

/// Calendar mirroring settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSettings {
    /// The GHL calendar the events are created in (`GHL_CALENDAR_ID`).
    pub calendar_id: String,
    /// `toNotify` of the writes (`GHL_CALENDAR_NOTIFY`, default false): whether GHL's
    /// own calendar automations (confirmation messages, reminders) run for them.
    pub notify: bool,
}

/// The state a GHL calendar event should have.
#[derive(Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    pub calendar_id: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub address: Option<String>,
    /// GHL's `appointmentStatus` (`confirmed`, `cancelled`, `showed`, `noshow`, `new`).
    pub status: &'static str,
    pub notify: bool,
    /// Identifies the appointment in the title (see [`calendar_marker`]).
    pub marker: String,
}

impl std::fmt::Debug for CalendarEvent {
    // The address is personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarEvent")
            .field("calendar_id", &self.calendar_id)
            .field("starts_at", &self.starts_at)
            .field("ends_at", &self.ends_at)
            .field("status", &self.status)
            .field("marker", &self.marker)
            .finish_non_exhaustive()
    }
}

/// The marker in the title of the GHL event of `appointment`, e.g. `[booking 3f9a0c1d2e4b]`.
pub fn calendar_marker(appointment: AppointmentId) -> String {
    let simple = appointment.as_uuid().simple().to_string();
    format!("[booking {}]", &simple[simple.len() - 12..])
}

/// GHL's `appointmentStatus` for our status: the inverse of the inbound mapping.
pub fn ghl_appointment_status(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Scheduled => "new",
        AppointmentStatus::Confirmed => "confirmed",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::Completed => "showed",
        AppointmentStatus::NoShow => "noshow",
    }
}

/// The event mirroring an appointment in state `current`; `None` without a calendar.
pub fn plan_calendar(
    appointment: AppointmentId,
    current: &IntentPayload,
    settings: Option<&CalendarSettings>,
) -> Option<CalendarEvent> {
    let settings = settings?;
    let marker = calendar_marker(appointment);
    Some(CalendarEvent {
        calendar_id: settings.calendar_id.clone(),
        title: format!("{} {marker}", current.service_type),
        starts_at: current.starts_at,
        ends_at: current.ends_at,
        address: current.address.clone(),
        status: ghl_appointment_status(current.status),
        notify: settings.notify,
        marker,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointment::Command;
    use crate::inbound::appointment::command_for;
    use crate::inbound::event::AppointmentEventKind;

    #[test]
    fn every_written_status_maps_back_to_the_same_status_inbound() {
        let all = [
            AppointmentStatus::Scheduled,
            AppointmentStatus::Confirmed,
            AppointmentStatus::Cancelled,
            AppointmentStatus::Completed,
            AppointmentStatus::NoShow,
        ];
        for status in all {
            let ghl = ghl_appointment_status(status);
            let back = command_for(AppointmentEventKind::Update, Some(ghl));
            let expected = match status {
                AppointmentStatus::Scheduled => None,
                AppointmentStatus::Confirmed => Some(Command::Confirm),
                AppointmentStatus::Cancelled => Some(Command::Cancel {
                    reason: Some(crate::inbound::appointment::CANCELLED_IN_GHL.to_owned()),
                }),
                AppointmentStatus::Completed => Some(Command::Complete),
                AppointmentStatus::NoShow => Some(Command::NoShow),
            };
            assert_eq!(back, expected, "{status:?} → {ghl}");
        }
    }

    #[test]
    fn no_calendar_no_event_and_the_marker_names_the_appointment() {
        let id = AppointmentId::new();
        let now = Utc::now();
        let payload = IntentPayload {
            status: AppointmentStatus::Confirmed,
            service_type: "Airco onderhoud".into(),
            starts_at: now,
            ends_at: now + chrono::Duration::hours(1),
            address: Some("Straat 1".into()),
            customer_notes: None,
            changes: vec![],
            reason: None,
            occurred_at: now,
        };
        assert_eq!(plan_calendar(id, &payload, None), None);
        let settings = CalendarSettings {
            calendar_id: "cal1".into(),
            notify: false,
        };
        let event = plan_calendar(id, &payload, Some(&settings)).unwrap();
        assert_eq!(event.status, "confirmed");
        assert!(event.title.starts_with("Airco onderhoud [booking "));
        assert!(event.title.ends_with(&event.marker));
        assert_ne!(calendar_marker(AppointmentId::new()), event.marker);
    }
}

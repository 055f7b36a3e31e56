//! The appointment state machine.
//!
//! ```text
//! scheduled ──confirm──▶ confirmed
//!     │ ╲                  │
//!     │  ╲─ cancel / complete / no_show ─▶ cancelled | completed | no_show (terminal)
//!     └──── update (reschedule, edit) keeps the status; allowed while not terminal
//! ```
//! Every successful transition returns the new state and exactly one [`SyncIntent`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact::{Address, Customer, InvalidField};
use crate::ids::{AppointmentId, LeadId, LocationId};
use crate::intent::{FieldChange, IntentPayload, SyncAction, SyncIntent};
use crate::slot::TimeSlot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    Completed,
    Cancelled,
    NoShow,
}

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 5] = [
        AppointmentStatus::Scheduled,
        AppointmentStatus::Confirmed,
        AppointmentStatus::Completed,
        AppointmentStatus::Cancelled,
        AppointmentStatus::NoShow,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "scheduled",
            AppointmentStatus::Confirmed => "confirmed",
            AppointmentStatus::Completed => "completed",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::NoShow => "no_show",
        }
    }

    /// Completed, cancelled and no-show appointments never change again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            AppointmentStatus::Completed | AppointmentStatus::Cancelled | AppointmentStatus::NoShow
        )
    }

    /// Whether the appointment still occupies its slot.
    pub fn holds_slot(&self) -> bool {
        matches!(
            self,
            AppointmentStatus::Scheduled | AppointmentStatus::Confirmed
        )
    }
}

impl fmt::Display for AppointmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AppointmentStatus {
    type Err = InvalidField;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppointmentStatus::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or(InvalidField::new("status", "unknown appointment status"))
    }
}

/// A kind of service, e.g. `installation`, `maintenance`, `repair`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceType(String);

impl ServiceType {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let value = raw.trim();
        if value.is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
            return Err(InvalidField::new(
                "serviceType",
                "must be 1 to 100 characters without control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ServiceType {
    type Error = InvalidField;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ServiceType> for String {
    fn from(value: ServiceType) -> Self {
        value.0
    }
}

/// Free text: the customer's notes or a cancellation reason (at most 2,000 characters).
pub fn parse_free_text(field: &'static str, raw: &str) -> Result<Option<String>, InvalidField> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > 2000 {
        return Err(InvalidField::new(field, "must be at most 2000 characters"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(InvalidField::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(value.to_owned()))
}

#[derive(Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: AppointmentId,
    pub location_id: LocationId,
    pub lead_id: LeadId,
    pub customer: Customer,
    pub service_type: ServiceType,
    pub slot: TimeSlot,
    pub notes: Option<String>,
    pub status: AppointmentStatus,
    pub cancellation_reason: Option<String>,
    /// Optimistic concurrency: incremented by every transition.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for Appointment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Appointment")
            .field("id", &self.id)
            .field("lead_id", &self.lead_id)
            .field("status", &self.status)
            .field("slot", &self.slot)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What a booking needs.
#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub location_id: LocationId,
    pub lead_id: LeadId,
    pub customer: Customer,
    pub service_type: ServiceType,
    pub slot: TimeSlot,
    pub notes: Option<String>,
}

/// An edit of a live appointment; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppointmentEdit {
    pub slot: Option<TimeSlot>,
    pub service_type: Option<ServiceType>,
    pub address: Option<Address>,
    pub notes: Option<String>,
}

/// Every change an appointment can go through after it was booked.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Edit(AppointmentEdit),
    Confirm,
    Cancel { reason: Option<String> },
    Complete,
    NoShow,
}

impl Command {
    pub fn action(&self) -> SyncAction {
        match self {
            Command::Edit(_) => SyncAction::Update,
            Command::Confirm => SyncAction::Confirm,
            Command::Cancel { .. } => SyncAction::Cancel,
            Command::Complete => SyncAction::Complete,
            Command::NoShow => SyncAction::NoShow,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("an appointment that is {from} cannot be {}", verb(*action))]
    NotAllowed {
        from: AppointmentStatus,
        action: SyncAction,
    },
    #[error("the edit changes nothing")]
    NothingChanged,
}

fn verb(action: SyncAction) -> &'static str {
    match action {
        SyncAction::Create => "created",
        SyncAction::Update => "changed",
        SyncAction::Confirm => "confirmed",
        SyncAction::Cancel => "cancelled",
        SyncAction::Complete => "completed",
        SyncAction::NoShow => "marked as no-show",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingRefused {
    #[error("startTime: the appointment must start in the future")]
    InThePast,
}

impl Appointment {
    /// Book a new appointment: status `scheduled`, version 1, one `create` intent.
    pub fn book(
        new: NewAppointment,
        id: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<(Appointment, SyncIntent), BookingRefused> {
        if new.slot.starts_at() <= now {
            return Err(BookingRefused::InThePast);
        }
        let appointment = Appointment {
            id,
            location_id: new.location_id,
            lead_id: new.lead_id,
            customer: new.customer,
            service_type: new.service_type,
            slot: new.slot,
            notes: new.notes,
            status: AppointmentStatus::Scheduled,
            cancellation_reason: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let intent = appointment.intent(SyncAction::Create, Vec::new(), now);
        Ok((appointment, intent))
    }

    /// Apply one command: the new state and its intent, or why it is impossible.
    pub fn apply(
        &self,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<(Appointment, SyncIntent), TransitionError> {
        let action = command.action();
        if self.status.is_terminal() {
            return Err(TransitionError::NotAllowed {
                from: self.status,
                action,
            });
        }
        let mut next = self.clone();
        let mut changes = Vec::new();
        match command {
            Command::Edit(edit) => {
                changes = next.edit(edit);
                if changes.is_empty() {
                    return Err(TransitionError::NothingChanged);
                }
            }
            Command::Confirm => {
                if self.status != AppointmentStatus::Scheduled {
                    return Err(TransitionError::NotAllowed {
                        from: self.status,
                        action,
                    });
                }
                next.status = AppointmentStatus::Confirmed;
            }
            Command::Cancel { reason } => {
                next.status = AppointmentStatus::Cancelled;
                next.cancellation_reason = reason;
            }
            Command::Complete => next.status = AppointmentStatus::Completed,
            Command::NoShow => next.status = AppointmentStatus::NoShow,
        }
        next.version += 1;
        next.updated_at = now;
        let intent = next.intent(action, changes, now);
        Ok((next, intent))
    }

    pub fn confirm(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Appointment, SyncIntent), TransitionError> {
        self.apply(Command::Confirm, now)
    }

    pub fn cancel(
        &self,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(Appointment, SyncIntent), TransitionError> {
        self.apply(Command::Cancel { reason }, now)
    }

    pub fn complete(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Appointment, SyncIntent), TransitionError> {
        self.apply(Command::Complete, now)
    }

    pub fn no_show(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Appointment, SyncIntent), TransitionError> {
        self.apply(Command::NoShow, now)
    }

    pub fn reschedule(
        &self,
        edit: AppointmentEdit,
        now: DateTime<Utc>,
    ) -> Result<(Appointment, SyncIntent), TransitionError> {
        self.apply(Command::Edit(edit), now)
    }

    /// Applies an edit in place and lists what actually changed.
    fn edit(&mut self, edit: AppointmentEdit) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        if let Some(slot) = edit.slot.filter(|s| *s != self.slot) {
            if slot.starts_at() != self.slot.starts_at() {
                changes.push(change("startTime", self.slot.starts_at(), slot.starts_at()));
            }
            if slot.ends_at() != self.slot.ends_at() {
                changes.push(change("endTime", self.slot.ends_at(), slot.ends_at()));
            }
            self.slot = slot;
        }
        if let Some(service) = edit.service_type.filter(|s| *s != self.service_type) {
            changes.push(FieldChange {
                field: "serviceType".into(),
                old: self.service_type.as_str().into(),
                new: service.as_str().into(),
            });
            self.service_type = service;
        }
        if let Some(address) = edit
            .address
            .filter(|a| Some(a) != self.customer.address.as_ref())
        {
            changes.push(FieldChange {
                field: "address".into(),
                old: self
                    .customer
                    .address
                    .as_ref()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                new: address.as_str().into(),
            });
            self.customer.address = Some(address);
        }
        if let Some(notes) = edit.notes.filter(|n| Some(n) != self.notes.as_ref()) {
            changes.push(FieldChange {
                field: "notes".into(),
                old: self.notes.clone().unwrap_or_default(),
                new: notes.clone(),
            });
            self.notes = Some(notes);
        }
        changes
    }

    fn intent(
        &self,
        action: SyncAction,
        changes: Vec<FieldChange>,
        now: DateTime<Utc>,
    ) -> SyncIntent {
        SyncIntent {
            appointment_id: self.id,
            action,
            payload: IntentPayload {
                status: self.status,
                service_type: self.service_type.as_str().to_owned(),
                starts_at: self.slot.starts_at(),
                ends_at: self.slot.ends_at(),
                address: self
                    .customer
                    .address
                    .as_ref()
                    .map(|a| a.as_str().to_owned()),
                customer_notes: self.notes.clone(),
                changes,
                reason: self
                    .cancellation_reason
                    .clone()
                    .filter(|_| action == SyncAction::Cancel),
                occurred_at: now,
            },
        }
    }
}

fn change(field: &str, old: DateTime<Utc>, new: DateTime<Utc>) -> FieldChange {
    FieldChange {
        field: field.into(),
        old: old.to_rfc3339(),
        new: new.to_rfc3339(),
    }
}

#[cfg(test)]
mod tests;

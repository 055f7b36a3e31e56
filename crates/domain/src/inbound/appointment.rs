//! How a GHL appointment event changes our appointment.
//!
//! GHL's statuses map onto our commands: `confirmed` → confirm, `cancelled` →
//! cancel, `showed` (and `completed`) → complete, `noshow` → no-show; a deleted
//! GHL appointment cancels ours. Every change goes through
//! [`Appointment::apply`], so the state machine's rules hold for GHL too; the
//! intent it returns is dropped: a change that came from GHL is not written
//! back (no echo). A status equal to ours is `Unchanged` (our own write coming
//! back); an older event than the last one applied is `Stale`.

use chrono::{DateTime, Utc};

use crate::appointment::{Appointment, AppointmentStatus, Command};
use crate::inbound::event::{AppointmentEventKind, GhlAppointment};

/// GHL's `appointmentStatus` values (request and response enums of the calendars API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GhlAppointmentStatus {
    New,
    Confirmed,
    Cancelled,
    Showed,
    NoShow,
    Invalid,
    Active,
    Completed,
}

impl GhlAppointmentStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw.trim().to_ascii_lowercase().as_str() {
            "new" | "booked" => Self::New,
            "confirmed" => Self::Confirmed,
            "cancelled" | "canceled" => Self::Cancelled,
            "showed" => Self::Showed,
            "noshow" | "no_show" => Self::NoShow,
            "invalid" => Self::Invalid,
            "active" => Self::Active,
            "completed" => Self::Completed,
            _ => return None,
        })
    }
}

pub const CANCELLED_IN_GHL: &str = "cancelled in GHL";
pub const DELETED_IN_GHL: &str = "deleted in GHL";

#[derive(Debug, Clone, PartialEq)]
pub enum AppointmentDecision {
    /// Write this new state (no sync intent).
    Apply(Box<Appointment>),
    /// Our appointment already has the status GHL reports.
    Unchanged,
    /// An older event than the newest one applied.
    Stale,
    /// Nothing to do, and why (no personal data).
    Ignored(&'static str),
}

/// The command a GHL event asks for, if any.
pub fn command_for(kind: AppointmentEventKind, status: Option<&str>) -> Option<Command> {
    if kind == AppointmentEventKind::Delete {
        return Some(Command::Cancel {
            reason: Some(DELETED_IN_GHL.to_owned()),
        });
    }
    match status.and_then(GhlAppointmentStatus::parse)? {
        GhlAppointmentStatus::Confirmed => Some(Command::Confirm),
        GhlAppointmentStatus::Cancelled => Some(Command::Cancel {
            reason: Some(CANCELLED_IN_GHL.to_owned()),
        }),
        GhlAppointmentStatus::Showed | GhlAppointmentStatus::Completed => Some(Command::Complete),
        GhlAppointmentStatus::NoShow => Some(Command::NoShow),
        GhlAppointmentStatus::New
        | GhlAppointmentStatus::Active
        | GhlAppointmentStatus::Invalid => None,
    }
}

fn target(command: &Command) -> Option<AppointmentStatus> {
    match command {
        Command::Confirm => Some(AppointmentStatus::Confirmed),
        Command::Cancel { .. } => Some(AppointmentStatus::Cancelled),
        Command::Complete => Some(AppointmentStatus::Completed),
        Command::NoShow => Some(AppointmentStatus::NoShow),
        Command::Edit(_) => None,
    }
}

/// The change a GHL appointment event of time `at` makes to `current`, whose
/// newest applied GHL fact is of time `last_ghl_update`.
pub fn decide_appointment(
    current: &Appointment,
    last_ghl_update: Option<DateTime<Utc>>,
    kind: AppointmentEventKind,
    event: &GhlAppointment,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppointmentDecision {
    if last_ghl_update.is_some_and(|t| t > at) {
        return AppointmentDecision::Stale;
    }
    let Some(command) = command_for(kind, event.status.as_deref()) else {
        return AppointmentDecision::Ignored("the GHL status does not change ours");
    };
    if target(&command) == Some(current.status) {
        return AppointmentDecision::Unchanged;
    }
    match current.apply(command, now) {
        // The intent is dropped on purpose: GHL already knows (no echo).
        Ok((next, _intent)) => AppointmentDecision::Apply(Box::new(next)),
        Err(_) => AppointmentDecision::Ignored("the transition is not allowed"),
    }
}

//! Sync intents: what the outbox records with every appointment change.
//!
//! An intent carries a snapshot of the facts at the moment of the change, so a
//! note written later (after retries) still tells what happened then.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::appointment::AppointmentStatus;
use crate::ids::AppointmentId;

/// The six kinds of appointment change that are synced to GHL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncAction {
    Create,
    Update,
    Confirm,
    Cancel,
    Complete,
    NoShow,
}

impl SyncAction {
    pub const ALL: [SyncAction; 6] = [
        SyncAction::Create,
        SyncAction::Update,
        SyncAction::Confirm,
        SyncAction::Cancel,
        SyncAction::Complete,
        SyncAction::NoShow,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            SyncAction::Create => "create",
            SyncAction::Update => "update",
            SyncAction::Confirm => "confirm",
            SyncAction::Cancel => "cancel",
            SyncAction::Complete => "complete",
            SyncAction::NoShow => "no_show",
        }
    }
}

impl fmt::Display for SyncAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sync action {0:?}: expected create, update, confirm, cancel, complete or no_show")]
pub struct UnknownAction(pub String);

impl FromStr for SyncAction {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SyncAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

/// One field that an `update` changed, old → new, as shown in the GHL note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// The facts of an appointment at the moment of a change.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentPayload {
    pub status: AppointmentStatus,
    pub service_type: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl fmt::Debug for IntentPayload {
    // The address and free texts are personal data: keep them out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntentPayload")
            .field("status", &self.status)
            .field("service_type", &self.service_type)
            .field("starts_at", &self.starts_at)
            .field("ends_at", &self.ends_at)
            .field("changes", &self.changes.len())
            .field("occurred_at", &self.occurred_at)
            .finish_non_exhaustive()
    }
}

/// "Tell GHL that this happened to this appointment." Written in the same
/// transaction as the change itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncIntent {
    pub appointment_id: AppointmentId,
    pub action: SyncAction,
    pub payload: IntentPayload,
}

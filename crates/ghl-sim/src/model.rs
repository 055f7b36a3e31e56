//! The records the sim keeps, serialised exactly as GHL returns them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::behaviour::FaultKind;

/// A contact as `GET /contacts/{contactId}` returns it. Absent fields are omitted, like
/// GHL does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub location_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    /// Lower-cased and de-duplicated, in the order they were added.
    pub tags: Vec<String>,
    /// GHL's read format: `[{id, value}]`, no keys.
    pub custom_fields: Vec<CustomFieldValue>,
    pub date_added: String,
    pub date_updated: String,
    /// Other documented fields a client set (`city`, `source`, `dnd`, ...), echoed back.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Contact {
    /// The value of a custom field, by id.
    pub fn custom_field(&self, id: &str) -> Option<&Value> {
        self.custom_fields
            .iter()
            .find(|f| f.id == id)
            .map(|f| &f.value)
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        let tag = tag.trim().to_lowercase();
        self.tags.contains(&tag)
    }
}

/// One custom-field value of a contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomFieldValue {
    pub id: String,
    pub value: Value,
}

/// A note, as `POST /contacts/{contactId}/notes` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    pub pinned: bool,
    pub date_added: String,
    pub contact_id: String,
}

/// A task, as `POST /contacts/{contactId}/tasks` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// ISO 8601 in GHL's format (`2021-07-08T02:30:00.000Z`).
    pub due_date: String,
    pub completed: bool,
    pub contact_id: String,
}

/// A custom-field definition, as `GET /locations/{locationId}/customFields` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomFieldDef {
    pub id: String,
    pub name: String,
    /// `contact.<key>`.
    pub field_key: String,
    pub placeholder: String,
    pub data_type: String,
    pub position: u32,
    pub picklist_options: Vec<String>,
    pub is_allowed_custom_option: bool,
    pub location_id: String,
    pub model: String,
}

impl CustomFieldDef {
    /// The key without the `contact.` prefix.
    pub fn key(&self) -> &str {
        self.field_key
            .strip_prefix("contact.")
            .unwrap_or(&self.field_key)
    }
}

/// One API call the sim received (inspection endpoints are not recorded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    pub method: String,
    /// The request path, without the query string.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The status the client received; `0` when it received none (an injected `timeout`
    /// or `drop`).
    pub status: u16,
    /// The request body when it was JSON, else `null`.
    pub body: Value,
    /// Arrival time, RFC 3339.
    pub at: String,
    /// The injected fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
    /// For a fault injected after the request was handled: the status the handler
    /// produced (a 2xx means the write took effect although the client saw the fault).
    #[serde(rename = "appliedStatus", skip_serializing_if = "Option::is_none")]
    pub applied_status: Option<u16>,
}

/// Everything the sim knows about one contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactState {
    pub contact: Contact,
    pub notes: Vec<Note>,
    pub tasks: Vec<Task>,
    /// Calendar events (GHL's `CalendarEventDTO` JSON), oldest first.
    pub appointments: Vec<serde_json::Value>,
}

/// A contact to put into the sim directly (`POST /_sim/contacts`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedContact {
    /// Generated when absent.
    pub id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Values by custom-field id or key.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, Value>,
}

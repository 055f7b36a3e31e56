//! GHL webhook bodies → domain types.
//!
//! GHL's documented per-event examples are flat objects (`type`, `locationId`,
//! then the record); the envelope fields `webhookId` and `timestamp` come with
//! real deliveries but not with the examples, so both are optional here (the
//! api decides what their absence means). Values that do not parse as our
//! domain types (an email GHL accepted but we would not) are dropped, not fatal:
//! a contact is still a contact without a usable email.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::contact::{Address, Email, PersonName, Phone};
use crate::ids::GhlContactId;

/// The fields every webhook body carries (or may carry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub event_type: String,
    pub webhook_id: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub location_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("`type` must be a non-empty string of at most 100 characters")]
    BadType,
    #[error("`webhookId` must be a string of 1 to 200 printable characters")]
    BadWebhookId,
    #[error("`timestamp` must be an RFC 3339 date-time or epoch milliseconds")]
    BadTimestamp,
    #[error("`locationId` must be a string")]
    BadLocation,
}

fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// A date-time as GHL writes it: RFC 3339 text, or epoch milliseconds.
pub fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        _ => None,
    }
}

pub fn parse_envelope(value: &Value) -> Result<Envelope, EnvelopeError> {
    let object = value.as_object().ok_or(EnvelopeError::NotAnObject)?;
    let event_type = match object.get("type") {
        Some(Value::String(s)) if printable(s, 100) => s.clone(),
        _ => return Err(EnvelopeError::BadType),
    };
    let webhook_id = match object.get("webhookId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if printable(s, 200) => Some(s.clone()),
        Some(_) => return Err(EnvelopeError::BadWebhookId),
    };
    let timestamp = match object.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_time(v).ok_or(EnvelopeError::BadTimestamp)?),
    };
    let location_id = match object.get("locationId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(EnvelopeError::BadLocation),
    };
    Ok(Envelope {
        event_type,
        webhook_id,
        timestamp,
        location_id,
    })
}

/// A GHL contact as a contact event describes it.
#[derive(Clone, PartialEq, Eq)]
pub struct GhlContact {
    pub id: GhlContactId,
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub address: Option<Address>,
    /// Trimmed, de-duplicated and sorted (GHL's order carries no meaning).
    pub tags: Vec<String>,
    pub date_updated: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for GhlContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlContact")
            .field("id", &self.id)
            .field("tags", &self.tags.len())
            .finish_non_exhaustive()
    }
}

/// Tags as a set: trimmed, empty ones dropped, sorted, unique.
pub fn normalise_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = tags
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.chars().count() <= 200)
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentEventKind {
    Create,
    Update,
    Delete,
}

/// A GHL calendar event (appointment) as an appointment event describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhlAppointment {
    pub id: String,
    pub contact_id: Option<GhlContactId>,
    /// GHL's `appointmentStatus`, as sent (lower-cased).
    pub status: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub date_updated: Option<DateTime<Utc>>,
}

/// What a webhook body means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GhlEvent {
    /// ContactCreate / ContactUpdate (`created` for the former).
    ContactUpsert { contact: GhlContact, created: bool },
    /// ContactTagUpdate: only the tags are taken from it.
    ContactTags { contact: GhlContact },
    ContactDelete {
        contact_id: GhlContactId,
        date_updated: Option<DateTime<Utc>>,
    },
    Appointment {
        kind: AppointmentEventKind,
        appointment: GhlAppointment,
    },
    /// Any other type: stored, answered 200, not applied.
    Other,
}

impl GhlEvent {
    /// The record's own time, when the payload carries one.
    pub fn record_time(&self) -> Option<DateTime<Utc>> {
        match self {
            GhlEvent::ContactUpsert { contact, .. } | GhlEvent::ContactTags { contact } => {
                contact.date_updated
            }
            GhlEvent::ContactDelete { date_updated, .. } => *date_updated,
            GhlEvent::Appointment { appointment, .. } => appointment.date_updated,
            GhlEvent::Other => None,
        }
    }
}

/// A known event type whose body lacks what it needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("{0}: missing or not a valid GHL id")]
    MissingId(&'static str),
    #[error("`appointment` must be an object")]
    MissingAppointment,
}

fn text<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The parts of a contact that contact events and workflow bodies share.
#[allow(clippy::too_many_arguments)]
pub(crate) fn contact_facts(
    id: GhlContactId,
    full_name: Option<&str>,
    first: Option<&str>,
    last: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    address: Option<String>,
    tags: Vec<String>,
    date_updated: Option<DateTime<Utc>>,
) -> GhlContact {
    let joined = match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.to_owned()),
        (None, Some(l)) => Some(l.to_owned()),
        (None, None) => None,
    };
    let name = full_name
        .and_then(|n| PersonName::parse(n).ok())
        .or_else(|| joined.and_then(|n| PersonName::parse(&n).ok()));
    GhlContact {
        id,
        name,
        email: email.and_then(|e| Email::parse(e).ok()),
        phone: phone.and_then(|p| Phone::parse(p).ok()),
        address: address.and_then(|a| Address::parse(&a).ok()),
        tags,
        date_updated,
    }
}

fn contact(object: &serde_json::Map<String, Value>) -> Result<GhlContact, EventError> {
    let id = text(object, "id")
        .and_then(|s| GhlContactId::parse(s).ok())
        .ok_or(EventError::MissingId("id"))?;
    let tags = object
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| normalise_tags(a.iter().filter_map(Value::as_str)))
        .unwrap_or_default();
    let address = [
        text(object, "address1"),
        text(object, "postalCode"),
        text(object, "city"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    Ok(contact_facts(
        id,
        text(object, "name"),
        text(object, "firstName"),
        text(object, "lastName"),
        text(object, "email"),
        text(object, "phone"),
        (!address.is_empty()).then_some(address),
        tags,
        object.get("dateUpdated").and_then(parse_time),
    ))
}

fn appointment(object: &serde_json::Map<String, Value>) -> Result<GhlAppointment, EventError> {
    let inner = object
        .get("appointment")
        .and_then(Value::as_object)
        .ok_or(EventError::MissingAppointment)?;
    let id = text(inner, "id")
        .filter(|s| printable(s, 128))
        .ok_or(EventError::MissingId("appointment.id"))?;
    Ok(GhlAppointment {
        id: id.to_owned(),
        contact_id: text(inner, "contactId").and_then(|s| GhlContactId::parse(s).ok()),
        status: text(inner, "appointmentStatus").map(str::to_ascii_lowercase),
        starts_at: inner.get("startTime").and_then(parse_time),
        date_updated: inner.get("dateUpdated").and_then(parse_time),
    })
}

/// Parses the body of a webhook whose envelope said `event_type`.
pub fn parse_event(event_type: &str, body: &Value) -> Result<GhlEvent, EventError> {
    let Some(object) = body.as_object() else {
        return Ok(GhlEvent::Other);
    };
    Ok(match event_type {
        "ContactCreate" | "ContactUpdate" => GhlEvent::ContactUpsert {
            contact: contact(object)?,
            created: event_type == "ContactCreate",
        },
        "ContactTagUpdate" => GhlEvent::ContactTags {
            contact: contact(object)?,
        },
        "ContactDelete" => GhlEvent::ContactDelete {
            contact_id: text(object, "id")
                .and_then(|s| GhlContactId::parse(s).ok())
                .ok_or(EventError::MissingId("id"))?,
            date_updated: object.get("dateUpdated").and_then(parse_time),
        },
        "AppointmentCreate" | "AppointmentUpdate" | "AppointmentDelete" => GhlEvent::Appointment {
            kind: match event_type {
                "AppointmentCreate" => AppointmentEventKind::Create,
                "AppointmentUpdate" => AppointmentEventKind::Update,
                _ => AppointmentEventKind::Delete,
            },
            appointment: appointment(object)?,
        },
        _ => GhlEvent::Other,
    })
}

//! The body of GHL's workflow "Webhook" action (setups without a Marketplace
//! app): snake_case, `tags` a comma-separated string, custom fields at the top
//! level under their display names, no `webhookId`, no event type, no time.

use serde_json::Value;

use crate::ids::GhlContactId;
use crate::inbound::event::{EventError, GhlContact, contact_facts, normalise_tags};

/// Keys of the standard body that are not custom fields.
const STANDARD_KEYS: &[&str] = &[
    "contact_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "tags",
    "country",
    "date_created",
    "full_address",
    "address1",
    "city",
    "state",
    "postal_code",
    "contact_type",
    "location",
    "workflow",
    "triggerData",
    "contact",
    "attributionSource",
    "customData",
    "user",
    "company_name",
    "timezone",
    "contact_source",
];

/// A workflow body: the contact, its location, and its custom fields by display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowContact {
    pub contact: GhlContact,
    pub location_id: Option<String>,
    /// (display name, value as text); values are personal data: never logged.
    pub custom_fields: Vec<(String, String)>,
}

fn text<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub fn parse_workflow(body: &Value) -> Result<WorkflowContact, EventError> {
    let object = body
        .as_object()
        .ok_or(EventError::MissingId("contact_id"))?;
    let id = text(object, "contact_id")
        .and_then(|s| GhlContactId::parse(s).ok())
        .ok_or(EventError::MissingId("contact_id"))?;
    let tags = match object.get("tags") {
        Some(Value::String(s)) => normalise_tags(s.split(',')),
        Some(Value::Array(a)) => normalise_tags(a.iter().filter_map(Value::as_str)),
        _ => Vec::new(),
    };
    let address = text(object, "full_address")
        .or_else(|| text(object, "address1"))
        .map(str::to_owned);
    let contact = contact_facts(
        id,
        text(object, "full_name"),
        text(object, "first_name"),
        text(object, "last_name"),
        text(object, "email"),
        text(object, "phone"),
        address,
        tags,
        None,
    );
    let location_id = object
        .get("location")
        .and_then(Value::as_object)
        .and_then(|l| text(l, "id"))
        .map(str::to_owned);
    let mut custom_fields: Vec<(String, String)> = object
        .iter()
        .filter(|(k, _)| !STANDARD_KEYS.contains(&k.as_str()))
        .filter_map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), value))
        })
        .collect();
    custom_fields.sort();
    Ok(WorkflowContact {
        contact,
        location_id,
        custom_fields,
    })
}

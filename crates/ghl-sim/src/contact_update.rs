//! Applying a validated `UpdateContactDto` / `UpsertContactDto` / `CreateContactDto` body
//! to a contact, the way GHL does.

use serde_json::{Map, Value};

use crate::error::GhlError;
use crate::fields::find_field;
use crate::ids;
use crate::model::{Contact, CustomFieldDef, CustomFieldValue};

/// Body fields that select or steer the write rather than being stored.
const NOT_STORED: [&str; 2] = ["locationId", "createNewIfDuplicateAllowed"];

/// Applies `body` to `contact`. Nothing changes when an error is returned.
///
/// - `tags` replaces all tags (the spec: "This field will overwrite all current tags").
/// - each `customFields` entry names its field by `id` or `key` (with or without the
///   `contact.` prefix) and carries `field_value` (or `fieldValue`, which GHL also
///   accepts); an empty string, `null` or an empty array clears the field. An unknown
///   field is a 422.
/// - `name` follows `firstName`/`lastName` unless the body sets it.
pub(crate) fn apply(
    contact: &mut Contact,
    body: &Map<String, Value>,
    fields: &[CustomFieldDef],
) -> Result<(), GhlError> {
    let mut updated = contact.clone();
    for (key, value) in body {
        match key.as_str() {
            "firstName" => updated.first_name = text(value),
            "lastName" => updated.last_name = text(value),
            "name" => updated.name = text(value),
            "email" => updated.email = text(value),
            "phone" => updated.phone = text(value),
            "address1" => updated.address1 = text(value),
            "tags" => {
                updated.tags.clear();
                add_tags(&mut updated.tags, strings(value));
            }
            "customFields" => apply_custom_fields(&mut updated, value, fields)?,
            key if NOT_STORED.contains(&key) => {}
            _ if value.is_null() => {
                updated.other.remove(key);
            }
            _ => {
                updated.other.insert(key.clone(), value.clone());
            }
        }
    }
    let names_changed = body.contains_key("firstName") || body.contains_key("lastName");
    if names_changed && !body.contains_key("name") {
        updated.name = full_name(&updated);
    }
    updated.date_updated = ids::now();
    *contact = updated;
    Ok(())
}

/// Adds tags GHL-style: trimmed, lower-cased, without duplicates. Returns how many were new.
pub(crate) fn add_tags<'a>(
    tags: &mut Vec<String>,
    new: impl IntoIterator<Item = &'a str>,
) -> usize {
    let before = tags.len();
    for tag in new.into_iter().filter_map(normalize_tag) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags.len() - before
}

/// Removes tags, compared GHL-style. Returns how many were removed.
pub(crate) fn remove_tags<'a>(
    tags: &mut Vec<String>,
    gone: impl IntoIterator<Item = &'a str>,
) -> usize {
    let gone: Vec<String> = gone.into_iter().filter_map(normalize_tag).collect();
    let before = tags.len();
    tags.retain(|t| !gone.contains(t));
    before - tags.len()
}

/// Sets (or, for an empty value, clears) one custom field.
pub(crate) fn set_field(contact: &mut Contact, id: &str, value: &Value) {
    contact.custom_fields.retain(|f| f.id != id);
    if !is_empty(value) {
        contact.custom_fields.push(CustomFieldValue {
            id: id.to_owned(),
            value: value.clone(),
        });
    }
}

pub(crate) fn full_name(contact: &Contact) -> Option<String> {
    let parts: Vec<&str> = [&contact.first_name, &contact.last_name]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn apply_custom_fields(
    contact: &mut Contact,
    entries: &Value,
    fields: &[CustomFieldDef],
) -> Result<(), GhlError> {
    let mut unknown = Vec::new();
    for (index, entry) in entries.as_array().into_iter().flatten().enumerate() {
        let id = entry.get("id").and_then(Value::as_str);
        let key = entry.get("key").and_then(Value::as_str);
        let field = match (id, key) {
            (Some(id), _) => fields.iter().find(|f| f.id == id),
            (None, Some(key)) => find_field(fields, key),
            (None, None) => None,
        };
        let Some(field) = field else {
            let named = id.or(key).unwrap_or_default();
            unknown.push(format!(
                "customFields.{index}: {named} is not a custom field of this location"
            ));
            continue;
        };
        // An entry without a value leaves the field as it is.
        if let Some(value) = entry.get("field_value").or_else(|| entry.get("fieldValue")) {
            set_field(contact, &field.id, value);
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(GhlError::Unprocessable(unknown))
    }
}

fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn normalize_tag(tag: &str) -> Option<String> {
    let tag = tag.trim().to_lowercase();
    (!tag.is_empty()).then_some(tag)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

//! GHL's request and response shapes (API v2), private to the adapter and converted at
//! its edge. Requests carry only what the spec's schema allows (GHL rejects unknown
//! properties); responses are read leniently (only what we need, the rest ignored).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `NotesDTO` of `POST /contacts/{contactId}/notes`.
#[derive(Debug, Serialize)]
pub(crate) struct NoteRequest<'a> {
    pub body: &'a str,
}

/// `UpsertContactDto` of `POST /contacts/upsert`: found by email or phone, else created.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpsertContactRequest<'a> {
    pub location_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address1: Option<&'a str>,
    pub source: &'a str,
}

/// `TagsDTO` of `POST` and `DELETE /contacts/{contactId}/tags`.
#[derive(Debug, Serialize)]
pub(crate) struct TagsRequest<'a> {
    pub tags: &'a [String],
}

/// `UpdateContactDto` of `PUT /contacts/{contactId}`, with custom fields only.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateContactRequest<'a> {
    pub custom_fields: Vec<CustomFieldWrite<'a>>,
}

/// A custom-field value in GHL's write format (a `TextField`): `{id, field_value}`.
/// An empty value clears the field.
#[derive(Debug, Serialize)]
pub(crate) struct CustomFieldWrite<'a> {
    pub id: &'a str,
    pub field_value: &'a str,
}

/// `CreateTaskParams` of `POST /contacts/{contactId}/tasks`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskRequest<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// RFC 3339 in UTC with `Z`, e.g. `2030-01-19T09:00:00Z`.
    pub due_date: String,
    pub completed: bool,
}

impl TaskRequest<'_> {
    pub(crate) fn due_date(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// `GET /contacts/{contactId}` → `{contact: {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ContactEnvelope {
    pub contact: ContactDto,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContactDto {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub custom_fields: Option<Vec<CustomFieldRead>>,
}

/// A custom-field value in GHL's read format: `{id, value}` (no key).
#[derive(Debug, Deserialize)]
pub(crate) struct CustomFieldRead {
    pub id: String,
    #[serde(default)]
    pub value: Value,
}

impl CustomFieldRead {
    /// The value as text: strings as they are, numbers and booleans printed, lists
    /// (checkbox, multi-select) joined with `, `, nothing for `null`, objects (file
    /// fields) as compact JSON.
    pub(crate) fn value_text(&self) -> String {
        stringify(&self.value)
    }
}

fn stringify(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(stringify)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => value.to_string(),
    }
}

/// `GET /locations/{locationId}/customFields` → `{customFields: [...]}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomFieldList {
    #[serde(default)]
    pub custom_fields: Vec<CustomFieldDef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomFieldDef {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// E.g. `contact.appointment_status`.
    #[serde(default)]
    pub field_key: Option<String>,
    /// `contact` or `opportunity`.
    #[serde(default)]
    pub model: Option<String>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    #[test]
    fn due_dates_are_utc_with_z_and_whole_seconds() {
        let at = Utc.with_ymd_and_hms(2030, 1, 19, 9, 0, 0).unwrap();
        assert_eq!(TaskRequest::due_date(at), "2030-01-19T09:00:00Z");
    }

    #[test]
    fn custom_field_values_are_stringified_sensibly() {
        let read = |value: Value| {
            CustomFieldRead {
                id: "f".into(),
                value,
            }
            .value_text()
        };
        assert_eq!(read(json!("confirmed")), "confirmed");
        assert_eq!(read(json!(42)), "42");
        assert_eq!(read(json!(12.5)), "12.5");
        assert_eq!(read(json!(true)), "true");
        assert_eq!(read(json!(["a", "b", null, 3])), "a, b, 3");
        assert_eq!(read(json!(null)), "");
        assert_eq!(read(json!({"u1": {"url": "x"}})), r#"{"u1":{"url":"x"}}"#);
    }

    #[test]
    fn a_contact_without_tags_or_fields_reads_as_empty() {
        let parsed: ContactEnvelope =
            serde_json::from_value(json!({"contact": {"id": "c1", "tags": null}})).unwrap();
        assert_eq!(parsed.contact.id.as_deref(), Some("c1"));
        assert!(parsed.contact.tags.is_none());
        assert!(parsed.contact.custom_fields.is_none());
    }

    #[test]
    fn custom_field_writes_use_field_value() {
        let body = UpdateContactRequest {
            custom_fields: vec![CustomFieldWrite {
                id: "abc",
                field_value: "",
            }],
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"customFields": [{"id": "abc", "field_value": ""}]})
        );
    }
}

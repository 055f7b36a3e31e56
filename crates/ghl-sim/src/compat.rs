//! Where GHL's live API accepts more than its v2 spec says, the sim follows the API.
//!
//! - `customFields[].fieldValue`: the v3 spec's name for `field_value`; integrators report
//!   it working with `Version: 2021-07-28` (n8n-io/n8n#35392, docs PR
//!   GoHighLevel/highlevel-api-docs#320).
//! - `customFields[]` with `key` but no `id`: the v2 spec's own
//!   `customFieldsInputStringSchema` says "Pass either `id` or `key`", although the
//!   schemas the DTOs reference mark `id` required.
//!
//! The body is validated in the shape the spec documents; handlers read the original.

use serde_json::Value;

/// A copy of `body` rewritten to the documented shape, for validation only.
pub(crate) fn for_validation(body: &Value) -> Value {
    let mut body = body.clone();
    let entries = body
        .get_mut("customFields")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut);
    for entry in entries {
        if !entry.contains_key("field_value")
            && let Some(value) = entry.remove("fieldValue")
        {
            entry.insert("field_value".to_owned(), value);
        }
        if !entry.contains_key("id")
            && let Some(key) = entry.get("key").cloned()
        {
            entry.insert("id".to_owned(), key);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn field_value_and_key_aliases_become_the_documented_shape() {
        let body = json!({"customFields": [
            {"id": "a", "fieldValue": "x"},
            {"key": "contact.b", "field_value": "y"},
            {"id": "c", "field_value": "z", "fieldValue": "both"}
        ]});
        assert_eq!(
            for_validation(&body),
            json!({"customFields": [
                {"id": "a", "field_value": "x"},
                {"id": "contact.b", "key": "contact.b", "field_value": "y"},
                {"id": "c", "field_value": "z", "fieldValue": "both"}
            ]})
        );
    }

    #[test]
    fn bodies_without_custom_fields_are_unchanged() {
        let body = json!({"tags": ["a"]});
        assert_eq!(for_validation(&body), body);
    }
}

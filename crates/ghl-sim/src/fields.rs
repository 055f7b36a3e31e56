//! The location's custom-field definitions.

use crate::ids;
use crate::model::CustomFieldDef;

/// `TEXT` contact fields for `keys` (with or without `contact.`; duplicates and blanks
/// dropped). Ids depend only on the location and key, so they are stable across runs.
pub(crate) fn definitions(location_id: &str, keys: &[String]) -> Vec<CustomFieldDef> {
    let mut defs: Vec<CustomFieldDef> = Vec::new();
    for key in keys {
        let key = key.trim();
        let key = key.strip_prefix("contact.").unwrap_or(key);
        if key.is_empty() || defs.iter().any(|d| d.key() == key) {
            continue;
        }
        defs.push(CustomFieldDef {
            id: ids::stable_id(&[location_id, key]),
            name: display_name(key),
            field_key: format!("contact.{key}"),
            placeholder: String::new(),
            data_type: "TEXT".to_owned(),
            position: u32::try_from(defs.len())
                .unwrap_or(u32::MAX)
                .saturating_mul(50),
            picklist_options: Vec::new(),
            is_allowed_custom_option: false,
            location_id: location_id.to_owned(),
            model: "contact".to_owned(),
        });
    }
    defs
}

/// `next_appointment_date` → `Next Appointment Date`.
fn display_name(key: &str) -> String {
    key.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Finds a custom-field definition by id, or by key with or without `contact.`.
pub(crate) fn find_field<'f>(
    fields: &'f [CustomFieldDef],
    id_or_key: &str,
) -> Option<&'f CustomFieldDef> {
    let key = id_or_key.strip_prefix("contact.").unwrap_or(id_or_key);
    fields
        .iter()
        .find(|f| f.id == id_or_key)
        .or_else(|| fields.iter().find(|f| f.key() == key))
}

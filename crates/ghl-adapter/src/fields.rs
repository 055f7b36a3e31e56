//! Custom-field keys (as configured: `appointment_status`, `contact.appointment_status`
//! or a field's display name) resolved to GHL field ids, cached per location.

use std::collections::HashMap;
use std::sync::Arc;

use domain::ids::LocationId;
use domain::job::{CrmError, ErrorClass};
use tokio::sync::RwLock;

use crate::dto::CustomFieldDef;

const PREFIX: &str = "contact.";

/// The contact custom fields of one location, by key and by name.
#[derive(Debug, Default)]
pub(crate) struct FieldIndex {
    /// Keys without the `contact.` prefix → id.
    by_key: HashMap<String, String>,
    /// Display names → id (fallback).
    by_name: HashMap<String, String>,
}

impl FieldIndex {
    pub(crate) fn from_defs(defs: Vec<CustomFieldDef>) -> Self {
        let mut index = FieldIndex::default();
        for def in defs {
            if def.model.as_deref().is_some_and(|m| m != "contact") {
                continue;
            }
            if let Some(key) = def.field_key.as_deref() {
                index.by_key.insert(bare(key).to_owned(), def.id.clone());
            }
            if let Some(name) = def.name {
                index.by_name.entry(name).or_insert(def.id);
            }
        }
        index
    }

    /// The id of the field `configured` names: by key (with or without `contact.`),
    /// else by exact display name.
    pub(crate) fn id_of(&self, configured: &str) -> Option<&str> {
        let configured = configured.trim();
        self.by_key
            .get(bare(configured))
            .or_else(|| self.by_name.get(configured))
            .map(String::as_str)
    }

    /// Resolves every key to its id, or lists the keys that do not exist.
    pub(crate) fn resolve<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<Vec<String>, Vec<&'k str>> {
        let mut ids = Vec::new();
        let mut missing = Vec::new();
        for key in keys {
            match self.id_of(key) {
                Some(id) => ids.push(id.to_owned()),
                None => missing.push(key),
            }
        }
        if missing.is_empty() {
            Ok(ids)
        } else {
            Err(missing)
        }
    }
}

fn bare(key: &str) -> &str {
    key.strip_prefix(PREFIX).unwrap_or(key)
}

/// The error for configured keys the location does not have: only a person can fix it.
pub(crate) fn missing_fields_error(location: &LocationId, missing: &[&str]) -> CrmError {
    let names = missing
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = if missing.len() == 1 {
        format!(
            "custom field {names} does not exist in GHL location {location}; \
             create it or change the configuration"
        )
    } else {
        format!(
            "custom fields {names} do not exist in GHL location {location}; \
             create them or change the configuration"
        )
    };
    CrmError::new(ErrorClass::Validation, None, message)
}

/// Field indexes by location. Filled on first use, replaced on refresh; the lock is
/// never held across a GHL call.
#[derive(Debug, Default)]
pub(crate) struct FieldCache {
    by_location: RwLock<HashMap<LocationId, Arc<FieldIndex>>>,
}

impl FieldCache {
    pub(crate) async fn get(&self, location: &LocationId) -> Option<Arc<FieldIndex>> {
        self.by_location.read().await.get(location).cloned()
    }

    pub(crate) async fn put(&self, location: &LocationId, index: FieldIndex) -> Arc<FieldIndex> {
        let index = Arc::new(index);
        self.by_location
            .write()
            .await
            .insert(location.clone(), Arc::clone(&index));
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(id: &str, key: &str, name: &str, model: Option<&str>) -> CustomFieldDef {
        CustomFieldDef {
            id: id.into(),
            name: Some(name.into()),
            field_key: Some(key.into()),
            model: model.map(str::to_owned),
        }
    }

    fn index() -> FieldIndex {
        FieldIndex::from_defs(vec![
            def(
                "id-status",
                "contact.appointment_status",
                "Appointment Status",
                Some("contact"),
            ),
            def(
                "id-next",
                "contact.next_appointment_date",
                "Next appointment",
                None,
            ),
            def(
                "id-opp",
                "opportunity.deal_size",
                "Deal size",
                Some("opportunity"),
            ),
        ])
    }

    #[test]
    fn keys_match_with_or_without_the_contact_prefix() {
        let index = index();
        assert_eq!(index.id_of("appointment_status"), Some("id-status"));
        assert_eq!(index.id_of("contact.appointment_status"), Some("id-status"));
        assert_eq!(index.id_of(" next_appointment_date "), Some("id-next"));
    }

    #[test]
    fn display_names_match_exactly_as_a_fallback() {
        let index = index();
        assert_eq!(index.id_of("Appointment Status"), Some("id-status"));
        assert_eq!(index.id_of("appointment status"), None);
    }

    #[test]
    fn fields_of_other_models_are_ignored() {
        let index = index();
        assert_eq!(index.id_of("Deal size"), None);
        assert_eq!(index.id_of("opportunity.deal_size"), None);
    }

    #[test]
    fn resolving_lists_every_missing_key() {
        let index = index();
        assert_eq!(
            index.resolve(["appointment_status", "next_appointment_date"]),
            Ok(vec!["id-status".to_owned(), "id-next".to_owned()])
        );
        assert_eq!(
            index.resolve(["foo", "appointment_status", "bar"]),
            Err(vec!["foo", "bar"])
        );
    }

    #[test]
    fn the_missing_field_error_is_actionable() {
        let location = LocationId::parse("loc1").unwrap();
        let one = missing_fields_error(&location, &["foo"]);
        assert_eq!(one.class, ErrorClass::Validation);
        assert_eq!(
            one.message,
            "custom field `foo` does not exist in GHL location loc1; create it or change the configuration"
        );
        let two = missing_fields_error(&location, &["foo", "bar"]);
        assert_eq!(
            two.message,
            "custom fields `foo`, `bar` do not exist in GHL location loc1; create them or change the configuration"
        );
    }
}

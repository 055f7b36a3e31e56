//! The GHL operations this adapter calls: one row each, with the `Version` header its
//! spec requires. Adding calendars means adding rows with [`CALENDARS_VERSION`].

use reqwest::Method;

/// `Version` of the contacts and locations specs (`apps/contacts.json`, `apps/locations.json`).
pub(crate) const CONTACTS_VERSION: &str = "2021-07-28";
/// `Version` of the calendars spec (`apps/calendars.json`).
pub(crate) const CALENDARS_VERSION: &str = "2021-04-15";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    AddNote,
    AddTags,
    RemoveTags,
    UpdateContact,
    CreateTask,
    GetContact,
    ListCustomFields,
    ListNotes,
    ListTasks,
    UpsertContact,
    CreateAppointment,
    UpdateAppointment,
    ListContactAppointments,
}

/// How an operation is called.
#[derive(Debug, Clone)]
pub(crate) struct OperationSpec {
    /// Our name for it, used in logs and error messages.
    pub name: &'static str,
    pub method: Method,
    /// The path as the spec writes it; logged instead of the concrete path.
    pub template: &'static str,
    pub version: &'static str,
}

impl Operation {
    #[cfg(test)]
    pub(crate) const ALL: [Operation; 13] = [
        Operation::AddNote,
        Operation::AddTags,
        Operation::RemoveTags,
        Operation::UpdateContact,
        Operation::CreateTask,
        Operation::GetContact,
        Operation::ListCustomFields,
        Operation::ListNotes,
        Operation::ListTasks,
        Operation::UpsertContact,
        Operation::CreateAppointment,
        Operation::UpdateAppointment,
        Operation::ListContactAppointments,
    ];

    /// Whether sending it twice has the effect of sending it once. A note or a task
    /// sent twice exists twice, so those are retried only when GHL provably did not get
    /// them (see [`crate::retry`]). An upsert finds the contact it created before. A
    /// calendar event is created like a note; setting one (`PUT`) is idempotent.
    pub(crate) fn idempotent(self) -> bool {
        !matches!(
            self,
            Operation::AddNote | Operation::CreateTask | Operation::CreateAppointment
        )
    }

    pub(crate) fn spec(self) -> OperationSpec {
        let (name, method, template, version) = match self {
            Operation::AddNote => (
                "add_note",
                Method::POST,
                "/contacts/{contactId}/notes",
                CONTACTS_VERSION,
            ),
            Operation::AddTags => (
                "add_tags",
                Method::POST,
                "/contacts/{contactId}/tags",
                CONTACTS_VERSION,
            ),
            Operation::RemoveTags => (
                "remove_tags",
                Method::DELETE,
                "/contacts/{contactId}/tags",
                CONTACTS_VERSION,
            ),
            Operation::UpdateContact => (
                "update_custom_fields",
                Method::PUT,
                "/contacts/{contactId}",
                CONTACTS_VERSION,
            ),
            Operation::CreateTask => (
                "create_task",
                Method::POST,
                "/contacts/{contactId}/tasks",
                CONTACTS_VERSION,
            ),
            Operation::GetContact => (
                "get_contact",
                Method::GET,
                "/contacts/{contactId}",
                CONTACTS_VERSION,
            ),
            Operation::ListNotes => (
                "list_notes",
                Method::GET,
                "/contacts/{contactId}/notes",
                CONTACTS_VERSION,
            ),
            Operation::ListTasks => (
                "list_tasks",
                Method::GET,
                "/contacts/{contactId}/tasks",
                CONTACTS_VERSION,
            ),
            Operation::ListCustomFields => (
                "list_custom_fields",
                Method::GET,
                "/locations/{locationId}/customFields",
                CONTACTS_VERSION,
            ),
            Operation::UpsertContact => (
                "upsert_contact",
                Method::POST,
                "/contacts/upsert",
                CONTACTS_VERSION,
            ),
            Operation::CreateAppointment => (
                "create_appointment",
                Method::POST,
                "/calendars/events/appointments",
                CALENDARS_VERSION,
            ),
            Operation::UpdateAppointment => (
                "update_appointment",
                Method::PUT,
                "/calendars/events/appointments/{eventId}",
                CALENDARS_VERSION,
            ),
            Operation::ListContactAppointments => (
                "list_contact_appointments",
                Method::GET,
                "/contacts/{contactId}/appointments",
                CONTACTS_VERSION,
            ),
        };
        OperationSpec {
            name,
            method,
            template,
            version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_distinct_name_and_a_spec_path() {
        let mut names: Vec<_> = Operation::ALL.iter().map(|op| op.spec().name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
        for op in Operation::ALL {
            let spec = op.spec();
            assert!(spec.template.starts_with('/'), "{}", spec.name);
            let expected = if spec.template.starts_with("/calendars/") {
                CALENDARS_VERSION
            } else {
                CONTACTS_VERSION
            };
            assert_eq!(spec.version, expected, "{}", spec.name);
        }
    }
}

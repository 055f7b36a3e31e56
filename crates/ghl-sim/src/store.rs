//! The sim's in-memory state: contacts with their notes and tasks, the location's custom
//! fields and the call log. Callers hold it behind a mutex (see [`crate::SimState`]).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::config::SimConfig;
use crate::contact_update::{self, set_field};
use crate::error::GhlError;
use crate::fields::{self, find_field};
use crate::ids;
use crate::model::{CallRecord, Contact, ContactState, CustomFieldDef, Note, SeedContact, Task};

/// Why a contact could not be seeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("a contact with id {0} already exists")]
    DuplicateId(String),
    #[error("{0} is not a custom field of this location")]
    UnknownCustomField(String),
}

#[derive(Debug)]
struct Record {
    contact: Contact,
    notes: Vec<Note>,
    tasks: Vec<Task>,
    /// Calendar events of the contact (`crate::calendar`), oldest first.
    appointments: Vec<Value>,
}

#[derive(Debug)]
pub(crate) struct Store {
    location_id: String,
    /// Contacts in creation order; `index` maps ids into it (contacts are never removed).
    records: Vec<Record>,
    index: HashMap<String, usize>,
    fields: Vec<CustomFieldDef>,
    calls: Vec<CallRecord>,
}

impl Store {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Store {
            location_id: config.location_id.clone(),
            records: Vec::new(),
            index: HashMap::new(),
            fields: fields::definitions(&config.location_id, &config.custom_fields),
            calls: Vec::new(),
        }
    }

    pub(crate) fn fields(&self) -> &[CustomFieldDef] {
        &self.fields
    }

    pub(crate) fn contact(&self, id: &str) -> Result<&Contact, GhlError> {
        self.record(id).map(|r| &r.contact)
    }

    pub(crate) fn state(&self, id: &str) -> Option<ContactState> {
        self.record(id).ok().map(|r| ContactState {
            contact: r.contact.clone(),
            notes: r.notes.clone(),
            tasks: r.tasks.clone(),
            appointments: r.appointments.clone(),
        })
    }

    pub(crate) fn update_contact(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Contact, GhlError> {
        let Store {
            records,
            index,
            fields,
            ..
        } = self;
        let record = index
            .get(id)
            .and_then(|i| records.get_mut(*i))
            .ok_or_else(|| GhlError::contact_not_found(id))?;
        contact_update::apply(&mut record.contact, body, fields)?;
        Ok(record.contact.clone())
    }

    /// `POST /contacts/`: a new contact, or 400 when its email or phone is taken (GHL's
    /// default "Allow Duplicate Contact" setting is off).
    pub(crate) fn create_contact(
        &mut self,
        body: &Map<String, Value>,
    ) -> Result<Contact, GhlError> {
        self.check_location(body)?;
        if let Some((existing, matching_field)) = self.find_duplicate(body) {
            let contact = &self.records[existing].contact;
            return Err(GhlError::DuplicateContact {
                contact_id: contact.id.clone(),
                contact_name: contact.name.clone(),
                matching_field,
            });
        }
        let mut contact = self.blank_contact(ids::random_id());
        contact_update::apply(&mut contact, body, &self.fields)?;
        Ok(self.insert(contact))
    }

    /// `POST /contacts/upsert`: updates the contact matching the email, else the phone,
    /// else creates one. Returns whether it was created. Like GHL, an update ignores
    /// `gender` while answering 200 (highlevel-api-docs#313).
    pub(crate) fn upsert_contact(
        &mut self,
        body: &Map<String, Value>,
    ) -> Result<(bool, Contact), GhlError> {
        self.check_location(body)?;
        match self.find_duplicate(body) {
            Some((existing, _)) => {
                let id = self.records[existing].contact.id.clone();
                let mut body = body.clone();
                body.remove("gender");
                Ok((false, self.update_contact(&id, &body)?))
            }
            None => Ok((true, self.create_contact(body)?)),
        }
    }

    pub(crate) fn add_tags(&mut self, id: &str, tags: &[String]) -> Result<Vec<String>, GhlError> {
        self.change_tags(id, |all| {
            contact_update::add_tags(all, tags.iter().map(String::as_str)) > 0
        })
    }

    pub(crate) fn remove_tags(
        &mut self,
        id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, GhlError> {
        self.change_tags(id, |all| {
            contact_update::remove_tags(all, tags.iter().map(String::as_str)) > 0
        })
    }

    pub(crate) fn add_note(&mut self, note: Note) -> Result<Note, GhlError> {
        let record = self.record_mut(&note.contact_id)?;
        record.notes.push(note.clone());
        Ok(note)
    }

    pub(crate) fn notes(&self, id: &str) -> Result<Vec<Note>, GhlError> {
        self.record(id).map(|r| r.notes.clone())
    }

    pub(crate) fn add_task(&mut self, task: Task) -> Result<Task, GhlError> {
        let record = self.record_mut(&task.contact_id)?;
        record.tasks.push(task.clone());
        Ok(task)
    }

    pub(crate) fn tasks(&self, id: &str) -> Result<Vec<Task>, GhlError> {
        self.record(id).map(|r| r.tasks.clone())
    }

    /// `POST /calendars/events/appointments`: the new event.
    pub(crate) fn create_appointment(
        &mut self,
        body: &Map<String, Value>,
    ) -> Result<Value, GhlError> {
        self.check_location(body)?;
        let event = crate::calendar::new_event(&self.location_id, body)?;
        let contact = body.get("contactId").and_then(Value::as_str).unwrap_or("");
        self.record_mut(contact)?.appointments.push(event.clone());
        Ok(event)
    }

    /// `PUT /calendars/events/appointments/{eventId}`: the changed event.
    pub(crate) fn update_appointment(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, GhlError> {
        let event = self
            .records
            .iter_mut()
            .flat_map(|r| r.appointments.iter_mut())
            .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| crate::calendar::event_not_found(id))?;
        crate::calendar::apply(event, body)?;
        Ok(Value::Object(event.clone()))
    }

    /// `GET /calendars/events/appointments/{eventId}`.
    pub(crate) fn appointment(&self, id: &str) -> Result<Value, GhlError> {
        self.records
            .iter()
            .flat_map(|r| r.appointments.iter())
            .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
            .cloned()
            .ok_or_else(|| crate::calendar::event_not_found(id))
    }

    /// `GET /contacts/{contactId}/appointments`.
    pub(crate) fn appointments(&self, contact: &str) -> Result<Vec<Value>, GhlError> {
        self.record(contact).map(|r| r.appointments.clone())
    }

    pub(crate) fn seed(&mut self, seed: SeedContact) -> Result<Contact, SeedError> {
        let id = seed.id.unwrap_or_else(ids::random_id);
        if self.index.contains_key(&id) {
            return Err(SeedError::DuplicateId(id));
        }
        let mut contact = self.blank_contact(id);
        contact.email = seed.email;
        contact.phone = seed.phone;
        contact.first_name = seed.first_name;
        contact.last_name = seed.last_name;
        contact.name = seed.name.or_else(|| contact_update::full_name(&contact));
        contact_update::add_tags(&mut contact.tags, seed.tags.iter().map(String::as_str));
        for (id_or_key, value) in &seed.custom_fields {
            let field = find_field(&self.fields, id_or_key)
                .ok_or_else(|| SeedError::UnknownCustomField(id_or_key.clone()))?;
            set_field(&mut contact, &field.id, value);
        }
        Ok(self.insert(contact))
    }

    pub(crate) fn record_call(&mut self, call: CallRecord) {
        self.calls.push(call);
    }

    pub(crate) fn calls(&self) -> &[CallRecord] {
        &self.calls
    }

    pub(crate) fn clear_calls(&mut self) {
        self.calls.clear();
    }

    fn record(&self, id: &str) -> Result<&Record, GhlError> {
        self.index
            .get(id)
            .and_then(|i| self.records.get(*i))
            .ok_or_else(|| GhlError::contact_not_found(id))
    }

    fn record_mut(&mut self, id: &str) -> Result<&mut Record, GhlError> {
        self.index
            .get(id)
            .and_then(|i| self.records.get_mut(*i))
            .ok_or_else(|| GhlError::contact_not_found(id))
    }

    fn change_tags(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut Vec<String>) -> bool,
    ) -> Result<Vec<String>, GhlError> {
        let contact = &mut self.record_mut(id)?.contact;
        if change(&mut contact.tags) {
            contact.date_updated = ids::now();
        }
        Ok(contact.tags.clone())
    }

    fn check_location(&self, body: &Map<String, Value>) -> Result<(), GhlError> {
        match body.get("locationId").and_then(Value::as_str) {
            Some(location) if location != self.location_id => Err(GhlError::ForbiddenLocation),
            _ => Ok(()),
        }
    }

    /// The contact with the body's email (case-insensitive), else its phone (digits only).
    fn find_duplicate(&self, body: &Map<String, Value>) -> Option<(usize, &'static str)> {
        let wanted = |key: &str, normalize: fn(&str) -> String| {
            body.get(key)
                .and_then(Value::as_str)
                .map(normalize)
                .filter(|v| !v.is_empty())
        };
        let email = wanted("email", normalize_email);
        let phone = wanted("phone", phone_digits);
        let position =
            |get: fn(&Contact) -> Option<&String>, normalize: fn(&str) -> String, wanted: &str| {
                self.records
                    .iter()
                    .position(|r| get(&r.contact).is_some_and(|v| normalize(v) == wanted))
            };
        email
            .and_then(|e| position(|c| c.email.as_ref(), normalize_email, &e))
            .map(|i| (i, "email"))
            .or_else(|| {
                phone
                    .and_then(|p| position(|c| c.phone.as_ref(), phone_digits, &p))
                    .map(|i| (i, "phone"))
            })
    }

    fn blank_contact(&self, id: String) -> Contact {
        let now = ids::now();
        Contact {
            id,
            location_id: self.location_id.clone(),
            first_name: None,
            last_name: None,
            name: None,
            email: None,
            phone: None,
            address1: None,
            tags: Vec::new(),
            custom_fields: Vec::new(),
            date_added: now.clone(),
            date_updated: now,
            other: Map::new(),
        }
    }

    fn insert(&mut self, contact: Contact) -> Contact {
        self.index.insert(contact.id.clone(), self.records.len());
        self.records.push(Record {
            contact: contact.clone(),
            notes: Vec::new(),
            tasks: Vec::new(),
            appointments: Vec::new(),
        });
        contact
    }
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

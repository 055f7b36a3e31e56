//! [`GhlClient`]: the CRM port over GHL API v2.

use std::fmt;

use async_trait::async_trait;
use domain::ids::{GhlContactId, LocationId};
use domain::job::{CrmError, ErrorClass};
use domain::lead::Lead;
use domain::plan::{CalendarEvent, FieldValue, NoteEffect, TaskEffect};
use domain::ports::{CrmContact, CrmGateway};

use crate::config::{BuildError, GhlConfig};
use crate::dto::{
    ContactEnvelope, CustomFieldList, CustomFieldWrite, NoteRequest, TagsRequest, TaskRequest,
    UpdateContactRequest, UpsertContactRequest,
};
use crate::fields::{FieldCache, FieldIndex, missing_fields_error};
use crate::operation::Operation;
use crate::transport::{Call, Transport};

mod calendar;
mod lookup;

/// Talks to GHL for every location its token may access. Cheap to share (`Arc`); holds
/// one connection pool and the custom-field ids of each location it has seen.
pub struct GhlClient {
    transport: Transport,
    fields: FieldCache,
    /// Held while the custom fields are listed on a cache miss.
    listing: tokio::sync::Mutex<()>,
}

impl fmt::Debug for GhlClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GhlClient")
            .field("base_url", &self.transport.base_url())
            .finish_non_exhaustive()
    }
}

/// Custom-field ids resolved for one write, and whether they were just fetched.
struct Resolved {
    ids: Vec<String>,
    fresh: bool,
}

impl GhlClient {
    /// Builds the HTTP client once. Needs a rustls crypto provider installed in the
    /// process (`rustls::crypto::ring::default_provider().install_default()`).
    pub fn new(config: GhlConfig) -> Result<Self, BuildError> {
        Ok(GhlClient {
            transport: Transport::new(config)?,
            fields: FieldCache::default(),
            listing: tokio::sync::Mutex::new(()),
        })
    }

    /// Shares each location's request budget (and pauses) with every other process
    /// through `limiter` (the worker passes storage's); without it, the budget is this
    /// process's own.
    pub fn with_rate_limiter(
        mut self,
        limiter: std::sync::Arc<dyn domain::ports::RateLimiter>,
    ) -> Self {
        self.transport.set_rate_limiter(limiter);
        self
    }

    /// Takes the bearer token of every call from `tokens` (OAuth: storage's
    /// `PgTokenSource`) instead of the configured static token. A 401 makes the call
    /// ask `tokens` for a newer token once and send again.
    pub fn with_token_source(
        mut self,
        tokens: std::sync::Arc<dyn domain::ports::TokenSource>,
    ) -> Self {
        self.transport.set_token_source(tokens);
        self
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// Asks GHL whether it accepts the token for `location` again: one custom-field
    /// listing (a cheap read; the listing also refreshes the field cache). `Ok` means
    /// the token works; a 401 is an `Auth` error (and renews the location's pauses like
    /// any 401). Used by the worker to end an auth pause.
    pub async fn probe_token(&self, location: &LocationId) -> Result<(), CrmError> {
        self.fetch_fields(location).await.map(|_| ())
    }

    async fn fetch_fields(
        &self,
        location: &LocationId,
    ) -> Result<std::sync::Arc<FieldIndex>, CrmError> {
        let call = Call::new(
            Operation::ListCustomFields,
            location,
            format!("/locations/{location}/customFields"),
        )
        .with_query(&[("model", "contact")]);
        let list: CustomFieldList = self.transport.send(&call).await?.json()?;
        Ok(self
            .fields
            .put(location, FieldIndex::from_defs(list.custom_fields))
            .await)
    }

    /// Resolves the keys of `fields`, from the cache when it knows them all, else from
    /// a fresh listing (fetched at most once per call).
    async fn resolve(
        &self,
        location: &LocationId,
        fields: &[FieldValue],
    ) -> Result<Resolved, CrmError> {
        let keys = || fields.iter().map(|f| f.key.as_str());
        if let Some(cached) = self.fields.get(location).await
            && let Ok(ids) = cached.resolve(keys())
        {
            return Ok(Resolved { ids, fresh: false });
        }
        // One listing at a time: jobs that start together on a cold cache wait for the
        // first one's listing instead of each listing the fields (a call each).
        let _listing = self.listing.lock().await;
        if let Some(cached) = self.fields.get(location).await
            && let Ok(ids) = cached.resolve(keys())
        {
            return Ok(Resolved { ids, fresh: false });
        }
        let index = self.fetch_fields(location).await?;
        match index.resolve(keys()) {
            Ok(ids) => Ok(Resolved { ids, fresh: true }),
            Err(missing) => Err(missing_fields_error(location, &missing)),
        }
    }

    async fn put_custom_fields(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        fields: &[FieldValue],
        ids: &[String],
    ) -> Result<(), CrmError> {
        let body = UpdateContactRequest {
            custom_fields: ids
                .iter()
                .zip(fields)
                .map(|(id, field)| CustomFieldWrite {
                    id,
                    field_value: &field.value,
                })
                .collect(),
        };
        let call = Call::new(
            Operation::UpdateContact,
            location,
            contact_path(contact, ""),
        )
        .with_json(&body)?;
        self.transport.send(&call).await.map(drop)
    }
}

fn contact_path(contact: &GhlContactId, suffix: &str) -> String {
    format!("/contacts/{contact}{suffix}")
}

#[async_trait]
impl CrmGateway for GhlClient {
    async fn add_note(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        note: &NoteEffect,
    ) -> Result<(), CrmError> {
        let call = Call::new(
            Operation::AddNote,
            location,
            contact_path(contact, "/notes"),
        )
        .with_json(&NoteRequest { body: &note.body })?;
        self.transport.send(&call).await.map(drop)
    }

    /// No call for an empty list.
    async fn add_tags(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        tags: &[String],
    ) -> Result<(), CrmError> {
        if tags.is_empty() {
            return Ok(());
        }
        let call = Call::new(Operation::AddTags, location, contact_path(contact, "/tags"))
            .with_json(&TagsRequest { tags })?;
        self.transport.send(&call).await.map(drop)
    }

    /// No call for an empty list.
    async fn remove_tags(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        tags: &[String],
    ) -> Result<(), CrmError> {
        if tags.is_empty() {
            return Ok(());
        }
        let call = Call::new(
            Operation::RemoveTags,
            location,
            contact_path(contact, "/tags"),
        )
        .with_json(&TagsRequest { tags })?;
        self.transport.send(&call).await.map(drop)
    }

    /// Resolves the configured keys to ids (cached per location; listed again once when
    /// a key is unknown), then `PUT`s them. A 422 from the `PUT` may mean a stale id (a
    /// field deleted and re-created): the ids are listed again once, and the `PUT` is
    /// repeated if they changed. No call for an empty list.
    async fn update_custom_fields(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        fields: &[FieldValue],
    ) -> Result<(), CrmError> {
        if fields.is_empty() {
            return Ok(());
        }
        let resolved = self.resolve(location, fields).await?;
        let error = match self
            .put_custom_fields(location, contact, fields, &resolved.ids)
            .await
        {
            Err(error) if error.status == Some(422) && !resolved.fresh => error,
            other => return other,
        };
        let index = self.fetch_fields(location).await?;
        let ids = index
            .resolve(fields.iter().map(|f| f.key.as_str()))
            .map_err(|missing| missing_fields_error(location, &missing))?;
        if ids == resolved.ids {
            return Err(error);
        }
        self.put_custom_fields(location, contact, fields, &ids)
            .await
    }

    async fn create_task(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        task: &TaskEffect,
    ) -> Result<(), CrmError> {
        let body = TaskRequest {
            title: &task.title,
            body: &task.body,
            due_date: TaskRequest::due_date(task.due_at),
            completed: false,
        };
        let call = Call::new(
            Operation::CreateTask,
            location,
            contact_path(contact, "/tasks"),
        )
        .with_json(&body)?;
        self.transport.send(&call).await.map(drop)
    }

    /// `GET /contacts/{contactId}/notes`, matched on the marker (`client/lookup.rs`).
    async fn find_note(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        self.note_with_marker(location, contact, marker).await
    }

    /// `GET /contacts/{contactId}/tasks`, matched on the marker (`client/lookup.rs`).
    async fn find_task(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        self.task_with_marker(location, contact, marker).await
    }

    /// `POST /contacts/upsert` with the lead's name, email, phone and address (GHL
    /// matches on email or phone); no call without an email or a phone.
    async fn upsert_contact(
        &self,
        location: &LocationId,
        lead: &Lead,
    ) -> Result<GhlContactId, CrmError> {
        if lead.email.is_none() && lead.phone.is_none() {
            return Err(CrmError::new(
                ErrorClass::Validation,
                None,
                "upsert_contact: the lead has neither an email nor a phone to find it by",
            ));
        }
        let body = UpsertContactRequest {
            location_id: location.as_str(),
            name: lead.name.as_ref().map(|n| n.as_str()),
            email: lead.email.as_ref().map(|e| e.as_str()),
            phone: lead.phone.as_ref().map(|p| p.as_str()),
            address1: lead.address.as_ref().map(|a| a.as_str()),
            source: "booking sync",
        };
        let call = Call::new(
            Operation::UpsertContact,
            location,
            "/contacts/upsert".into(),
        )
        .with_json(&body)?;
        let reply = self.transport.send(&call).await?;
        let envelope: ContactEnvelope = reply.json()?;
        let raw = envelope.contact.id.unwrap_or_default();
        GhlContactId::parse(&raw).map_err(|e| {
            CrmError::new(
                ErrorClass::Permanent,
                Some(reply.status.as_u16()),
                format!(
                    "upsert_contact (POST /contacts/upsert) answered an invalid contact id: {e}"
                ),
            )
        })
    }

    /// `POST /calendars/events/appointments` (`client/calendar.rs`).
    async fn create_calendar_event(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        event: &CalendarEvent,
    ) -> Result<String, CrmError> {
        self.post_calendar_event(location, contact, event).await
    }

    /// `PUT /calendars/events/appointments/{eventId}` (`client/calendar.rs`).
    async fn update_calendar_event(
        &self,
        location: &LocationId,
        event_id: &str,
        event: &CalendarEvent,
    ) -> Result<(), CrmError> {
        self.put_calendar_event(location, event_id, event).await
    }

    /// `GET /contacts/{contactId}/appointments`, matched on calendar and title marker.
    async fn find_calendar_event(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        calendar_id: &str,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        self.calendar_event_with_marker(location, contact, calendar_id, marker)
            .await
    }

    async fn get_contact(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
    ) -> Result<CrmContact, CrmError> {
        let call = Call::new(Operation::GetContact, location, contact_path(contact, ""));
        let reply = self.transport.send(&call).await?;
        let envelope: ContactEnvelope = reply.json()?;
        let found = envelope.contact;
        let id = match found.id.as_deref() {
            None => contact.clone(),
            Some(raw) => GhlContactId::parse(raw).map_err(|e| {
                CrmError::new(
                    ErrorClass::Permanent,
                    Some(reply.status.as_u16()),
                    format!("get_contact (GET /contacts/{{contactId}}) answered an invalid contact id: {e}"),
                )
            })?,
        };
        Ok(CrmContact {
            id,
            tags: found.tags.unwrap_or_default(),
            custom_fields: found
                .custom_fields
                .unwrap_or_default()
                .into_iter()
                .map(|f| {
                    let value = f.value_text();
                    (f.id, value)
                })
                .collect(),
        })
    }
}

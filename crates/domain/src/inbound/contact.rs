//! How a GHL contact event changes a lead.
//!
//! Ordering: every lead remembers the time of the newest GHL fact applied to it
//! (`ghl_updated_at`); an event older than that is `Stale` and changes nothing.
//! GHL states no ordering guarantee and retries for hours, so late deliveries
//! are expected. Equal times are not stale (two events of one second apply in
//! arrival order).
//!
//! Echo: an event whose facts equal what the lead already holds is `Unchanged`
//! (our own writes coming back look exactly like that). Inbound lead changes
//! never produce a sync intent, so nothing is ever written back to GHL.
//! An empty or missing value in GHL never erases what we hold.

use chrono::{DateTime, Utc};

use crate::contact::{Address, Email, PersonName, Phone};
use crate::ids::LeadId;
use crate::inbound::event::GhlContact;

/// What we hold of a lead, as far as GHL facts are concerned.
#[derive(Clone, PartialEq, Eq)]
pub struct GhlLeadState {
    pub lead_id: LeadId,
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub address: Option<Address>,
    /// `None` until a contact event told us the tags.
    pub ghl_tags: Option<Vec<String>>,
    pub ghl_updated_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for GhlLeadState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlLeadState")
            .field("lead_id", &self.lead_id)
            .field("ghl_updated_at", &self.ghl_updated_at)
            .finish_non_exhaustive()
    }
}

/// The fields to write; `None` keeps the stored value.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct LeadPatch {
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub address: Option<Address>,
    pub tags: Option<Vec<String>>,
}

impl std::fmt::Debug for LeadPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeadPatch")
            .field("name", &self.name.is_some())
            .field("email", &self.email.is_some())
            .field("phone", &self.phone.is_some())
            .field("address", &self.address.is_some())
            .field("tags", &self.tags.as_ref().map(Vec::len))
            .finish()
    }
}

impl LeadPatch {
    pub fn is_empty(&self) -> bool {
        *self == LeadPatch::default()
    }

    /// Everything the contact says, for a lead that holds nothing yet.
    pub fn from_contact(contact: &GhlContact, tags_only: bool) -> LeadPatch {
        if tags_only {
            return LeadPatch {
                tags: Some(contact.tags.clone()),
                ..LeadPatch::default()
            };
        }
        LeadPatch {
            name: contact.name.clone(),
            email: contact.email.clone(),
            phone: contact.phone.clone(),
            address: contact.address.clone(),
            tags: Some(contact.tags.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactChange {
    /// The lead holds newer GHL data than this event.
    Stale,
    /// The event says nothing the lead does not already hold.
    Unchanged,
    Apply(LeadPatch),
}

fn differs<T: PartialEq + Clone>(new: &Option<T>, old: &Option<T>) -> Option<T> {
    match new {
        Some(v) if Some(v) != old.as_ref() => Some(v.clone()),
        _ => None,
    }
}

/// The change a contact event (`tags_only` for ContactTagUpdate) makes to a
/// lead that holds `stored`, the event being of time `at`.
pub fn contact_change(
    stored: &GhlLeadState,
    contact: &GhlContact,
    tags_only: bool,
    at: DateTime<Utc>,
) -> ContactChange {
    if stored.ghl_updated_at.is_some_and(|t| t > at) {
        return ContactChange::Stale;
    }
    let all = LeadPatch::from_contact(contact, tags_only);
    let patch = LeadPatch {
        name: differs(&all.name, &stored.name),
        email: differs(&all.email, &stored.email),
        phone: differs(&all.phone, &stored.phone),
        address: differs(&all.address, &stored.address),
        tags: differs(&all.tags, &stored.ghl_tags),
    };
    if patch.is_empty() {
        ContactChange::Unchanged
    } else {
        ContactChange::Apply(patch)
    }
}

/// A ContactDelete of time `at` for a lead whose newest GHL fact is `stored_at`.
pub fn delete_is_stale(stored_at: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
    stored_at.is_some_and(|t| t > at)
}

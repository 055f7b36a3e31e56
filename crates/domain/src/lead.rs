//! Leads: people known from GHL (webhooks) or from bookings.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact::{Address, Email, PersonName, Phone};
use crate::ids::{GhlContactId, LeadId, LocationId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    Lead,
    Customer,
}

impl Lifecycle {
    pub fn as_str(&self) -> &'static str {
        match self {
            Lifecycle::Lead => "lead",
            Lifecycle::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lead" => Some(Lifecycle::Lead),
            "customer" => Some(Lifecycle::Customer),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Lead {
    pub id: LeadId,
    pub location_id: LocationId,
    pub ghl_contact_id: Option<GhlContactId>,
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub address: Option<Address>,
    /// Where the lead came from: `booking`, `ghl`, ...
    pub source: String,
    pub lifecycle: Lifecycle,
    pub customer_since: Option<DateTime<Utc>>,
    pub services_completed: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for Lead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lead")
            .field("id", &self.id)
            .field("ghl_contact_id", &self.ghl_contact_id)
            .field("lifecycle", &self.lifecycle)
            .finish_non_exhaustive()
    }
}

/// How to look leads up; every given criterion must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadQuery {
    pub ghl_contact_id: Option<GhlContactId>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

impl LeadQuery {
    pub fn is_empty(&self) -> bool {
        self.ghl_contact_id.is_none() && self.email.is_none() && self.phone.is_none()
    }
}

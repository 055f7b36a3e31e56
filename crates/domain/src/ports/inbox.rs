//! The webhook inbox: inbound GHL events are stored first (unique on their
//! webhook id, or on a content hash within a window for workflow webhooks), then
//! applied exactly once.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ids::LocationId;
use crate::ports::RepoError;

/// Where an inbound event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundSource {
    /// A signed Marketplace-app webhook (`POST /webhooks/ghl`).
    Webhook,
    /// A workflow "Webhook" action authenticated by a shared secret.
    Workflow,
}

impl InboundSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            InboundSource::Webhook => "webhook",
            InboundSource::Workflow => "workflow",
        }
    }
}

/// An event to store.
#[derive(Clone)]
pub struct InboundRecord {
    pub source: InboundSource,
    /// GHL's `webhookId`, or an id derived from the content (see the api).
    pub webhook_id: String,
    pub event_type: String,
    pub location_id: Option<String>,
    /// The parsed body; personal data, never logged.
    pub payload: serde_json::Value,
    /// The envelope `timestamp`, if any.
    pub timestamp: Option<DateTime<Utc>>,
    /// For workflow webhooks: the hash that de-duplicates within a window.
    pub content_hash: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl std::fmt::Debug for InboundRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundRecord")
            .field("source", &self.source)
            .field("webhook_id", &self.webhook_id)
            .field("event_type", &self.event_type)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored under this id; to be processed.
    New(Uuid),
    /// Already stored (same webhook id, or same content within the window): nothing changed.
    Duplicate,
}

/// What processing an event did (stored in the inbox row; never personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundOutcome {
    /// The lead or appointment changed.
    Applied,
    CreatedLead,
    /// An existing lead (same email or phone) was linked to the contact.
    LinkedLead,
    /// A deleted contact's lead lost its contact id.
    Unlinked,
    /// The event said what we already hold (an echo of our own write, or a repeat).
    Unchanged,
    /// Older than the newest GHL fact applied.
    Stale,
    /// Nothing to do, and why.
    Ignored(String),
    /// A known event type without what it needs, and what was missing.
    Invalid(String),
}

impl InboundOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            InboundOutcome::Applied => "applied",
            InboundOutcome::CreatedLead => "created_lead",
            InboundOutcome::LinkedLead => "linked_lead",
            InboundOutcome::Unlinked => "unlinked",
            InboundOutcome::Unchanged => "unchanged",
            InboundOutcome::Stale => "stale",
            InboundOutcome::Ignored(_) => "ignored",
            InboundOutcome::Invalid(_) => "invalid",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            InboundOutcome::Ignored(d) | InboundOutcome::Invalid(d) => Some(d),
            _ => None,
        }
    }
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WebhookInbox: Send + Sync {
    /// Whether an event with this webhook id is stored already.
    async fn is_known(&self, webhook_id: &str) -> Result<bool, RepoError>;

    /// Stores the event unless its webhook id is known, or (with `dedup_window`
    /// and a content hash) the same content arrived within the window.
    async fn record(
        &self,
        record: &InboundRecord,
        dedup_window: Option<Duration>,
    ) -> Result<Recorded, RepoError>;

    /// Applies a stored event if nobody has (in one transaction with marking it
    /// processed); `None` when it was processed already or is being processed.
    /// Events of other locations than `location` are ignored.
    async fn process(
        &self,
        id: Uuid,
        location: &LocationId,
        now: DateTime<Utc>,
    ) -> Result<Option<InboundOutcome>, RepoError>;

    /// Stored events not processed yet, oldest first.
    async fn unprocessed(&self, limit: u32) -> Result<Vec<Uuid>, RepoError>;
}

//! `WebhookInbox`: the inbound GHL events, stored and then applied exactly once.
//!
//! Exactly once: `process` locks the event row (`FOR UPDATE SKIP LOCKED`, only
//! while `processed_at IS NULL`), applies it and marks it processed in the same
//! transaction. A crash before the commit leaves the event unprocessed for the
//! api's retry loop; two processors never apply one event twice.
//!
//! The rules are the domain's (`domain::inbound`); this module finds the rows
//! they apply to and writes the result. Lead lookups take the same per-location
//! lock as booking's lead resolution (`pg_advisory_xact_lock(1, hashtext(location))`),
//! so a webhook and a booking of the same new person cannot create two leads.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::appointment::{Appointment, AppointmentStatus};
use domain::contact::{Address, Email, PersonName, Phone};
use domain::ids::{GhlContactId, LeadId, LocationId};
use domain::inbound::{
    AppointmentDecision, AppointmentEventKind, ContactChange, GhlAppointment, GhlContact, GhlEvent,
    GhlLeadState, LeadPatch, contact_change, decide_appointment, delete_is_stale, parse_event,
    parse_workflow,
};
use domain::lead::Lifecycle;
use domain::ports::{InboundOutcome, InboundRecord, Recorded, RepoError, WebhookInbox};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::appointments::{AppointmentRow, parse_opt};
use crate::error::{corrupt, repo};
use crate::{PgStore, mapping};

/// `leads.source` of a lead created from GHL.
const GHL_SOURCE: &str = "ghl";

#[async_trait]
impl WebhookInbox for PgStore {
    async fn is_known(&self, webhook_id: &str) -> Result<bool, RepoError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM webhook_events WHERE webhook_id = $1)")
            .bind(webhook_id)
            .fetch_one(&self.pool)
            .await
            .map_err(repo)
    }

    async fn record(
        &self,
        record: &InboundRecord,
        dedup_window: Option<Duration>,
    ) -> Result<Recorded, RepoError> {
        let mut tx = self.pool.begin().await.map_err(repo)?;
        if let (Some(window), Some(hash)) = (dedup_window, record.content_hash.as_deref()) {
            // Identical deliveries arriving together take turns (key space 2).
            sqlx::query("SELECT pg_advisory_xact_lock(2, hashtext($1))")
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(repo)?;
            let since = record.received_at
                - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
            let seen: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM webhook_events
                                WHERE content_hash = $1 AND received_at > $2)",
            )
            .bind(hash)
            .bind(since)
            .fetch_one(&mut *tx)
            .await
            .map_err(repo)?;
            if seen {
                return Ok(Recorded::Duplicate);
            }
        }
        let id = Uuid::now_v7();
        let inserted: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO webhook_events
                 (id, location_id, webhook_id, event_type, payload, received_at, source,
                  content_hash, event_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (webhook_id) DO NOTHING
             RETURNING id",
        )
        .bind(id)
        .bind(record.location_id.as_deref())
        .bind(&record.webhook_id)
        .bind(&record.event_type)
        .bind(&record.payload)
        .bind(record.received_at)
        .bind(record.source.as_str())
        .bind(record.content_hash.as_deref())
        .bind(record.timestamp.unwrap_or(record.received_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(repo)?;
        tx.commit().await.map_err(repo)?;
        Ok(match inserted {
            Some(id) => Recorded::New(id),
            None => Recorded::Duplicate,
        })
    }

    async fn process(
        &self,
        id: Uuid,
        location: &LocationId,
        now: DateTime<Utc>,
    ) -> Result<Option<InboundOutcome>, RepoError> {
        let mut tx = self.pool.begin().await.map_err(repo)?;
        let row: Option<EventRow> = sqlx::query_as(
            "SELECT source, event_type, location_id, payload, event_time, received_at
             FROM webhook_events
             WHERE id = $1 AND processed_at IS NULL
             FOR UPDATE SKIP LOCKED",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(repo)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let outcome = apply(&mut tx, &row, location, now).await?;
        sqlx::query(
            "UPDATE webhook_events SET processed_at = $2, outcome = $3, outcome_detail = $4
             WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(outcome.as_str())
        .bind(outcome.detail())
        .execute(&mut *tx)
        .await
        .map_err(repo)?;
        tx.commit().await.map_err(repo)?;
        Ok(Some(outcome))
    }

    async fn unprocessed(&self, limit: u32) -> Result<Vec<Uuid>, RepoError> {
        sqlx::query_scalar(
            "SELECT id FROM webhook_events WHERE processed_at IS NULL
             ORDER BY received_at, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(repo)
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    source: String,
    event_type: String,
    location_id: Option<String>,
    payload: serde_json::Value,
    event_time: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
}

async fn apply(
    conn: &mut PgConnection,
    row: &EventRow,
    location: &LocationId,
    now: DateTime<Utc>,
) -> Result<InboundOutcome, RepoError> {
    let (event, event_location) = if row.source == "workflow" {
        match parse_workflow(&row.payload) {
            Ok(w) => (
                GhlEvent::ContactUpsert {
                    contact: w.contact,
                    created: false,
                },
                w.location_id,
            ),
            Err(e) => return Ok(InboundOutcome::Invalid(e.to_string())),
        }
    } else {
        match parse_event(&row.event_type, &row.payload) {
            Ok(event) => (event, row.location_id.clone()),
            Err(e) => return Ok(InboundOutcome::Invalid(e.to_string())),
        }
    };
    if event == GhlEvent::Other {
        return Ok(InboundOutcome::Ignored("event type not applied".into()));
    }
    // An event that names another location is not ours to apply; one that names
    // none (workflow bodies may omit it) belongs to the configured location.
    if event_location.is_some_and(|l| l != location.as_str()) {
        return Ok(InboundOutcome::Ignored("another location".into()));
    }
    let at = event
        .record_time()
        .or(row.event_time)
        .unwrap_or(row.received_at);
    match event {
        GhlEvent::ContactUpsert { contact, .. } => {
            upsert_contact(conn, location, &contact, false, at, now).await
        }
        GhlEvent::ContactTags { contact } => {
            upsert_contact(conn, location, &contact, true, at, now).await
        }
        GhlEvent::ContactDelete { contact_id, .. } => {
            delete_contact(conn, location, &contact_id, at, now).await
        }
        GhlEvent::Appointment { kind, appointment } => {
            apply_appointment(conn, location, kind, &appointment, at, now).await
        }
        GhlEvent::Other => Ok(InboundOutcome::Ignored("event type not applied".into())),
    }
}

#[derive(sqlx::FromRow)]
struct LeadStateRow {
    id: Uuid,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    ghl_tags: Option<Vec<String>>,
    ghl_updated_at: Option<DateTime<Utc>>,
}

impl LeadStateRow {
    fn into_domain(self) -> Result<GhlLeadState, RepoError> {
        let id = self.id;
        let bad = |column: &str| corrupt("leads", column, id);
        Ok(GhlLeadState {
            lead_id: LeadId::from_uuid(id),
            name: parse_opt(self.name, PersonName::parse).map_err(|_| bad("name"))?,
            email: parse_opt(self.email, Email::parse).map_err(|_| bad("email"))?,
            phone: parse_opt(self.phone, Phone::parse).map_err(|_| bad("phone"))?,
            address: parse_opt(self.address, Address::parse).map_err(|_| bad("address"))?,
            ghl_tags: self.ghl_tags,
            ghl_updated_at: self.ghl_updated_at,
        })
    }
}

async fn lead_state(
    conn: &mut PgConnection,
    sql: &'static str,
    binds: &[Option<&str>],
) -> Result<Option<GhlLeadState>, RepoError> {
    let mut query = sqlx::query_as(sql);
    for value in binds {
        query = query.bind(*value);
    }
    let row: Option<LeadStateRow> = query.fetch_optional(&mut *conn).await.map_err(repo)?;
    row.map(LeadStateRow::into_domain).transpose()
}

const BY_CONTACT: &str =
    "SELECT id, name, email, phone, address, ghl_tags, ghl_updated_at FROM leads
     WHERE location_id = $1 AND ghl_contact_id = $2";
/// Unlinked leads only: a lead linked to another contact is another person.
const BY_EMAIL: &str = "SELECT id, name, email, phone, address, ghl_tags, ghl_updated_at FROM leads
     WHERE location_id = $1 AND email = $2 AND ghl_contact_id IS NULL
     ORDER BY created_at, id LIMIT 1";
/// As in booking's resolution, a shared phone does not make two people with
/// different emails one lead.
const BY_PHONE: &str = "SELECT id, name, email, phone, address, ghl_tags, ghl_updated_at FROM leads
     WHERE location_id = $1 AND phone = $2 AND ghl_contact_id IS NULL
       AND ($3::text IS NULL OR email IS NULL OR email = $3)
     ORDER BY created_at, id LIMIT 1";

async fn upsert_contact(
    conn: &mut PgConnection,
    location: &LocationId,
    contact: &GhlContact,
    tags_only: bool,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<InboundOutcome, RepoError> {
    sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
        .bind(location.as_str())
        .execute(&mut *conn)
        .await
        .map_err(repo)?;
    let loc = location.as_str();
    if let Some(stored) =
        lead_state(conn, BY_CONTACT, &[Some(loc), Some(contact.id.as_str())]).await?
    {
        return Ok(match contact_change(&stored, contact, tags_only, at) {
            ContactChange::Stale => InboundOutcome::Stale,
            ContactChange::Unchanged => {
                touch(conn, stored.lead_id, at).await?;
                InboundOutcome::Unchanged
            }
            ContactChange::Apply(patch) => {
                write_patch(conn, stored.lead_id, &patch, None, at, now).await?;
                InboundOutcome::Applied
            }
        });
    }
    // A late event of a contact deleted since is stale, not a new lead.
    let deleted_at: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "SELECT max(ghl_updated_at) FROM leads
         WHERE location_id = $1 AND ghl_unlinked_contact_id = $2
         HAVING count(*) > 0",
    )
    .bind(loc)
    .bind(contact.id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(repo)?;
    if let Some(deleted_at) = deleted_at
        && delete_is_stale(deleted_at, at)
    {
        return Ok(InboundOutcome::Stale);
    }
    let email = contact.email.as_ref().map(Email::as_str);
    let mut found = None;
    if let Some(email) = email {
        found = lead_state(conn, BY_EMAIL, &[Some(loc), Some(email)]).await?;
    }
    if found.is_none()
        && let Some(phone) = contact.phone.as_ref()
    {
        found = lead_state(conn, BY_PHONE, &[Some(loc), Some(phone.as_str()), email]).await?;
    }
    if let Some(stored) = found {
        let patch = match contact_change(&stored, contact, false, at) {
            ContactChange::Apply(patch) => patch,
            ContactChange::Stale | ContactChange::Unchanged => LeadPatch::default(),
        };
        write_patch(conn, stored.lead_id, &patch, Some(&contact.id), at, now).await?;
        return Ok(InboundOutcome::LinkedLead);
    }
    sqlx::query(
        "INSERT INTO leads
             (id, location_id, ghl_contact_id, name, email, phone, address, source, lifecycle,
              customer_since, services_completed, created_at, updated_at, ghl_tags, ghl_updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 0, $10, $10, $11, $12)",
    )
    .bind(LeadId::new().as_uuid())
    .bind(loc)
    .bind(contact.id.as_str())
    .bind(contact.name.as_ref().map(PersonName::as_str))
    .bind(email)
    .bind(contact.phone.as_ref().map(Phone::as_str))
    .bind(contact.address.as_ref().map(Address::as_str))
    .bind(GHL_SOURCE)
    .bind(mapping::lifecycle(Lifecycle::Lead))
    .bind(now)
    .bind(&contact.tags)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(repo)?;
    Ok(InboundOutcome::CreatedLead)
}

/// Records that the lead's GHL facts are as of `at` (never moving backwards).
async fn touch(conn: &mut PgConnection, lead: LeadId, at: DateTime<Utc>) -> Result<(), RepoError> {
    sqlx::query("UPDATE leads SET ghl_updated_at = GREATEST(ghl_updated_at, $2) WHERE id = $1")
        .bind(lead.as_uuid())
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(repo)?;
    Ok(())
}

async fn write_patch(
    conn: &mut PgConnection,
    lead: LeadId,
    patch: &LeadPatch,
    link: Option<&GhlContactId>,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), RepoError> {
    sqlx::query(
        "UPDATE leads
         SET name = COALESCE($2, name), email = COALESCE($3, email),
             phone = COALESCE($4, phone), address = COALESCE($5, address),
             ghl_tags = COALESCE($6, ghl_tags),
             ghl_contact_id = COALESCE($7, ghl_contact_id),
             ghl_updated_at = GREATEST(ghl_updated_at, $8),
             updated_at = $9
         WHERE id = $1",
    )
    .bind(lead.as_uuid())
    .bind(patch.name.as_ref().map(PersonName::as_str))
    .bind(patch.email.as_ref().map(Email::as_str))
    .bind(patch.phone.as_ref().map(Phone::as_str))
    .bind(patch.address.as_ref().map(Address::as_str))
    .bind(patch.tags.as_ref())
    .bind(link.map(GhlContactId::as_str))
    .bind(at)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(repo)?;
    Ok(())
}

async fn delete_contact(
    conn: &mut PgConnection,
    location: &LocationId,
    contact: &GhlContactId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<InboundOutcome, RepoError> {
    let stored = lead_state(
        conn,
        BY_CONTACT,
        &[Some(location.as_str()), Some(contact.as_str())],
    )
    .await?;
    let Some(stored) = stored else {
        return Ok(InboundOutcome::Ignored("unknown contact".into()));
    };
    if delete_is_stale(stored.ghl_updated_at, at) {
        return Ok(InboundOutcome::Stale);
    }
    sqlx::query(
        "UPDATE leads
         SET ghl_contact_id = NULL, ghl_unlinked_contact_id = $2,
             ghl_updated_at = GREATEST(ghl_updated_at, $3), updated_at = $4
         WHERE id = $1",
    )
    .bind(stored.lead_id.as_uuid())
    .bind(contact.as_str())
    .bind(at)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(repo)?;
    Ok(InboundOutcome::Unlinked)
}

async fn apply_appointment(
    conn: &mut PgConnection,
    location: &LocationId,
    kind: AppointmentEventKind,
    event: &GhlAppointment,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<InboundOutcome, RepoError> {
    let loc = location.as_str();
    let mut row: Option<AppointmentRow> = sqlx::query_as(
        "SELECT * FROM appointments WHERE location_id = $1 AND ghl_appointment_id = $2 FOR UPDATE",
    )
    .bind(loc)
    .bind(&event.id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(repo)?;
    // Linking rule: a GHL appointment of a contact we know, starting exactly when
    // one of that lead's live, not yet linked bookings starts, is that booking.
    if row.is_none()
        && kind != AppointmentEventKind::Delete
        && let (Some(contact), Some(starts_at)) = (&event.contact_id, event.starts_at)
    {
        row = sqlx::query_as(
            "SELECT a.* FROM appointments a JOIN leads l ON l.id = a.lead_id
             WHERE a.location_id = $1 AND l.ghl_contact_id = $2 AND a.starts_at = $3
               AND a.ghl_appointment_id IS NULL AND a.status = ANY($4)
             ORDER BY a.created_at, a.id LIMIT 1
             FOR UPDATE OF a",
        )
        .bind(loc)
        .bind(contact.as_str())
        .bind(starts_at)
        .bind(mapping::slot_holding_statuses())
        .fetch_optional(&mut *conn)
        .await
        .map_err(repo)?;
    }
    let Some(row) = row else {
        return Ok(InboundOutcome::Ignored("not linked to a booking".into()));
    };
    let current = row.into_domain()?;
    let last: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT ghl_updated_at FROM appointments WHERE id = $1")
            .bind(current.id.as_uuid())
            .fetch_one(&mut *conn)
            .await
            .map_err(repo)?;
    let decision = decide_appointment(&current, last, kind, event, at, now);
    let (next, outcome) = match decision {
        AppointmentDecision::Apply(next) => (*next, InboundOutcome::Applied),
        AppointmentDecision::Unchanged => (current.clone(), InboundOutcome::Unchanged),
        AppointmentDecision::Stale => return Ok(InboundOutcome::Stale),
        AppointmentDecision::Ignored(why) => (current.clone(), InboundOutcome::Ignored(why.into())),
    };
    write_appointment(conn, &current, &next, &event.id, at).await?;
    if next.status == AppointmentStatus::Completed && current.status != AppointmentStatus::Completed
    {
        sqlx::query(
            "UPDATE leads
             SET lifecycle = $2, customer_since = COALESCE(customer_since, $3),
                 services_completed = services_completed + 1, updated_at = $3
             WHERE id = $1",
        )
        .bind(next.lead_id.as_uuid())
        .bind(mapping::lifecycle(Lifecycle::Customer))
        .bind(next.updated_at)
        .execute(&mut *conn)
        .await
        .map_err(repo)?;
    }
    Ok(outcome)
}

/// Writes a GHL-originated status change (no sync job: GHL already knows) and
/// the link to the GHL appointment. The row is locked, so the version holds.
async fn write_appointment(
    conn: &mut PgConnection,
    current: &Appointment,
    next: &Appointment,
    ghl_id: &str,
    at: DateTime<Utc>,
) -> Result<(), RepoError> {
    sqlx::query(
        "UPDATE appointments
         SET status = $3, cancellation_reason = $4, version = $5, updated_at = $6,
             ghl_appointment_id = $7, ghl_updated_at = GREATEST(ghl_updated_at, $8)
         WHERE id = $1 AND version = $2",
    )
    .bind(current.id.as_uuid())
    .bind(current.version)
    .bind(mapping::appointment_status(next.status))
    .bind(next.cancellation_reason.as_deref())
    .bind(next.version)
    .bind(next.updated_at)
    .bind(ghl_id)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(repo)?;
    Ok(())
}

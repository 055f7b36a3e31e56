//! `LeadRepository`: leads by id, by query, and the lead a booking is for.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::contact::{Address, Customer, Email, PersonName, Phone};
use domain::ids::{GhlContactId, LeadId, LocationId};
use domain::lead::{Lead, LeadQuery, Lifecycle};
use domain::ports::{LeadRepository, RepoError};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::appointments::parse_opt;
use crate::error::{corrupt, is_unique_violation, repo};
use crate::{PgStore, mapping};

/// `find` returns at most this many leads (the most recent first).
pub(crate) const FIND_LIMIT: i64 = 1000;

/// A resolution that lost a race on a unique constraint is started over this often.
const RESOLVE_TRIES: usize = 3;

#[derive(sqlx::FromRow)]
struct LeadRow {
    id: Uuid,
    location_id: String,
    ghl_contact_id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    source: String,
    lifecycle: String,
    customer_since: Option<DateTime<Utc>>,
    services_completed: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl LeadRow {
    fn into_domain(self) -> Result<Lead, RepoError> {
        let id = self.id;
        let bad = |column: &str| corrupt("leads", column, id);
        Ok(Lead {
            id: LeadId::from_uuid(id),
            location_id: LocationId::parse(&self.location_id).map_err(|_| bad("location_id"))?,
            ghl_contact_id: parse_opt(self.ghl_contact_id, GhlContactId::parse)
                .map_err(|_| bad("ghl_contact_id"))?,
            name: parse_opt(self.name, PersonName::parse).map_err(|_| bad("name"))?,
            email: parse_opt(self.email, Email::parse).map_err(|_| bad("email"))?,
            phone: parse_opt(self.phone, Phone::parse).map_err(|_| bad("phone"))?,
            address: parse_opt(self.address, Address::parse).map_err(|_| bad("address"))?,
            source: self.source,
            lifecycle: mapping::parse_lifecycle(&self.lifecycle).ok_or_else(|| bad("lifecycle"))?,
            customer_since: self.customer_since,
            services_completed: self.services_completed,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn decode(row: Option<LeadRow>) -> Result<Option<Lead>, RepoError> {
    row.map(LeadRow::into_domain).transpose()
}

#[async_trait]
impl LeadRepository for PgStore {
    async fn link_contact(&self, lead: LeadId, contact: &GhlContactId) -> Result<(), RepoError> {
        sqlx::query(
            "UPDATE leads AS l SET ghl_contact_id = $2, updated_at = now()
              WHERE l.id = $1 AND l.ghl_contact_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM leads AS o
                                 WHERE o.location_id = l.location_id AND o.ghl_contact_id = $2)",
        )
        .bind(lead.as_uuid())
        .bind(contact.as_str())
        .execute(&self.pool)
        .await
        .map_err(repo)?;
        Ok(())
    }

    async fn get(&self, id: LeadId) -> Result<Option<Lead>, RepoError> {
        let row = sqlx::query_as("SELECT * FROM leads WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(repo)?;
        decode(row)
    }

    /// An empty query lists the location's leads (most recent first, at most 1,000).
    async fn find(&self, location: &LocationId, query: &LeadQuery) -> Result<Vec<Lead>, RepoError> {
        let rows: Vec<LeadRow> = sqlx::query_as(
            "SELECT * FROM leads
             WHERE location_id = $1
               AND ($2::text IS NULL OR ghl_contact_id = $2)
               AND ($3::text IS NULL OR email = $3)
               AND ($4::text IS NULL OR phone = $4)
             ORDER BY created_at DESC, id DESC
             LIMIT $5",
        )
        .bind(location.as_str())
        .bind(query.ghl_contact_id.as_ref().map(GhlContactId::as_str))
        .bind(query.email.as_ref().map(Email::as_str))
        .bind(query.phone.as_ref().map(Phone::as_str))
        .bind(FIND_LIMIT)
        .fetch_all(&self.pool)
        .await
        .map_err(repo)?;
        rows.into_iter().map(LeadRow::into_domain).collect()
    }

    /// Matches by contact id, then email, then phone (within the location). With
    /// a contact id given, a lead found by email or phone must not be linked to
    /// another contact: it is linked to this one if it has none, and otherwise a
    /// new lead is created for the contact. Without one, leads that are linked
    /// are preferred, then the oldest.
    async fn resolve_for_booking(
        &self,
        location: &LocationId,
        customer: &Customer,
        ghl_contact_id: Option<GhlContactId>,
        now: DateTime<Utc>,
    ) -> Result<Lead, RepoError> {
        for _ in 0..RESOLVE_TRIES {
            let mut tx = self.pool.begin().await.map_err(repo)?;
            // Two bookings of the same new person must not create two leads; no
            // unique constraint can say so for email/phone (GHL allows duplicate
            // contacts), so resolutions of one location take turns.
            sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
                .bind(location.as_str())
                .execute(&mut *tx)
                .await
                .map_err(repo)?;
            let contact = ghl_contact_id.as_ref();
            if let Some(lead) = resolve(&mut tx, location, customer, contact, now).await? {
                tx.commit().await.map_err(repo)?;
                return Ok(lead);
            }
            // A writer that does not take the lock (the webhook inbox) linked the
            // contact meanwhile: start over and find its lead.
        }
        Err(RepoError::Unavailable(
            "lead resolution kept colliding with concurrent writes".into(),
        ))
    }
}

/// One resolution attempt; `None` when it collided on the contact id.
async fn resolve(
    conn: &mut PgConnection,
    location: &LocationId,
    customer: &Customer,
    contact: Option<&GhlContactId>,
    now: DateTime<Utc>,
) -> Result<Option<Lead>, RepoError> {
    if let Some(contact) = contact
        && let Some(lead) = by_contact(conn, location, contact).await?
    {
        return Ok(Some(lead));
    }
    let email = customer.email.as_ref().map(Email::as_str);
    let phone = customer.phone.as_ref().map(Phone::as_str);
    let mut found = None;
    if let Some(email) = email {
        let row: Option<LeadRow> = sqlx::query_as(BY_EMAIL)
            .bind(location.as_str())
            .bind(email)
            .bind(contact.is_none())
            .fetch_optional(&mut *conn)
            .await
            .map_err(repo)?;
        found = decode(row)?;
    }
    if found.is_none()
        && let Some(phone) = phone
    {
        let row: Option<LeadRow> = sqlx::query_as(BY_PHONE)
            .bind(location.as_str())
            .bind(phone)
            .bind(contact.is_none())
            .bind(email)
            .fetch_optional(&mut *conn)
            .await
            .map_err(repo)?;
        found = decode(row)?;
    }
    match (found, contact) {
        (Some(lead), Some(contact)) if lead.ghl_contact_id.is_none() => {
            link(conn, lead, contact, now).await
        }
        (Some(lead), _) => Ok(Some(lead)),
        (None, _) => create(conn, location, customer, contact, now).await,
    }
}

/// $1 location, $2 email, $3 whether leads linked to a contact may match.
const BY_EMAIL: &str = "SELECT * FROM leads
     WHERE location_id = $1 AND email = $2 AND ($3 OR ghl_contact_id IS NULL)
     ORDER BY ghl_contact_id IS NULL, created_at, id LIMIT 1";
/// $1 location, $2 phone, $3 as above, $4 the booking's email: a shared phone
/// (a household, an office) does not make two people with different emails one lead.
const BY_PHONE: &str = "SELECT * FROM leads
     WHERE location_id = $1 AND phone = $2 AND ($3 OR ghl_contact_id IS NULL)
       AND ($4::text IS NULL OR email IS NULL OR email = $4)
     ORDER BY ghl_contact_id IS NULL, created_at, id LIMIT 1";

async fn by_contact(
    conn: &mut PgConnection,
    location: &LocationId,
    contact: &GhlContactId,
) -> Result<Option<Lead>, RepoError> {
    let row = sqlx::query_as("SELECT * FROM leads WHERE location_id = $1 AND ghl_contact_id = $2")
        .bind(location.as_str())
        .bind(contact.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(repo)?;
    decode(row)
}

async fn link(
    conn: &mut PgConnection,
    mut lead: Lead,
    contact: &GhlContactId,
    now: DateTime<Utc>,
) -> Result<Option<Lead>, RepoError> {
    let linked = sqlx::query("UPDATE leads SET ghl_contact_id = $2, updated_at = $3 WHERE id = $1")
        .bind(lead.id.as_uuid())
        .bind(contact.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await;
    match linked {
        Ok(_) => {
            lead.ghl_contact_id = Some(contact.clone());
            lead.updated_at = now;
            Ok(Some(lead))
        }
        Err(e) if is_unique_violation(&e, None) => Ok(None),
        Err(e) => Err(repo(e)),
    }
}

/// Inserts a booking lead; on a contact id conflict returns the lead that holds it.
async fn create(
    conn: &mut PgConnection,
    location: &LocationId,
    customer: &Customer,
    contact: Option<&GhlContactId>,
    now: DateTime<Utc>,
) -> Result<Option<Lead>, RepoError> {
    let row: Option<LeadRow> = sqlx::query_as(
        "INSERT INTO leads
             (id, location_id, ghl_contact_id, name, email, phone, address, source, lifecycle,
              customer_since, services_completed, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 0, $10, $10)
         ON CONFLICT (location_id, ghl_contact_id) DO NOTHING
         RETURNING *",
    )
    .bind(LeadId::new().as_uuid())
    .bind(location.as_str())
    .bind(contact.map(GhlContactId::as_str))
    .bind(customer.name.as_str())
    .bind(customer.email.as_ref().map(Email::as_str))
    .bind(customer.phone.as_ref().map(Phone::as_str))
    .bind(customer.address.as_ref().map(Address::as_str))
    .bind(mapping::BOOKING_SOURCE)
    .bind(mapping::lifecycle(Lifecycle::Lead))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .map_err(repo)?;
    match (decode(row)?, contact) {
        (Some(lead), _) => Ok(Some(lead)),
        // The conflicting insert has committed (ON CONFLICT waited for it), so
        // this new statement sees its row.
        (None, Some(contact)) => by_contact(conn, location, contact).await,
        (None, None) => Ok(None),
    }
}

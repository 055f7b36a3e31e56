//! `AppointmentRepository`: reads, and the trait glue for the write
//! transactions in `booking`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::appointment::{Appointment, ServiceType};
use domain::contact::{Address, Customer, Email, PersonName, Phone};
use domain::ids::{AppointmentId, LeadId, LocationId, SyncJobId};
use domain::ports::{
    AppointmentChange, AppointmentRepository, IdempotentResult, InsertError, JobSummary,
    NewBooking, RepoError, UpdateError,
};
use domain::slot::{MAX_SLOT, TimeSlot};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{corrupt, repo};
use crate::{PgStore, booking, jobs, mapping};

#[derive(sqlx::FromRow)]
pub(crate) struct AppointmentRow {
    id: Uuid,
    location_id: String,
    lead_id: Uuid,
    customer_name: String,
    customer_email: Option<String>,
    customer_phone: Option<String>,
    customer_address: Option<String>,
    service_type: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    notes: Option<String>,
    status: String,
    cancellation_reason: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl AppointmentRow {
    pub(crate) fn into_domain(self) -> Result<Appointment, RepoError> {
        let id = self.id;
        let bad = |column: &str| corrupt("appointments", column, id);
        let customer = Customer::new(
            PersonName::parse(&self.customer_name).map_err(|_| bad("customer_name"))?,
            parse_opt(self.customer_email, Email::parse).map_err(|_| bad("customer_email"))?,
            parse_opt(self.customer_phone, Phone::parse).map_err(|_| bad("customer_phone"))?,
            parse_opt(self.customer_address, Address::parse)
                .map_err(|_| bad("customer_address"))?,
        )
        .map_err(|_| bad("customer_email, customer_phone"))?;
        Ok(Appointment {
            id: AppointmentId::from_uuid(id),
            location_id: LocationId::parse(&self.location_id).map_err(|_| bad("location_id"))?,
            lead_id: LeadId::from_uuid(self.lead_id),
            customer,
            service_type: ServiceType::parse(&self.service_type)
                .map_err(|_| bad("service_type"))?,
            slot: TimeSlot::new(self.starts_at, self.ends_at).map_err(|_| bad("ends_at"))?,
            notes: self.notes,
            status: mapping::parse_appointment_status(&self.status).ok_or_else(|| bad("status"))?,
            cancellation_reason: self.cancellation_reason,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Parses an optional stored value with a domain parser.
pub(crate) fn parse_opt<T, E>(
    value: Option<String>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, E> {
    value.as_deref().map(parse).transpose()
}

/// The slots of the location's appointments that hold their slot and overlap
/// `[from, to)`, except `except`. Slots last at most [`MAX_SLOT`], which bounds
/// the index range scan on `(location_id, starts_at)`.
pub(crate) async fn overlapping_slots(
    conn: &mut PgConnection,
    location: &LocationId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<AppointmentId>,
) -> Result<Vec<TimeSlot>, RepoError> {
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, starts_at, ends_at FROM appointments
         WHERE location_id = $1
           AND status = ANY($2)
           AND starts_at < $3 AND starts_at > $4 AND ends_at > $5
           AND ($6::uuid IS NULL OR id <> $6)",
    )
    .bind(location.as_str())
    .bind(mapping::slot_holding_statuses())
    .bind(to)
    .bind(from - MAX_SLOT)
    .bind(from)
    .bind(except.map(|id| id.as_uuid()))
    .fetch_all(&mut *conn)
    .await
    .map_err(repo)?;
    rows.into_iter()
        .map(|(id, starts_at, ends_at)| {
            TimeSlot::new(starts_at, ends_at).map_err(|_| corrupt("appointments", "ends_at", id))
        })
        .collect()
}

#[async_trait]
impl AppointmentRepository for PgStore {
    async fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, RepoError> {
        let row: Option<AppointmentRow> =
            sqlx::query_as("SELECT * FROM appointments WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(repo)?;
        row.map(AppointmentRow::into_domain).transpose()
    }

    async fn find_idempotent(&self, key: &str) -> Result<Option<IdempotentResult>, RepoError> {
        let row: Option<(String, Uuid, Uuid)> = sqlx::query_as(
            "SELECT fingerprint, appointment_id, sync_job_id FROM idempotency_keys
             WHERE key = $1 AND expires_at > now()",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(repo)?;
        Ok(row.map(
            |(fingerprint, appointment_id, sync_job_id)| IdempotentResult {
                fingerprint,
                appointment_id: AppointmentId::from_uuid(appointment_id),
                sync_job_id: SyncJobId::from_uuid(sync_job_id),
            },
        ))
    }

    async fn insert(&self, booking: NewBooking) -> Result<SyncJobId, InsertError> {
        booking::insert(&self.pool, booking).await
    }

    async fn update(&self, change: AppointmentChange) -> Result<SyncJobId, UpdateError> {
        booking::update(&self.pool, change).await
    }

    async fn active_slots(
        &self,
        location: &LocationId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TimeSlot>, RepoError> {
        let mut conn = self.pool.acquire().await.map_err(repo)?;
        overlapping_slots(&mut conn, location, from, to, None).await
    }

    async fn jobs_of(&self, id: AppointmentId) -> Result<Vec<JobSummary>, RepoError> {
        jobs::summaries_of(&self.pool, id).await
    }

    async fn ghl_event_id(&self, id: AppointmentId) -> Result<Option<String>, RepoError> {
        crate::calendar_links::ghl_event_id(&self.pool, id).await
    }

    async fn set_ghl_event_id(&self, id: AppointmentId, event_id: &str) -> Result<(), RepoError> {
        crate::calendar_links::set_ghl_event_id(&self.pool, id, event_id).await
    }
}

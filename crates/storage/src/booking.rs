//! The write transactions of `AppointmentRepository`: an appointment change and
//! its sync job commit together or not at all.

use domain::appointment::Appointment;
use domain::ids::{LocationId, SyncJobId};
use domain::job::JobPriority;
use domain::lead::Lifecycle;
use domain::ports::{
    AppointmentChange, IdempotencyKey, InsertError, NewBooking, RepoError, UpdateError,
};
use domain::slot::fits_capacity;
use sqlx::{PgConnection, PgPool};

use crate::appointments::overlapping_slots;
use crate::error::repo;
use crate::outbox::{self, NewJob};
use crate::{IDEMPOTENCY_TTL, mapping};

/// Books: location lock → idempotency key → capacity check → appointment → job
/// (+ NOTIFY) → commit. An early return drops the transaction, which rolls back.
pub(crate) async fn insert(pool: &PgPool, booking: NewBooking) -> Result<SyncJobId, InsertError> {
    let NewBooking {
        appointment,
        intent,
        capacity,
        idempotency,
        traceparent,
    } = booking;
    let job_id = SyncJobId::new();
    let mut tx = pool.begin().await.map_err(repo)?;
    lock_location(&mut tx, &appointment.location_id).await?;
    // The key goes first: a repeated request (same key) must replay the first
    // booking rather than find its slot taken by it.
    if let Some(key) = &idempotency
        && !claim_key(&mut tx, key, &appointment, job_id).await?
    {
        return Err(InsertError::IdempotencyRace);
    }
    let wanted = appointment.slot;
    let booked = overlapping_slots(
        &mut tx,
        &appointment.location_id,
        wanted.starts_at(),
        wanted.ends_at(),
        None,
    )
    .await?;
    if !fits_capacity(capacity, &wanted, &booked) {
        return Err(InsertError::SlotTaken);
    }
    insert_appointment(&mut tx, &appointment).await?;
    let job = NewJob {
        id: job_id,
        location: &appointment.location_id,
        intent: &intent,
        priority: JobPriority::Live,
        traceparent: traceparent.as_deref(),
    };
    outbox::enqueue(&mut tx, job).await?;
    tx.commit().await.map_err(repo)?;
    Ok(job_id)
}

/// Changes: versioned update → [location lock → capacity check] → [lead becomes
/// customer] → job (+ NOTIFY) → commit. Lock order (appointment row, then the
/// location lock) cannot deadlock with bookings, which take only the location lock.
pub(crate) async fn update(
    pool: &PgPool,
    change: AppointmentChange,
) -> Result<SyncJobId, UpdateError> {
    let AppointmentChange {
        appointment,
        expected_version,
        intent,
        recheck_capacity,
        lead_becomes_customer,
        traceparent,
    } = change;
    let job_id = SyncJobId::new();
    let mut tx = pool.begin().await.map_err(repo)?;
    // The versioned update first: a stale change is a conflict (the caller
    // re-applies it to the fresh state) even when its slot is also taken.
    if !update_appointment(&mut tx, &appointment, expected_version).await? {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT version FROM appointments WHERE id = $1")
                .bind(appointment.id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(repo)?;
        return Err(match exists {
            Some(_) => UpdateError::VersionConflict,
            None => UpdateError::NotFound,
        });
    }
    if let Some(capacity) = recheck_capacity {
        lock_location(&mut tx, &appointment.location_id).await?;
        let wanted = appointment.slot;
        let others = overlapping_slots(
            &mut tx,
            &appointment.location_id,
            wanted.starts_at(),
            wanted.ends_at(),
            Some(appointment.id),
        )
        .await?;
        if !fits_capacity(capacity, &wanted, &others) {
            return Err(UpdateError::SlotTaken);
        }
    }
    if lead_becomes_customer {
        sqlx::query(
            "UPDATE leads
             SET lifecycle = $2,
                 customer_since = COALESCE(customer_since, $3),
                 services_completed = services_completed + 1,
                 updated_at = $3
             WHERE id = $1",
        )
        .bind(appointment.lead_id.as_uuid())
        .bind(mapping::lifecycle(Lifecycle::Customer))
        .bind(appointment.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(repo)?;
    }
    let job = NewJob {
        id: job_id,
        location: &appointment.location_id,
        intent: &intent,
        priority: JobPriority::Live,
        traceparent: traceparent.as_deref(),
    };
    outbox::enqueue(&mut tx, job).await?;
    tx.commit().await.map_err(repo)?;
    Ok(job_id)
}

/// Serialises the capacity checks of one location until the transaction ends.
/// The check that follows is a new statement, so (READ COMMITTED) it sees every
/// booking committed by the previous holder of the lock.
async fn lock_location(conn: &mut PgConnection, location: &LocationId) -> Result<(), RepoError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(location.as_str())
        .execute(&mut *conn)
        .await
        .map_err(repo)?;
    Ok(())
}

/// Stores the key, replacing an expired one. False when a live key with this
/// name exists (another request stored it first, possibly concurrently: the
/// insert waits for that transaction and then sees its row).
async fn claim_key(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
    appointment: &Appointment,
    job_id: SyncJobId,
) -> Result<bool, RepoError> {
    let stored = sqlx::query(
        "INSERT INTO idempotency_keys (key, fingerprint, appointment_id, sync_job_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, now(), now() + $5 * interval '1 second')
         ON CONFLICT (key) DO UPDATE
             SET fingerprint = EXCLUDED.fingerprint,
                 appointment_id = EXCLUDED.appointment_id,
                 sync_job_id = EXCLUDED.sync_job_id,
                 created_at = EXCLUDED.created_at,
                 expires_at = EXCLUDED.expires_at
             WHERE idempotency_keys.expires_at <= now()",
    )
    .bind(&key.key)
    .bind(&key.fingerprint)
    .bind(appointment.id.as_uuid())
    .bind(job_id.as_uuid())
    .bind(IDEMPOTENCY_TTL.num_seconds() as f64)
    .execute(&mut *conn)
    .await
    .map_err(repo)?;
    Ok(stored.rows_affected() == 1)
}

async fn insert_appointment(conn: &mut PgConnection, a: &Appointment) -> Result<(), RepoError> {
    sqlx::query(
        "INSERT INTO appointments
             (id, location_id, lead_id, customer_name, customer_email, customer_phone, customer_address,
              service_type, starts_at, ends_at, notes, status, cancellation_reason, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(a.id.as_uuid())
    .bind(a.location_id.as_str())
    .bind(a.lead_id.as_uuid())
    .bind(a.customer.name.as_str())
    .bind(a.customer.email.as_ref().map(|e| e.as_str()))
    .bind(a.customer.phone.as_ref().map(|p| p.as_str()))
    .bind(a.customer.address.as_ref().map(|x| x.as_str()))
    .bind(a.service_type.as_str())
    .bind(a.slot.starts_at())
    .bind(a.slot.ends_at())
    .bind(a.notes.as_deref())
    .bind(mapping::appointment_status(a.status))
    .bind(a.cancellation_reason.as_deref())
    .bind(a.version)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(repo)?;
    Ok(())
}

/// Writes the new state if the stored version is still `expected`; false otherwise.
/// The location and the lead of an appointment never change.
async fn update_appointment(
    conn: &mut PgConnection,
    a: &Appointment,
    expected: i64,
) -> Result<bool, RepoError> {
    let done = sqlx::query(
        "UPDATE appointments
         SET customer_name = $3, customer_email = $4, customer_phone = $5, customer_address = $6,
             service_type = $7, starts_at = $8, ends_at = $9, notes = $10, status = $11,
             cancellation_reason = $12, version = $13, updated_at = $14
         WHERE id = $1 AND version = $2",
    )
    .bind(a.id.as_uuid())
    .bind(expected)
    .bind(a.customer.name.as_str())
    .bind(a.customer.email.as_ref().map(|e| e.as_str()))
    .bind(a.customer.phone.as_ref().map(|p| p.as_str()))
    .bind(a.customer.address.as_ref().map(|x| x.as_str()))
    .bind(a.service_type.as_str())
    .bind(a.slot.starts_at())
    .bind(a.slot.ends_at())
    .bind(a.notes.as_deref())
    .bind(mapping::appointment_status(a.status))
    .bind(a.cancellation_reason.as_deref())
    .bind(a.version)
    .bind(a.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(repo)?;
    Ok(done.rows_affected() == 1)
}

//! Builders for leads, appointments and jobs, and direct SQL for what the ports
//! do not expose (simulating time passing, reading raw rows).

use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use domain::appointment::{Appointment, NewAppointment, ServiceType};
use domain::contact::{Address, Customer, Email, PersonName, Phone};
use domain::ids::{AppointmentId, GhlContactId, LeadId, LocationId, SyncJobId};
use domain::intent::SyncIntent;
use domain::job::{JobStatus, Lease, SyncJob};
use domain::lead::Lead;
use domain::ports::{
    AppointmentChange, AppointmentRepository, LeadRepository, NewBooking, SyncQueue,
};
use domain::slot::TimeSlot;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use storage::PgStore;

pub const LEASE: Duration = Duration::from_secs(60);

/// The current time at the database's precision (microseconds), so that stored
/// values compare equal to the ones written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn location() -> LocationId {
    LocationId::parse("loc_main").unwrap()
}

pub fn other_location() -> LocationId {
    LocationId::parse("loc_other").unwrap()
}

pub fn contact(id: &str) -> GhlContactId {
    GhlContactId::parse(id).unwrap()
}

pub fn customer(email: Option<&str>, phone: Option<&str>) -> Customer {
    Customer::new(
        PersonName::parse("Jan Jansen").unwrap(),
        email.map(|e| Email::parse(e).unwrap()),
        phone.map(|p| Phone::parse(p).unwrap()),
        Some(Address::parse("Dorpsstraat 1, Utrecht").unwrap()),
    )
    .unwrap()
}

/// Midnight UTC of a day well in the future, so every slot can be booked.
pub fn day() -> DateTime<Utc> {
    let future = Utc::now() + TimeDelta::days(30);
    future.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// `[from, to)` in hours after [`day`].
pub fn slot(from: i64, to: i64) -> TimeSlot {
    TimeSlot::new(day() + TimeDelta::hours(from), day() + TimeDelta::hours(to)).unwrap()
}

/// A pool of the test database with `n` open connections, so that racing tasks
/// do not wait for connections to be opened one by one. It is a pool of its own:
/// the default test pool allows 5 connections and draws them from a budget of
/// 20 shared by all tests of the process, which tests that each hold many could
/// exhaust together. Close it at the end of the test (`pool.close().await`), so
/// that the test database can be dropped.
pub async fn pool_of(n: u32, connect: PgConnectOptions) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(n)
        .connect_with(connect)
        .await
        .unwrap();
    let mut open = Vec::new();
    for _ in 0..n {
        open.push(pool.acquire().await.unwrap());
    }
    pool
}

pub async fn lead_in(store: &PgStore, location: &LocationId, email: &str) -> Lead {
    store
        .resolve_for_booking(location, &customer(Some(email), None), None, now())
        .await
        .unwrap()
}

/// A new appointment for `lead` (not stored) and its `create` intent.
pub fn new_appointment(lead: &Lead, slot: TimeSlot) -> (Appointment, SyncIntent) {
    let new = NewAppointment {
        location_id: lead.location_id.clone(),
        lead_id: lead.id,
        customer: customer(Some("jan@example.nl"), Some("+31612345678")),
        service_type: ServiceType::parse("maintenance").unwrap(),
        slot,
        notes: Some("Ring the bell twice".into()),
    };
    Appointment::book(new, AppointmentId::new(), now()).unwrap()
}

pub fn booking(appointment: Appointment, intent: SyncIntent, capacity: u32) -> NewBooking {
    NewBooking {
        appointment,
        intent,
        capacity,
        idempotency: None,
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
    }
}

/// Books `slot` for `lead` (capacity 1) and returns the stored appointment and its job.
pub async fn book(store: &PgStore, lead: &Lead, slot: TimeSlot) -> (Appointment, SyncJobId) {
    let (appointment, intent) = new_appointment(lead, slot);
    let job = store
        .insert(booking(appointment.clone(), intent, 1))
        .await
        .unwrap();
    (appointment, job)
}

/// A change with its intent, based on the appointment's current version.
pub fn change_of(
    before: &Appointment,
    (after, intent): (Appointment, SyncIntent),
) -> AppointmentChange {
    AppointmentChange {
        lead_becomes_customer: false,
        expected_version: before.version,
        appointment: after,
        intent,
        recheck_capacity: None,
        traceparent: None,
    }
}

/// Confirms the appointment: a second job for it. Returns the new state and job.
pub async fn confirm(store: &PgStore, appointment: &Appointment) -> (Appointment, SyncJobId) {
    let change = change_of(appointment, appointment.confirm(now()).unwrap());
    let confirmed = change.appointment.clone();
    (confirmed, store.update(change).await.unwrap())
}

pub async fn claim_all(store: &PgStore, worker: &str) -> Vec<SyncJob> {
    store.claim(worker, 100, LEASE).await.unwrap()
}

pub fn ids(jobs: &[SyncJob]) -> Vec<SyncJobId> {
    jobs.iter().map(|j| j.id).collect()
}

pub fn lease(job: &SyncJob) -> Lease {
    job.lease.unwrap()
}

/// The job's stored status and attempt count.
pub async fn job_row(pool: &PgPool, id: SyncJobId) -> (JobStatus, i32) {
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM sync_jobs WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_one(pool)
            .await
            .unwrap();
    (JobStatus::parse(&status).unwrap(), attempts)
}

/// Simulates the passing of time: the job's lease ran out (its worker died).
pub async fn expire_lease(pool: &PgPool, id: SyncJobId) {
    sqlx::query("UPDATE sync_jobs SET locked_until = now() - interval '1 second' WHERE id = $1")
        .bind(id.as_uuid())
        .execute(pool)
        .await
        .unwrap();
}

/// Simulates the passing of time: the job's retry is due.
pub async fn make_due(pool: &PgPool, id: SyncJobId) {
    sqlx::query("UPDATE sync_jobs SET next_attempt_at = now() - interval '1 second' WHERE id = $1")
        .bind(id.as_uuid())
        .execute(pool)
        .await
        .unwrap();
}

pub async fn count(pool: &PgPool, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn stored_lead(store: &PgStore, id: LeadId) -> Lead {
    LeadRepository::get(store, id).await.unwrap().unwrap()
}

pub async fn stored_appointment(store: &PgStore, id: AppointmentId) -> Option<Appointment> {
    AppointmentRepository::get(store, id).await.unwrap()
}

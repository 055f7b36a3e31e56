//! AppointmentRepository: an appointment and its sync job are written together,
//! capacity and versions are enforced, idempotency keys replay.

use domain::appointment::AppointmentEdit;
use domain::intent::SyncAction;
use domain::job::JobStatus;
use domain::lead::Lifecycle;
use domain::ports::{AppointmentRepository, IdempotencyKey, InsertError, UpdateError};
use sqlx::PgPool;
use storage::{NOTIFY_CHANNEL, PgStore};

use crate::support::*;

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_booking_stores_the_appointment_with_a_pending_job(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (appointment, intent) = new_appointment(&lead, slot(9, 11));

    let job_id = store
        .insert(booking(appointment.clone(), intent.clone(), 1))
        .await
        .unwrap();

    assert_eq!(
        stored_appointment(&store, appointment.id).await,
        Some(appointment.clone())
    );
    let jobs = store.jobs_of(appointment.id).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, job_id);
    assert_eq!(jobs[0].action, SyncAction::Create);
    assert_eq!(jobs[0].status, JobStatus::Pending);
    assert_eq!(jobs[0].attempts, 0);
    assert!(jobs[0].next_attempt_at.is_some() && jobs[0].finished_at.is_none());

    let claimed = claim_all(&store, "w1").await;
    assert_eq!(ids(&claimed), [job_id]);
    let job = &claimed[0];
    assert_eq!(job.appointment_id, appointment.id);
    assert_eq!(job.location_id, location());
    assert_eq!(job.payload, intent.payload);
    assert_eq!(
        job.traceparent.as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_full_slot_refuses_the_booking_and_writes_nothing(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    book(&store, &lead, slot(9, 11)).await;
    let (late, intent) = new_appointment(&lead, slot(10, 12));

    let refused = store.insert(booking(late.clone(), intent, 1)).await;

    assert_eq!(refused, Err(InsertError::SlotTaken));
    assert_eq!(stored_appointment(&store, late.id).await, None);
    assert_eq!(count(&pool, "appointments").await, 1);
    assert_eq!(count(&pool, "sync_jobs").await, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn capacity_counts_simultaneous_visits_and_back_to_back_ones_fit(pool: PgPool) {
    let store = PgStore::new(pool);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    for s in [slot(8, 10), slot(10, 12)] {
        let (a, i) = new_appointment(&lead, s);
        store.insert(booking(a, i, 2)).await.unwrap();
    }
    let (fits, i) = new_appointment(&lead, slot(9, 11));
    assert!(store.insert(booking(fits, i, 2)).await.is_ok());
    let (full, i) = new_appointment(&lead, slot(9, 10));
    assert_eq!(
        store.insert(booking(full, i, 2)).await,
        Err(InsertError::SlotTaken)
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn cancelling_an_appointment_frees_its_slot(pool: PgPool) {
    let store = PgStore::new(pool);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (first, _) = book(&store, &lead, slot(9, 11)).await;
    let (a, i) = new_appointment(&lead, slot(9, 11));
    assert_eq!(
        store.insert(booking(a, i, 1)).await,
        Err(InsertError::SlotTaken)
    );

    let cancel = change_of(
        &first,
        first.cancel(Some("moved away".into()), now()).unwrap(),
    );
    store.update(cancel).await.unwrap();

    assert_eq!(
        store
            .active_slots(&location(), day(), day() + chrono::TimeDelta::days(1))
            .await
            .unwrap(),
        []
    );
    let (again, i) = new_appointment(&lead, slot(9, 11));
    assert!(store.insert(booking(again, i, 1)).await.is_ok());
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_change_based_on_a_stale_version_is_a_conflict_and_writes_nothing(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, _) = book(&store, &lead, slot(9, 11)).await;
    let (confirmed, _) = confirm(&store, &booked).await;

    // Another request still holds version 1 and cancels.
    let stale = change_of(&booked, booked.cancel(None, now()).unwrap());
    assert_eq!(store.update(stale).await, Err(UpdateError::VersionConflict));

    assert_eq!(
        stored_appointment(&store, booked.id).await,
        Some(confirmed.clone())
    );
    assert_eq!(confirmed.version, 2);
    assert_eq!(count(&pool, "sync_jobs").await, 2);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn changing_an_unknown_appointment_is_not_found(pool: PgPool) {
    let store = PgStore::new(pool);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (never_stored, _) = new_appointment(&lead, slot(9, 11));
    let change = change_of(&never_stored, never_stored.confirm(now()).unwrap());
    assert_eq!(store.update(change).await, Err(UpdateError::NotFound));
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn rescheduling_into_a_full_slot_is_refused_but_overlapping_its_own_slot_is_not(
    pool: PgPool,
) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (first, _) = book(&store, &lead, slot(9, 11)).await;
    let (second, _) = book(&store, &lead, slot(12, 14)).await;
    let moving = |a: &domain::Appointment, to| {
        let edit = AppointmentEdit {
            slot: Some(to),
            ..AppointmentEdit::default()
        };
        let mut change = change_of(a, a.reschedule(edit, now()).unwrap());
        change.recheck_capacity = Some(1);
        change
    };

    assert_eq!(
        store.update(moving(&second, slot(10, 12))).await,
        Err(UpdateError::SlotTaken)
    );
    assert_eq!(
        stored_appointment(&store, second.id).await,
        Some(second.clone())
    );
    assert_eq!(count(&pool, "sync_jobs").await, 2);

    let moved = moving(&first, slot(10, 12));
    let after = moved.appointment.clone();
    store.update(moved).await.unwrap();
    assert_eq!(stored_appointment(&store, first.id).await, Some(after));
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn completing_an_appointment_makes_its_lead_a_customer(pool: PgPool) {
    let store = PgStore::new(pool);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    assert_eq!(lead.lifecycle, Lifecycle::Lead);
    let complete = |a: &domain::Appointment| {
        let mut change = change_of(a, a.complete(now()).unwrap());
        change.lead_becomes_customer = true;
        change
    };

    let (first, _) = book(&store, &lead, slot(9, 11)).await;
    let change = complete(&first);
    let completed_at = change.appointment.updated_at;
    store.update(change).await.unwrap();

    let customer = stored_lead(&store, lead.id).await;
    assert_eq!(customer.lifecycle, Lifecycle::Customer);
    assert_eq!(customer.customer_since, Some(completed_at));
    assert_eq!(customer.services_completed, 1);

    let (second, _) = book(&store, &lead, slot(12, 14)).await;
    store.update(complete(&second)).await.unwrap();
    let customer = stored_lead(&store, lead.id).await;
    assert_eq!(customer.services_completed, 2);
    assert_eq!(
        customer.customer_since,
        Some(completed_at),
        "a customer stays one since the first visit"
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn every_change_queues_a_job_and_they_are_listed_newest_first(pool: PgPool) {
    let store = PgStore::new(pool);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, created) = book(&store, &lead, slot(9, 11)).await;
    let (confirmed, confirmed_job) = confirm(&store, &booked).await;
    let cancel = change_of(&confirmed, confirmed.cancel(None, now()).unwrap());
    let cancelled_job = store.update(cancel).await.unwrap();

    let jobs = store.jobs_of(booked.id).await.unwrap();
    let listed: Vec<_> = jobs.iter().map(|j| (j.id, j.action)).collect();
    assert_eq!(
        listed,
        [
            (cancelled_job, SyncAction::Cancel),
            (confirmed_job, SyncAction::Confirm),
            (created, SyncAction::Create)
        ]
    );
}

fn key(name: &str, fingerprint: &str) -> IdempotencyKey {
    IdempotencyKey {
        key: name.into(),
        fingerprint: fingerprint.into(),
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn an_idempotency_key_names_the_first_booking_and_cannot_be_stored_twice(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    assert_eq!(store.find_idempotent("k-1").await.unwrap(), None);
    let (first, intent) = new_appointment(&lead, slot(9, 11));
    let mut request = booking(first.clone(), intent, 5);
    request.idempotency = Some(key("k-1", "body-hash"));
    let job = store.insert(request).await.unwrap();

    let stored = store.find_idempotent("k-1").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.fingerprint.as_str(),
            stored.appointment_id,
            stored.sync_job_id
        ),
        ("body-hash", first.id, job)
    );

    let (second, intent) = new_appointment(&lead, slot(12, 14));
    let mut again = booking(second.clone(), intent, 5);
    again.idempotency = Some(key("k-1", "other-body"));
    assert_eq!(store.insert(again).await, Err(InsertError::IdempotencyRace));
    assert_eq!(stored_appointment(&store, second.id).await, None);
    assert_eq!(count(&pool, "sync_jobs").await, 1);
    assert_eq!(store.find_idempotent("k-1").await.unwrap(), Some(stored));
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn an_expired_idempotency_key_is_ignored_and_can_be_used_again(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (first, intent) = new_appointment(&lead, slot(9, 11));
    let mut request = booking(first, intent, 5);
    request.idempotency = Some(key("k-1", "old"));
    store.insert(request).await.unwrap();
    sqlx::query("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();

    assert_eq!(store.find_idempotent("k-1").await.unwrap(), None);
    let (second, intent) = new_appointment(&lead, slot(12, 14));
    let mut request = booking(second.clone(), intent, 5);
    request.idempotency = Some(key("k-1", "new"));
    let job = store.insert(request).await.unwrap();
    let stored = store.find_idempotent("k-1").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.fingerprint.as_str(),
            stored.appointment_id,
            stored.sync_job_id
        ),
        ("new", second.id, job)
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn active_slots_are_those_of_the_location_that_still_hold_them(pool: PgPool) {
    let store = PgStore::new(pool);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let elsewhere = lead_in(&store, &other_location(), "jan@example.nl").await;
    let (held, _) = book(&store, &lead, slot(9, 11)).await;
    let (cancelled, _) = book(&store, &lead, slot(12, 14)).await;
    store
        .update(change_of(
            &cancelled,
            cancelled.cancel(None, now()).unwrap(),
        ))
        .await
        .unwrap();
    book(&store, &lead, slot(30, 32)).await; // the next day
    book(&store, &elsewhere, slot(9, 11)).await; // another location

    let slots = store
        .active_slots(&location(), day(), day() + chrono::TimeDelta::days(1))
        .await
        .unwrap();
    assert_eq!(slots, [held.slot]);
    // Overlap, not containment: a window inside the visit finds it.
    let inside = store
        .active_slots(
            &location(),
            slot(10, 11).starts_at(),
            slot(10, 11).ends_at(),
        )
        .await
        .unwrap();
    assert_eq!(inside, [held.slot]);
    let after = store
        .active_slots(
            &location(),
            slot(11, 12).starts_at(),
            slot(11, 12).ends_at(),
        )
        .await
        .unwrap();
    assert_eq!(after, []);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_committed_job_is_announced_to_listening_workers(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let mut listener = storage::listener(&pool).await.unwrap();
    let lead = lead_in(&store, &location(), "jan@example.nl").await;

    let (_, job) = book(&store, &lead, slot(9, 11)).await;

    assert_eq!(next_note(&mut listener).await, job.to_string());

    // A refused booking rolls back and announces nothing: the next
    // notification is the next committed job.
    let (late, intent) = new_appointment(&lead, slot(10, 12));
    assert!(store.insert(booking(late, intent, 1)).await.is_err());
    let (_, next) = book(&store, &lead, slot(12, 14)).await;
    assert_eq!(next_note(&mut listener).await, next.to_string());
}

/// The payload of the next notification on the jobs channel. The notification
/// was sent at commit; the timeout only keeps a broken test from hanging.
async fn next_note(listener: &mut sqlx::postgres::PgListener) -> String {
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("no notification")
        .unwrap();
    assert_eq!(note.channel(), NOTIFY_CHANNEL);
    note.payload().to_owned()
}

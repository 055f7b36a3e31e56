//! The booking use cases over in-memory fakes.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::appointment::AppointmentStatus;
use crate::contact::{Email, PersonName};
use crate::lead::{Lead, LeadQuery, Lifecycle};
use crate::ports::{IdempotentResult, JobSummary};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap()
}

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

#[derive(Default)]
struct Store {
    appointments: Mutex<HashMap<AppointmentId, Appointment>>,
    keys: Mutex<HashMap<String, IdempotentResult>>,
    /// Version conflicts to report before accepting an update.
    conflicts: Mutex<u32>,
    changes: Mutex<Vec<AppointmentChange>>,
    leads: Mutex<Vec<Lead>>,
}

#[async_trait]
impl AppointmentRepository for Store {
    async fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, RepoError> {
        Ok(self.appointments.lock().unwrap().get(&id).cloned())
    }
    async fn find_idempotent(&self, key: &str) -> Result<Option<IdempotentResult>, RepoError> {
        Ok(self.keys.lock().unwrap().get(key).cloned())
    }
    async fn insert(&self, booking: NewBooking) -> Result<SyncJobId, InsertError> {
        let mut appointments = self.appointments.lock().unwrap();
        let taken = appointments
            .values()
            .filter(|a| a.status.holds_slot())
            .map(|a| a.slot)
            .collect::<Vec<_>>();
        if !crate::slot::fits_capacity(booking.capacity, &booking.appointment.slot, &taken) {
            return Err(InsertError::SlotTaken);
        }
        let job = SyncJobId::new();
        if let Some(key) = booking.idempotency {
            self.keys.lock().unwrap().insert(
                key.key,
                IdempotentResult {
                    fingerprint: key.fingerprint,
                    appointment_id: booking.appointment.id,
                    sync_job_id: job,
                },
            );
        }
        appointments.insert(booking.appointment.id, booking.appointment);
        Ok(job)
    }
    async fn update(&self, change: AppointmentChange) -> Result<SyncJobId, UpdateError> {
        {
            let mut conflicts = self.conflicts.lock().unwrap();
            if *conflicts > 0 {
                *conflicts -= 1;
                return Err(UpdateError::VersionConflict);
            }
        }
        self.appointments
            .lock()
            .unwrap()
            .insert(change.appointment.id, change.appointment.clone());
        self.changes.lock().unwrap().push(change);
        Ok(SyncJobId::new())
    }
    async fn active_slots(
        &self,
        _: &LocationId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<TimeSlot>, RepoError> {
        Ok(self
            .appointments
            .lock()
            .unwrap()
            .values()
            .filter(|a| a.status.holds_slot())
            .map(|a| a.slot)
            .collect())
    }
    async fn jobs_of(&self, _: AppointmentId) -> Result<Vec<JobSummary>, RepoError> {
        Ok(vec![])
    }
    async fn ghl_event_id(&self, _: AppointmentId) -> Result<Option<String>, RepoError> {
        unreachable!()
    }
    async fn set_ghl_event_id(&self, _: AppointmentId, _: &str) -> Result<(), RepoError> {
        unreachable!()
    }
}

#[async_trait]
impl LeadRepository for Store {
    async fn get(&self, id: LeadId) -> Result<Option<Lead>, RepoError> {
        Ok(self
            .leads
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.id == id)
            .cloned())
    }
    async fn find(&self, _: &LocationId, _: &LeadQuery) -> Result<Vec<Lead>, RepoError> {
        Ok(vec![])
    }
    async fn resolve_for_booking(
        &self,
        location: &LocationId,
        customer: &Customer,
        ghl_contact_id: Option<GhlContactId>,
        now: DateTime<Utc>,
    ) -> Result<Lead, RepoError> {
        let lead = Lead {
            id: LeadId::new(),
            location_id: location.clone(),
            ghl_contact_id,
            name: Some(customer.name.clone()),
            email: customer.email.clone(),
            phone: None,
            address: None,
            source: "booking".into(),
            lifecycle: Lifecycle::Lead,
            customer_since: None,
            services_completed: 0,
            created_at: now,
            updated_at: now,
        };
        self.leads.lock().unwrap().push(lead.clone());
        Ok(lead)
    }
    async fn link_contact(&self, _: LeadId, _: &GhlContactId) -> Result<(), RepoError> {
        unreachable!()
    }
}

fn service(store: &Arc<Store>) -> BookingService {
    BookingService {
        appointments: store.clone(),
        leads: store.clone(),
        clock: Arc::new(FixedClock),
        calendar: BookingCalendar::default(),
        location: LocationId::parse("loc1").unwrap(),
    }
}

fn request(day: i64) -> BookingRequest {
    let start = now() + chrono::Duration::days(day);
    BookingRequest {
        customer: Customer::new(
            PersonName::parse("Jan").unwrap(),
            Some(Email::parse("jan@example.nl").unwrap()),
            None,
            None,
        )
        .unwrap(),
        lead_id: None,
        ghl_contact_id: None,
        service_type: ServiceType::parse("maintenance").unwrap(),
        slot: TimeSlot::new(start, start + chrono::Duration::hours(2)).unwrap(),
        notes: None,
    }
}

fn key(fingerprint: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey {
        key: "k1".into(),
        fingerprint: fingerprint.into(),
    })
}

#[tokio::test]
async fn repeating_a_booking_with_the_same_idempotency_key_returns_the_first_result() {
    let store = Arc::new(Store::default());
    let booking = service(&store);
    let first = booking.book(request(2), key("f1"), None).await.unwrap();
    let again = booking.book(request(2), key("f1"), None).await.unwrap();
    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(first.appointment.id, again.appointment.id);
    assert_eq!(first.sync_job_id, again.sync_job_id);
    assert_eq!(store.appointments.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn reusing_an_idempotency_key_for_another_request_is_refused() {
    let store = Arc::new(Store::default());
    let booking = service(&store);
    booking.book(request(2), key("f1"), None).await.unwrap();
    let err = booking.book(request(3), key("f2"), None).await.unwrap_err();
    assert_eq!(err, BookingError::IdempotencyMismatch);
}

#[tokio::test]
async fn a_full_slot_is_refused() {
    let store = Arc::new(Store::default());
    let booking = service(&store);
    booking.book(request(2), None, None).await.unwrap();
    assert_eq!(
        booking.book(request(2), None, None).await.unwrap_err(),
        BookingError::SlotTaken
    );
}

#[tokio::test]
async fn an_unknown_lead_id_is_refused() {
    let store = Arc::new(Store::default());
    let mut req = request(2);
    req.lead_id = Some(LeadId::new());
    assert_eq!(
        service(&store).book(req, None, None).await.unwrap_err(),
        BookingError::UnknownLead
    );
}

#[tokio::test]
async fn a_change_is_reapplied_after_a_concurrent_modification() {
    let store = Arc::new(Store::default());
    let booking = service(&store);
    let booked = booking.book(request(2), None, None).await.unwrap();
    *store.conflicts.lock().unwrap() = 2;
    let changed = booking
        .change(booked.appointment.id, Command::Confirm, None)
        .await
        .unwrap();
    assert_eq!(changed.appointment.status, AppointmentStatus::Confirmed);
    assert_eq!(store.changes.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_change_that_keeps_conflicting_gives_up_with_conflict() {
    let store = Arc::new(Store::default());
    let booking = service(&store);
    let booked = booking.book(request(2), None, None).await.unwrap();
    *store.conflicts.lock().unwrap() = 10;
    let err = booking
        .change(booked.appointment.id, Command::Confirm, None)
        .await
        .unwrap_err();
    assert_eq!(err, ChangeError::Conflict);
}

#[tokio::test]
async fn completing_makes_the_lead_a_customer_and_rescheduling_rechecks_capacity() {
    let store = Arc::new(Store::default());
    let booking = service(&store);
    let a = booking.book(request(2), None, None).await.unwrap();
    let b = booking.book(request(4), None, None).await.unwrap();
    booking
        .change(a.appointment.id, Command::Complete, None)
        .await
        .unwrap();
    let edit = crate::appointment::AppointmentEdit {
        slot: Some(request(5).slot),
        ..Default::default()
    };
    booking
        .change(b.appointment.id, Command::Edit(edit), None)
        .await
        .unwrap();
    let changes = store.changes.lock().unwrap();
    assert!(changes[0].lead_becomes_customer);
    assert_eq!(changes[0].recheck_capacity, None);
    assert!(!changes[1].lead_becomes_customer);
    assert_eq!(changes[1].recheck_capacity, Some(1));
}

#[tokio::test]
async fn rescheduling_into_the_past_is_refused() {
    let store = Arc::new(Store::default());
    let booking = service(&store);
    let a = booking.book(request(2), None, None).await.unwrap();
    let edit = crate::appointment::AppointmentEdit {
        slot: Some(request(-1).slot),
        ..Default::default()
    };
    let err = booking
        .change(a.appointment.id, Command::Edit(edit), None)
        .await
        .unwrap_err();
    assert_eq!(err, ChangeError::Refused(BookingRefused::InThePast));
}

#[tokio::test]
async fn an_appointment_of_another_location_is_not_found() {
    let store = Arc::new(Store::default());
    let a = service(&store).book(request(2), None, None).await.unwrap();
    let mut other = service(&store);
    other.location = LocationId::parse("loc2").unwrap();
    let err = other
        .change(a.appointment.id, Command::Confirm, None)
        .await
        .unwrap_err();
    assert_eq!(err, ChangeError::NotFound);
}

#[tokio::test]
async fn availability_reflects_bookings() {
    let store = Arc::new(Store::default());
    let booking = service(&store);
    // 2030-01-12 08:00 in Amsterdam is 07:00 UTC.
    let start = Utc.with_ymd_and_hms(2030, 1, 12, 7, 0, 0).unwrap();
    let mut req = request(2);
    req.slot = TimeSlot::new(start, start + chrono::Duration::hours(2)).unwrap();
    booking.book(req, None, None).await.unwrap();
    let slots = booking
        .availability(chrono::NaiveDate::from_ymd_opt(2030, 1, 12).unwrap())
        .await
        .unwrap();
    assert_eq!(slots[0].remaining, 0);
    assert_eq!(slots[1].remaining, 1);
}

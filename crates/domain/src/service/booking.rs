//! Booking and changing appointments: validate, apply the state machine, and
//! store the change with its sync intent in one transaction.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::appointment::{
    Appointment, BookingRefused, Command, NewAppointment, ServiceType, TransitionError,
};
use crate::contact::Customer;
use crate::ids::{AppointmentId, GhlContactId, LeadId, LocationId, SyncJobId};
use crate::intent::SyncAction;
use crate::ports::{
    AppointmentChange, AppointmentRepository, Clock, IdempotencyKey, InsertError, LeadRepository,
    NewBooking, RepoError, UpdateError,
};
use crate::slot::{BookingCalendar, SlotAvailability, TimeSlot};

/// How often a change is re-applied when another request changed the same
/// appointment in between (optimistic concurrency).
const CONFLICT_RETRIES: usize = 3;

#[derive(Debug, Clone)]
pub struct BookingRequest {
    pub customer: Customer,
    pub lead_id: Option<LeadId>,
    pub ghl_contact_id: Option<GhlContactId>,
    pub service_type: ServiceType,
    pub slot: TimeSlot,
    pub notes: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Booked {
    pub appointment: Appointment,
    pub sync_job_id: SyncJobId,
    /// True when an earlier request with the same idempotency key produced this.
    pub replayed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    #[error(transparent)]
    Refused(#[from] BookingRefused),
    #[error("the time slot is fully booked")]
    SlotTaken,
    #[error("leadId: no lead with this id")]
    UnknownLead,
    #[error("the Idempotency-Key was already used for a different request")]
    IdempotencyMismatch,
    #[error(transparent)]
    Repo(#[from] RepoError),
}

#[derive(Debug, Clone)]
pub struct Changed {
    pub appointment: Appointment,
    pub sync_job_id: SyncJobId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("the appointment does not exist")]
    NotFound,
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Refused(#[from] BookingRefused),
    #[error("the time slot is fully booked")]
    SlotTaken,
    #[error("the appointment kept changing concurrently; try again")]
    Conflict,
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The booking use cases of one GHL location.
pub struct BookingService {
    pub appointments: Arc<dyn AppointmentRepository>,
    pub leads: Arc<dyn LeadRepository>,
    pub clock: Arc<dyn Clock>,
    pub calendar: BookingCalendar,
    pub location: LocationId,
}

impl BookingService {
    /// Books an appointment for the lead named by `leadId`, or the lead found or
    /// created from the customer's details, and records its `create` intent.
    pub async fn book(
        &self,
        request: BookingRequest,
        idempotency: Option<IdempotencyKey>,
        traceparent: Option<String>,
    ) -> Result<Booked, BookingError> {
        if let Some(key) = &idempotency
            && let Some(booked) = self.replay(key).await?
        {
            return Ok(booked);
        }
        let now = self.clock.now();
        let lead = match request.lead_id {
            Some(id) => self
                .leads
                .get(id)
                .await?
                .filter(|lead| lead.location_id == self.location)
                .ok_or(BookingError::UnknownLead)?,
            None => {
                self.leads
                    .resolve_for_booking(
                        &self.location,
                        &request.customer,
                        request.ghl_contact_id,
                        now,
                    )
                    .await?
            }
        };
        let new = NewAppointment {
            location_id: self.location.clone(),
            lead_id: lead.id,
            customer: request.customer,
            service_type: request.service_type,
            slot: request.slot,
            notes: request.notes,
        };
        let (appointment, intent) = Appointment::book(new, AppointmentId::new(), now)?;
        let booking = NewBooking {
            appointment: appointment.clone(),
            intent,
            capacity: self.calendar.capacity,
            idempotency: idempotency.clone(),
            traceparent,
        };
        match self.appointments.insert(booking).await {
            Ok(sync_job_id) => Ok(Booked {
                appointment,
                sync_job_id,
                replayed: false,
            }),
            Err(InsertError::SlotTaken) => Err(BookingError::SlotTaken),
            Err(InsertError::IdempotencyRace) => match &idempotency {
                Some(key) => self
                    .replay(key)
                    .await?
                    .ok_or(BookingError::IdempotencyMismatch),
                None => Err(BookingError::IdempotencyMismatch),
            },
            Err(InsertError::Repo(e)) => Err(e.into()),
        }
    }

    async fn replay(&self, key: &IdempotencyKey) -> Result<Option<Booked>, BookingError> {
        let Some(stored) = self.appointments.find_idempotent(&key.key).await? else {
            return Ok(None);
        };
        if stored.fingerprint != key.fingerprint {
            return Err(BookingError::IdempotencyMismatch);
        }
        let appointment = self
            .appointments
            .get(stored.appointment_id)
            .await?
            .ok_or_else(|| {
                RepoError::Corrupt("idempotency key names a missing appointment".into())
            })?;
        Ok(Some(Booked {
            appointment,
            sync_job_id: stored.sync_job_id,
            replayed: true,
        }))
    }

    /// Applies one command (edit/reschedule, confirm, cancel, complete, no-show)
    /// and records its intent. Re-applies it when a concurrent change won the race.
    pub async fn change(
        &self,
        id: AppointmentId,
        command: Command,
        traceparent: Option<String>,
    ) -> Result<Changed, ChangeError> {
        for _ in 0..CONFLICT_RETRIES {
            let current = self
                .appointments
                .get(id)
                .await?
                .filter(|a| a.location_id == self.location)
                .ok_or(ChangeError::NotFound)?;
            let now = self.clock.now();
            let moved_slot = match &command {
                Command::Edit(edit) => edit.slot.filter(|s| *s != current.slot),
                _ => None,
            };
            if moved_slot.is_some_and(|slot| slot.starts_at() <= now) {
                return Err(BookingRefused::InThePast.into());
            }
            let (next, intent) = current.apply(command.clone(), now)?;
            let change = AppointmentChange {
                lead_becomes_customer: intent.action == SyncAction::Complete,
                appointment: next.clone(),
                expected_version: current.version,
                intent,
                recheck_capacity: moved_slot.map(|_| self.calendar.capacity),
                traceparent: traceparent.clone(),
            };
            match self.appointments.update(change).await {
                Ok(sync_job_id) => {
                    return Ok(Changed {
                        appointment: next,
                        sync_job_id,
                    });
                }
                Err(UpdateError::VersionConflict) => continue,
                Err(UpdateError::NotFound) => return Err(ChangeError::NotFound),
                Err(UpdateError::SlotTaken) => return Err(ChangeError::SlotTaken),
                Err(UpdateError::Repo(e)) => return Err(e.into()),
            }
        }
        Err(ChangeError::Conflict)
    }

    /// The slots of a business day and how many more bookings each can take.
    pub async fn availability(&self, date: NaiveDate) -> Result<Vec<SlotAvailability>, RepoError> {
        let Some((open, close)) = self.calendar.day_bounds(date) else {
            return Ok(Vec::new());
        };
        let booked = self
            .appointments
            .active_slots(&self.location, open, close)
            .await?;
        Ok(self.calendar.availability(date, &booked))
    }
}

#[cfg(test)]
mod tests;

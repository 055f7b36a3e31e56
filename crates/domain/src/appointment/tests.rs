use chrono::{Duration, TimeZone};
use proptest::prelude::*;

use super::*;
use crate::contact::{Email, PersonName};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap()
}

fn slot(days: i64, hours: i64) -> TimeSlot {
    let start = now() + Duration::days(days);
    TimeSlot::new(start, start + Duration::hours(hours)).unwrap()
}

fn booked() -> Appointment {
    let new = NewAppointment {
        location_id: LocationId::parse("loc1").unwrap(),
        lead_id: LeadId::new(),
        customer: Customer::new(
            PersonName::parse("Jan").unwrap(),
            Some(Email::parse("jan@example.nl").unwrap()),
            None,
            Some(Address::parse("Dorpsstraat 1").unwrap()),
        )
        .unwrap(),
        service_type: ServiceType::parse("maintenance").unwrap(),
        slot: slot(2, 2),
        notes: None,
    };
    Appointment::book(new, AppointmentId::new(), now())
        .unwrap()
        .0
}

#[test]
fn booking_schedules_the_appointment_and_records_a_create_intent() {
    let appointment = booked();
    assert_eq!(appointment.status, AppointmentStatus::Scheduled);
    assert_eq!(appointment.version, 1);
    let (_, intent) = Appointment::book(
        NewAppointment {
            location_id: appointment.location_id.clone(),
            lead_id: appointment.lead_id,
            customer: appointment.customer.clone(),
            service_type: appointment.service_type.clone(),
            slot: appointment.slot,
            notes: None,
        },
        appointment.id,
        now(),
    )
    .unwrap();
    assert_eq!(intent.action, SyncAction::Create);
    assert_eq!(intent.payload.starts_at, appointment.slot.starts_at());
}

#[test]
fn booking_in_the_past_is_refused() {
    for past in [slot(-1, 2), slot(0, 1)] {
        let new = NewAppointment {
            location_id: LocationId::parse("loc1").unwrap(),
            lead_id: LeadId::new(),
            customer: booked().customer,
            service_type: ServiceType::parse("repair").unwrap(),
            slot: past,
            notes: None,
        };
        assert_eq!(
            Appointment::book(new, AppointmentId::new(), now()).unwrap_err(),
            BookingRefused::InThePast
        );
    }
}

#[test]
fn confirming_a_scheduled_appointment_confirms_it() {
    let (confirmed, intent) = booked().confirm(now()).unwrap();
    assert_eq!(confirmed.status, AppointmentStatus::Confirmed);
    assert_eq!(confirmed.version, 2);
    assert_eq!(intent.action, SyncAction::Confirm);
    assert_eq!(intent.payload.status, AppointmentStatus::Confirmed);
}

#[test]
fn confirming_twice_is_an_impossible_transition() {
    let (confirmed, _) = booked().confirm(now()).unwrap();
    assert_eq!(
        confirmed.confirm(now()).unwrap_err(),
        TransitionError::NotAllowed {
            from: AppointmentStatus::Confirmed,
            action: SyncAction::Confirm
        }
    );
}

#[test]
fn cancelling_keeps_the_reason_in_the_intent() {
    let (cancelled, intent) = booked().cancel(Some("moved abroad".into()), now()).unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert!(!cancelled.status.holds_slot());
    assert_eq!(intent.payload.reason.as_deref(), Some("moved abroad"));
}

#[test]
fn a_completed_appointment_cannot_be_cancelled() {
    let (completed, _) = booked().complete(now()).unwrap();
    let err = completed.cancel(None, now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "an appointment that is completed cannot be cancelled"
    );
}

#[test]
fn rescheduling_lists_what_changed() {
    let appointment = booked();
    let edit = AppointmentEdit {
        slot: Some(slot(3, 2)),
        service_type: Some(ServiceType::parse("repair").unwrap()),
        ..AppointmentEdit::default()
    };
    let (moved, intent) = appointment.reschedule(edit, now()).unwrap();
    assert_eq!(moved.slot, slot(3, 2));
    assert_eq!(moved.status, AppointmentStatus::Scheduled);
    let fields: Vec<_> = intent
        .payload
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(fields, ["startTime", "endTime", "serviceType"]);
    assert_eq!(intent.payload.changes[2].old, "maintenance");
}

#[test]
fn an_edit_that_changes_nothing_is_refused() {
    let appointment = booked();
    let edit = AppointmentEdit {
        slot: Some(appointment.slot),
        ..AppointmentEdit::default()
    };
    assert_eq!(
        appointment.reschedule(edit, now()).unwrap_err(),
        TransitionError::NothingChanged
    );
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (1i64..30, 1i64..4).prop_map(|(d, h)| Command::Edit(AppointmentEdit {
            slot: Some(slot(d, h)),
            ..AppointmentEdit::default()
        })),
        Just(Command::Confirm),
        proptest::option::of("[a-z ]{1,20}").prop_map(|reason| Command::Cancel { reason }),
        Just(Command::Complete),
        Just(Command::NoShow),
    ]
}

proptest! {
    /// Any sequence of commands gives a valid state or a typed error; terminal
    /// states stay terminal; every success yields exactly one intent whose action
    /// is the command's and whose snapshot matches the new state.
    #[test]
    fn any_sequence_of_commands_keeps_the_state_machine_valid(commands in proptest::collection::vec(command(), 0..12)) {
        let mut current = booked();
        for command in commands {
            let action = command.action();
            let before = current.clone();
            match current.apply(command, now()) {
                Ok((next, intent)) => {
                    prop_assert!(!before.status.is_terminal(), "left terminal state {}", before.status);
                    prop_assert_eq!(next.version, before.version + 1);
                    prop_assert_eq!(intent.action, action);
                    prop_assert_eq!(intent.appointment_id, next.id);
                    prop_assert_eq!(intent.payload.status, next.status);
                    prop_assert_eq!(intent.payload.starts_at, next.slot.starts_at());
                    current = next;
                }
                Err(TransitionError::NotAllowed { from, action: refused }) => {
                    prop_assert_eq!(from, before.status);
                    prop_assert_eq!(refused, action);
                    prop_assert!(before.status.is_terminal() || action == SyncAction::Confirm);
                }
                Err(TransitionError::NothingChanged) => {
                    prop_assert_eq!(action, SyncAction::Update);
                }
            }
            if before.status.is_terminal() {
                prop_assert_eq!(current.status, before.status);
            }
        }
    }
}

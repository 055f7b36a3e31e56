#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::appointment::{Appointment, AppointmentStatus, NewAppointment, ServiceType};
use crate::contact::{Address, Customer, Email, PersonName, Phone};
use crate::ids::{AppointmentId, LeadId, LocationId};
use crate::inbound::event::AppointmentEventKind;

const CONTACT_CREATE: &str =
    include_str!("../../../api/tests/fixtures/ghl/ContactCreate.example.json");
const TAG_UPDATE: &str =
    include_str!("../../../api/tests/fixtures/ghl/ContactTagUpdate.example.json");
const APPOINTMENT_UPDATE: &str =
    include_str!("../../../api/tests/fixtures/ghl/AppointmentUpdate.example.json");

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap()
}

fn sample(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap()
}

fn booked() -> Appointment {
    let start = now() + Duration::days(2);
    let new = NewAppointment {
        location_id: LocationId::parse("loc1").unwrap(),
        lead_id: LeadId::new(),
        customer: Customer::new(
            PersonName::parse("Jan").unwrap(),
            Some(Email::parse("jan@example.nl").unwrap()),
            None,
            None,
        )
        .unwrap(),
        service_type: ServiceType::parse("maintenance").unwrap(),
        slot: crate::slot::TimeSlot::new(start, start + Duration::hours(2)).unwrap(),
        notes: None,
    };
    Appointment::book(new, AppointmentId::new(), now())
        .unwrap()
        .0
}

fn ghl_appointment(status: &str) -> GhlAppointment {
    GhlAppointment {
        id: "evt1".into(),
        contact_id: None,
        status: Some(status.into()),
        starts_at: None,
        date_updated: None,
    }
}

fn contact_of(raw: &str) -> GhlContact {
    match parse_event("ContactCreate", &sample(raw)).unwrap() {
        GhlEvent::ContactUpsert { contact, .. } => contact,
        other => panic!("{other:?}"),
    }
}

fn state_from(contact: &GhlContact, at: Option<DateTime<Utc>>) -> GhlLeadState {
    GhlLeadState {
        lead_id: LeadId::new(),
        name: contact.name.clone(),
        email: contact.email.clone(),
        phone: contact.phone.clone(),
        address: contact.address.clone(),
        ghl_tags: Some(contact.tags.clone()),
        ghl_updated_at: at,
    }
}

#[test]
fn the_documented_contact_create_example_parses_into_a_contact() {
    let body = sample(CONTACT_CREATE);
    let envelope = parse_envelope(&body).unwrap();
    assert_eq!(envelope.event_type, "ContactCreate");
    assert_eq!(
        envelope.webhook_id, None,
        "the examples carry no envelope id"
    );
    assert_eq!(
        envelope.location_id.as_deref(),
        Some("ve9EPM428h8vShlRW1KT")
    );
    let contact = contact_of(CONTACT_CREATE);
    assert_eq!(contact.id.as_str(), "nmFmQEsNgz6AVpgLVUJ0");
    assert_eq!(
        contact.email,
        Some(Email::parse("johndeo@gmail.comm").unwrap())
    );
    assert_eq!(contact.phone, Some(Phone::parse("+919509597501").unwrap()));
    assert_eq!(contact.name, Some(PersonName::parse("John Deo").unwrap()));
    assert_eq!(
        contact.address,
        Some(Address::parse("3535 1st St N, 452001, ruDolomitebika").unwrap())
    );
    assert_eq!(
        contact.tags,
        vec!["Duis dolor commodo aliqua", "id magna sed Lorem"],
        "tags are a sorted set"
    );
}

#[test]
fn envelope_fields_are_read_when_present_and_refused_when_malformed() {
    let body =
        json!({"type": "ContactUpdate", "webhookId": "w-1", "timestamp": "2030-01-10T09:00:00Z"});
    let envelope = parse_envelope(&body).unwrap();
    assert_eq!(envelope.webhook_id.as_deref(), Some("w-1"));
    assert_eq!(envelope.timestamp, Some(now()));
    let millis = json!({"type": "X", "timestamp": now().timestamp_millis()});
    assert_eq!(parse_envelope(&millis).unwrap().timestamp, Some(now()));
    assert_eq!(parse_envelope(&json!([1])), Err(EnvelopeError::NotAnObject));
    assert_eq!(
        parse_envelope(&json!({"id": "x"})),
        Err(EnvelopeError::BadType)
    );
    assert_eq!(
        parse_envelope(&json!({"type": "X", "webhookId": 5})),
        Err(EnvelopeError::BadWebhookId)
    );
    assert_eq!(
        parse_envelope(&json!({"type": "X", "timestamp": "yesterday"})),
        Err(EnvelopeError::BadTimestamp)
    );
}

#[test]
fn unknown_event_types_parse_as_other_and_known_ones_need_their_ids() {
    assert_eq!(
        parse_event("NoteCreate", &json!({"id": "n1"})).unwrap(),
        GhlEvent::Other
    );
    assert_eq!(
        parse_event("ContactCreate", &json!({"type": "ContactCreate"})),
        Err(EventError::MissingId("id"))
    );
    assert_eq!(
        parse_event("AppointmentUpdate", &json!({"appointment": {}})),
        Err(EventError::MissingId("appointment.id"))
    );
}

#[test]
fn a_contact_event_with_the_facts_we_hold_is_unchanged() {
    let contact = contact_of(CONTACT_CREATE);
    let stored = state_from(&contact, Some(now()));
    assert_eq!(
        contact_change(&stored, &contact, false, now()),
        ContactChange::Unchanged
    );
}

#[test]
fn a_tag_update_changes_only_the_tags() {
    let contact = contact_of(TAG_UPDATE);
    let mut stored = state_from(&contact, Some(now()));
    stored.ghl_tags = Some(vec!["old".into()]);
    stored.email = None;
    let ContactChange::Apply(patch) = contact_change(&stored, &contact, true, now()) else {
        panic!("expected a change")
    };
    assert_eq!(patch.tags, Some(contact.tags.clone()));
    assert_eq!(
        patch.email, None,
        "a tag update does not touch other fields"
    );
}

#[test]
fn an_event_older_than_the_last_applied_one_is_stale() {
    let mut contact = contact_of(CONTACT_CREATE);
    let stored = state_from(&contact, Some(now()));
    contact.tags = vec!["new".into()];
    assert_eq!(
        contact_change(&stored, &contact, false, now() - Duration::seconds(1)),
        ContactChange::Stale
    );
    assert!(matches!(
        contact_change(&stored, &contact, false, now()),
        ContactChange::Apply(_)
    ));
    assert!(delete_is_stale(Some(now()), now() - Duration::seconds(1)));
    assert!(!delete_is_stale(None, now()));
}

#[test]
fn missing_values_in_ghl_never_erase_ours() {
    let contact = contact_of(CONTACT_CREATE);
    let stored = state_from(&contact, None);
    let mut emptied = contact.clone();
    emptied.email = None;
    emptied.phone = None;
    assert_eq!(
        contact_change(&stored, &emptied, false, now()),
        ContactChange::Unchanged
    );
}

#[test]
fn ghl_statuses_map_onto_our_transitions_without_an_intent() {
    let cases = [
        ("confirmed", AppointmentStatus::Confirmed),
        ("cancelled", AppointmentStatus::Cancelled),
        ("showed", AppointmentStatus::Completed),
        ("noshow", AppointmentStatus::NoShow),
    ];
    for (ghl, ours) in cases {
        let decision = decide_appointment(
            &booked(),
            None,
            AppointmentEventKind::Update,
            &ghl_appointment(ghl),
            now(),
            now(),
        );
        let AppointmentDecision::Apply(next) = decision else {
            panic!("{ghl}: {decision:?}")
        };
        assert_eq!(next.status, ours, "{ghl}");
        assert_eq!(next.version, 2);
    }
}

#[test]
fn a_status_we_already_have_is_unchanged_and_a_forbidden_one_ignored() {
    let confirmed = booked()
        .apply(crate::appointment::Command::Confirm, now())
        .unwrap()
        .0;
    let event = ghl_appointment("confirmed");
    assert_eq!(
        decide_appointment(
            &confirmed,
            None,
            AppointmentEventKind::Update,
            &event,
            now(),
            now()
        ),
        AppointmentDecision::Unchanged
    );
    let cancelled = booked()
        .apply(crate::appointment::Command::Cancel { reason: None }, now())
        .unwrap()
        .0;
    assert!(matches!(
        decide_appointment(
            &cancelled,
            None,
            AppointmentEventKind::Update,
            &event,
            now(),
            now()
        ),
        AppointmentDecision::Ignored(_)
    ));
    assert!(matches!(
        decide_appointment(
            &booked(),
            None,
            AppointmentEventKind::Update,
            &ghl_appointment("new"),
            now(),
            now()
        ),
        AppointmentDecision::Ignored(_)
    ));
}

#[test]
fn a_deleted_ghl_appointment_cancels_ours_and_stale_events_do_nothing() {
    let event = ghl_appointment("confirmed");
    let AppointmentDecision::Apply(next) = decide_appointment(
        &booked(),
        None,
        AppointmentEventKind::Delete,
        &event,
        now(),
        now(),
    ) else {
        panic!()
    };
    assert_eq!(next.status, AppointmentStatus::Cancelled);
    assert_eq!(
        decide_appointment(
            &booked(),
            Some(now()),
            AppointmentEventKind::Update,
            &event,
            now() - Duration::minutes(1),
            now()
        ),
        AppointmentDecision::Stale
    );
}

#[test]
fn the_documented_appointment_example_parses() {
    let body = sample(APPOINTMENT_UPDATE);
    let GhlEvent::Appointment { appointment, kind } =
        parse_event("AppointmentUpdate", &body).unwrap()
    else {
        panic!()
    };
    assert_eq!(kind, AppointmentEventKind::Update);
    assert_eq!(appointment.id, "0007BWpSzSwfiuSl0tR2");
    assert_eq!(appointment.status.as_deref(), Some("confirmed"));
    assert_eq!(
        appointment.starts_at,
        Some(Utc.with_ymd_and_hms(2023, 9, 25, 10, 30, 0).unwrap())
    );
}

#[test]
fn a_workflow_body_has_comma_separated_tags_and_custom_fields_by_display_name() {
    let body = json!({
        "contact_id": "c-123",
        "first_name": "Jan",
        "last_name": "Jansen",
        "email": "Jan@Example.nl",
        "tags": "vip, airco ,,vip",
        "location": {"id": "loc1", "name": "StayCool"},
        "workflow": {"id": "w", "name": "Tag added"},
        "Preferred Date": "2030-02-01",
        "Units": 2
    });
    let parsed = parse_workflow(&body).unwrap();
    assert_eq!(parsed.contact.id.as_str(), "c-123");
    assert_eq!(parsed.contact.tags, vec!["airco", "vip"]);
    assert_eq!(
        parsed.contact.name,
        Some(PersonName::parse("Jan Jansen").unwrap())
    );
    assert_eq!(parsed.location_id.as_deref(), Some("loc1"));
    assert_eq!(
        parsed.custom_fields,
        vec![
            ("Preferred Date".to_owned(), "2030-02-01".to_owned()),
            ("Units".to_owned(), "2".to_owned())
        ]
    );
    assert_eq!(
        parse_workflow(&json!({"email": "x@y.z"})),
        Err(EventError::MissingId("contact_id"))
    );
}

fn mutate(value: &Value, path_seed: usize, replacement: Value) -> Value {
    let mut v = value.clone();
    if let Some(object) = v.as_object_mut() {
        let keys: Vec<String> = object.keys().cloned().collect();
        if !keys.is_empty() {
            let key = &keys[path_seed % keys.len()];
            object.insert(key.clone(), replacement);
        }
    }
    v
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map(".{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn parsing_never_panics_on_mutated_samples(
        which in 0usize..3,
        seed in any::<usize>(),
        replacement in any_json(),
        event_type in prop_oneof![
            Just("ContactCreate"), Just("ContactTagUpdate"), Just("ContactDelete"),
            Just("AppointmentUpdate"), Just("AppointmentDelete"), Just("Other")
        ],
    ) {
        let base = sample([CONTACT_CREATE, TAG_UPDATE, APPOINTMENT_UPDATE][which]);
        let mutated = mutate(&base, seed, replacement);
        let _ = parse_envelope(&mutated);
        let _ = parse_event(event_type, &mutated);
        let _ = parse_workflow(&mutated);
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_json(value in any_json()) {
        let _ = parse_envelope(&value);
        let _ = parse_event("ContactUpdate", &value);
        let _ = parse_event("AppointmentCreate", &value);
        let _ = parse_workflow(&value);
    }
}

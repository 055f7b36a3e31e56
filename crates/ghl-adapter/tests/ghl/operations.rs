//! Each operation against the sim, checked in the sim's contact state.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use domain::plan::{FieldValue, NoteEffect, TaskEffect};
use domain::ports::CrmGateway;
use ghl_sim::SeedContact;
use serde_json::{Value, json};

use crate::support::TestSim;

fn field(key: &str, value: &str) -> FieldValue {
    FieldValue {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

#[tokio::test]
async fn a_note_appears_on_the_contact() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();
    let note = NoteEffect {
        body: "Appointment booked: haircut.\n\n[sync 0123456789ab/note]".into(),
    };

    t.client
        .add_note(&t.location, &contact, &note)
        .await
        .unwrap();

    let state = t.sim.contact(contact.as_str()).unwrap();
    let bodies: Vec<_> = state.notes.iter().map(|n| n.body.as_str()).collect();
    assert_eq!(bodies, [note.body.as_str()]);
}

#[tokio::test]
async fn tags_are_added_and_removed_without_touching_the_others() {
    let t = TestSim::start().await;
    let contact = t.seed(SeedContact {
        tags: vec!["vip".into()],
        ..Default::default()
    });

    let add = ["appointment-scheduled".to_owned(), "customer".to_owned()];
    t.client
        .add_tags(&t.location, &contact, &add)
        .await
        .unwrap();
    assert_eq!(
        t.sim.contact(contact.as_str()).unwrap().contact.tags,
        ["vip", "appointment-scheduled", "customer"]
    );

    let remove = ["appointment-scheduled".to_owned()];
    t.client
        .remove_tags(&t.location, &contact, &remove)
        .await
        .unwrap();
    assert_eq!(
        t.sim.contact(contact.as_str()).unwrap().contact.tags,
        ["vip", "customer"]
    );
}

#[tokio::test]
async fn empty_tag_lists_make_no_call() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();

    t.client.add_tags(&t.location, &contact, &[]).await.unwrap();
    t.client
        .remove_tags(&t.location, &contact, &[])
        .await
        .unwrap();

    assert!(t.sim.calls().is_empty(), "{:?}", t.sim.calls());
}

#[tokio::test]
async fn custom_fields_are_written_by_id_and_an_empty_value_clears_one() {
    let t = TestSim::start().await;
    let contact = t.seed(SeedContact {
        custom_fields: BTreeMap::from([("next_appointment_date".to_owned(), json!("2030-01-01"))]),
        ..Default::default()
    });
    let fields = [
        field("appointment_status", "confirmed"),
        // The `contact.` prefix GHL shows in `fieldKey` is accepted too.
        field("contact.last_service_date", "2030-01-19"),
        field("next_appointment_date", ""),
    ];

    t.client
        .update_custom_fields(&t.location, &contact, &fields)
        .await
        .unwrap();

    let stored = t.sim.contact(contact.as_str()).unwrap().contact;
    assert_eq!(
        stored.custom_field(&t.field_id("appointment_status")),
        Some(&json!("confirmed"))
    );
    assert_eq!(
        stored.custom_field(&t.field_id("last_service_date")),
        Some(&json!("2030-01-19"))
    );
    assert_eq!(
        stored.custom_field(&t.field_id("next_appointment_date")),
        None
    );
    let puts: Vec<Value> = t
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.method == "PUT")
        .map(|c| c.body)
        .collect();
    assert_eq!(
        puts,
        [json!({"customFields": [
            {"id": t.field_id("appointment_status"), "field_value": "confirmed"},
            {"id": t.field_id("last_service_date"), "field_value": "2030-01-19"},
            {"id": t.field_id("next_appointment_date"), "field_value": ""},
        ]})]
    );
}

#[tokio::test]
async fn field_ids_are_listed_once_per_location_and_then_cached() {
    let t = TestSim::start().await;
    let first = t.seed_contact();
    let second = t.seed(SeedContact::default());
    let fields = [field("appointment_status", "scheduled")];

    t.client
        .update_custom_fields(&t.location, &first, &fields)
        .await
        .unwrap();
    t.client
        .update_custom_fields(&t.location, &second, &fields)
        .await
        .unwrap();

    assert_eq!(t.count_calls("GET", "/customFields"), 1);
    assert_eq!(t.count_calls("PUT", ""), 2);
    let listing = t
        .sim
        .calls()
        .into_iter()
        .find(|c| c.method == "GET")
        .unwrap();
    assert_eq!(listing.query.as_deref(), Some("model=contact"));
}

#[tokio::test]
async fn a_task_is_created_open_with_its_due_time_in_utc() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();
    let task = TaskEffect {
        title: "Appointment reminder".into(),
        body: "Haircut on 2030-01-20 10:00\n\n[sync 0123456789ab/task]".into(),
        due_at: Utc.with_ymd_and_hms(2030, 1, 19, 9, 0, 0).unwrap(),
    };

    t.client
        .create_task(&t.location, &contact, &task)
        .await
        .unwrap();

    let tasks = t.sim.contact(contact.as_str()).unwrap().tasks;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].title, task.title);
    assert_eq!(tasks[0].body.as_deref(), Some(task.body.as_str()));
    assert_eq!(tasks[0].due_date, "2030-01-19T09:00:00.000Z");
    assert!(!tasks[0].completed);
    let sent = t.sim.calls().pop().unwrap().body;
    assert_eq!(sent["dueDate"], json!("2030-01-19T09:00:00Z"));
}

#[tokio::test]
async fn a_contact_is_read_with_its_tags_and_stringified_field_values() {
    let t = TestSim::start().await;
    let contact = t.seed(SeedContact {
        tags: vec!["customer".into(), "no-show".into()],
        custom_fields: BTreeMap::from([
            ("appointment_status".to_owned(), json!("completed")),
            ("next_appointment_date".to_owned(), json!(42)),
            ("last_service_date".to_owned(), json!(["a", "b"])),
        ]),
        ..Default::default()
    });

    let read = t.client.get_contact(&t.location, &contact).await.unwrap();

    assert_eq!(read.id, contact);
    assert_eq!(read.tags, ["customer", "no-show"]);
    let mut fields = read.custom_fields.clone();
    fields.sort();
    let mut expected = vec![
        (t.field_id("appointment_status"), "completed".to_owned()),
        (t.field_id("next_appointment_date"), "42".to_owned()),
        (t.field_id("last_service_date"), "a, b".to_owned()),
    ];
    expected.sort();
    assert_eq!(fields, expected);
}

#[tokio::test]
async fn what_is_written_is_read_back() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();

    t.client
        .add_tags(&t.location, &contact, &["appointment-confirmed".to_owned()])
        .await
        .unwrap();
    t.client
        .update_custom_fields(
            &t.location,
            &contact,
            &[field("appointment_status", "confirmed")],
        )
        .await
        .unwrap();
    let read = t.client.get_contact(&t.location, &contact).await.unwrap();

    assert_eq!(read.tags, ["appointment-confirmed"]);
    assert_eq!(
        read.custom_fields,
        [(t.field_id("appointment_status"), "confirmed".to_owned())]
    );
}

//! Finding a note or task by its reference marker, against the sim.

use chrono::{TimeZone, Utc};
use domain::plan::{NoteEffect, TaskEffect};
use domain::ports::CrmGateway;

use crate::support::{TestSim, contact_id};

#[tokio::test]
async fn a_note_is_found_by_its_marker_and_only_by_its_own() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();
    let other = t.seed_contact();
    let marker = "[sync 0123456789ab/note]";
    assert_eq!(
        t.client
            .find_note(&t.location, &contact, marker)
            .await
            .unwrap(),
        None,
        "nothing written yet"
    );
    for body in [
        "Booked.\n\n[sync 999999999999/note]",
        &format!("Confirmed.\n\n{marker}"),
    ] {
        t.client
            .add_note(&t.location, &contact, &NoteEffect { body: body.into() })
            .await
            .unwrap();
    }

    let found = t
        .client
        .find_note(&t.location, &contact, marker)
        .await
        .unwrap();
    let state = t.sim.contact(contact.as_str()).unwrap();
    assert_eq!(found.as_deref(), Some(state.notes[1].id.as_str()));
    assert_eq!(
        t.client
            .find_note(&t.location, &other, marker)
            .await
            .unwrap(),
        None,
        "another contact's notes do not count"
    );
    assert_eq!(
        t.client
            .find_note(&t.location, &contact, "[sync 0123456789ab/task]")
            .await
            .unwrap(),
        None
    );
    let calls = t.sim.calls();
    let last = calls.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("GET", format!("/contacts/{contact}/notes").as_str())
    );
}

#[tokio::test]
async fn a_task_is_found_by_the_marker_in_its_body() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();
    let marker = "[sync 0123456789ab/task]";
    let task = TaskEffect {
        title: "Prepare the visit".into(),
        body: format!("repair on 2030-05-01\n\n{marker}"),
        due_at: Utc.with_ymd_and_hms(2030, 5, 1, 7, 0, 0).unwrap(),
    };
    assert_eq!(
        t.client
            .find_task(&t.location, &contact, marker)
            .await
            .unwrap(),
        None
    );
    t.client
        .create_task(&t.location, &contact, &task)
        .await
        .unwrap();

    let found = t
        .client
        .find_task(&t.location, &contact, marker)
        .await
        .unwrap();
    let state = t.sim.contact(contact.as_str()).unwrap();
    assert_eq!(found.as_deref(), Some(state.tasks[0].id.as_str()));
}

#[tokio::test]
async fn looking_on_an_unknown_contact_is_not_found() {
    let t = TestSim::start().await;
    let error = t
        .client
        .find_note(&t.location, &contact_id("no-such-contact"), "[sync x/note]")
        .await
        .unwrap_err();
    assert_eq!(error.class, domain::job::ErrorClass::NotFound);
}

//! Calendar mirroring over real HTTP: the calendars API (`Version: 2021-04-15`) against
//! ghl-sim, which validates every body against the official `apps/calendars.json`.

use chrono::{TimeZone, Utc};
use domain::job::ErrorClass;
use domain::plan::CalendarEvent;
use domain::ports::CrmGateway;
use ghl_sim::{FaultKind, SimConfig};
use serde_json::json;

use crate::fake::{Answer, FakeGhl};
use crate::support::{TestSim, client, contact_id, location};

fn event(status: &'static str) -> CalendarEvent {
    CalendarEvent {
        calendar_id: "cal-1".into(),
        title: "maintenance [booking 0123456789ab]".into(),
        starts_at: Utc.with_ymd_and_hms(2030, 5, 1, 9, 0, 0).unwrap(),
        ends_at: Utc.with_ymd_and_hms(2030, 5, 1, 11, 0, 0).unwrap(),
        address: Some("Dorpsstraat 1".into()),
        status,
        notify: false,
        marker: "[booking 0123456789ab]".into(),
    }
}

#[tokio::test]
async fn an_event_is_created_updated_and_found_by_its_marker() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();
    let created = event("new");
    assert_eq!(
        t.client
            .find_calendar_event(&t.location, &contact, "cal-1", &created.marker)
            .await
            .unwrap(),
        None
    );
    let id = t
        .client
        .create_calendar_event(&t.location, &contact, &created)
        .await
        .unwrap();
    let state = t.sim.contact(contact.as_str()).unwrap();
    assert_eq!(state.appointments.len(), 1);
    let stored = &state.appointments[0];
    assert_eq!(stored["id"], id.as_str());
    assert_eq!(stored["calendarId"], "cal-1");
    assert_eq!(stored["contactId"], contact.as_str());
    assert_eq!(stored["appointmentStatus"], "new");
    assert_eq!(stored["startTime"], "2030-05-01T09:00:00+00:00");
    assert_eq!(stored["address"], "Dorpsstraat 1");

    let mut moved = event("confirmed");
    moved.starts_at = Utc.with_ymd_and_hms(2030, 5, 2, 9, 0, 0).unwrap();
    moved.ends_at = Utc.with_ymd_and_hms(2030, 5, 2, 10, 0, 0).unwrap();
    t.client
        .update_calendar_event(&t.location, &id, &moved)
        .await
        .unwrap();
    let state = t.sim.contact(contact.as_str()).unwrap();
    assert_eq!(state.appointments.len(), 1, "updated in place");
    assert_eq!(state.appointments[0]["appointmentStatus"], "confirmed");
    assert_eq!(
        state.appointments[0]["endTime"],
        "2030-05-02T10:00:00+00:00"
    );

    let found = t
        .client
        .find_calendar_event(&t.location, &contact, "cal-1", &created.marker)
        .await
        .unwrap();
    assert_eq!(found.as_deref(), Some(id.as_str()));
    for (calendar, marker) in [
        ("cal-2", created.marker.as_str()),
        ("cal-1", "[booking ffffffffffff]"),
    ] {
        assert_eq!(
            t.client
                .find_calendar_event(&t.location, &contact, calendar, marker)
                .await
                .unwrap(),
            None,
            "{calendar} {marker}"
        );
    }
    // Every call passed the sim's gate: Version, auth and the official body schemas.
    assert!(
        t.sim.calls().iter().all(|c| c.status == 200),
        "{:?}",
        t.sim.calls()
    );
}

#[tokio::test]
async fn an_unknown_event_id_is_an_error_not_a_new_event() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();
    let error = t
        .client
        .update_calendar_event(&t.location, "no-such-event", &event("cancelled"))
        .await
        .unwrap_err();
    assert_ne!(error.class, ErrorClass::Transient, "{error:?}");
    assert!(
        t.sim
            .contact(contact.as_str())
            .unwrap()
            .appointments
            .is_empty()
    );
}

#[tokio::test]
async fn calendar_calls_carry_the_calendars_version_and_the_spec_fields() {
    let fake =
        FakeGhl::start(|_| Answer::json(200, json!({"id": "ev-1", "calendarId": "cal-1"}))).await;
    let ghl = client(&fake.base_url, "token");
    let loc = location("loc-1");
    let contact = contact_id("contact-1");
    let id = ghl
        .create_calendar_event(&loc, &contact, &event("new"))
        .await
        .unwrap();
    assert_eq!(id, "ev-1");
    ghl.update_calendar_event(&loc, &id, &event("showed"))
        .await
        .unwrap();
    let received = fake.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        assert_eq!(r.header("version"), Some("2021-04-15"), "{}", r.path());
    }
    assert_eq!(received[0].path(), "/calendars/events/appointments");
    let body = received[0].json();
    assert_eq!(body["locationId"], "loc-1");
    assert_eq!(body["contactId"], "contact-1");
    assert_eq!(body["toNotify"], false);
    assert_eq!(body["ignoreFreeSlotValidation"], true);
    assert_eq!(received[1].path(), "/calendars/events/appointments/ev-1");
    let body = received[1].json();
    assert_eq!(body["appointmentStatus"], "showed");
    assert!(body.get("locationId").is_none() && body.get("contactId").is_none());
}

#[tokio::test]
async fn a_create_is_not_sent_again_after_an_in_doubt_failure() {
    let t = TestSim::with_config(SimConfig {
        fault_rate: 1.0,
        fault_kinds: vec![FaultKind::Status500],
        fault_after_write_share: 1.0,
        ..SimConfig::default()
    })
    .await;
    let contact = t.seed_contact();
    let error = t
        .client
        .create_calendar_event(&t.location, &contact, &event("new"))
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(t.sim.calls().len(), 1, "the create was sent again");
    assert_eq!(
        t.sim.contact(contact.as_str()).unwrap().appointments.len(),
        1
    );
}

//! Calendar events: the calendars API (`Version: 2021-04-15`) and a contact's appointments.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestSim, send};

const CALENDARS: &str = "2021-04-15";

async fn calendars(t: &TestSim, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let request = t
        .bare(method, path)
        .bearer_auth(&t.sim.config().api_key)
        .header("Version", CALENDARS);
    send(match body {
        Some(body) => request.json(&body),
        None => request,
    })
    .await
}

#[tokio::test]
async fn an_event_is_created_read_updated_and_listed_with_its_contact() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let location = t.sim.config().location_id.clone();
    let create = json!({
        "calendarId": "cal-1", "locationId": location, "contactId": contact.id,
        "startTime": "2030-05-01T09:00:00+02:00", "endTime": "2030-05-01T11:00:00+02:00",
        "title": "repair", "appointmentStatus": "new", "toNotify": false,
        "ignoreFreeSlotValidation": true,
    });
    let (status, created) = calendars(
        &t,
        Method::POST,
        "/calendars/events/appointments",
        Some(create),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["contactId"], json!(contact.id));
    assert!(
        created.get("toNotify").is_none(),
        "steering fields are not stored"
    );

    let path = format!("/calendars/events/appointments/{id}");
    let (status, changed) = calendars(
        &t,
        Method::PUT,
        &path,
        Some(json!({"calendarId": "cal-1", "appointmentStatus": "confirmed"})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let (status, got) = calendars(&t, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(got["event"]["appointmentStatus"], "confirmed");
    assert_eq!(got["event"]["title"], "repair");

    // The contacts API's view (its own Version).
    let (status, listed) = t
        .call(
            Method::GET,
            &format!("/contacts/{}/appointments", contact.id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["events"], json!([got["event"]]));
    assert_eq!(t.sim.contact(&contact.id).unwrap().appointments.len(), 1);
}

#[tokio::test]
async fn calendar_calls_need_the_calendars_version_and_a_valid_body() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let body = json!({
        "calendarId": "cal-1", "locationId": t.sim.config().location_id, "contactId": contact.id,
        "startTime": "2030-05-01T09:00:00+02:00",
    });
    // The contacts API's version, sent to a calendars operation.
    let (status, answer) = t
        .call(
            Method::POST,
            "/calendars/events/appointments",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 401, "{answer}");
    // A status outside the spec's enum, an unknown property, a missing contact.
    for bad in [
        json!({"appointmentStatus": "booked"}),
        json!({"colour": "red"}),
        json!({"contactId": null}),
    ] {
        let mut body = body.clone();
        for (k, v) in bad.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let (status, answer) = calendars(
            &t,
            Method::POST,
            "/calendars/events/appointments",
            Some(body),
        )
        .await;
        assert!(status == 400 || status == 422, "{bad}: {status} {answer}");
    }
    let (status, _) = calendars(
        &t,
        Method::PUT,
        "/calendars/events/appointments/nope",
        Some(json!({"appointmentStatus": "cancelled"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(t.sim.contact(&contact.id).unwrap().appointments.is_empty());
}

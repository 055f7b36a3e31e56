//! Custom-field keys resolved to ids: missing fields, fields created later, stale ids.

use std::sync::{Arc, Mutex};

use domain::job::ErrorClass;
use domain::plan::FieldValue;
use domain::ports::CrmGateway;
use ghl_sim::SimConfig;
use serde_json::{Value, json};

use crate::fake::{Answer, FakeGhl, Received};
use crate::support::{TestSim, client, contact_id, location};

fn field(key: &str, value: &str) -> FieldValue {
    FieldValue {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

fn def(id: &str, key: &str) -> Value {
    json!({"id": id, "name": key, "fieldKey": format!("contact.{key}"), "dataType": "TEXT", "model": "contact"})
}

fn puts(received: &[Received]) -> Vec<Value> {
    received
        .iter()
        .filter(|r| r.method == "PUT")
        .map(Received::json)
        .collect()
}

fn listings(received: &[Received]) -> usize {
    received
        .iter()
        .filter(|r| r.method == "GET" && r.path().ends_with("/customFields"))
        .count()
}

#[tokio::test]
async fn a_field_missing_in_the_location_is_a_validation_error_that_says_what_to_do() {
    let t = TestSim::with_config(SimConfig {
        custom_fields: vec!["appointment_status".into()],
        ..SimConfig::default()
    })
    .await;
    let contact = t.seed_contact();

    let error = t
        .client
        .update_custom_fields(
            &t.location,
            &contact,
            &[
                field("appointment_status", "confirmed"),
                field("last_service_date", "2030-01-19"),
            ],
        )
        .await
        .unwrap_err();

    assert_eq!(error.class, ErrorClass::Validation);
    assert_eq!(error.status, None);
    assert_eq!(
        error.message,
        "custom field `last_service_date` does not exist in GHL location sim-location; \
         create it or change the configuration"
    );
    assert_eq!(
        t.count_calls("PUT", ""),
        0,
        "nothing is written when a key is missing"
    );
    assert_eq!(t.count_calls("GET", "/customFields"), 1);
}

#[tokio::test]
async fn an_unknown_key_refreshes_a_warm_cache_once_before_giving_up() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();
    t.client
        .update_custom_fields(
            &t.location,
            &contact,
            &[field("appointment_status", "scheduled")],
        )
        .await
        .unwrap();

    let error = t
        .client
        .update_custom_fields(&t.location, &contact, &[field("favourite_colour", "blue")])
        .await
        .unwrap_err();

    assert_eq!(error.class, ErrorClass::Validation);
    assert!(error.message.contains("`favourite_colour`"), "{error}");
    assert_eq!(t.count_calls("GET", "/customFields"), 2);
    assert_eq!(t.count_calls("PUT", ""), 1);
}

#[tokio::test]
async fn a_display_name_is_accepted_when_no_key_matches() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();

    t.client
        .update_custom_fields(
            &t.location,
            &contact,
            &[field("Appointment Status", "confirmed")],
        )
        .await
        .unwrap();

    let stored = t.sim.contact(contact.as_str()).unwrap().contact;
    assert_eq!(
        stored.custom_field(&t.field_id("appointment_status")),
        Some(&json!("confirmed"))
    );
}

/// A location whose custom fields the test can change, answering every write with 200.
struct ChangingLocation {
    fake: FakeGhl,
    fields: Arc<Mutex<Vec<Value>>>,
}

impl ChangingLocation {
    async fn start(fields: Vec<Value>, put_answers: Vec<u16>) -> Self {
        let fields = Arc::new(Mutex::new(fields));
        let listed = Arc::clone(&fields);
        let put_answers = Mutex::new(put_answers);
        let fake = FakeGhl::start(move |request| {
            if request.method == "GET" {
                return Answer::json(200, json!({"customFields": *listed.lock().unwrap()}));
            }
            let mut answers = put_answers.lock().unwrap();
            let status = if answers.is_empty() {
                200
            } else {
                answers.remove(0)
            };
            let message =
                json!(["customFields.0: the field is not a custom field of this location"]);
            match status {
                200 => Answer::json(200, json!({"succeded": true, "contact": {"id": "c1"}})),
                status => Answer::json(status, json!({"statusCode": status, "message": message})),
            }
        })
        .await;
        ChangingLocation { fake, fields }
    }
}

#[tokio::test]
async fn a_field_created_after_the_first_resolution_is_found_by_a_refresh() {
    let location_fields =
        ChangingLocation::start(vec![def("id-status", "appointment_status")], vec![]).await;
    let c = client(&location_fields.fake.base_url, "t");
    let (loc, contact) = (location("loc1"), contact_id("c1"));
    c.update_custom_fields(&loc, &contact, &[field("appointment_status", "scheduled")])
        .await
        .unwrap();

    location_fields
        .fields
        .lock()
        .unwrap()
        .push(def("id-last", "last_service_date"));
    c.update_custom_fields(&loc, &contact, &[field("last_service_date", "2030-01-19")])
        .await
        .unwrap();

    let received = location_fields.fake.received();
    assert_eq!(listings(&received), 2);
    assert_eq!(
        puts(&received),
        [
            json!({"customFields": [{"id": "id-status", "field_value": "scheduled"}]}),
            json!({"customFields": [{"id": "id-last", "field_value": "2030-01-19"}]}),
        ]
    );
}

#[tokio::test]
async fn a_422_after_a_field_was_recreated_refreshes_the_ids_and_writes_again() {
    let location_fields =
        ChangingLocation::start(vec![def("old-id", "appointment_status")], vec![200, 422]).await;
    let c = client(&location_fields.fake.base_url, "t");
    let (loc, contact) = (location("loc1"), contact_id("c1"));
    let status = [field("appointment_status", "confirmed")];
    c.update_custom_fields(&loc, &contact, &status)
        .await
        .unwrap();

    // Someone deletes the field in GHL and creates it again: same key, new id.
    *location_fields.fields.lock().unwrap() = vec![def("new-id", "appointment_status")];
    c.update_custom_fields(&loc, &contact, &status)
        .await
        .unwrap();

    let received = location_fields.fake.received();
    assert_eq!(listings(&received), 2);
    let ids: Vec<Value> = puts(&received)
        .iter()
        .map(|body| body["customFields"][0]["id"].clone())
        .collect();
    assert_eq!(ids, [json!("old-id"), json!("old-id"), json!("new-id")]);
}

#[tokio::test]
async fn a_422_with_unchanged_ids_is_reported_without_writing_again() {
    let location_fields = ChangingLocation::start(
        vec![def("id-status", "appointment_status")],
        vec![200, 422, 422],
    )
    .await;
    let c = client(&location_fields.fake.base_url, "t");
    let (loc, contact) = (location("loc1"), contact_id("c1"));
    let status = [field("appointment_status", "confirmed")];
    c.update_custom_fields(&loc, &contact, &status)
        .await
        .unwrap();

    let error = c
        .update_custom_fields(&loc, &contact, &status)
        .await
        .unwrap_err();

    assert_eq!(error.class, ErrorClass::Validation);
    assert_eq!(error.status, Some(422));
    assert!(
        error
            .message
            .contains("not a custom field of this location"),
        "{error}"
    );
    let received = location_fields.fake.received();
    assert_eq!(listings(&received), 2);
    assert_eq!(puts(&received).len(), 2);
}

#[tokio::test]
async fn a_field_deleted_in_ghl_is_reported_as_missing_after_a_422() {
    let location_fields =
        ChangingLocation::start(vec![def("id-status", "appointment_status")], vec![200, 422]).await;
    let c = client(&location_fields.fake.base_url, "t");
    let (loc, contact) = (location("loc1"), contact_id("c1"));
    let status = [field("appointment_status", "confirmed")];
    c.update_custom_fields(&loc, &contact, &status)
        .await
        .unwrap();

    location_fields.fields.lock().unwrap().clear();
    let error = c
        .update_custom_fields(&loc, &contact, &status)
        .await
        .unwrap_err();

    assert_eq!(error.class, ErrorClass::Validation);
    assert!(
        error
            .message
            .starts_with("custom field `appointment_status` does not exist in GHL location loc1"),
        "{error}"
    );
}

#[tokio::test]
async fn caches_of_different_locations_are_separate() {
    let location_fields =
        ChangingLocation::start(vec![def("id-status", "appointment_status")], vec![]).await;
    let c = client(&location_fields.fake.base_url, "t");
    let status = [field("appointment_status", "confirmed")];

    for loc in ["locA", "locB", "locA"] {
        c.update_custom_fields(&location(loc), &contact_id("c1"), &status)
            .await
            .unwrap();
    }

    let listed: Vec<_> = location_fields
        .fake
        .received()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(
        listed,
        [
            "/locations/locA/customFields",
            "/locations/locB/customFields"
        ]
    );
}

#[tokio::test]
async fn jobs_starting_together_list_the_fields_once() {
    let t = TestSim::start().await;
    let shared = Arc::new(client(&t.sim.base_url, &t.sim.config().api_key));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (client, contact, location) =
                (Arc::clone(&shared), t.seed_contact(), t.location.clone());
            tokio::spawn(async move {
                client
                    .update_custom_fields(
                        &location,
                        &contact,
                        &[field("appointment_status", "scheduled")],
                    )
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let listings = t
        .sim
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/customFields"))
        .count();
    assert_eq!(listings, 1);
}

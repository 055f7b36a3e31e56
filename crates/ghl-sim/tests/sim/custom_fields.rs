use ghl_sim::{Sim, SimConfig};
use reqwest::Method;
use serde_json::json;

use crate::helpers::TestSim;

#[tokio::test]
async fn the_location_lists_the_default_contact_fields() {
    let t = TestSim::start().await;

    let (status, body) = t
        .call(
            Method::GET,
            "/locations/sim-location/customFields?model=contact",
            None,
        )
        .await;

    assert_eq!(status, 200);
    let fields = body["customFields"].as_array().unwrap();
    let keys: Vec<&str> = fields
        .iter()
        .map(|f| f["fieldKey"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "contact.appointment_status",
            "contact.next_appointment_date",
            "contact.last_service_date"
        ]
    );
    let first = &fields[0];
    assert_eq!(first["id"], json!(t.field_id("appointment_status")));
    assert_eq!(first["name"], "Appointment Status");
    assert_eq!(first["dataType"], "TEXT");
    assert_eq!(first["model"], "contact");
    assert_eq!(first["locationId"], "sim-location");
}

#[tokio::test]
async fn field_ids_are_stable_across_sims_and_fields_are_configurable() {
    let one = Sim::start(SimConfig::default()).await.unwrap();
    let two = Sim::start(SimConfig::default()).await.unwrap();
    assert_eq!(
        one.custom_field_id("appointment_status"),
        two.custom_field_id("appointment_status")
    );

    let custom = TestSim::with(SimConfig {
        custom_fields: vec!["contact.service_type".into()],
        ..SimConfig::default()
    })
    .await;
    let (_, body) = custom
        .call(Method::GET, "/locations/sim-location/customFields", None)
        .await;
    assert_eq!(body["customFields"].as_array().unwrap().len(), 1);
    assert_eq!(body["customFields"][0]["fieldKey"], "contact.service_type");
}

#[tokio::test]
async fn opportunity_fields_are_none_and_an_unknown_model_is_422() {
    let t = TestSim::start().await;
    let path = "/locations/sim-location/customFields";

    let (status, body) = t
        .call(Method::GET, &format!("{path}?model=opportunity"), None)
        .await;
    assert_eq!((status, body), (200, json!({"customFields": []})));

    let (status, _) = t
        .call(Method::GET, &format!("{path}?model=deal"), None)
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn another_location_is_403() {
    let t = TestSim::start().await;

    let (status, body) = t
        .call(
            Method::GET,
            "/locations/other-location/customFields?model=contact",
            None,
        )
        .await;

    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"statusCode": 403, "message": "The token does not have access to this location.",
               "error": "Forbidden"})
    );
}

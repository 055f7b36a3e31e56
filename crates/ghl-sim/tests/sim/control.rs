use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestSim, send};

#[tokio::test]
async fn every_api_call_is_logged_in_order_with_status_and_body() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let tags = format!("/contacts/{}/tags", contact.id);

    t.call(Method::POST, &tags, Some(json!({"tags": ["a"]})))
        .await;
    t.call(Method::GET, "/contacts/ghost", None).await;
    send(t.bare(
        Method::GET,
        "/locations/sim-location/customFields?model=contact",
    ))
    .await;

    let (status, calls) = send(t.bare(Method::GET, "/_sim/calls")).await;
    assert_eq!(status, 200);
    let calls = calls.as_array().unwrap();
    let summary: Vec<(Value, Value, Value)> = calls
        .iter()
        .map(|c| (c["method"].clone(), c["path"].clone(), c["status"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!("POST"), json!(tags), json!(201)),
            (json!("GET"), json!("/contacts/ghost"), json!(400)),
            (
                json!("GET"),
                json!("/locations/sim-location/customFields"),
                json!(401)
            ),
        ]
    );
    assert_eq!(calls[0]["body"], json!({"tags": ["a"]}));
    assert_eq!(calls[1]["body"], Value::Null);
    assert_eq!(calls[2]["query"], "model=contact");
    assert!(calls[0]["at"].is_string());
    // The same log, without HTTP.
    assert_eq!(t.sim.calls().len(), 3);
}

#[tokio::test]
async fn clearing_the_log_forgets_earlier_calls_and_inspection_is_not_logged() {
    let t = TestSim::start().await;
    t.call(Method::GET, "/contacts/ghost", None).await;

    let (status, _) = send(t.bare(Method::DELETE, "/_sim/calls")).await;
    assert_eq!(status, 204);
    send(t.bare(Method::GET, "/_sim/healthz")).await;
    t.call(Method::GET, "/contacts/other", None).await;

    let (_, calls) = send(t.bare(Method::GET, "/_sim/calls")).await;
    let paths: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/contacts/other"]);
}

#[tokio::test]
async fn a_contact_can_be_seeded_over_http_and_inspected_with_its_notes_and_tasks() {
    let t = TestSim::start().await;

    let seed = json!({"id": "c-1", "email": "ann@example.com", "firstName": "Ann",
                      "customFields": {"contact.appointment_status": "scheduled"}});
    let (status, seeded) = send(t.bare(Method::POST, "/_sim/contacts").json(&seed)).await;
    assert_eq!(status, 201, "{seeded}");
    assert_eq!(seeded["contact"]["id"], "c-1");
    assert_eq!(seeded["contact"]["name"], "Ann");

    t.call(
        Method::POST,
        "/contacts/c-1/notes",
        Some(json!({"body": "hello"})),
    )
    .await;
    let (status, state) = send(t.bare(Method::GET, "/_sim/contacts/c-1")).await;
    assert_eq!(status, 200);
    assert_eq!(state["contact"]["email"], "ann@example.com");
    assert_eq!(
        state["contact"]["customFields"],
        json!([{"id": t.field_id("appointment_status"), "value": "scheduled"}])
    );
    assert_eq!(state["notes"][0]["body"], "hello");
    assert_eq!(state["tasks"], json!([]));

    let (status, _) = send(t.bare(Method::POST, "/_sim/contacts").json(&seed)).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn seeding_generates_an_id_and_rejects_unknown_fields() {
    let t = TestSim::start().await;

    let (status, seeded) = send(t.bare(Method::POST, "/_sim/contacts").json(&json!({}))).await;
    assert_eq!(status, 201);
    assert_eq!(seeded["contact"]["id"].as_str().unwrap().len(), 20);

    let bad = json!({"customFields": {"no_such_field": "x"}});
    assert_eq!(
        send(t.bare(Method::POST, "/_sim/contacts").json(&bad))
            .await
            .0,
        422
    );
    let bad = json!({"gender": "x"});
    assert_eq!(
        send(t.bare(Method::POST, "/_sim/contacts").json(&bad))
            .await
            .0,
        422
    );
}

#[tokio::test]
async fn inspecting_an_unknown_contact_is_404_and_health_is_ok() {
    let t = TestSim::start().await;
    assert_eq!(
        send(t.bare(Method::GET, "/_sim/contacts/ghost")).await.0,
        404
    );
    let (status, body) = send(t.bare(Method::GET, "/_sim/healthz")).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

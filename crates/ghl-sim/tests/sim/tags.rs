use ghl_sim::SeedContact;
use reqwest::Method;
use serde_json::json;

use crate::helpers::TestSim;

#[tokio::test]
async fn adding_tags_is_201_with_all_tags_lower_cased_and_deduplicated() {
    let t = TestSim::start().await;
    let contact = t.seed(SeedContact {
        tags: vec!["customer".into()],
        ..SeedContact::default()
    });
    let path = format!("/contacts/{}/tags", contact.id);

    let body = json!({"tags": ["Appointment-Scheduled", "CUSTOMER", " appointment-scheduled "]});
    let (status, response) = t.call(Method::POST, &path, Some(body)).await;

    assert_eq!(status, 201);
    assert_eq!(
        response,
        json!({"tags": ["customer", "appointment-scheduled"]})
    );
    assert_eq!(
        t.sim.contact(&contact.id).unwrap().contact.tags,
        vec!["customer", "appointment-scheduled"]
    );
}

#[tokio::test]
async fn removing_tags_takes_a_json_body_on_delete_and_answers_200() {
    let t = TestSim::start().await;
    let contact = t.seed(SeedContact {
        tags: vec!["a".into(), "appointment-scheduled".into(), "b".into()],
        ..SeedContact::default()
    });
    let path = format!("/contacts/{}/tags", contact.id);

    let body = json!({"tags": ["Appointment-Scheduled", "not-there"]});
    let (status, response) = t.call(Method::DELETE, &path, Some(body)).await;

    assert_eq!(status, 200);
    assert_eq!(response, json!({"tags": ["a", "b"]}));
    assert!(
        !t.sim
            .contact(&contact.id)
            .unwrap()
            .contact
            .has_tag("appointment-scheduled")
    );
}

#[tokio::test]
async fn tags_need_a_tags_array() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}/tags", contact.id);

    let (status, body) = t.call(Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], json!(["tags should not be empty"]));

    let (status, body) = t
        .call(Method::POST, &path, Some(json!({"tags": [1]})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        json!(["each value in tags must be a string"])
    );
}

#[tokio::test]
async fn tagging_an_unknown_contact_is_400() {
    let t = TestSim::start().await;

    let (status, body) = t
        .call(
            Method::POST,
            "/contacts/ghost/tags",
            Some(json!({"tags": ["a"]})),
        )
        .await;

    assert_eq!(status, 400);
    assert_eq!(body["message"], "Contact with id ghost not found");
}

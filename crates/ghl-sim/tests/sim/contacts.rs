use ghl_sim::SeedContact;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestSim, VERSION, send};

#[tokio::test]
async fn get_contact_returns_the_contact_with_tags_and_custom_fields() {
    let t = TestSim::start().await;
    let contact = t.seed(SeedContact {
        email: Some("ann@example.com".into()),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        tags: vec!["VIP".into()],
        custom_fields: [("appointment_status".to_owned(), json!("scheduled"))].into(),
        ..SeedContact::default()
    });

    let (status, body) = t
        .call(Method::GET, &format!("/contacts/{}", contact.id), None)
        .await;

    assert_eq!(status, 200);
    let got = &body["contact"];
    assert_eq!(got["id"], json!(contact.id));
    assert_eq!(got["locationId"], "sim-location");
    assert_eq!(got["email"], "ann@example.com");
    assert_eq!(got["name"], "Ann Lee");
    assert_eq!(got["tags"], json!(["vip"]));
    assert_eq!(
        got["customFields"],
        json!([{"id": t.field_id("appointment_status"), "value": "scheduled"}])
    );
    assert!(got["dateAdded"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn an_unknown_contact_is_400_contact_not_found() {
    let t = TestSim::start().await;

    let (status, body) = t.call(Method::GET, "/contacts/nope", None).await;

    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"statusCode": 400, "message": "Contact with id nope not found"})
    );
    let (status, _) = t
        .call(
            Method::PUT,
            "/contacts/nope",
            Some(json!({"firstName": "X"})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn put_contact_updates_fields_and_answers_succeded() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");

    let body =
        json!({"firstName": "Ann", "lastName": "Lee", "address1": "1 Main St", "city": "Utrecht"});
    let (status, response) = t
        .call(
            Method::PUT,
            &format!("/contacts/{}", contact.id),
            Some(body),
        )
        .await;

    assert_eq!(status, 200, "{response}");
    assert_eq!(response["succeded"], true);
    assert_eq!(response["contact"]["name"], "Ann Lee");
    assert_eq!(response["contact"]["city"], "Utrecht");
    let stored = t.sim.contact(&contact.id).unwrap().contact;
    assert_eq!(stored.address1.as_deref(), Some("1 Main St"));
    assert_eq!(stored.email.as_deref(), Some("ann@example.com"));
}

#[tokio::test]
async fn put_contact_sets_and_clears_custom_fields_by_id_or_key() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}", contact.id);
    let status_id = t.field_id("appointment_status");
    let date_id = t.field_id("next_appointment_date");

    let set = json!({"customFields": [
        {"id": status_id, "field_value": "confirmed"},
        {"key": "contact.next_appointment_date", "fieldValue": "2026-07-01"}
    ]});
    let (status, body) = t.call(Method::PUT, &path, Some(set)).await;
    assert_eq!(status, 200, "{body}");
    let stored = t.sim.contact(&contact.id).unwrap().contact;
    assert_eq!(stored.custom_field(&status_id), Some(&json!("confirmed")));
    assert_eq!(stored.custom_field(&date_id), Some(&json!("2026-07-01")));

    let clear = json!({"customFields": [{"id": date_id, "field_value": ""}]});
    let (status, body) = t.call(Method::PUT, &path, Some(clear)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["contact"]["customFields"],
        json!([{"id": status_id, "value": "confirmed"}])
    );
}

#[tokio::test]
async fn an_unknown_custom_field_id_is_422_and_changes_nothing() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");

    let body = json!({"firstName": "Changed", "customFields": [{"id": "noSuchField", "field_value": "x"}]});
    let (status, response) = t
        .call(
            Method::PUT,
            &format!("/contacts/{}", contact.id),
            Some(body),
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(response["error"], "Unprocessable Entity");
    assert!(
        response["message"][0]
            .as_str()
            .unwrap()
            .contains("noSuchField")
    );
    assert_eq!(t.sim.contact(&contact.id).unwrap().contact.first_name, None);
}

#[tokio::test]
async fn an_unknown_property_is_422_like_ghl_rejects_gender_on_put() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");

    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/contacts/{}", contact.id),
            Some(json!({"gender": "male"})),
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"statusCode": 422, "message": ["property gender should not exist"],
               "error": "Unprocessable Entity"})
    );
}

#[tokio::test]
async fn a_body_of_the_wrong_type_is_422() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");

    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/contacts/{}", contact.id),
            Some(json!({"dnd": "yes", "tags": "a"})),
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        json!(["dnd must be a boolean value", "tags must be an array"])
    );
}

#[tokio::test]
async fn malformed_json_is_400() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let request = t
        .api(Method::PUT, &format!("/contacts/{}", contact.id))
        .header("Content-Type", "application/json")
        .body("{\"firstName\": ");

    let (status, body) = send(request).await;

    assert_eq!(status, 400);
    assert_eq!(body["statusCode"], 400);
}

#[tokio::test]
async fn upsert_creates_then_matches_by_email_then_by_phone() {
    let t = TestSim::start().await;
    let create =
        json!({"locationId": "sim-location", "email": "Ann@Example.com", "firstName": "Ann"});

    let (status, first) = t.call(Method::POST, "/contacts/upsert", Some(create)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["new"], true);
    assert!(first["traceId"].is_string());
    let id = first["contact"]["id"].as_str().unwrap().to_owned();

    let by_email = json!({"locationId": "sim-location", "email": "ann@example.com",
                          "phone": "+31 6 1234 5678", "gender": "female"});
    let (status, second) = t
        .call(Method::POST, "/contacts/upsert", Some(by_email))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (second["new"].clone(), second["contact"]["id"].clone()),
        (json!(false), json!(id))
    );

    let by_phone =
        json!({"locationId": "sim-location", "phone": "+31612345678", "lastName": "Lee"});
    let (_, third) = t
        .call(Method::POST, "/contacts/upsert", Some(by_phone))
        .await;
    assert_eq!(third["new"], false);
    assert_eq!(third["contact"]["id"], json!(id));
    assert_eq!(third["contact"]["name"], "Ann Lee");
    // GHL drops `gender` when upsert updates an existing contact (highlevel-api-docs#313).
    assert_eq!(second["contact"].get("gender"), None);
}

#[tokio::test]
async fn upsert_needs_a_location_id_and_only_the_own_location() {
    let t = TestSim::start().await;

    let (status, body) = t
        .call(
            Method::POST,
            "/contacts/upsert",
            Some(json!({"email": "a@b.c"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], json!(["locationId should not be empty"]));

    let other = json!({"locationId": "someone-else", "email": "a@b.c"});
    let (status, body) = t.call(Method::POST, "/contacts/upsert", Some(other)).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "The token does not have access to this location."
    );
}

#[tokio::test]
async fn create_contact_is_201_and_a_duplicate_email_is_400_with_the_existing_id() {
    let t = TestSim::start().await;
    let body = json!({"locationId": "sim-location", "email": "ann@example.com", "tags": ["New"]});

    let (status, created) = t.call(Method::POST, "/contacts/", Some(body.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["contact"]["tags"], json!(["new"]));

    let (status, duplicate) = t.call(Method::POST, "/contacts/", Some(body)).await;
    assert_eq!(status, 400);
    assert_eq!(
        duplicate["message"],
        "This location does not allow duplicated contacts."
    );
    assert_eq!(duplicate["meta"]["contactId"], created["contact"]["id"]);
    assert_eq!(duplicate["meta"]["matchingField"], "email");
}

#[tokio::test]
async fn a_route_ghl_does_not_have_is_404_cannot_method_path() {
    let t = TestSim::start().await;

    let (status, body) = t.call(Method::GET, "/contacts/x/everything", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Cannot GET /contacts/x/everything");

    let request = t
        .bare(Method::PATCH, "/contacts/x")
        .header("Version", VERSION);
    let (status, body) = send(request).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Cannot PATCH /contacts/x");
}

//! What goes over the wire: bodies valid against GHL's official schemas, and headers.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use domain::plan::{FieldValue, NoteEffect, TaskEffect};
use domain::ports::CrmGateway;
use ghl_sim::openapi::Spec;
use serde_json::{Value, json};

use crate::fake::{Answer, FakeGhl};
use crate::support::{TestSim, client, contact_id, location};

/// Runs every operation of the port once (a field cleared, a field set).
async fn exercise_every_operation(t: &TestSim) {
    let contact = t.seed_contact();
    let c = &t.client;
    let loc = &t.location;
    c.add_note(
        loc,
        &contact,
        &NoteEffect {
            body: "note".into(),
        },
    )
    .await
    .unwrap();
    c.add_tags(loc, &contact, &["a".into(), "b".into()])
        .await
        .unwrap();
    c.remove_tags(loc, &contact, &["a".into()]).await.unwrap();
    let fields = [
        FieldValue {
            key: "appointment_status".into(),
            value: "confirmed".into(),
        },
        FieldValue {
            key: "next_appointment_date".into(),
            value: String::new(),
        },
    ];
    c.update_custom_fields(loc, &contact, &fields)
        .await
        .unwrap();
    let task = TaskEffect {
        title: "Prepare the visit".into(),
        body: "body".into(),
        due_at: Utc.with_ymd_and_hms(2030, 1, 19, 9, 0, 0).unwrap(),
    };
    c.create_task(loc, &contact, &task).await.unwrap();
    c.get_contact(loc, &contact).await.unwrap();
    // The seeded contact is found by its email; nothing is created.
    let found = c.upsert_contact(loc, &lead(loc)).await.unwrap();
    assert_eq!(found, contact);
}

/// A lead with the seeded contact's email and phone but no contact id.
pub fn lead(location: &domain::ids::LocationId) -> domain::lead::Lead {
    use domain::contact::{Address, Email, PersonName, Phone};
    domain::lead::Lead {
        id: domain::ids::LeadId::new(),
        location_id: location.clone(),
        ghl_contact_id: None,
        name: Some(PersonName::parse("Ann de Vries").unwrap()),
        email: Some(Email::parse("ann@example.com").unwrap()),
        phone: Some(Phone::parse("+31 6 12345678").unwrap()),
        address: Some(Address::parse("Dorpsstraat 1, Utrecht").unwrap()),
        source: "booking".into(),
        lifecycle: domain::lead::Lifecycle::Lead,
        customer_since: None,
        services_completed: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[tokio::test]
async fn every_request_body_validates_against_the_official_schema_of_its_operation() {
    let t = TestSim::start().await;
    exercise_every_operation(&t).await;

    // The sim's embedded copy of GHL's `apps/contacts.json` and `apps/locations.json`
    // (its own test keeps it byte-identical to the reference copy). Bodies are validated
    // as sent, without the sim's allowances for undocumented spellings.
    let spec = Spec::embedded().unwrap();
    let mut operations = BTreeSet::new();
    for call in t.sim.calls() {
        assert!((200..300).contains(&call.status), "{call:?}");
        let (op, _) = spec
            .match_request(&call.method, &call.path)
            .unwrap_or_else(|| panic!("{} {} is not a GHL operation", call.method, call.path));
        match spec.request_schema(&op.method, &op.path) {
            Some(schema) => {
                assert!(
                    call.body.is_object(),
                    "{} sent no JSON body",
                    op.operation_id
                );
                assert_eq!(
                    schema.validate(&call.body),
                    Ok(()),
                    "{}: {}",
                    op.operation_id,
                    call.body
                );
            }
            None => assert_eq!(call.body, Value::Null, "{} takes no body", op.operation_id),
        }
        operations.insert(op.operation_id.clone());
    }
    assert_eq!(
        operations,
        BTreeSet::from(
            [
                "create-note",
                "add-tags",
                "remove-tags",
                "get-custom-fields",
                "update-contact",
                "create-task",
                "get-contact",
                "upsert-contact",
            ]
            .map(str::to_owned)
        )
    );
}

#[tokio::test]
async fn requests_carry_the_token_the_version_and_json_headers() {
    let fake = FakeGhl::start(|request| match request.path() {
        "/locations/loc1/customFields" => Answer::json(
            200,
            json!({"customFields": [{"id": "f1", "name": "Status", "fieldKey": "contact.status", "model": "contact"}]}),
        ),
        "/contacts/c1" if request.method == "GET" => {
            Answer::json(200, json!({"contact": {"id": "c1", "tags": [], "customFields": []}}))
        }
        _ => Answer::json(201, json!({})),
    })
    .await;
    let c = client(&fake.base_url, "pit-123");
    let (loc, contact) = (location("loc1"), contact_id("c1"));

    c.add_note(&loc, &contact, &NoteEffect { body: "n".into() })
        .await
        .unwrap();
    c.remove_tags(&loc, &contact, &["x".into()]).await.unwrap();
    let status = FieldValue {
        key: "status".into(),
        value: "v".into(),
    };
    c.update_custom_fields(&loc, &contact, &[status])
        .await
        .unwrap();
    c.get_contact(&loc, &contact).await.unwrap();

    let received = fake.received();
    let seen: Vec<_> = received
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(
        seen,
        [
            "POST /contacts/c1/notes",
            "DELETE /contacts/c1/tags",
            "GET /locations/loc1/customFields?model=contact",
            "PUT /contacts/c1",
            "GET /contacts/c1",
        ]
    );
    for request in &received {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer pit-123"),
            "{}",
            request.target
        );
        assert_eq!(
            request.header("version"),
            Some("2021-07-28"),
            "{}",
            request.target
        );
        assert_eq!(
            request.header("accept"),
            Some("application/json"),
            "{}",
            request.target
        );
        let has_body = request.method != "GET";
        let content_type = request.header("content-type");
        assert_eq!(
            content_type,
            has_body.then_some("application/json"),
            "{}",
            request.target
        );
        assert_eq!(request.body.is_empty(), !has_body, "{}", request.target);
    }
    assert_eq!(received[1].json(), json!({"tags": ["x"]}));
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_or_a_prefix_is_joined_cleanly() {
    let fake = FakeGhl::script(vec![Answer::json(201, json!({}))]).await;
    let c = client(&format!("{}/prefix/", fake.base_url), "t");

    c.add_note(
        &location("loc1"),
        &contact_id("c1"),
        &NoteEffect { body: "n".into() },
    )
    .await
    .unwrap();

    assert_eq!(fake.received()[0].target, "/prefix/contacts/c1/notes");
}

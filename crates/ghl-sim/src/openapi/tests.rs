use serde_json::{Value, json};

use super::Spec;

fn spec() -> &'static Spec {
    Spec::embedded().unwrap()
}

fn validate(schema: &str, body: Value) -> Result<(), Vec<String>> {
    spec()
        .schema("contacts.json", schema)
        .unwrap()
        .validate(&body)
}

#[test]
fn every_ref_in_the_vendored_specs_resolves() {
    fn walk(spec: &Spec, doc: usize, value: &Value, unresolved: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref")
                    && spec.resolve(doc, reference).is_none()
                {
                    unresolved.push(reference.clone());
                }
                map.values().for_each(|v| walk(spec, doc, v, unresolved));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(spec, doc, v, unresolved)),
            _ => {}
        }
    }
    let spec = spec();
    let mut unresolved = Vec::new();
    for (doc, (_, value)) in spec.docs.iter().enumerate() {
        walk(spec, doc, value, &mut unresolved);
    }
    assert_eq!(unresolved, Vec::<String>::new());
}

#[test]
fn operations_are_found_by_method_and_template() {
    let spec = spec();
    let op = spec.operation("put", "/contacts/{contactId}").unwrap();
    assert_eq!(op.operation_id, "update-contact");
    assert_eq!(
        spec.version_enum("GET", "/locations/{locationId}/customFields"),
        Some(&["2021-07-28".to_owned()][..])
    );
    // The spec writes the create route with a trailing slash; both spellings match.
    assert_eq!(
        spec.operation("POST", "/contacts").unwrap().operation_id,
        "create-contact"
    );
    assert!(spec.operation("PATCH", "/contacts/{contactId}").is_none());
    assert_eq!(
        spec.request_schema("POST", "/contacts/{contactId}/notes")
            .unwrap()
            .name(),
        Some("NotesDTO")
    );
    assert!(
        spec.request_schema("GET", "/contacts/{contactId}")
            .is_none()
    );
}

#[test]
fn request_paths_match_the_most_specific_template() {
    let spec = spec();
    let (op, params) = spec.match_request("POST", "/contacts/upsert").unwrap();
    assert_eq!(
        (op.operation_id.as_str(), params.len()),
        ("upsert-contact", 0)
    );
    let (op, params) = spec.match_request("GET", "/contacts/abc/notes").unwrap();
    assert_eq!(op.operation_id, "get-all-notes");
    assert_eq!(params, vec![("contactId".to_owned(), "abc".to_owned())]);
    let (op, _) = spec.match_request("POST", "/contacts").unwrap();
    assert_eq!(op.operation_id, "create-contact");
    assert!(spec.match_request("GET", "/contacts//notes").is_none());
    assert!(spec.match_request("GET", "/nothing/here").is_none());
}

#[test]
fn a_complete_note_is_valid_and_a_note_without_body_is_not() {
    assert_eq!(
        validate(
            "NotesDTO",
            json!({"body": "hi", "userId": "u1", "pinned": false})
        ),
        Ok(())
    );
    assert_eq!(
        validate("NotesDTO", json!({"userId": "u1"})),
        Err(vec!["body should not be empty".to_owned()])
    );
}

#[test]
fn wrong_types_are_reported_with_class_validator_wording() {
    assert_eq!(
        validate("NotesDTO", json!({"body": 5, "pinned": "yes"})),
        Err(vec![
            "body must be a string".to_owned(),
            "pinned must be a boolean value".to_owned()
        ])
    );
    assert_eq!(
        validate("TagsDTO", json!({"tags": "vip"})),
        Err(vec!["tags must be an array".to_owned()])
    );
    assert_eq!(
        validate("TagsDTO", json!({"tags": ["vip", 7]})),
        Err(vec!["each value in tags must be a string".to_owned()])
    );
    assert_eq!(
        validate("NotesDTO", json!(["body"])),
        Err(vec!["request body must be an object".to_owned()])
    );
}

#[test]
fn unknown_properties_are_rejected_like_ghl_does() {
    assert_eq!(validate("TagsDTO", json!({"tags": ["a"]})), Ok(()));
    assert_eq!(
        validate("TagsDTO", json!({"tags": ["a"], "force": true})),
        Err(vec!["property force should not exist".to_owned()])
    );
    // The exact case of highlevel-api-docs#313: gender is not part of UpdateContactDto.
    assert_eq!(
        spec().validate_request_body("PUT", "/contacts/{contactId}", &json!({"gender": "male"})),
        Err(vec!["property gender should not exist".to_owned()])
    );
}

#[test]
fn a_task_needs_title_due_date_and_completed() {
    let task = json!({"title": "Call", "dueDate": "2020-10-25T11:00:00Z", "completed": false});
    assert_eq!(validate("CreateTaskParams", task), Ok(()));
    assert_eq!(
        validate("CreateTaskParams", json!({"title": "Call"})),
        Err(vec![
            "dueDate should not be empty".to_owned(),
            "completed should not be empty".to_owned()
        ])
    );
}

#[test]
fn update_contact_accepts_every_documented_custom_field_shape() {
    let body = json!({
        "firstName": "Ann",
        "email": null,
        "dateOfBirth": "1990-09-25",
        "dndSettings": {"SMS": {"status": "active"}},
        "customFields": [
            {"id": "f1", "field_value": "text"},
            {"id": "f2", "key": "count", "field_value": 100},
            {"id": "f3", "field_value": ["a", "b"]},
            {"id": "f4", "field_value": {"uuid": {"url": "https://x"}}}
        ]
    });
    assert_eq!(validate("UpdateContactDto", body), Ok(()));
}

#[test]
fn a_custom_field_matching_no_any_of_branch_reports_the_closest_one() {
    let missing_id = json!({"customFields": [{"field_value": "x"}]});
    assert_eq!(
        validate("UpdateContactDto", missing_id),
        Err(vec!["customFields.0.id should not be empty".to_owned()])
    );
    let unknown_property = json!({"customFields": [{"id": "f1", "value": "x"}]});
    assert_eq!(
        validate("UpdateContactDto", unknown_property),
        Err(vec![
            "customFields.0.property value should not exist".to_owned()
        ])
    );
    let wrong_value = json!({"customFields": [{"id": "f1", "field_value": true}]});
    assert!(validate("UpdateContactDto", wrong_value).is_err());
}

#[test]
fn nested_schemas_report_their_path_and_enum_violations() {
    let body = json!({"dndSettings": {"SMS": {"status": "maybe"}, "Fax": {}}});
    assert_eq!(
        validate("UpdateContactDto", body),
        Err(vec![
            "dndSettings.property Fax should not exist".to_owned(),
            "dndSettings.SMS.status must be one of the following values: active, inactive, permanent"
                .to_owned()
        ])
    );
}

#[test]
fn nullable_fields_accept_null_and_the_others_do_not() {
    assert_eq!(validate("UpdateContactDto", json!({"phone": null})), Ok(()));
    assert_eq!(
        validate("UpdateContactDto", json!({"postalCode": null})),
        Err(vec!["postalCode must be a string".to_owned()])
    );
}

#[test]
fn upsert_requires_a_location_and_knows_gender() {
    let body = json!({"locationId": "loc", "email": "a@b.c", "gender": "female",
                      "createNewIfDuplicateAllowed": false});
    assert_eq!(validate("UpsertContactDto", body), Ok(()));
    assert_eq!(
        validate("UpsertContactDto", json!({"email": "a@b.c"})),
        Err(vec!["locationId should not be empty".to_owned()])
    );
}

#[test]
fn schemas_in_the_common_document_resolve_from_relative_refs() {
    let spec = spec();
    let unprocessable = spec
        .schema("common-schemas.json", "UnprocessableDTO")
        .unwrap();
    assert_eq!(
        unprocessable.validate(&json!({"statusCode": 422, "message": ["x"], "error": "y"})),
        Ok(())
    );
    assert!(unprocessable.validate(&json!({"message": "x"})).is_err());
}

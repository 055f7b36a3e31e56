use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::operation::Operation;

fn class_of(code: u16) -> ErrorClass {
    classify(StatusCode::from_u16(code).unwrap())
}

fn error_for(code: u16, body: Value) -> CrmError {
    status_error(
        &Operation::AddNote.spec(),
        StatusCode::from_u16(code).unwrap(),
        None,
        body.to_string().as_bytes(),
    )
}

#[test]
fn bad_request_is_a_validation_error() {
    assert_eq!(class_of(400), ErrorClass::Validation);
}

#[test]
fn unauthorized_is_an_auth_error() {
    assert_eq!(class_of(401), ErrorClass::Auth);
}

#[test]
fn forbidden_is_an_auth_error() {
    assert_eq!(class_of(403), ErrorClass::Auth);
}

#[test]
fn not_found_is_not_found() {
    assert_eq!(class_of(404), ErrorClass::NotFound);
}

#[test]
fn request_timeout_is_transient() {
    assert_eq!(class_of(408), ErrorClass::Transient);
}

#[test]
fn unprocessable_entity_is_a_validation_error() {
    assert_eq!(class_of(422), ErrorClass::Validation);
}

#[test]
fn too_many_requests_is_rate_limited() {
    assert_eq!(class_of(429), ErrorClass::RateLimited);
}

#[test]
fn server_errors_and_gateway_failures_are_transient() {
    for code in [500, 502, 503, 504, 507, 599] {
        assert_eq!(class_of(code), ErrorClass::Transient, "{code}");
    }
}

#[test]
fn not_implemented_is_permanent() {
    assert_eq!(class_of(501), ErrorClass::Permanent);
}

#[test]
fn other_client_errors_are_permanent() {
    for code in [402, 405, 409, 410, 413, 415, 451] {
        assert_eq!(class_of(code), ErrorClass::Permanent, "{code}");
    }
}

#[test]
fn redirects_and_informational_answers_are_permanent() {
    for code in [100, 301, 302, 304] {
        assert_eq!(class_of(code), ErrorClass::Permanent, "{code}");
    }
}

#[test]
fn ghls_bad_request_for_an_unknown_contact_is_not_found() {
    let error = error_for(
        400,
        json!({"statusCode": 400, "message": "Contact with id abc not found"}),
    );
    assert_eq!(error.class, ErrorClass::NotFound);
    assert_eq!(error.status, Some(400));
}

#[test]
fn another_bad_request_stays_a_validation_error() {
    let error = error_for(
        400,
        json!({"statusCode": 400, "message": "dueDate must be a valid ISO date"}),
    );
    assert_eq!(error.class, ErrorClass::Validation);
}

#[test]
fn the_message_names_operation_status_and_ghls_message() {
    let error = error_for(
        401,
        json!({"statusCode": 401, "message": "Invalid token: access token is invalid", "error": "Unauthorized"}),
    );
    assert_eq!(
        error.message,
        "add_note (POST /contacts/{contactId}/notes) answered HTTP 401 Unauthorized: \
         Invalid token: access token is invalid"
    );
}

#[test]
fn validation_messages_in_a_list_are_joined() {
    let error = error_for(
        422,
        json!({"statusCode": 422, "message": ["property gender should not exist", "body must be a string"]}),
    );
    assert!(
        error
            .message
            .ends_with(": property gender should not exist; body must be a string"),
        "{}",
        error.message
    );
}

#[test]
fn long_ghl_messages_are_truncated() {
    let error = error_for(400, json!({"message": "x".repeat(5000)}));
    assert!(
        error.message.chars().count() < 300,
        "{}",
        error.message.len()
    );
    assert!(error.message.ends_with('…'));
}

#[test]
fn a_body_that_is_not_ghl_json_is_not_copied() {
    let error = status_error(
        &Operation::AddNote.spec(),
        StatusCode::BAD_GATEWAY,
        None,
        b"<html>secret@example.com</html>",
    );
    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(
        error.message,
        "add_note (POST /contacts/{contactId}/notes) answered HTTP 502 Bad Gateway"
    );
}

#[test]
fn retry_after_in_seconds_and_as_a_date() {
    let now = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("Tue, 01 Jan 2030 12:00:30 GMT", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Tue, 01 Jan 2030 11:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-3", now), None);
}

#[test]
fn truncation_respects_character_boundaries() {
    assert_eq!(truncate("ééé", 2), "éé…");
    assert_eq!(truncate("abc", 3), "abc");
}

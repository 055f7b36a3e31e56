//! Failures are classified for the retry logic and described without personal data.

use std::time::Duration;

use domain::job::{CrmError, ErrorClass};
use domain::plan::{FieldValue, NoteEffect};
use domain::ports::CrmGateway;
use serde_json::json;

use crate::fake::{Answer, FakeGhl, closed_port_url};
use crate::support::{TestSim, contact_id, impatient_client, location};

fn note() -> NoteEffect {
    NoteEffect {
        body: "Appointment booked for ann@example.com".into(),
    }
}

async fn add_note_against(base_url: &str) -> CrmError {
    impatient_client(base_url)
        .add_note(&location("loc1"), &contact_id("c1"), &note())
        .await
        .unwrap_err()
}

async fn add_note_answered(status: u16) -> CrmError {
    let fake = FakeGhl::status(status).await;
    add_note_against(&fake.base_url).await
}

// --- against the sim ---

#[tokio::test]
async fn a_wrong_token_is_an_auth_error() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();

    let error = t
        .client_with_token("not-the-token")
        .add_note(&t.location, &contact, &note())
        .await
        .unwrap_err();

    assert_eq!(error.class, ErrorClass::Auth);
    assert_eq!(error.status, Some(401));
    assert_eq!(
        error.message,
        "add_note (POST /contacts/{contactId}/notes) answered HTTP 401 Unauthorized: \
         Invalid token: access token is invalid"
    );
    assert!(t.sim.contact(contact.as_str()).unwrap().notes.is_empty());
}

#[tokio::test]
async fn an_unknown_contact_is_not_found_for_reads_and_writes() {
    let t = TestSim::start().await;
    let ghost = contact_id("ghostContactId000000");

    let read = t.client.get_contact(&t.location, &ghost).await.unwrap_err();
    let write = t
        .client
        .add_note(&t.location, &ghost, &note())
        .await
        .unwrap_err();
    let fields = [FieldValue {
        key: "appointment_status".into(),
        value: "confirmed".into(),
    }];
    let update = t
        .client
        .update_custom_fields(&t.location, &ghost, &fields)
        .await
        .unwrap_err();

    for error in [read, write, update] {
        assert_eq!(error.class, ErrorClass::NotFound, "{error}");
        assert!(error.message.contains("not found"), "{error}");
    }
}

#[tokio::test]
async fn a_location_the_token_may_not_access_is_an_auth_error() {
    let t = TestSim::start().await;
    let contact = t.seed_contact();
    let fields = [FieldValue {
        key: "appointment_status".into(),
        value: "confirmed".into(),
    }];

    let error = t
        .client
        .update_custom_fields(&location("someOtherLocation"), &contact, &fields)
        .await
        .unwrap_err();

    assert_eq!(error.class, ErrorClass::Auth);
    assert_eq!(error.status, Some(403));
    assert!(error.message.starts_with("list_custom_fields"), "{error}");
}

// --- answers the sim cannot give ---

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_the_wait_ghl_asked_for() {
    let fake = FakeGhl::script(vec![
        Answer::json(
            429,
            json!({"statusCode": 429, "message": "Too Many Requests"}),
        )
        .with_header("retry-after", "7"),
    ])
    .await;

    let error = add_note_against(&fake.base_url).await;

    assert_eq!(error.class, ErrorClass::RateLimited);
    assert_eq!(error.status, Some(429));
    // The location is paused for the 7 s, longer than this client waits: no retry, the
    // job level gets the wait (what is left of it).
    let wait = error.retry_after.unwrap();
    assert!(
        wait > Duration::from_secs(6) && wait <= Duration::from_secs(7),
        "{wait:?}"
    );
    assert_eq!(fake.received().len(), 1);
    assert!(
        error
            .message
            .ends_with("HTTP 429 Too Many Requests: Too Many Requests"),
        "{error}"
    );
}

#[tokio::test]
async fn too_many_requests_without_retry_after_pauses_the_location_for_one_window() {
    let fake = FakeGhl::status(429).await;
    let error = add_note_against(&fake.base_url).await;
    assert_eq!(error.class, ErrorClass::RateLimited);
    // No headers: one window of the configured limits (1 s in these tests).
    let wait = error.retry_after.unwrap();
    assert!(
        wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn server_errors_are_transient() {
    for status in [500, 502, 503, 504] {
        let error = add_note_answered(status).await;
        assert_eq!(error.class, ErrorClass::Transient, "{status}");
        assert_eq!(error.status, Some(status));
        assert!(
            error.message.ends_with(&format!("fake {status}")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn not_implemented_is_permanent() {
    let error = add_note_answered(501).await;
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.status, Some(501));
}

#[tokio::test]
async fn request_timeout_is_transient() {
    assert_eq!(add_note_answered(408).await.class, ErrorClass::Transient);
}

#[tokio::test]
async fn other_statuses_follow_the_table() {
    for (status, class) in [
        (400, ErrorClass::Validation),
        (403, ErrorClass::Auth),
        (404, ErrorClass::NotFound),
        (409, ErrorClass::Permanent),
        (422, ErrorClass::Validation),
    ] {
        assert_eq!(add_note_answered(status).await.class, class, "{status}");
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let fake = FakeGhl::script(vec![
        Answer::json(302, json!({})).with_header("location", "http://127.0.0.1:9/elsewhere"),
    ])
    .await;

    let error = add_note_against(&fake.base_url).await;

    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.status, Some(302));
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn a_server_that_does_not_answer_times_out_as_transient() {
    let fake = FakeGhl::script(vec![Answer::Hang]).await;

    let error = add_note_against(&fake.base_url).await;

    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(error.status, None);
    assert!(
        error
            .message
            .starts_with("add_note (POST /contacts/{contactId}/notes) timed out"),
        "{error}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let error = add_note_against(&closed_port_url().await).await;

    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(error.status, None);
    assert!(error.message.contains("could not connect"), "{error}");
}

#[tokio::test]
async fn an_unreadable_contact_is_permanent() {
    let fake = FakeGhl::script(vec![Answer::json(200, json!({"contacts": []}))]).await;

    let error = impatient_client(&fake.base_url)
        .get_contact(&location("loc1"), &contact_id("c1"))
        .await
        .unwrap_err();

    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(error.message.contains("unexpected body"), "{error}");
}

#[tokio::test]
async fn error_messages_never_carry_our_request_body() {
    let fake = FakeGhl::script(vec![Answer::Reply {
        status: 400,
        headers: vec![],
        body: "Appointment booked for ann@example.com".into(),
    }])
    .await;

    let error = add_note_against(&fake.base_url).await;

    assert_eq!(error.class, ErrorClass::Validation);
    assert!(!error.message.contains("ann@example.com"), "{error}");
}

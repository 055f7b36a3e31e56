use ghl_sim::SimConfig;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestSim, VERSION, send};

#[tokio::test]
async fn a_request_without_a_token_is_401_with_the_common_body() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}", contact.id);

    let (status, body) = send(t.bare(Method::GET, &path).header("Version", VERSION)).await;

    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"statusCode": 401, "message": "Invalid token: access token is invalid",
               "error": "Unauthorized"})
    );
}

#[tokio::test]
async fn a_request_with_a_wrong_token_is_401() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let request = t
        .bare(Method::GET, &format!("/contacts/{}", contact.id))
        .bearer_auth("not-the-key")
        .header("Version", VERSION);

    let (status, body) = send(request).await;

    assert_eq!(status, 401);
    assert_eq!(body["message"], "Invalid token: access token is invalid");
}

#[tokio::test]
async fn a_missing_version_header_is_401_like_the_live_api() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let request = t
        .bare(Method::GET, &format!("/contacts/{}", contact.id))
        .bearer_auth("sim-api-key");

    let (status, body) = send(request).await;

    assert_eq!(status, 401);
    assert_eq!(body["message"], "version header was not found.");
}

#[tokio::test]
async fn a_version_the_operation_does_not_list_is_401() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}", contact.id);

    // The calendars API's version, sent to a contacts operation.
    let request = t
        .bare(Method::GET, &path)
        .bearer_auth("sim-api-key")
        .header("Version", "2021-04-15");
    let (status, body) = send(request).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "version header is invalid");
}

#[tokio::test]
async fn every_published_version_is_accepted_when_configured() {
    let t = TestSim::with(SimConfig {
        accept_all_published_versions: true,
        ..SimConfig::default()
    })
    .await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}", contact.id);
    for (version, expected) in [
        ("2021-04-15", 200),
        ("2023-02-21", 200),
        ("v3", 200),
        ("2020-01-01", 401),
    ] {
        let request = t
            .bare(Method::GET, &path)
            .bearer_auth("sim-api-key")
            .header("Version", version);
        assert_eq!(send(request).await.0, expected, "Version {version}");
    }
}

#[tokio::test]
async fn the_token_is_checked_before_the_body() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let request = t
        .bare(Method::POST, &format!("/contacts/{}/tags", contact.id))
        .header("Version", VERSION)
        .json(&json!({"nonsense": 1}));

    assert_eq!(send(request).await.0, 401);
    assert!(t.sim.contact(&contact.id).unwrap().contact.tags.is_empty());
}

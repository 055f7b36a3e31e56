//! Building the client: configuration mistakes are reported at start-up, secrets stay hidden.

use std::time::Duration;

use ghl_adapter::{BuildError, GhlClient, GhlConfig};
use secrecy::SecretString;

use crate::support::{config, install_crypto};

#[test]
fn the_defaults_are_ghls_production_api_and_a_30_second_timeout() {
    let config = GhlConfig::new(SecretString::from("pit"));
    assert_eq!(config.base_url, "https://services.leadconnectorhq.com");
    assert_eq!(config.request_timeout, Duration::from_secs(30));
    assert!(config.connect_timeout <= config.request_timeout);
}

#[test]
fn the_production_base_url_builds_a_client() {
    install_crypto();
    let client = GhlClient::new(GhlConfig::new(SecretString::from("pit"))).unwrap();
    assert_eq!(client.base_url(), "https://services.leadconnectorhq.com");
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    install_crypto();
    for url in [
        "services.leadconnectorhq.com",
        "ftp://example.com",
        "",
        "https://x.test/?a=b",
    ] {
        let error = GhlClient::new(config(url, "pit")).unwrap_err();
        assert!(
            matches!(error, BuildError::InvalidBaseUrl { .. }),
            "{url}: {error}"
        );
    }
}

#[test]
fn an_empty_or_unsendable_token_is_refused_without_showing_it() {
    install_crypto();
    for token in ["", "   ", "line\nbreak-secret"] {
        let error = GhlClient::new(config("https://x.test", token)).unwrap_err();
        assert!(matches!(error, BuildError::InvalidToken), "{error}");
        assert!(!error.to_string().contains("secret"));
    }
}

#[test]
fn debug_output_shows_no_token() {
    install_crypto();
    let config = config("https://x.test", "pit-very-secret");
    assert!(!format!("{config:?}").contains("very-secret"));
    let client = GhlClient::new(config).unwrap();
    assert_eq!(
        format!("{client:?}"),
        r#"GhlClient { base_url: "https://x.test", .. }"#
    );
}

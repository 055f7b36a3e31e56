//! Configuration of the GHL client, and what can go wrong building it.

use std::time::Duration;

use secrecy::SecretString;

/// How to reach GHL. The binaries fill it from the environment (`GHL_API_BASE_URL`,
/// `GHL_API_KEY`); the adapter reads no environment itself.
#[derive(Debug, Clone)]
pub struct GhlConfig {
    /// Scheme, host and optional path prefix, e.g. `https://services.leadconnectorhq.com`.
    pub base_url: String,
    /// A sub-account Private Integration Token (or a location OAuth access token).
    pub token: SecretString,
    /// Limit for a whole call: connecting, sending and reading the answer.
    pub request_timeout: Duration,
    /// Limit for establishing the connection (TCP and TLS).
    pub connect_timeout: Duration,
}

impl GhlConfig {
    /// GHL's production API.
    pub const DEFAULT_BASE_URL: &'static str = "https://services.leadconnectorhq.com";
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The production base URL and default timeouts, with `token`.
    pub fn new(token: SecretString) -> Self {
        GhlConfig {
            base_url: Self::DEFAULT_BASE_URL.to_owned(),
            token,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
        }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// The client could not be built: a configuration mistake, reported at start-up.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("GHL base URL `{url}` is invalid: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    /// Empty, or holds characters an HTTP header cannot carry. The token is not shown.
    #[error("the GHL token is empty or not a valid header value")]
    InvalidToken,
    #[error(
        "no rustls crypto provider is installed; call \
         `rustls::crypto::ring::default_provider().install_default()` at start-up"
    )]
    NoCryptoProvider,
    #[error("building the HTTP client failed: {0}")]
    Http(#[source] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GhlClient;

    // No test of this binary installs a crypto provider: this one needs none installed.
    #[test]
    fn building_without_a_crypto_provider_is_an_error_not_a_panic() {
        let error = GhlClient::new(GhlConfig::new(SecretString::from("pit"))).unwrap_err();
        assert!(matches!(error, BuildError::NoCryptoProvider), "{error}");
    }
}

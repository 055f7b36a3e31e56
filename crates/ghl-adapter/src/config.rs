//! Configuration of the GHL client, and what can go wrong building it.

use std::time::Duration;

use domain::ports::RateLimits;
use secrecy::SecretString;

use crate::retry::RetryConfig;

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
    /// Per-call retries (the seed's: 3 retries, 1 s doubling to 30 s, 30 % jitter).
    pub retry: RetryConfig,
    /// GHL's limits per location. Used by the in-process limiter when no shared one is
    /// wired in ([`crate::GhlClient::with_rate_limiter`]), and for the pause after a 429
    /// that carries no headers.
    pub rate_limits: RateLimits,
    /// This process's own smoothing per location (the seed's 10 req/s); 0 turns it off.
    pub max_requests_per_second: f64,
    /// How long one call waits for its location's budget (a pause, a spent day) before
    /// failing with `RateLimited` so the job is rescheduled.
    pub rate_limit_max_wait: Duration,
}

impl GhlConfig {
    /// GHL's production API.
    pub const DEFAULT_BASE_URL: &'static str = "https://services.leadconnectorhq.com";
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The seed's client-side smoothing.
    pub const DEFAULT_MAX_REQUESTS_PER_SECOND: f64 = 10.0;

    /// The production base URL and default timeouts, with `token`.
    pub fn new(token: SecretString) -> Self {
        GhlConfig {
            base_url: Self::DEFAULT_BASE_URL.to_owned(),
            token,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            retry: RetryConfig::default(),
            rate_limits: RateLimits::default(),
            max_requests_per_second: Self::DEFAULT_MAX_REQUESTS_PER_SECOND,
            rate_limit_max_wait: crate::limit::DEFAULT_MAX_WAIT,
        }
    }

    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    pub fn with_max_requests_per_second(mut self, rps: f64) -> Self {
        self.max_requests_per_second = rps;
        self
    }

    pub fn with_rate_limit_max_wait(mut self, wait: Duration) -> Self {
        self.rate_limit_max_wait = wait;
        self
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

//! Shared set-up: a sim with a client pointed at it.

use std::time::Duration;

use domain::ids::{GhlContactId, LocationId};
use domain::ports::RateLimits;
use ghl_adapter::{GhlClient, GhlConfig, RetryConfig};
use ghl_sim::{RunningSim, SeedContact, Sim, SimConfig};
use secrecy::SecretString;

/// reqwest needs a process-wide rustls provider; the binaries install ring at start-up.
pub fn install_crypto() {
    // Fails when another test installed it first, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Fast retries (1 ms doubling, no jitter) and no pacing, so tests do not wait.
pub fn config(base_url: &str, token: &str) -> GhlConfig {
    GhlConfig::new(SecretString::from(token))
        .with_base_url(base_url)
        .with_retry(fast_retries())
        .with_rate_limits(RateLimits {
            burst: 100_000,
            window: Duration::from_secs(1),
            ..RateLimits::default()
        })
        .with_max_requests_per_second(0.0)
}

pub fn fast_retries() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        initial_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
        jitter: 0.0,
    }
}

pub fn client(base_url: &str, token: &str) -> GhlClient {
    install_crypto();
    GhlClient::new(config(base_url, token)).unwrap()
}

/// A client with short timeouts, for servers that misbehave on purpose.
pub fn impatient_client(base_url: &str) -> GhlClient {
    install_crypto();
    let config = config(base_url, "fake-token")
        .with_rate_limit_max_wait(Duration::from_millis(200))
        .with_request_timeout(Duration::from_millis(300))
        .with_connect_timeout(Duration::from_millis(300));
    GhlClient::new(config).unwrap()
}

pub fn location(id: &str) -> LocationId {
    LocationId::parse(id).unwrap()
}

pub fn contact_id(id: &str) -> GhlContactId {
    GhlContactId::parse(id).unwrap()
}

/// A running sim and a client with the right token.
pub struct TestSim {
    pub sim: RunningSim,
    pub client: GhlClient,
    pub location: LocationId,
}

impl TestSim {
    pub async fn start() -> Self {
        TestSim::with_config(SimConfig::default()).await
    }

    pub async fn with_config(config: SimConfig) -> Self {
        let sim = Sim::start(config).await.unwrap();
        let client = client(&sim.base_url, &sim.config().api_key);
        let location = location(&sim.config().location_id);
        TestSim {
            sim,
            client,
            location,
        }
    }

    /// A client for this sim with another token.
    pub fn client_with_token(&self, token: &str) -> GhlClient {
        client(&self.sim.base_url, token)
    }

    pub fn seed(&self, seed: SeedContact) -> GhlContactId {
        contact_id(&self.sim.seed_contact(seed).unwrap().id)
    }

    pub fn seed_contact(&self) -> GhlContactId {
        self.seed(SeedContact {
            email: Some("ann@example.com".into()),
            phone: Some("+31 6 12345678".into()),
            first_name: Some("Ann".into()),
            ..Default::default()
        })
    }

    pub fn field_id(&self, key: &str) -> String {
        self.sim.custom_field_id(key).unwrap()
    }

    /// How many calls of `method` on paths ending with `suffix` the sim received.
    pub fn count_calls(&self, method: &str, suffix: &str) -> usize {
        self.sim
            .calls()
            .iter()
            .filter(|c| c.method == method && c.path.ends_with(suffix))
            .count()
    }
}

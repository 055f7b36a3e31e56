use ghl_sim::{Contact, RunningSim, SeedContact, Sim, SimConfig};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

pub const VERSION: &str = "2021-07-28";

/// A running sim and an HTTP client that talks to it like a GHL client would.
pub struct TestSim {
    pub sim: RunningSim,
    pub client: reqwest::Client,
}

impl TestSim {
    pub async fn start() -> Self {
        Self::with(SimConfig::default()).await
    }

    pub async fn with(config: SimConfig) -> Self {
        // Only https needs a crypto provider; installing one keeps the client builder happy.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Sim::start(config).await.unwrap();
        TestSim {
            sim,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url)
    }

    /// A request without any GHL headers.
    pub fn bare(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request with the right token and `Version`.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.bare(method, path)
            .bearer_auth(&self.sim.config().api_key)
            .header("Version", VERSION)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = self.api(method, path);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        send(request).await
    }

    pub fn seed(&self, seed: SeedContact) -> Contact {
        self.sim.seed_contact(seed).unwrap()
    }

    pub fn seed_email(&self, email: &str) -> Contact {
        self.seed(SeedContact {
            email: Some(email.to_owned()),
            ..SeedContact::default()
        })
    }

    pub fn field_id(&self, key: &str) -> String {
        self.sim.custom_field_id(key).unwrap()
    }
}

/// Status and JSON body (`null` when the body is not JSON).
pub async fn send(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

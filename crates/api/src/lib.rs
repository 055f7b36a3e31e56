//! The booking HTTP API: appointments, availability and leads, behind a bearer
//! JWT; health endpoints open. Handlers parse input into domain types, call the
//! use cases of `domain::service`, and never wait for GHL: the sync intent is
//! written to the outbox in the same transaction and a worker does the rest.
//!
//! - [`config`]: command line and environment.
//! - [`auth`]: HS256 JWT verification.
//! - [`error`]: the one error type, rendered as `{"error": code, "message": …}`.
//! - [`extract`]: JSON, path and query extractors that reject with that error.
//! - [`dto`]: request and response bodies (camelCase, as in the seed).
//! - [`routes`]: the handlers and the router.
//! - [`ops`], [`ops_config`], [`metrics`]: `POST /sync`, `/monitor`, `/metrics`.
//! - [`telemetry`]: tracing set-up and the request span.
//! - [`ghl_signature`]: GHL webhook signatures (Ed25519, legacy RSA) over the raw body.
//! - [`webhook_config`]: the webhook endpoints' settings; handlers in `routes::webhooks`.

pub mod auth;
pub mod config;
pub mod dto;
pub mod error;
pub mod extract;
pub mod ghl_signature;
pub mod metrics;
pub mod ops;
pub mod ops_config;
pub mod routes;
pub mod telemetry;
pub mod webhook_config;

use std::sync::Arc;

use domain::ports::{AppointmentRepository, LeadRepository};
use domain::service::BookingService;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Whether the service can do its work (the database answers).
#[async_trait::async_trait]
pub trait Readiness: Send + Sync {
    async fn check(&self) -> Result<(), String>;
}

pub struct App {
    pub booking: BookingService,
    pub appointments: Arc<dyn AppointmentRepository>,
    pub leads: Arc<dyn LeadRepository>,
    pub jwt: auth::JwtVerifier,
    pub readiness: Arc<dyn Readiness>,
    pub ops: Arc<ops::Operations>,
}

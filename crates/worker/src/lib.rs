//! The sync worker: drains the outbox into GoHighLevel.
//!
//! - [`alerts`]: chat-webhook alerts on dead-lettered jobs and health changes.
//! - [`admin`]: the admin HTTP port (`/metrics`, `/healthz`).
//! - [`auth_watch`]: probes locations paused for a refused GHL token; ends the pause.
//! - [`config`]: command line and environment ([`ghl_limits`]: GHL's budget, retries).
//! - [`ghl_oauth`]: OAuth (Marketplace app) tokens instead of `GHL_API_KEY`.
//! - [`dlq`]: `worker dlq list | retry | discard`, the dead-letter queue for operators.
//! - [`maintenance`]: periodic pruning of old finished jobs (retention).
//! - [`runner`]: the claim → run → record loop with graceful shutdown.
//! - [`telemetry`]: tracing set-up.

pub mod admin;
pub mod alerts;
pub mod auth_watch;
pub mod calendar;
pub mod config;
pub mod dlq;
pub mod ghl_limits;
pub mod ghl_oauth;
pub mod maintenance;
pub mod runner;
pub mod telemetry;

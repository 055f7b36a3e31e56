//! The sync worker: drains the outbox into GoHighLevel.
//!
//! - [`alerts`]: chat-webhook alerts on dead-lettered jobs and health changes.
//! - [`admin`]: the admin HTTP port (`/metrics`, `/healthz`).
//! - [`config`]: command line and environment.
//! - [`runner`]: the claim → run → record loop with graceful shutdown.
//! - [`telemetry`]: tracing set-up.

pub mod admin;
pub mod alerts;
pub mod config;
pub mod runner;
pub mod telemetry;

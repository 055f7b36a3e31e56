//! The sync worker: drains the outbox into GoHighLevel.
//!
//! - [`config`]: command line and environment.
//! - [`runner`]: the claim → run → record loop with graceful shutdown.
//! - [`telemetry`]: tracing set-up.

pub mod config;
pub mod runner;
pub mod telemetry;

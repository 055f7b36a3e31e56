//! The sync worker: drains the outbox into GoHighLevel.
//!
//! - [`config`]: command line and environment ([`ghl_limits`]: GHL's budget, retries).
//! - [`runner`]: the claim → run → record loop with graceful shutdown.
//! - [`telemetry`]: tracing set-up.

pub mod config;
pub mod ghl_limits;
pub mod runner;
pub mod telemetry;

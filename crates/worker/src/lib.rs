//! The sync worker: drains the outbox into GoHighLevel.
//!
//! - [`auth_watch`]: probes locations paused for a refused GHL token; ends the pause.
//! - [`config`]: command line and environment ([`ghl_limits`]: GHL's budget, retries).
//! - [`dlq`]: `worker dlq list | retry | discard`, the dead-letter queue for operators.
//! - [`maintenance`]: periodic pruning of old finished jobs (retention).
//! - [`runner`]: the claim → run → record loop with graceful shutdown.
//! - [`telemetry`]: tracing set-up.

pub mod auth_watch;
pub mod config;
pub mod dlq;
pub mod ghl_limits;
pub mod maintenance;
pub mod runner;
pub mod telemetry;

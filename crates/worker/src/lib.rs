//! The sync worker: drains the outbox into GoHighLevel.
//!
//! - [`config`]: command line and environment.
//! - [`dlq`]: `worker dlq list | retry | discard`, the dead-letter queue for operators.
//! - [`runner`]: the claim → run → record loop with graceful shutdown.
//! - [`telemetry`]: tracing set-up.

pub mod config;
pub mod dlq;
pub mod runner;
pub mod telemetry;

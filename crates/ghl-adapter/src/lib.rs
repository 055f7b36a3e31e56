//! The CRM port ([`domain::ports::CrmGateway`]) implemented against the GoHighLevel API v2.
//!
//! - [`config`]: what the binaries pass in (base URL, Private Integration Token, timeouts).
//! - `operation`: the table of GHL operations this adapter calls, with their `Version`.
//! - `transport`: the one place a request is sent (headers, token, logging, classification).
//! - `classify`: HTTP status and transport failures → [`domain::job::ErrorClass`].
//! - [`retry`]: which failures are retried per call (a table), and the backoff.
//! - `limit`: the location budget in front of every attempt (shared
//!   [`domain::ports::RateLimiter`], in-process smoothing, GHL's `X-RateLimit-*` headers).
//! - `dto`: GHL's request and response shapes, private to this crate.
//! - `fields`: custom-field keys resolved to GHL ids, cached per location.
//! - [`client`]: [`GhlClient`], the `CrmGateway` implementation.
//! - [`metered`]: [`Metered`], a decorator adding a span and metrics per CRM call.
//!
//! Invariants: the token never leaves `transport` (and never reaches a log or an error);
//! request bodies, emails and phone numbers are never logged or copied into errors.

pub mod client;
pub mod config;
pub mod metered;

pub mod retry;

mod classify;
mod dto;
mod fields;
mod limit;
mod operation;
mod transport;

pub use client::GhlClient;
pub use config::{BuildError, GhlConfig};
pub use limit::InProcessRateLimiter;
pub use metered::Metered;
pub use retry::RetryConfig;

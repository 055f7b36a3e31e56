//! Integration tests of the GHL adapter over real HTTP: against `ghl-sim` (which checks
//! auth, `Version` and every body against GHL's OpenAPI schemas) and, for answers the sim
//! cannot give, against a tiny scripted server.

// Test helpers outside `#[test]` functions panic on purpose.
#![allow(clippy::unwrap_used)]

mod fake;
mod support;

mod calendar;
mod construction;
mod custom_fields;
mod failures;
mod lookup;
mod oauth;
mod operations;
mod requests;
mod retries;

//! The storage adapters against a real PostgreSQL. Every test gets a fresh
//! database from `#[sqlx::test]` (DATABASE_URL names the server), migrated with
//! `storage::MIGRATOR`, so the tests run in parallel and share nothing.

// Test helpers outside `#[test]` functions panic on failure by design.
#![allow(clippy::unwrap_used)]

mod appointments;
mod auth_pause;
mod calendar_links;
mod coalesce;
mod concurrency;
mod dead_letters;
mod leads;
mod link_contact;
mod oauth;
mod operations;
mod pool;
mod queue;
mod rate_limit;
mod retention;
mod schema;
mod support;

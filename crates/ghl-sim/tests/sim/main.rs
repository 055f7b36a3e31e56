//! The sim over real HTTP: one test binary, one module per concern.

// clippy.toml allows unwrap in `#[test]` functions; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

mod auth;
mod behaviour;
mod binary;
mod calendars;
mod contacts;
mod control;
mod custom_fields;
mod helpers;
mod notes_tasks;
mod tags;
mod vendored_specs;

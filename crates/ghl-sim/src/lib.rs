//! `ghl-sim`: a fake GoHighLevel API v2 server for tests, the demo and benchmarks.
//!
//! It serves the contact, tag, note, task, upsert and custom-field operations the sync
//! service uses, with GHL's paths, status codes and bodies, and checks requests the way
//! GHL does: the bearer token, the `Version` header and the body against the official
//! OpenAPI schemas (vendored in `openapi/`), strict about unknown properties. Everything
//! lives in memory; every API call is recorded.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sim = ghl_sim::Sim::start(ghl_sim::SimConfig::default()).await?;
//! let contact = sim.seed_contact(ghl_sim::SeedContact {
//!     email: Some("ann@example.com".into()),
//!     ..Default::default()
//! })?;
//! // ... point the client at `sim.base_url`, then inspect:
//! let state = sim.contact(&contact.id);
//! let calls = sim.calls();
//! # let _ = (state, calls);
//! # Ok(()) }
//! ```
//!
//! Code map:
//!
//! - [`config`]: [`SimConfig`], the location being simulated.
//! - [`behaviour`]: [`SimControl`] (rate limit, faults, latency; changeable at run time
//!   through `PUT /_sim/control`), the rate-limit [`behaviour::Budget`], [`SimStats`].
//! - [`openapi`]: the embedded specs and the request-body validator.
//! - `server`: [`router`], [`Sim`], [`RunningSim`].
//! - `gate`: the middleware: call recording (where rate limits, faults and latency go)
//!   and the auth / `Version` / location / body checks.
//! - `api`: the GHL route handlers; `control`: the `/_sim/` endpoints.
//! - `store`, `contact_update`, `model`: the in-memory data and GHL's write semantics.
//! - `error`: GHL's error bodies, and the reasoning behind each status code.
//! - `compat`: where the live API accepts more than its spec.

pub mod behaviour;
pub mod config;
pub mod openapi;

mod api;
mod calendar;
mod compat;
mod contact_update;
mod control;
mod error;
mod extract;
mod fields;
mod gate;
mod ids;
mod model;
pub mod oauth;
mod server;
mod state;
mod store;

pub use behaviour::{FaultKind, LatencyMs, RateLimit, SimControl, SimStats};
pub use config::{DEFAULT_CUSTOM_FIELDS, PUBLISHED_VERSIONS, SimConfig};
pub use model::{
    CallRecord, Contact, ContactState, CustomFieldDef, CustomFieldValue, Note, SeedContact, Task,
};
pub use server::{RunningSim, Sim, router};
pub use state::SimState;
pub use store::SeedError;

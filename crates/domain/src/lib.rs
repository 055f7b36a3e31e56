//! The pure core of the booking ⇄ GoHighLevel sync service.
//!
//! Nothing in this crate performs I/O: no runtime, database or HTTP client is a
//! dependency (a test checks it from `cargo metadata`). Adapters implement the
//! [`ports`]; the [`service`] module holds the use cases as async functions over
//! those ports, so the API and the worker run the very same pipeline.
//!
//! Table of contents:
//! - [`ids`]: identifiers (`AppointmentId`, `LeadId`, `SyncJobId`, `GhlContactId`, `LocationId`).
//! - [`contact`]: parsed customer data (`Email`, `Phone`, `PersonName`, `Address`, `Customer`).
//! - [`slot`]: time slots, the booking calendar and availability.
//! - [`appointment`]: the appointment state machine.
//! - [`lead`]: leads (people known from GHL or from bookings).
//! - [`intent`]: sync intents written to the outbox with every change.
//! - [`plan`]: planning the GHL effects of an intent (notes, tags, fields, tasks).
//! - [`coalesce`]: merging the contact updates of pending jobs run together.
//! - [`job`]: sync jobs, their statuses, outcomes and error classes.
//! - [`health`]: the monitor's health rules (pure) and recommendations.
//! - [`retry`]: the retry policy (exponential backoff with jitter).
//! - [`inbound`]: GHL → booking: webhook events parsed, and how they change leads and appointments.
//! - [`ports`]: traits the adapters implement.
//! - [`replay`]: re-planning a dead-lettered job from the appointment's current state.
//! - [`service`]: use cases (booking, status changes, running one sync job).

pub mod appointment;
pub mod coalesce;
pub mod contact;
pub mod health;
pub mod ids;
pub mod inbound;
pub mod intent;
pub mod job;
pub mod lead;
pub mod plan;
pub mod ports;
pub mod replay;
pub mod retry;
pub mod service;
pub mod slot;

pub use appointment::{Appointment, AppointmentStatus, TransitionError};
pub use ids::{AppointmentId, GhlContactId, LeadId, LocationId, SyncJobId};
pub use intent::{SyncAction, SyncIntent};

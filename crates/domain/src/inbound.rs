//! GHL → booking: the inbound half of the sync, pure.
//!
//! - [`event`]: the webhook envelope (`type`, `webhookId`, `timestamp`,
//!   `locationId`) and GHL's event payloads parsed into domain types.
//! - [`workflow`]: the snake_case body of GHL's workflow "Webhook" action.
//! - [`contact`]: how a contact event changes a lead (ordering, echo detection).
//! - [`appointment`]: how a GHL appointment event changes our appointment,
//!   through [`Appointment::apply`](crate::Appointment::apply), without an intent.
//!
//! The rules that keep the two directions from ping-ponging live here:
//! inbound changes never produce a sync intent (nothing is written back to GHL),
//! and facts equal to what we already hold are reported as `Unchanged`.

pub mod appointment;
pub mod contact;
pub mod event;
pub mod workflow;

#[cfg(test)]
mod tests;

pub use appointment::{AppointmentDecision, GhlAppointmentStatus, decide_appointment};
pub use contact::{ContactChange, GhlLeadState, LeadPatch, contact_change, delete_is_stale};
pub use event::{
    AppointmentEventKind, Envelope, EnvelopeError, EventError, GhlAppointment, GhlContact,
    GhlEvent, parse_envelope, parse_event,
};
pub use workflow::{WorkflowContact, parse_workflow};

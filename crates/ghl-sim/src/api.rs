//! The simulated GHL API v2 routes. Paths and bodies are the spec's; every route is gated
//! (auth, `Version`, location, body schema) by [`crate::gate`] before a handler runs.

mod activity;
mod calendars;
mod contacts;
mod locations;

use axum::Router;
use axum::routing::{get, post};

use crate::state::SimState;

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/contacts/", post(contacts::create))
        .route("/contacts", post(contacts::create))
        .route("/contacts/upsert", post(contacts::upsert))
        .route(
            "/contacts/{contactId}",
            get(contacts::get_one).put(contacts::update),
        )
        .route(
            "/contacts/{contactId}/tags",
            post(activity::add_tags).delete(activity::remove_tags),
        )
        .route(
            "/contacts/{contactId}/notes",
            get(activity::list_notes).post(activity::create_note),
        )
        .route(
            "/contacts/{contactId}/tasks",
            get(activity::list_tasks).post(activity::create_task),
        )
        .route(
            "/contacts/{contactId}/appointments",
            get(calendars::of_contact),
        )
        .route("/calendars/events/appointments", post(calendars::create))
        .route(
            "/calendars/events/appointments/{eventId}",
            get(calendars::get_one).put(calendars::update),
        )
        .route(
            "/locations/{locationId}/customFields",
            get(locations::custom_fields),
        )
}

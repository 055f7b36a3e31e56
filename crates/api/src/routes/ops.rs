//! The operations routes: the seed's sync trigger and monitor (JWT-protected
//! like `/api`), and `/metrics` (its own token, see `crate::metrics`).

use axum::Router;
use axum::routing::{get, post};

use super::{dashboard, monitor, sync};
use crate::AppState;

/// Routes that need the bearer JWT.
pub fn protected() -> Router<AppState> {
    Router::new()
        .route("/sync", post(sync::sync))
        .route(
            "/.netlify/functions/gohighlevel-appointment-sync",
            post(sync::sync),
        )
        .route("/monitor", get(monitor::get).post(monitor::post))
        .route(
            "/.netlify/functions/gohighlevel-sync-monitor",
            get(monitor::get).post(monitor::post),
        )
}

/// Routes with their own access rule.
pub fn open() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(crate::metrics::render))
        // The dashboard checks its own session cookie (see `dashboard`).
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/login", post(dashboard::login))
        .route("/dashboard/logout", post(dashboard::logout))
        .route("/dashboard/retry", post(dashboard::retry))
        .route("/dashboard/discard", post(dashboard::discard))
}

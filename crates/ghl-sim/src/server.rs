//! Assembling the router and serving it.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::extract::Request;
use axum::middleware::from_fn_with_state;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::behaviour::{SimControl, SimStats};
use crate::config::SimConfig;
use crate::error::GhlError;
use crate::model::{CallRecord, Contact, ContactState, SeedContact};
use crate::state::SimState;
use crate::store::SeedError;
use crate::{api, control, gate, oauth};

/// The whole sim as an axum router, for serving it yourself: the GHL API (gated and
/// recorded) plus the `/_sim/` inspection endpoints.
pub fn router(state: SimState) -> Router {
    let api = api::routes()
        .route_layer(from_fn_with_state(state.clone(), gate::gate))
        .fallback(route_not_found)
        .method_not_allowed_fallback(route_not_found)
        .layer(from_fn_with_state(state.clone(), gate::record));
    api.merge(control::routes())
        .merge(oauth::routes())
        .with_state(state)
}

/// NestJS's answer for a route it does not have.
async fn route_not_found(request: Request) -> GhlError {
    GhlError::RouteNotFound {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
}

/// Starts sims.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Serves a new sim on `127.0.0.1` with a free port, in a tokio task.
    pub async fn start(config: SimConfig) -> anyhow::Result<RunningSim> {
        Sim::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Serves a new sim on `addr` (port 0 picks a free one), in a tokio task.
    pub async fn bind(addr: SocketAddr, config: SimConfig) -> anyhow::Result<RunningSim> {
        let state = SimState::new(config)?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                })
                .await
        });
        Ok(RunningSim {
            base_url: format!("http://{addr}"),
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A sim serving in the background. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningSim {
    /// `http://127.0.0.1:<port>`, the value for `GHL_API_BASE_URL`.
    pub base_url: String,
    pub addr: SocketAddr,
    state: SimState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSim {
    pub fn state(&self) -> &SimState {
        &self.state
    }

    pub fn config(&self) -> &SimConfig {
        self.state.config()
    }

    /// Every API call received so far, in arrival order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.state.calls()
    }

    pub fn clear_calls(&self) {
        self.state.clear_calls();
    }

    /// A contact with its notes and tasks.
    pub fn contact(&self, id: &str) -> Option<ContactState> {
        self.state.contact(id)
    }

    pub fn seed_contact(&self, seed: SeedContact) -> Result<Contact, SeedError> {
        self.state.seed_contact(seed)
    }

    /// The id of the custom field with `key` (with or without `contact.`).
    /// The current rate limit, fault and latency settings.
    pub fn control(&self) -> SimControl {
        self.state.control()
    }

    /// Changes them at run time (like `PUT /_sim/control`).
    pub fn set_control(&self, control: SimControl) -> Result<(), String> {
        self.state.set_control(control)
    }

    /// Request counters (like `GET /_sim/stats`).
    pub fn stats(&self) -> SimStats {
        self.state.stats()
    }

    pub fn custom_field_id(&self, key: &str) -> Option<String> {
        self.state.custom_field_id(key)
    }

    /// Stops accepting connections, lets requests in flight finish, and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.state.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task
                .await
                .context("the sim task failed")?
                .context("serving the sim"),
            None => Ok(()),
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.state.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

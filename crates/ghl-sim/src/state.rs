//! The shared handle on one simulated location.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::behaviour::{Budget, SimControl, SimStats};
use crate::config::SimConfig;
use crate::fields::find_field;
use crate::model::{CallRecord, Contact, ContactState, CustomFieldDef, SeedContact};
use crate::openapi::Spec;
use crate::store::{SeedError, Store};

/// The sim's state: configuration, specs and the in-memory data. Cheap to clone; every
/// clone sees the same data. Reading it needs no HTTP, which is what tests want.
#[derive(Clone)]
pub struct SimState(Arc<Inner>);

struct Inner {
    config: SimConfig,
    spec: &'static Spec,
    store: Mutex<Store>,
    behaviour: Mutex<Behaviour>,
    /// OAuth tokens issued by `POST /oauth/token`.
    oauth: Mutex<crate::oauth::OAuthSim>,
    /// Set when the server shuts down: ends `timeout` faults' holds.
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// The run-time behaviour with its rate-limit state and counters.
#[derive(Debug)]
pub(crate) struct Behaviour {
    pub(crate) control: SimControl,
    pub(crate) budget: Budget,
    pub(crate) stats: SimStats,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl SimState {
    /// Fails only if the embedded specs cannot be parsed (a build defect).
    pub fn new(config: SimConfig) -> anyhow::Result<Self> {
        let spec = Spec::embedded()?;
        let store = Mutex::new(Store::new(&config));
        let control = config.control();
        control
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid sim configuration: {e}"))?;
        let behaviour = Mutex::new(Behaviour {
            control,
            budget: Budget::default(),
            stats: SimStats::default(),
        });
        Ok(SimState(Arc::new(Inner {
            config,
            spec,
            store,
            behaviour,
            oauth: Mutex::new(crate::oauth::OAuthSim::default()),
            shutdown: tokio::sync::watch::Sender::new(false),
        })))
    }

    pub fn config(&self) -> &SimConfig {
        &self.0.config
    }

    pub fn spec(&self) -> &'static Spec {
        self.0.spec
    }

    /// Every API call received so far, in arrival order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.store().calls().to_vec()
    }

    pub fn clear_calls(&self) {
        self.store().clear_calls();
    }

    /// A contact with its notes and tasks.
    pub fn contact(&self, id: &str) -> Option<ContactState> {
        self.store().state(id)
    }

    /// Puts a contact into the sim without an API call.
    pub fn seed_contact(&self, seed: SeedContact) -> Result<Contact, SeedError> {
        self.store().seed(seed)
    }

    /// The location's custom-field definitions.
    pub fn custom_fields(&self) -> Vec<CustomFieldDef> {
        self.store().fields().to_vec()
    }

    /// The id of the custom field with `key` (with or without the `contact.` prefix; an
    /// id is accepted too).
    pub fn custom_field_id(&self, key: &str) -> Option<String> {
        find_field(self.store().fields(), key).map(|f| f.id.clone())
    }

    /// The current rate limit, fault and latency settings.
    pub fn control(&self) -> SimControl {
        self.behaviour().control.clone()
    }

    /// Replaces the settings (after validating them). A changed rate limit starts fresh
    /// windows.
    pub fn set_control(&self, control: SimControl) -> Result<(), String> {
        control.validate()?;
        let mut behaviour = self.behaviour();
        if behaviour.control.rate_limit != control.rate_limit {
            behaviour.budget.reset();
        }
        behaviour.control = control;
        Ok(())
    }

    /// Request counters since the start (or the last [`SimState::clear_stats`]).
    pub fn stats(&self) -> SimStats {
        self.behaviour().stats.clone()
    }

    pub fn clear_stats(&self) {
        self.behaviour().stats = SimStats::default();
    }

    /// Waits `duration`, or until the server shuts down.
    pub(crate) async fn hold(&self, duration: std::time::Duration) {
        let mut shutdown = self.0.shutdown.subscribe();
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            _ = shutdown.wait_for(|down| *down) => {}
        }
    }

    /// Ends every hold, so a graceful shutdown does not wait for them.
    pub(crate) fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    pub(crate) fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        self.0
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the store. A panic while it was held cannot leave it half-written (every
    /// change is applied to a copy first), so a poisoned lock is simply taken over.
    pub(crate) fn oauth(&self) -> MutexGuard<'_, crate::oauth::OAuthSim> {
        self.0.oauth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.0.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

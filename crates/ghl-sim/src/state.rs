//! The shared handle on one simulated location.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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
        Ok(SimState(Arc::new(Inner {
            config,
            spec,
            store,
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

    /// Locks the store. A panic while it was held cannot leave it half-written (every
    /// change is applied to a copy first), so a poisoned lock is simply taken over.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.0.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

//! What a simulated GHL location looks like.

use crate::behaviour::{FaultKind, LatencyMs, RateLimit, SimControl};

/// The custom fields every simulated location has unless configured otherwise: the ones
/// the sync service writes (see DESIGN.md §5).
pub const DEFAULT_CUSTOM_FIELDS: [&str; 3] = [
    "appointment_status",
    "next_appointment_date",
    "last_service_date",
];

/// The `Version` values GHL publishes. The live API accepts any of them on the
/// established routes (an integrator's live probes, 2026-08-03), although each
/// operation's spec lists only one.
pub const PUBLISHED_VERSIONS: [&str; 4] = ["2021-04-15", "2021-07-28", "2023-02-21", "v3"];

/// Configuration of one simulated GHL sub-account (location).
#[derive(Clone, PartialEq)]
pub struct SimConfig {
    /// The only location id the token has access to; others answer 403.
    pub location_id: String,
    /// The token every API request must carry as `Authorization: Bearer <api_key>`.
    pub api_key: String,
    /// Keys of the location's contact custom fields (`appointment_status`, or with the
    /// `contact.` prefix GHL shows in `fieldKey`). All are `TEXT` fields whose ids are
    /// derived from the location id and key, so they are stable across runs.
    pub custom_fields: Vec<String>,
    /// When `false` (the default) the `Version` header must be one the operation's spec
    /// lists, which catches a client sending e.g. the calendars version to contacts. When
    /// `true`, any of [`PUBLISHED_VERSIONS`] is accepted, as the live API does.
    pub accept_all_published_versions: bool,
    /// Share of API requests (0..=1) answered with an injected fault (default 0: none).
    pub fault_rate: f64,
    /// The kinds a fault is drawn from (default 500, 502, 503, timeout, drop).
    pub fault_kinds: Vec<FaultKind>,
    /// Share of faults on writes injected after the write was applied (default 0.5).
    pub fault_after_write_share: f64,
    /// Latency added to every API request (default none).
    pub latency_ms: LatencyMs,
    /// GHL's rate limit (default 100 per 10 s, 200,000 per day).
    pub rate_limit: RateLimit,
}

impl SimConfig {
    /// The run-time behaviour this configuration starts with.
    pub fn control(&self) -> SimControl {
        SimControl {
            fault_rate: self.fault_rate,
            fault_kinds: self.fault_kinds.clone(),
            fault_after_write_share: self.fault_after_write_share,
            latency_ms: self.latency_ms,
            rate_limit: self.rate_limit,
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            location_id: "sim-location".to_owned(),
            api_key: "sim-api-key".to_owned(),
            custom_fields: DEFAULT_CUSTOM_FIELDS.map(str::to_owned).to_vec(),
            accept_all_published_versions: false,
            fault_rate: 0.0,
            fault_kinds: FaultKind::DEFAULTS.to_vec(),
            fault_after_write_share: 0.5,
            latency_ms: LatencyMs::default(),
            rate_limit: RateLimit::default(),
        }
    }
}

/// The API key stays out of `Debug` output (and so out of logs).
impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("location_id", &self.location_id)
            .field("api_key", &"<redacted>")
            .field("custom_fields", &self.custom_fields)
            .field(
                "accept_all_published_versions",
                &self.accept_all_published_versions,
            )
            .field("control", &self.control())
            .finish()
    }
}

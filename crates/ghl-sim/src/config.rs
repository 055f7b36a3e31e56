//! What a simulated GHL location looks like.

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
#[derive(Clone, PartialEq, Eq)]
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
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            location_id: "sim-location".to_owned(),
            api_key: "sim-api-key".to_owned(),
            custom_fields: DEFAULT_CUSTOM_FIELDS.map(str::to_owned).to_vec(),
            accept_all_published_versions: false,
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
            .finish()
    }
}

//! Configuration of the operations endpoints (`POST /sync`, `/monitor`,
//! `/metrics`): the GHL client and the sync settings, with the worker's names
//! and defaults so that one environment file configures both processes alike.
//! Without `GHL_API_KEY` the api still serves everything else; `POST /sync`
//! answers 503 and the monitor's environment check fails.

use std::time::Duration;

use chrono_tz::Tz;
use domain::plan::{EffectSettings, FieldKeys, TagNames};
use domain::retry::RetryPolicy;

#[derive(Debug, Clone, clap::Args)]
pub struct OpsConfig {
    /// GHL Private Integration Token for `POST /sync` (optional: without it `/sync` answers 503).
    #[arg(long, env = "GHL_API_KEY", hide_env_values = true, global = true)]
    pub ghl_api_key: Option<String>,

    /// GHL API base URL.
    #[arg(
        long,
        env = "GHL_API_BASE_URL",
        default_value = "https://services.leadconnectorhq.com",
        global = true
    )]
    pub ghl_api_base_url: String,

    /// Timeout of one GHL request, in seconds.
    #[arg(
        long,
        env = "GHL_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub ghl_request_timeout_seconds: u64,

    /// Bearer token that `GET /metrics` requires (optional: without it `/metrics` is open;
    /// bind the api to a private network then).
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<String>,

    /// How long `POST /sync` holds a job's lease, in seconds.
    #[arg(
        long,
        env = "SYNC_REQUEST_LEASE_SECONDS",
        default_value_t = 120,
        global = true
    )]
    pub sync_request_lease_seconds: u64,

    /// Attempts per job in all, then the dead-letter state (as for the worker).
    #[arg(long, env = "SYNC_MAX_ATTEMPTS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100), global = true)]
    pub sync_max_attempts: u32,
    /// Delay before the first retry, in seconds (as for the worker).
    #[arg(
        long,
        env = "SYNC_RETRY_BASE_SECONDS",
        default_value_t = 300.0,
        global = true
    )]
    pub sync_retry_base_seconds: f64,
    /// Longest delay between attempts, in seconds (as for the worker).
    #[arg(
        long,
        env = "SYNC_RETRY_MAX_SECONDS",
        default_value_t = 3600.0,
        global = true
    )]
    pub sync_retry_max_seconds: f64,
    /// Random share added to each delay (as for the worker).
    #[arg(long, env = "SYNC_RETRY_JITTER", default_value_t = 0.3, global = true)]
    pub sync_retry_jitter: f64,
    /// Jobs of appointments that ended longer ago are dead-lettered, not retried (as for the worker).
    #[arg(long, env = "SYNC_MAX_AGE_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650), global = true)]
    pub sync_max_age_days: u32,

    /// GHL custom-field keys and tag names (as for the worker).
    #[arg(
        long,
        env = "GHL_FIELD_APPOINTMENT_STATUS",
        default_value = "appointment_status",
        global = true
    )]
    pub ghl_field_appointment_status: String,
    #[arg(
        long,
        env = "GHL_FIELD_NEXT_APPOINTMENT_DATE",
        default_value = "next_appointment_date",
        global = true
    )]
    pub ghl_field_next_appointment_date: String,
    #[arg(
        long,
        env = "GHL_FIELD_LAST_SERVICE_DATE",
        default_value = "last_service_date",
        global = true
    )]
    pub ghl_field_last_service_date: String,
    #[arg(
        long,
        env = "GHL_TAG_SCHEDULED",
        default_value = "appointment-scheduled",
        global = true
    )]
    pub ghl_tag_scheduled: String,
    #[arg(
        long,
        env = "GHL_TAG_CONFIRMED",
        default_value = "appointment-confirmed",
        global = true
    )]
    pub ghl_tag_confirmed: String,
    #[arg(
        long,
        env = "GHL_TAG_CANCELLED",
        default_value = "appointment-cancelled",
        global = true
    )]
    pub ghl_tag_cancelled: String,
    #[arg(
        long,
        env = "GHL_TAG_COMPLETED",
        default_value = "service-completed",
        global = true
    )]
    pub ghl_tag_completed: String,
    #[arg(
        long,
        env = "GHL_TAG_CUSTOMER",
        default_value = "customer",
        global = true
    )]
    pub ghl_tag_customer: String,
    #[arg(
        long,
        env = "GHL_TAG_NO_SHOW",
        default_value = "no-show",
        global = true
    )]
    pub ghl_tag_no_show: String,
}

impl OpsConfig {
    pub fn retry_policy(&self) -> Result<RetryPolicy, String> {
        if !(0.0..=1.0).contains(&self.sync_retry_jitter) {
            return Err("SYNC_RETRY_JITTER must be between 0 and 1".into());
        }
        let seconds = |name: &str, v: f64| {
            Duration::try_from_secs_f64(v).map_err(|_| format!("{name} must be a positive number"))
        };
        Ok(RetryPolicy {
            max_attempts: self.sync_max_attempts,
            base_delay: seconds("SYNC_RETRY_BASE_SECONDS", self.sync_retry_base_seconds)?,
            max_delay: seconds("SYNC_RETRY_MAX_SECONDS", self.sync_retry_max_seconds)?,
            jitter: self.sync_retry_jitter,
            max_age_after_end: Duration::from_secs(u64::from(self.sync_max_age_days) * 86_400),
        })
    }

    pub fn effect_settings(&self, timezone: Tz) -> EffectSettings {
        EffectSettings {
            timezone,
            tags: TagNames {
                scheduled: self.ghl_tag_scheduled.to_lowercase(),
                confirmed: self.ghl_tag_confirmed.to_lowercase(),
                cancelled: self.ghl_tag_cancelled.to_lowercase(),
                completed: self.ghl_tag_completed.to_lowercase(),
                customer: self.ghl_tag_customer.to_lowercase(),
                no_show: self.ghl_tag_no_show.to_lowercase(),
            },
            fields: FieldKeys {
                appointment_status: self.ghl_field_appointment_status.clone(),
                next_appointment_date: self.ghl_field_next_appointment_date.clone(),
                last_service_date: self.ghl_field_last_service_date.clone(),
            },
            ..EffectSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::config::Cli;

    #[test]
    fn defaults_match_the_worker() {
        let cli = Cli::try_parse_from(["api"]).unwrap();
        let ops = cli.config.ops;
        assert_eq!(
            ops.retry_policy().unwrap(),
            domain::retry::RetryPolicy::JOB_DEFAULT
        );
        assert_eq!(
            ops.effect_settings(chrono_tz::Europe::Amsterdam),
            domain::plan::EffectSettings::default()
        );
    }

    #[test]
    fn help_lists_the_operations_variables() {
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for var in [
            "GHL_API_KEY",
            "GHL_API_BASE_URL",
            "METRICS_TOKEN",
            "SYNC_REQUEST_LEASE_SECONDS",
            "SYNC_MAX_ATTEMPTS",
            "GHL_TAG_NO_SHOW",
        ] {
            assert!(help.contains(var), "--help does not mention {var}");
        }
    }
}

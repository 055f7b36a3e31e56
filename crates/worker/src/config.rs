//! Worker configuration: flags and environment variables, secrets hidden.

use std::time::Duration;

use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};
use domain::plan::{CoalescedNotes, EffectSettings, FieldKeys, TagNames};
use domain::retry::RetryPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AppEnv {
    Production,
    Development,
}

/// `SYNC_COALESCE_NOTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CoalesceNotes {
    All,
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Drains the sync outbox: turns each appointment change into GoHighLevel
/// effects (notes, tags, custom fields, tasks), with retries and a dead-letter state.
#[derive(Debug, Parser)]
#[command(name = "worker", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the worker until SIGTERM/SIGINT (the default).
    Run,
    /// Inspect, retry and discard dead-lettered sync jobs.
    #[command(subcommand)]
    Dlq(crate::dlq::DlqCommand),
}

#[derive(Debug, Args)]
pub struct Config {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Most database connections this process opens.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub database_max_connections: u32,

    /// GHL Private Integration Token (or location access token).
    #[arg(long, env = "GHL_API_KEY", hide_env_values = true, global = true)]
    pub ghl_api_key: Option<String>,

    /// GHL API base URL (tests and the demo point it at ghl-sim).
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

    /// Name of this worker in leases and logs (default: host-pid).
    #[arg(long, env = "WORKER_ID", global = true)]
    pub worker_id: Option<String>,

    /// Jobs run at the same time by this process (different appointments only).
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256), global = true)]
    pub worker_concurrency: u32,

    /// How often to look for due jobs when no notification arrives, in milliseconds.
    #[arg(
        long,
        env = "WORKER_POLL_INTERVAL_MS",
        default_value_t = 2000,
        global = true
    )]
    pub worker_poll_interval_ms: u64,

    /// How long a claimed job is ours before another worker may take it over, in seconds.
    #[arg(
        long,
        env = "WORKER_LEASE_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub worker_lease_seconds: u64,

    /// Attempts per job in all (the seed's 3 retries = 4), then the dead-letter state.
    #[arg(long, env = "SYNC_MAX_ATTEMPTS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100), global = true)]
    pub sync_max_attempts: u32,

    /// Delay before the first retry, in seconds; doubles with every attempt.
    #[arg(
        long,
        env = "SYNC_RETRY_BASE_SECONDS",
        default_value_t = 300.0,
        global = true
    )]
    pub sync_retry_base_seconds: f64,

    /// Longest delay between attempts, in seconds.
    #[arg(
        long,
        env = "SYNC_RETRY_MAX_SECONDS",
        default_value_t = 3600.0,
        global = true
    )]
    pub sync_retry_max_seconds: f64,

    /// Random share added to each delay (0.3 = up to 30 %).
    #[arg(long, env = "SYNC_RETRY_JITTER", default_value_t = 0.3, global = true)]
    pub sync_retry_jitter: f64,

    /// Jobs of appointments that ended more than this many days ago are dead-lettered instead of retried.
    #[arg(long, env = "SYNC_MAX_AGE_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650), global = true)]
    pub sync_max_age_days: u32,

    /// Run not-started pending jobs of an appointment together with the one before them
    /// (their notes and tasks are all written; their tag and field updates merged).
    #[arg(long, env = "SYNC_COALESCE", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub sync_coalesce: bool,

    /// Notes written when jobs are coalesced: `all` (every change keeps its note) or
    /// `last` (only the newest change's note).
    #[arg(
        long,
        env = "SYNC_COALESCE_NOTES",
        value_enum,
        default_value = "all",
        global = true
    )]
    pub sync_coalesce_notes: CoalesceNotes,

    /// Succeeded and skipped jobs (and their attempts) older than this many days are pruned; dead jobs are kept.
    #[arg(long, env = "SYNC_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650), global = true)]
    pub sync_retention_days: u32,

    /// Time zone for dates and times written to GHL (IANA name).
    #[arg(long, env = "BOOKING_TIMEZONE", default_value = "Europe/Amsterdam", value_parser = parse_tz, global = true)]
    pub booking_timezone: Tz,

    /// GHL custom-field key for the appointment status.
    #[arg(
        long,
        env = "GHL_FIELD_APPOINTMENT_STATUS",
        default_value = "appointment_status",
        global = true
    )]
    pub ghl_field_appointment_status: String,

    /// GHL custom-field key for the next appointment's date.
    #[arg(
        long,
        env = "GHL_FIELD_NEXT_APPOINTMENT_DATE",
        default_value = "next_appointment_date",
        global = true
    )]
    pub ghl_field_next_appointment_date: String,

    /// GHL custom-field key for the last completed service's date.
    #[arg(
        long,
        env = "GHL_FIELD_LAST_SERVICE_DATE",
        default_value = "last_service_date",
        global = true
    )]
    pub ghl_field_last_service_date: String,

    /// Tag for a scheduled appointment.
    #[arg(
        long,
        env = "GHL_TAG_SCHEDULED",
        default_value = "appointment-scheduled",
        global = true
    )]
    pub ghl_tag_scheduled: String,

    /// Tag for a confirmed appointment.
    #[arg(
        long,
        env = "GHL_TAG_CONFIRMED",
        default_value = "appointment-confirmed",
        global = true
    )]
    pub ghl_tag_confirmed: String,

    /// Tag for a cancelled appointment.
    #[arg(
        long,
        env = "GHL_TAG_CANCELLED",
        default_value = "appointment-cancelled",
        global = true
    )]
    pub ghl_tag_cancelled: String,

    /// Tag for a completed service.
    #[arg(
        long,
        env = "GHL_TAG_COMPLETED",
        default_value = "service-completed",
        global = true
    )]
    pub ghl_tag_completed: String,

    /// Tag for a contact that became a customer.
    #[arg(
        long,
        env = "GHL_TAG_CUSTOMER",
        default_value = "customer",
        global = true
    )]
    pub ghl_tag_customer: String,

    /// Tag for a missed appointment.
    #[arg(
        long,
        env = "GHL_TAG_NO_SHOW",
        default_value = "no-show",
        global = true
    )]
    pub ghl_tag_no_show: String,

    /// `production` or `development`.
    #[arg(
        long,
        env = "APP_ENV",
        value_enum,
        default_value = "production",
        global = true
    )]
    pub app_env: AppEnv,

    /// Log format; defaults to json in production and pretty in development.
    #[arg(long, env = "LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

    /// Seconds to let running jobs finish after SIGTERM/SIGINT before their leases are released.
    #[arg(
        long,
        env = "SHUTDOWN_GRACE_SECONDS",
        default_value_t = 20,
        global = true
    )]
    pub shutdown_grace_seconds: u64,

    /// Address of the admin HTTP port (`/metrics`, `/healthz`); `off` disables it.
    #[arg(
        long,
        env = "WORKER_ADMIN_BIND",
        default_value = "127.0.0.1:9091",
        global = true
    )]
    pub worker_admin_bind: String,

    /// Chat webhook (Slack or Discord) for alerts on dead-lettered jobs and health changes.
    #[arg(long, env = "ALERT_WEBHOOK_URL", hide_env_values = true, global = true)]
    pub alert_webhook_url: Option<String>,

    /// Alerts with the same cause at most this often, in seconds (the rest are counted).
    #[arg(
        long,
        env = "ALERT_DEDUP_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub alert_dedup_seconds: u64,

    /// Alerts per hour at most, in all.
    #[arg(long, env = "ALERT_MAX_PER_HOUR", default_value_t = 20, global = true)]
    pub alert_max_per_hour: u32,

    /// How often the health is evaluated for alerts, in seconds.
    #[arg(
        long,
        env = "ALERT_HEALTH_INTERVAL_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub alert_health_interval_seconds: u64,

    #[command(flatten)]
    pub ghl_limits: crate::ghl_limits::GhlLimitArgs,

    #[command(flatten)]
    pub ghl_oauth: crate::ghl_oauth::GhlOAuthArgs,

    #[command(flatten)]
    pub calendar: crate::calendar::CalendarArgs,
}

fn parse_tz(s: &str) -> Result<Tz, String> {
    s.parse::<Tz>()
        .map_err(|_| format!("unknown time zone {s:?}; use an IANA name like Europe/Amsterdam"))
}

fn seconds(field: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{field} must be a non-negative number of seconds"))
}

impl Config {
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.app_env {
            AppEnv::Production => LogFormat::Json,
            AppEnv::Development => LogFormat::Pretty,
        })
    }

    pub fn retry_policy(&self) -> Result<RetryPolicy, String> {
        if !(0.0..=1.0).contains(&self.sync_retry_jitter) {
            return Err("SYNC_RETRY_JITTER must be between 0 and 1".into());
        }
        Ok(RetryPolicy {
            max_attempts: self.sync_max_attempts,
            base_delay: seconds("SYNC_RETRY_BASE_SECONDS", self.sync_retry_base_seconds)?,
            max_delay: seconds("SYNC_RETRY_MAX_SECONDS", self.sync_retry_max_seconds)?,
            jitter: self.sync_retry_jitter,
            max_age_after_end: Duration::from_secs(u64::from(self.sync_max_age_days) * 86_400),
        })
    }

    pub fn effect_settings(&self) -> EffectSettings {
        EffectSettings {
            timezone: self.booking_timezone,
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
            coalesced_notes: match self.sync_coalesce_notes {
                CoalesceNotes::All => CoalescedNotes::All,
                CoalesceNotes::Last => CoalescedNotes::Last,
            },
            upsert_missing_contacts: self.ghl_limits.ghl_upsert_missing_contacts,
            calendar: self.calendar.settings(),
            ..EffectSettings::default()
        }
    }

    pub fn worker_id(&self) -> String {
        self.worker_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "worker".into());
            format!("{host}-{}", std::process::id())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_seed() {
        let cli = Cli::try_parse_from(["worker"]).unwrap();
        let policy = cli.config.retry_policy().unwrap();
        assert_eq!(policy, RetryPolicy::JOB_DEFAULT);
        assert_eq!(cli.config.effect_settings(), EffectSettings::default());
    }

    #[test]
    fn jitter_outside_zero_to_one_is_refused() {
        let cli = Cli::try_parse_from(["worker", "--sync-retry-jitter", "1.5"]).unwrap();
        assert!(cli.config.retry_policy().is_err());
    }

    #[test]
    fn tag_names_are_lower_cased_like_ghl_stores_them() {
        let cli =
            Cli::try_parse_from(["worker", "--ghl-tag-scheduled", "Afspraak-Gepland"]).unwrap();
        assert_eq!(
            cli.config.effect_settings().tags.scheduled,
            "afspraak-gepland"
        );
    }
}

//! Configuration: every option is a flag and an environment variable (the
//! seed's names where it had one). Secrets are hidden from `--help`.

use std::net::SocketAddr;

use chrono::{Duration, NaiveTime};
use chrono_tz::Tz;
use clap::Parser;
use domain::LocationId;
use domain::slot::BookingCalendar;
use secrecy::SecretString;

use crate::telemetry::LogFormat;

/// The shortest `JWT_SECRET` accepted in production (bytes).
pub const MIN_JWT_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AppEnv {
    /// Refuses unsafe settings; JSON logs by default.
    Production,
    /// Allows short secrets (with a warning); readable logs by default.
    Development,
}

/// The booking API: appointments, availability and leads, synced to GoHighLevel
/// through a transactional outbox drained by the `worker`.
#[derive(Debug, Parser)]
#[command(name = "api", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<ApiCommand>,

    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, clap::Subcommand)]
pub enum ApiCommand {
    /// Serve HTTP until SIGTERM/SIGINT (the default).
    Serve,
    /// Print a bearer token signed with JWT_SECRET (for operators, scripts and the demo).
    Token {
        /// Who the token is for (`sub` claim).
        #[arg(long, default_value = "operator")]
        sub: String,
        /// Optional `role` claim.
        #[arg(long)]
        role: Option<String>,
        /// Validity in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_seconds: i64,
    },
}

#[derive(Debug, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "API_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// PostgreSQL connection URL (required to serve).
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

    /// Secret for HS256 bearer tokens (required; at least 32 bytes in production).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,

    /// The GHL location (sub-account) bookings belong to (required to serve).
    #[arg(long, env = "GHL_LOCATION_ID", global = true)]
    pub ghl_location_id: Option<String>,

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

    /// Time zone of the business (IANA name): business hours and dates.
    #[arg(long, env = "BOOKING_TIMEZONE", default_value = "Europe/Amsterdam", value_parser = parse_tz, global = true)]
    pub booking_timezone: Tz,

    /// Opening time of a business day (local, HH:MM).
    #[arg(long, env = "BOOKING_DAY_START", default_value = "08:00", value_parser = parse_time, global = true)]
    pub booking_day_start: NaiveTime,

    /// Closing time of a business day (local, HH:MM).
    #[arg(long, env = "BOOKING_DAY_END", default_value = "18:00", value_parser = parse_time, global = true)]
    pub booking_day_end: NaiveTime,

    /// Length of the slots offered by the availability endpoint, in minutes.
    #[arg(long, env = "BOOKING_SLOT_MINUTES", default_value_t = 120, value_parser = clap::value_parser!(u32).range(15..=720), global = true)]
    pub booking_slot_minutes: u32,

    /// How many appointments may overlap at any moment (e.g. number of crews).
    #[arg(long, env = "BOOKING_CAPACITY", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub booking_capacity: u32,

    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    #[arg(
        long,
        env = "SHUTDOWN_GRACE_SECONDS",
        default_value_t = 20,
        global = true
    )]
    pub shutdown_grace_seconds: u64,

    /// `POST /sync`, `/monitor` and `/metrics` settings.
    #[command(flatten)]
    pub ops: crate::ops_config::OpsConfig,
    #[command(flatten)]
    pub webhooks: crate::webhook_config::WebhookConfig,
}

fn parse_tz(s: &str) -> Result<Tz, String> {
    s.parse::<Tz>()
        .map_err(|_| format!("unknown time zone {s:?}; use an IANA name like Europe/Amsterdam"))
}

fn parse_time(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("{s:?} is not a time like 08:00"))
}

/// Settings that parse but make no sense together, or are unsafe in production.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "JWT_SECRET must be at least {MIN_JWT_SECRET_LEN} bytes in production (APP_ENV=production)"
    )]
    ShortJwtSecret,
    #[error("GHL_LOCATION_ID: {0}")]
    Location(domain::ids::InvalidGhlId),
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("BOOKING_DAY_END must be after BOOKING_DAY_START")]
    DayBounds,
}

/// The validated parts of the configuration that the app is built from.
pub struct Settings {
    pub location: LocationId,
    pub calendar: BookingCalendar,
    pub jwt_secret: SecretString,
    /// Warnings to log once tracing is up (development conveniences).
    pub warnings: Vec<String>,
}

impl Config {
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.app_env {
            AppEnv::Production => LogFormat::Json,
            AppEnv::Development => LogFormat::Pretty,
        })
    }

    /// The JWT secret, checked for length (production refuses short ones).
    pub fn jwt_secret(&self, warnings: &mut Vec<String>) -> Result<SecretString, ConfigError> {
        let secret = self
            .jwt_secret
            .as_deref()
            .ok_or(ConfigError::Missing("JWT_SECRET"))?;
        if secret.len() < MIN_JWT_SECRET_LEN {
            match self.app_env {
                AppEnv::Production => return Err(ConfigError::ShortJwtSecret),
                AppEnv::Development => warnings.push(format!(
                    "JWT_SECRET is shorter than {MIN_JWT_SECRET_LEN} bytes: acceptable in development only"
                )),
            }
        }
        Ok(SecretString::from(secret.to_owned()))
    }

    pub fn database_url(&self) -> Result<&str, ConfigError> {
        self.database_url
            .as_deref()
            .ok_or(ConfigError::Missing("DATABASE_URL"))
    }

    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let mut warnings = Vec::new();
        let jwt_secret = self.jwt_secret(&mut warnings)?;
        let location = self
            .ghl_location_id
            .as_deref()
            .ok_or(ConfigError::Missing("GHL_LOCATION_ID"))?;
        if self.booking_day_end <= self.booking_day_start {
            return Err(ConfigError::DayBounds);
        }
        Ok(Settings {
            location: LocationId::parse(location).map_err(ConfigError::Location)?,
            calendar: BookingCalendar {
                timezone: self.booking_timezone,
                day_start: self.booking_day_start,
                day_end: self.booking_day_end,
                slot_length: Duration::minutes(i64::from(self.booking_slot_minutes)),
                capacity: self.booking_capacity,
            },
            jwt_secret,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut all = vec![
            "api",
            "--database-url",
            "postgres://x",
            "--ghl-location-id",
            "loc1",
        ];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().config
    }

    #[test]
    fn production_refuses_a_short_jwt_secret() {
        let config = parse(&["--jwt-secret", "short"]);
        assert!(matches!(
            config.settings(),
            Err(ConfigError::ShortJwtSecret)
        ));
    }

    #[test]
    fn development_accepts_a_short_jwt_secret_with_a_warning() {
        let config = parse(&["--jwt-secret", "short", "--app-env", "development"]);
        let settings = config.settings().unwrap();
        assert_eq!(settings.warnings.len(), 1);
        assert_eq!(config.log_format(), LogFormat::Pretty);
    }

    #[test]
    fn serving_needs_a_location() {
        if std::env::var_os("GHL_LOCATION_ID").is_some() {
            return; // the environment supplies one; nothing to check here
        }
        let secret = "x".repeat(32);
        let config = Cli::try_parse_from(["api", "--jwt-secret", &secret])
            .unwrap()
            .config;
        assert!(matches!(
            config.settings(),
            Err(ConfigError::Missing("GHL_LOCATION_ID"))
        ));
    }

    #[test]
    fn calendar_options_are_parsed_and_checked() {
        let secret = "x".repeat(32);
        let config = parse(&[
            "--jwt-secret",
            &secret,
            "--booking-timezone",
            "Europe/Brussels",
            "--booking-capacity",
            "3",
        ]);
        let settings = config.settings().unwrap();
        assert_eq!(settings.calendar.capacity, 3);
        assert_eq!(settings.calendar.timezone, chrono_tz::Europe::Brussels);
        assert!(Cli::try_parse_from(["api", "--booking-timezone", "Mars/Olympus"]).is_err());
        let inverted = parse(&[
            "--jwt-secret",
            &secret,
            "--booking-day-start",
            "18:00",
            "--booking-day-end",
            "08:00",
        ]);
        assert!(matches!(inverted.settings(), Err(ConfigError::DayBounds)));
    }

    #[test]
    fn help_lists_every_environment_variable() {
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for var in [
            "API_BIND",
            "DATABASE_URL",
            "DATABASE_MAX_CONNECTIONS",
            "JWT_SECRET",
            "GHL_LOCATION_ID",
            "APP_ENV",
            "LOG_FORMAT",
            "BOOKING_TIMEZONE",
            "BOOKING_DAY_START",
            "BOOKING_DAY_END",
            "BOOKING_SLOT_MINUTES",
            "BOOKING_CAPACITY",
            "SHUTDOWN_GRACE_SECONDS",
            "GHL_WEBHOOK_ED25519_PUBLIC_KEY",
            "GHL_WEBHOOK_RSA_PUBLIC_KEY",
            "GHL_SKIP_SIGNATURE_VALIDATION",
            "GHL_WEBHOOK_TOLERANCE_SECONDS",
            "GHL_WEBHOOK_MAX_BODY_BYTES",
            "GHL_WORKFLOW_WEBHOOK_SECRET",
            "GHL_WORKFLOW_DEDUP_SECONDS",
            "WEBHOOK_RETRY_INTERVAL_SECONDS",
        ] {
            assert!(help.contains(var), "--help does not mention {var}");
        }
    }
}

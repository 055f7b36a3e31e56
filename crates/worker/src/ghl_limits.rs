//! Configuration of GHL's budget, the per-call retries, the auth pause and missing
//! contacts (issue 3): flattened into
//! [`crate::config::Config`].

use std::time::Duration;

use clap::Args;
use domain::ports::RateLimits;
use ghl_adapter::{GhlConfig, RetryConfig};

#[derive(Debug, Clone, Args)]
pub struct GhlLimitArgs {
    /// GHL's burst limit per location: requests per window (GHL: 100 per 10 s). Shared by
    /// every worker through the database.
    #[arg(long, env = "GHL_RATE_LIMIT_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub ghl_rate_limit_burst: u32,

    /// GHL's burst window in milliseconds.
    #[arg(long, env = "GHL_RATE_LIMIT_WINDOW_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub ghl_rate_limit_window_ms: u64,

    /// GHL's daily limit per location (counted per UTC day).
    #[arg(long, env = "GHL_RATE_LIMIT_DAILY", default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub ghl_rate_limit_daily: u64,

    /// Share of the burst budget kept unused (0..0.9), for jitter and other clients.
    #[arg(
        long,
        env = "GHL_RATE_LIMIT_HEADROOM",
        default_value_t = 0.1,
        global = true
    )]
    pub ghl_rate_limit_headroom: f64,

    /// How long one GHL call waits for its location's budget before the job is
    /// rescheduled instead, in seconds.
    #[arg(
        long,
        env = "GHL_RATE_LIMIT_MAX_WAIT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub ghl_rate_limit_max_wait_seconds: u64,

    /// This process's own smoothing: most GHL requests per second per location (the
    /// seed's 10); 0 turns it off.
    #[arg(
        long,
        env = "GHL_MAX_REQUESTS_PER_SECOND",
        default_value_t = 10.0,
        global = true
    )]
    pub ghl_max_requests_per_second: f64,

    /// How long a 401 from GHL pauses every call to that location, in seconds (0: no
    /// pause), and how often a paused location is probed (one custom-field listing).
    /// Its jobs wait, unclaimed and without using attempts, until the token works again.
    #[arg(
        long,
        env = "GHL_AUTH_PAUSE_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub ghl_auth_pause_seconds: u64,

    /// Create a GHL contact (upsert by email or phone) for a lead that has none, and link
    /// it to the lead, instead of skipping its jobs.
    #[arg(long, env = "GHL_UPSERT_MISSING_CONTACTS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub ghl_upsert_missing_contacts: bool,

    /// Retries of one GHL call (408, 429, 5xx other than 501, timeouts and connection
    /// errors; a note or task only when GHL provably did not get it).
    #[arg(long, env = "GHL_RETRY_MAX", default_value_t = 3, global = true)]
    pub ghl_retry_max: u32,

    /// First per-call retry delay in milliseconds; doubles per retry.
    #[arg(
        long,
        env = "GHL_RETRY_INITIAL_MS",
        default_value_t = 1_000,
        global = true
    )]
    pub ghl_retry_initial_ms: u64,

    /// Longest per-call retry delay in milliseconds.
    #[arg(
        long,
        env = "GHL_RETRY_MAX_DELAY_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub ghl_retry_max_delay_ms: u64,

    /// Random share added to each per-call retry delay.
    #[arg(long, env = "GHL_RETRY_JITTER", default_value_t = 0.3, global = true)]
    pub ghl_retry_jitter: f64,
}

impl GhlLimitArgs {
    pub fn rate_limits(&self) -> Result<RateLimits, String> {
        if !(0.0..=0.9).contains(&self.ghl_rate_limit_headroom) {
            return Err("GHL_RATE_LIMIT_HEADROOM must be between 0 and 0.9".into());
        }
        Ok(RateLimits {
            burst: self.ghl_rate_limit_burst,
            window: Duration::from_millis(self.ghl_rate_limit_window_ms),
            daily: self.ghl_rate_limit_daily,
            headroom: self.ghl_rate_limit_headroom,
        })
    }

    pub fn retry(&self) -> Result<RetryConfig, String> {
        if !(0.0..=1.0).contains(&self.ghl_retry_jitter) {
            return Err("GHL_RETRY_JITTER must be between 0 and 1".into());
        }
        Ok(RetryConfig {
            max_retries: self.ghl_retry_max,
            initial_delay: Duration::from_millis(self.ghl_retry_initial_ms),
            max_delay: Duration::from_millis(self.ghl_retry_max_delay_ms),
            jitter: self.ghl_retry_jitter,
        })
    }

    /// `config` with these limits and retries.
    pub fn apply(&self, config: GhlConfig) -> Result<GhlConfig, String> {
        if !self.ghl_max_requests_per_second.is_finite() || self.ghl_max_requests_per_second < 0.0 {
            return Err("GHL_MAX_REQUESTS_PER_SECOND must be 0 or more".into());
        }
        Ok(config
            .with_rate_limits(self.rate_limits()?)
            .with_retry(self.retry()?)
            .with_max_requests_per_second(self.ghl_max_requests_per_second)
            .with_rate_limit_max_wait(Duration::from_secs(self.ghl_rate_limit_max_wait_seconds))
            .with_auth_pause(Duration::from_secs(self.ghl_auth_pause_seconds)))
    }
}

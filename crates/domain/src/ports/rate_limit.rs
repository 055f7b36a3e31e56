//! GHL's request budget per location, shared by every worker process.

use std::time::Duration;

use async_trait::async_trait;

use super::RepoError;
use crate::ids::LocationId;

/// GHL's limits for one app in one location, and how much of them we use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Requests allowed per `window` (GHL: 100).
    pub burst: u32,
    /// The burst window (GHL: 10 s).
    pub window: Duration,
    /// Requests allowed per day (GHL: 200,000; counted per UTC day).
    pub daily: u64,
    /// Share of the burst budget (0..1) left unused, for clock and network jitter between
    /// workers and GHL, and for other clients of the same app (default 0.1).
    pub headroom: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            burst: 100,
            window: Duration::from_secs(10),
            daily: 200_000,
            headroom: 0.1,
        }
    }
}

impl RateLimits {
    /// The requests per window we plan to send: `burst × (1 − headroom)`, at least 1.
    pub fn planned_per_window(&self) -> u32 {
        let planned = (f64::from(self.burst) * (1.0 - self.headroom.clamp(0.0, 0.99))).floor();
        // In range: 0 ≤ planned ≤ burst.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let planned = planned as u32;
        planned.max(1)
    }

    /// The pacing interval: requests are spread evenly, one per interval, so no window of
    /// GHL's (fixed or sliding) sees more than [`RateLimits::planned_per_window`] + 1.
    pub fn interval(&self) -> Duration {
        self.window / self.planned_per_window()
    }
}

/// What the budget says about one request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it; one request was taken from the budget.
    Granted,
    /// Ask again after this long (the budget is spent or the location is paused).
    Wait(Duration),
}

/// The request budget of each GHL location, shared by every process that calls GHL
/// (implemented in storage with one row per location, so all workers see the same
/// budget and the same pauses).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one request from `location`'s budget, or says how long to wait.
    async fn acquire(&self, location: &LocationId) -> Result<Admission, RepoError>;

    /// Lets no request to `location` through for `duration` from now (after a 429, or
    /// when GHL's headers show the budget nearly spent). A pause only ever extends.
    /// `reason` is free of personal data and shown to operators.
    async fn pause(
        &self,
        location: &LocationId,
        duration: Duration,
        reason: &str,
    ) -> Result<(), RepoError>;

    /// Pauses `location` for its refused token (a 401): its jobs wait, unclaimed and
    /// without using attempts, until a probe `recheck_after` from now (and every
    /// `recheck_after` after that) finds the token accepted again. Returns whether this
    /// began a pause (false: the location was already paused for auth, or the limiter
    /// serves one process and has no queue to hold back).
    async fn pause_for_auth(
        &self,
        location: &LocationId,
        recheck_after: Duration,
        reason: &str,
    ) -> Result<bool, RepoError>;
}

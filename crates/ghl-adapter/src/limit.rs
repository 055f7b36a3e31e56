//! Staying inside GHL's budget: before every attempt a request waits for its location's
//! shared budget ([`RateLimiter`], one row per location in the database when the worker
//! wires storage in) and for this process's own smoothing (at most
//! `max_requests_per_second` per location); after every answer GHL's `X-RateLimit-*`
//! headers are read and the location is paused for everybody when the budget is nearly
//! spent or a 429 came back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use domain::ids::LocationId;
use domain::job::{CrmError, ErrorClass};
use domain::ports::{Admission, RateLimiter, RateLimits, RepoError};
use rand::Rng as _;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// How long one call waits for budget before giving up with `RateLimited` (the job is
/// then rescheduled instead of holding its lease while the location is paused).
pub(crate) const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(30);

/// GHL's rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RateHeaders {
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Max`.
    pub max: Option<u64>,
    /// `X-RateLimit-Interval-Milliseconds`.
    pub interval_ms: Option<u64>,
    /// `X-RateLimit-Daily-Remaining`.
    pub daily_remaining: Option<u64>,
}

impl RateHeaders {
    pub(crate) fn read(headers: &HeaderMap) -> Self {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        RateHeaders {
            remaining: number("x-ratelimit-remaining"),
            max: number("x-ratelimit-max"),
            interval_ms: number("x-ratelimit-interval-milliseconds"),
            daily_remaining: number("x-ratelimit-daily-remaining"),
        }
    }

    /// How long to hold the location back after this answer. Our own pacing leaves about
    /// `headroom` of each window unused (one request more when GHL's window is not aligned
    /// with ours), so a remaining budget below half of that means someone else spends it
    /// too: then a growing share of the window is waited (the whole window at 0: where
    /// GHL's window started is unknown, so that is what is safe). When the day's budget is
    /// gone, a 10-minute pause before looking again.
    pub(crate) fn slow_down(&self, headroom: f64) -> Option<Duration> {
        if self.daily_remaining == Some(0) {
            return Some(Duration::from_secs(600));
        }
        let (remaining, max, interval) = (self.remaining?, self.max?, self.interval_ms?);
        // Bounded by max: 0 ≤ headroom / 2 < 1.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let reserve = ((max as f64 * headroom.clamp(0.0, 0.9) / 2.0).floor() as u64).max(1);
        if remaining >= reserve {
            return None;
        }
        Some(Duration::from_millis(
            interval * (reserve - remaining) / reserve,
        ))
    }
}

/// The budget gate in front of every attempt.
pub(crate) struct Budget {
    shared: Arc<dyn RateLimiter>,
    /// The in-process smoothing: the earliest next request per location.
    local: Mutex<HashMap<LocationId, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
    local_interval: Duration,
    max_wait: Duration,
    /// GHL's window, for the pause after a 429 without headers.
    window: Duration,
    /// The share of the budget our pacing leaves unused.
    headroom: f64,
    /// How long a 401 pauses the location (zero: not at all).
    auth_pause: Duration,
}

impl Budget {
    pub(crate) fn new(
        shared: Arc<dyn RateLimiter>,
        max_requests_per_second: f64,
        limits: RateLimits,
        max_wait: Duration,
        auth_pause: Duration,
    ) -> Self {
        let local_interval = if max_requests_per_second > 0.0 {
            Duration::from_secs_f64(1.0 / max_requests_per_second)
        } else {
            Duration::ZERO
        };
        Budget {
            shared,
            local: Mutex::new(HashMap::new()),
            local_interval,
            max_wait,
            window: limits.window,
            headroom: limits.headroom,
            auth_pause,
        }
    }

    /// How long a 401 pauses the location (zero: not at all).
    pub(crate) fn auth_pause(&self) -> Duration {
        self.auth_pause
    }

    pub(crate) fn set_shared(&mut self, shared: Arc<dyn RateLimiter>) {
        self.shared = shared;
    }

    /// Waits until one request to `location` may be sent. Only one task per process and
    /// location asks the shared budget at a time (the others queue here), so waiting
    /// tasks do not stampede the database.
    pub(crate) async fn admit(&self, location: &LocationId) -> Result<(), CrmError> {
        let slot = {
            let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(local.entry(location.clone()).or_default())
        };
        let mut next = slot.lock().await;
        let started = Instant::now();
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        loop {
            match self.shared.acquire(location).await {
                Ok(Admission::Granted) => break,
                Ok(Admission::Wait(wait)) => {
                    if started.elapsed() + wait > self.max_wait {
                        let mut error = CrmError::new(
                            ErrorClass::RateLimited,
                            None,
                            format!(
                                "GHL budget of location {location} is spent or paused for \
                                 another {} s",
                                wait.as_secs()
                            ),
                        );
                        error.retry_after = Some(wait);
                        return Err(error);
                    }
                    // A little jitter, so processes do not ask at the same instant.
                    let jitter = Duration::from_millis(rand::rng().random_range(0..=5));
                    tokio::time::sleep(wait + jitter).await;
                }
                Err(e) => {
                    return Err(CrmError::new(
                        ErrorClass::Transient,
                        None,
                        format!("the shared GHL rate limiter is unavailable: {e}"),
                    ));
                }
            }
        }
        *next = Some(Instant::now() + self.local_interval);
        Ok(())
    }

    /// Pauses `location` for everybody after an answer whose headers show the budget
    /// nearly spent, after a 429 (for `Retry-After` when GHL sent one, else one window),
    /// or after a 401 (for the configured auth pause).
    pub(crate) async fn observe(
        &self,
        location: &LocationId,
        status: Option<u16>,
        headers: RateHeaders,
        retry_after: Option<Duration>,
    ) {
        let pause = if status == Some(429) {
            let window = headers
                .interval_ms
                .map_or(self.window, Duration::from_millis);
            Some((
                retry_after.unwrap_or(window),
                "GHL answered 429 Too Many Requests",
            ))
        } else if status == Some(401) && !self.auth_pause.is_zero() {
            // A refused token fails every call of the location alike: one job reports it,
            // the others wait instead of being dead-lettered one after another.
            Some((
                self.auth_pause,
                "GHL refused the token (401): check GHL_API_KEY, or the OAuth app's access to this location",
            ))
        } else {
            headers
                .slow_down(self.headroom)
                .map(|d| (d, "GHL's X-RateLimit headers show the budget nearly spent"))
        };
        let Some((duration, reason)) = pause else {
            return;
        };
        if status == Some(401) {
            // The location's jobs wait for the token (not claimed, attempts untouched)
            // until a worker's probe finds it accepted again: one line per pause.
            match self.shared.pause_for_auth(location, duration, reason).await {
                Ok(true) => tracing::warn!(
                    ghl.location_id = %location,
                    recheck_s = duration.as_secs(),
                    reason,
                    "GHL location paused for auth: its jobs wait until the token works again"
                ),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(ghl.location_id = %location, error = %e, "could not record the auth pause");
                }
            }
        }
        tracing::info!(
            ghl.location_id = %location,
            pause_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            reason,
            "pausing GHL calls of the location"
        );
        if let Err(e) = self.shared.pause(location, duration, reason).await {
            tracing::warn!(ghl.location_id = %location, error = %e, "could not record the pause");
        }
    }
}

/// A [`RateLimiter`] for one process (the default when no shared one is wired in): the
/// same pacing as the database's, in memory.
#[derive(Debug)]
pub struct InProcessRateLimiter {
    limits: RateLimits,
    state: Mutex<HashMap<LocationId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Theoretical arrival time of the next request (GCRA).
    tat: Instant,
    paused_until: Option<Instant>,
    day_started: Instant,
    day_count: u64,
}

impl InProcessRateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        InProcessRateLimiter {
            limits,
            state: Mutex::new(HashMap::new()),
        }
    }
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn acquire(&self, location: &LocationId) -> Result<Admission, RepoError> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = state.entry(location.clone()).or_insert(Bucket {
            tat: now,
            paused_until: None,
            day_started: now,
            day_count: 0,
        });
        if let Some(until) = bucket.paused_until.filter(|until| *until > now) {
            return Ok(Admission::Wait(until - now));
        }
        if now.duration_since(bucket.day_started) >= DAY {
            bucket.day_started = now;
            bucket.day_count = 0;
        }
        if bucket.day_count >= self.limits.daily {
            return Ok(Admission::Wait(bucket.day_started + DAY - now));
        }
        if bucket.tat > now {
            return Ok(Admission::Wait(bucket.tat - now));
        }
        // As in storage: lateness up to a quarter interval does not delay the schedule.
        let interval = self.limits.interval();
        let late_allowance = now.checked_sub(interval / 4).unwrap_or(now);
        bucket.tat = bucket.tat.max(late_allowance) + interval;
        bucket.day_count += 1;
        Ok(Admission::Granted)
    }

    async fn pause(
        &self,
        location: &LocationId,
        duration: Duration,
        _reason: &str,
    ) -> Result<(), RepoError> {
        let now = Instant::now();
        let until = now + duration;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = state.entry(location.clone()).or_insert(Bucket {
            tat: now,
            paused_until: None,
            day_started: now,
            day_count: 0,
        });
        bucket.paused_until = Some(bucket.paused_until.map_or(until, |p| p.max(until)));
        Ok(())
    }

    /// One process has no queue to hold back: the short `pause` above is all it does.
    async fn pause_for_auth(
        &self,
        _location: &LocationId,
        _recheck_after: Duration,
        _reason: &str,
    ) -> Result<bool, RepoError> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(remaining: u64, max: u64) -> RateHeaders {
        RateHeaders {
            remaining: Some(remaining),
            max: Some(max),
            interval_ms: Some(10_000),
            daily_remaining: Some(150_000),
        }
    }

    #[test]
    fn the_slow_down_grows_as_the_remaining_budget_shrinks() {
        let ms = Duration::from_millis;
        // 10 % headroom: our pacing leaves ~9 of 100; below 5 someone else is spending.
        assert_eq!(headers(50, 100).slow_down(0.1), None);
        assert_eq!(headers(9, 100).slow_down(0.1), None);
        assert_eq!(headers(5, 100).slow_down(0.1), None);
        assert_eq!(headers(4, 100).slow_down(0.1), Some(ms(2_000)));
        assert_eq!(headers(1, 100).slow_down(0.1), Some(ms(8_000)));
        assert_eq!(headers(0, 100).slow_down(0.1), Some(ms(10_000)));
        // A small budget: only an empty window pauses.
        assert_eq!(headers(1, 20).slow_down(0.1), None);
        assert_eq!(headers(0, 20).slow_down(0.1), Some(ms(10_000)));
        assert_eq!(RateHeaders::default().slow_down(0.1), None);
        let day_spent = RateHeaders {
            daily_remaining: Some(0),
            ..headers(50, 100)
        };
        assert_eq!(day_spent.slow_down(0.1), Some(Duration::from_secs(600)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_in_process_limiter_paces_and_honours_pauses() {
        let limits = RateLimits {
            burst: 10,
            window: Duration::from_secs(1),
            daily: 3,
            headroom: 0.0,
        };
        let limiter = InProcessRateLimiter::new(limits);
        let loc = LocationId::parse("loc").unwrap();
        assert_eq!(limiter.acquire(&loc).await, Ok(Admission::Granted));
        assert_eq!(
            limiter.acquire(&loc).await,
            Ok(Admission::Wait(Duration::from_millis(100)))
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(limiter.acquire(&loc).await, Ok(Admission::Granted));
        limiter
            .pause(&loc, Duration::from_secs(5), "test")
            .await
            .unwrap();
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(
            limiter.acquire(&loc).await,
            Ok(Admission::Wait(Duration::from_millis(4_900)))
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(limiter.acquire(&loc).await, Ok(Admission::Granted));
        // The day's 3 are used.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(matches!(
            limiter.acquire(&loc).await,
            Ok(Admission::Wait(d)) if d > Duration::from_secs(3600)
        ));
    }
}

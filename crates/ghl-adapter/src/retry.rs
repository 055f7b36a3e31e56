//! Per-call retries: which failures are retried (a table), and the backoff schedule.
//!
//! A retried `POST` of a note or a task can create a duplicate in GHL when the first
//! attempt did reach GHL although we saw no answer. So a failure is retried here only
//! when retrying is safe:
//!
//! | failure | idempotent call (GET, PUT, tags, upsert) | note or task (`POST`) |
//! |---|---|---|
//! | 408 | retry | retry: the server says it did not receive the whole request |
//! | 429 | retry (after the location's pause) | retry: GHL's rate limiter refused it before any handler ran |
//! | 500, 502, 503, 504, other 5xx | retry | **no**: in doubt, the write may have been applied |
//! | 501 | no | no |
//! | 400, 401, 403, 404, 422, other 4xx, 1xx, 3xx | no | no |
//! | could not connect (also a connect timeout) | retry | retry: nothing was sent |
//! | timed out after connecting | retry | **no**: in doubt |
//! | connection dropped, answer lost | retry | **no**: in doubt |
//! | request could not be built | no | no |
//! | the location's budget is paused beyond the call's wait | no (the job is rescheduled) | no |
//!
//! An in-doubt failure of a note or task is returned as `Transient`: the job level looks
//! for the write's `[sync <job>/<step>]` marker before writing again.

use std::time::Duration;

use domain::job::CrmError;
use rand::Rng as _;

/// The seed's per-call retry settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Retries after the first attempt (the seed: 3).
    pub max_retries: u32,
    /// Delay before the first retry; doubles per retry (the seed: 1 s).
    pub initial_delay: Duration,
    /// Longest delay (the seed: 30 s).
    pub max_delay: Duration,
    /// Random share (0..1) added to each delay (the seed: 0.3).
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            jitter: 0.3,
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> Self {
        RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        }
    }

    /// The delay before retry `retry` (0 for the first): `initial × 2^retry`, plus up to
    /// `jitter` of it at random (`unit` in 0..1), capped at `max_delay`.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let base = self
            .initial_delay
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_delay);
        let extra = base.mul_f64(self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0));
        (base + extra).min(self.max_delay)
    }

    /// [`RetryConfig::delay`] with a random jitter.
    pub(crate) fn random_delay(&self, retry: u32) -> Duration {
        self.delay(retry, rand::rng().random::<f64>())
    }
}

/// Runs `attempt` (given the retry number, 0 first) until it succeeds, fails in a way
/// the table does not retry, or the retries are used up. Waits the backoff between
/// attempts, or GHL's `Retry-After` when longer; a `Retry-After` beyond `max_delay` is
/// left to the job level. After a 429 it does not wait here: the location's pause makes
/// the next attempt wait for its budget.
pub(crate) async fn with_retries<T, F, Fut>(
    config: &RetryConfig,
    idempotent: bool,
    mut attempt: F,
) -> Result<T, CrmError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, (CrmError, Failure)>>,
{
    let mut retry = 0;
    let mut previous: Option<CrmError> = None;
    loop {
        let (error, failure) = match attempt(retry).await {
            Ok(value) => return Ok(value),
            // Waiting for the budget after a failed attempt (a 429's pause): the failure
            // that caused the pause says more, with the wait still ahead.
            Err((budget, Failure::Budget)) => match previous {
                Some(mut earlier) => {
                    earlier.retry_after = budget.retry_after.max(earlier.retry_after);
                    return Err(earlier);
                }
                None => return Err(budget),
            },
            Err(failed) => failed,
        };
        if retry >= config.max_retries || !retryable(failure, idempotent) {
            return Err(error);
        }
        let delay = if failure == Failure::Status(429) {
            Duration::ZERO
        } else {
            match error.retry_after {
                Some(asked) if asked > config.max_delay => return Err(error),
                Some(asked) => asked.max(config.random_delay(retry)),
                None => config.random_delay(retry),
            }
        };
        tracing::debug!(
            error.class = %error.class,
            http.status = error.status,
            retry = retry + 1,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "retrying the GHL call"
        );
        tokio::time::sleep(delay).await;
        retry += 1;
        previous = Some(error);
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// GHL (or something in front of it) answered with this non-success status.
    Status(u16),
    /// No connection was established: the request was not sent.
    Connect,
    /// The time ran out after the request may have been sent.
    Timeout,
    /// The connection broke; the request may have been received.
    Interrupted,
    /// The request could not be built.
    Build,
    /// The location's budget is spent or paused for longer than a call waits: not sent;
    /// left to the job level (which reschedules it).
    Budget,
}

/// Whether an attempt that failed with `failure` is retried (the table above).
pub(crate) fn retryable(failure: Failure, idempotent: bool) -> bool {
    match failure {
        Failure::Status(408 | 429) | Failure::Connect => true,
        Failure::Status(501) | Failure::Build | Failure::Budget => false,
        Failure::Status(500..=599) | Failure::Timeout | Failure::Interrupted => idempotent,
        Failure::Status(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use domain::job::ErrorClass;
    use tokio::time::Instant;

    use super::*;

    fn failed(failure: Failure) -> (CrmError, Failure) {
        (
            CrmError::new(ErrorClass::Transient, None, "scripted"),
            failure,
        )
    }

    /// Runs the loop against scripted outcomes; returns the result and the moments (since
    /// the start, in paused time) of each attempt.
    async fn run(
        config: RetryConfig,
        idempotent: bool,
        script: Vec<Result<u32, (CrmError, Failure)>>,
    ) -> (Result<u32, CrmError>, Vec<Duration>) {
        let start = Instant::now();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let result = with_retries(&config, idempotent, |_| {
            let seen = Arc::clone(&seen);
            let script = Arc::clone(&script);
            async move {
                seen.lock().unwrap().push(start.elapsed());
                script.lock().unwrap().next().unwrap()
            }
        })
        .await;
        let seen = seen.lock().unwrap().clone();
        (result, seen)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_wait_one_two_four_seconds_then_give_up() {
        let config = RetryConfig {
            jitter: 0.0,
            ..RetryConfig::default()
        };
        let script = vec![Err(failed(Failure::Status(503))); 4];
        let (result, at) = run(config, true, script).await;
        assert_eq!(result.unwrap_err().message, "scripted");
        let secs = Duration::from_secs;
        assert_eq!(at, [secs(0), secs(1), secs(3), secs(7)]);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_stays_within_thirty_percent() {
        let script = vec![
            Err(failed(Failure::Timeout)),
            Err(failed(Failure::Connect)),
            Ok(7),
        ];
        let (result, at) = run(RetryConfig::default(), true, script).await;
        assert_eq!(result, Ok(7));
        let gaps = [at[1] - at[0], at[2] - at[1]];
        assert!(gaps[0] >= Duration::from_secs(1) && gaps[0] <= Duration::from_millis(1_300));
        assert!(gaps[1] >= Duration::from_secs(2) && gaps[1] <= Duration::from_millis(2_600));
    }

    #[tokio::test(start_paused = true)]
    async fn an_in_doubt_write_is_not_retried_but_a_refused_one_is() {
        let (result, at) = run(
            RetryConfig::default(),
            false,
            vec![Err(failed(Failure::Status(502)))],
        )
        .await;
        assert!(result.is_err());
        assert_eq!(at.len(), 1);

        let (result, at) = run(
            RetryConfig::default(),
            false,
            vec![
                Err(failed(Failure::Connect)),
                Err(failed(Failure::Status(429))),
                Ok(1),
            ],
        )
        .await;
        assert_eq!(result, Ok(1));
        // After the 429 no backoff here: the location's pause does the waiting.
        assert_eq!(at.len(), 3);
        assert_eq!(at[2], at[1]);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_when_longer_and_left_to_the_job_when_too_long() {
        let mut slow = failed(Failure::Status(503));
        slow.0.retry_after = Some(Duration::from_secs(5));
        let (result, at) = run(RetryConfig::default(), true, vec![Err(slow), Ok(2)]).await;
        assert_eq!(result, Ok(2));
        assert!(at[1] >= Duration::from_secs(5) && at[1] <= Duration::from_millis(5_001));

        let mut very_slow = failed(Failure::Status(503));
        very_slow.0.retry_after = Some(Duration::from_secs(120));
        let (result, at) = run(RetryConfig::default(), true, vec![Err(very_slow)]).await;
        assert_eq!(
            result.unwrap_err().retry_after,
            Some(Duration::from_secs(120))
        );
        assert_eq!(at.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        for status in [400, 401, 403, 404, 422, 501] {
            let (result, at) = run(
                RetryConfig::default(),
                true,
                vec![Err(failed(Failure::Status(status)))],
            )
            .await;
            assert!(result.is_err());
            assert_eq!(at.len(), 1, "{status} was retried");
        }
    }

    #[test]
    fn the_table_row_by_row() {
        let rows: [(Failure, bool, bool); 18] = [
            // (failure, retried when idempotent, retried for a note/task POST)
            (Failure::Status(408), true, true),
            (Failure::Status(429), true, true),
            (Failure::Status(500), true, false),
            (Failure::Status(502), true, false),
            (Failure::Status(503), true, false),
            (Failure::Status(504), true, false),
            (Failure::Status(501), false, false),
            (Failure::Status(400), false, false),
            (Failure::Status(401), false, false),
            (Failure::Status(403), false, false),
            (Failure::Status(404), false, false),
            (Failure::Status(422), false, false),
            (Failure::Status(409), false, false),
            (Failure::Connect, true, true),
            (Failure::Timeout, true, false),
            (Failure::Interrupted, true, false),
            (Failure::Build, false, false),
            (Failure::Budget, false, false),
        ];
        for (failure, idempotent, write) in rows {
            assert_eq!(
                retryable(failure, true),
                idempotent,
                "{failure:?} idempotent"
            );
            assert_eq!(retryable(failure, false), write, "{failure:?} note/task");
        }
    }

    #[test]
    fn the_schedule_doubles_from_one_second_and_is_capped() {
        let config = RetryConfig::default();
        let no_jitter: Vec<Duration> = (0..7).map(|n| config.delay(n, 0.0)).collect();
        let secs = Duration::from_secs;
        assert_eq!(
            no_jitter,
            [
                secs(1),
                secs(2),
                secs(4),
                secs(8),
                secs(16),
                secs(30),
                secs(30)
            ]
        );
        // Full jitter adds 30 %, still under the cap.
        assert_eq!(config.delay(0, 1.0), Duration::from_millis(1_300));
        assert_eq!(config.delay(3, 1.0), Duration::from_millis(10_400));
        assert_eq!(config.delay(4, 1.0), Duration::from_millis(20_800));
        assert_eq!(config.delay(5, 1.0), secs(30));
        for n in 0..10 {
            let d = config.random_delay(n);
            assert!(
                d >= config.delay(n, 0.0) && d <= config.delay(n, 1.0),
                "{d:?}"
            );
        }
    }
}

//! Exponential backoff with a cap and jitter. Randomness is passed in, so the
//! schedule is a pure function and testable.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (the seed's 3 retries = 4 attempts).
    pub max_attempts: u32,
    /// Delay after the first failed attempt.
    pub base_delay: Duration,
    /// No delay exceeds this, jitter included.
    pub max_delay: Duration,
    /// Up to this fraction of the delay is added at random (0.3 = 30 %).
    pub jitter: f64,
    /// A job whose appointment ended longer ago than this is dead-lettered
    /// instead of retried: nobody needs a reminder for a visit long past.
    pub max_age_after_end: Duration,
}

impl RetryPolicy {
    /// The seed's job-level defaults: retry 3 times, 5 minutes apart and growing, 30 % jitter.
    pub const JOB_DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_secs(5 * 60),
        max_delay: Duration::from_secs(60 * 60),
        jitter: 0.3,
        max_age_after_end: Duration::from_secs(30 * 24 * 3600),
    };

    /// Whether another attempt may follow `attempts_made` failed ones.
    pub fn allows_another(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts
    }

    /// The wait after the `attempts_made`-th failure (1-based): base · 2^(n-1),
    /// capped, plus `unit_random` ∈ [0, 1) times the jitter share, capped again.
    pub fn delay_after(&self, attempts_made: u32, unit_random: f64) -> Duration {
        let exponent = attempts_made.saturating_sub(1).min(30);
        let raw = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let jitter_share = self.jitter.clamp(0.0, 1.0) * unit_random.clamp(0.0, 1.0);
        raw.saturating_add(raw.mul_f64(jitter_share))
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_until_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            jitter: 0.0,
            max_age_after_end: Duration::from_secs(3600),
        };
        let delays: Vec<u64> = (1..=7)
            .map(|n| policy.delay_after(n, 0.5).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn jitter_adds_at_most_its_share_and_never_passes_the_cap() {
        let policy = RetryPolicy::JOB_DEFAULT;
        assert_eq!(policy.delay_after(1, 0.0), Duration::from_secs(300));
        assert_eq!(policy.delay_after(1, 0.999_999).as_secs(), 389);
        assert_eq!(policy.delay_after(5, 0.999), Duration::from_secs(3600));
    }

    #[test]
    fn the_seed_allows_three_retries() {
        let policy = RetryPolicy::JOB_DEFAULT;
        assert!(policy.allows_another(3));
        assert!(!policy.allows_another(4));
    }
}

//! How the simulated API misbehaves: GHL's rate limits, injected faults and latency.
//!
//! [`SimControl`] is the run-time setting (initialised from [`crate::SimConfig`],
//! changed with `PUT /_sim/control`); [`Budget`] is GHL's rate limit as a fixed window
//! (`burst` requests per `window_ms`) plus a daily window, both per location (the sim has
//! one). Requests refused with 429 do not use the budget.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// GHL's burst limit: 100 requests per 10 s per app and location.
pub const GHL_BURST: u32 = 100;
/// GHL's burst window.
pub const GHL_WINDOW_MS: u64 = 10_000;
/// GHL's daily limit per app and location.
pub const GHL_DAILY: u64 = 200_000;
/// The daily window.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a `timeout` fault holds the response (unless the client gives up first).
pub const TIMEOUT_HOLD: Duration = Duration::from_secs(120);

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// `500 Internal Server Error`.
    Status500,
    /// `502 Bad Gateway`.
    Status502,
    /// `503 Service Unavailable`.
    Status503,
    /// The response is held for [`TIMEOUT_HOLD`], then the connection is closed.
    Timeout,
    /// The connection is closed without a response.
    Drop,
    /// `401` as for a revoked token (never after a write).
    Status401,
}

impl FaultKind {
    /// The default `--fault-kinds`: everything except 401.
    pub const DEFAULTS: [FaultKind; 5] = [
        FaultKind::Status500,
        FaultKind::Status502,
        FaultKind::Status503,
        FaultKind::Timeout,
        FaultKind::Drop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Status500 => "500",
            FaultKind::Status502 => "502",
            FaultKind::Status503 => "503",
            FaultKind::Timeout => "timeout",
            FaultKind::Drop => "drop",
            FaultKind::Status401 => "401",
        }
    }

    /// The status code the client receives, or `None` when it receives no response.
    pub fn status(self) -> Option<u16> {
        match self {
            FaultKind::Status500 => Some(500),
            FaultKind::Status502 => Some(502),
            FaultKind::Status503 => Some(503),
            FaultKind::Status401 => Some(401),
            FaultKind::Timeout | FaultKind::Drop => None,
        }
    }

    /// Parses a comma-separated list such as `500,502,503,timeout,drop,401`.
    pub fn parse_list(list: &str) -> Result<Vec<FaultKind>, UnknownFaultKind> {
        let mut kinds: Vec<FaultKind> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(FaultKind::from_str)
            .collect::<Result<_, _>>()?;
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fault kind that is not one of `500, 502, 503, timeout, drop, 401`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault kind {0:?} (expected 500, 502, 503, timeout, drop or 401)")]
pub struct UnknownFaultKind(pub String);

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "500" => Ok(FaultKind::Status500),
            "502" => Ok(FaultKind::Status502),
            "503" => Ok(FaultKind::Status503),
            "timeout" => Ok(FaultKind::Timeout),
            "drop" => Ok(FaultKind::Drop),
            "401" => Ok(FaultKind::Status401),
            other => Err(UnknownFaultKind(other.to_owned())),
        }
    }
}

impl Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FaultKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Added latency: each request waits a uniformly random time in `min..=max` ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyMs {
    pub min: u64,
    pub max: u64,
}

impl FromStr for LatencyMs {
    type Err = String;

    /// `MIN-MAX` or a single `N` (both N).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("invalid latency {s:?}: expected MIN-MAX in milliseconds"))
        };
        let latency = match s.split_once('-') {
            Some((min, max)) => LatencyMs {
                min: parse(min)?,
                max: parse(max)?,
            },
            None => {
                let n = parse(s)?;
                LatencyMs { min: n, max: n }
            }
        };
        if latency.min > latency.max {
            return Err(format!("invalid latency {s:?}: MIN is larger than MAX"));
        }
        Ok(latency)
    }
}

/// GHL's rate limit: `burst` requests per `window_ms`, and `daily` per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    pub burst: u32,
    pub window_ms: u64,
    pub daily: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: GHL_BURST,
            window_ms: GHL_WINDOW_MS,
            daily: GHL_DAILY,
        }
    }
}

/// The run-time behaviour, as `GET /_sim/control` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimControl {
    /// Share of API requests (0..=1) that get a fault.
    pub fault_rate: f64,
    /// The kinds a fault is drawn from, uniformly.
    pub fault_kinds: Vec<FaultKind>,
    /// Share (0..=1) of faults on write requests (POST, PUT, DELETE) injected after the
    /// write was applied: the client sees a 5xx, a hang or a dropped connection although
    /// the write took effect.
    pub fault_after_write_share: f64,
    pub latency_ms: LatencyMs,
    pub rate_limit: RateLimit,
}

impl Default for SimControl {
    fn default() -> Self {
        SimControl {
            fault_rate: 0.0,
            fault_kinds: FaultKind::DEFAULTS.to_vec(),
            fault_after_write_share: 0.5,
            latency_ms: LatencyMs::default(),
            rate_limit: RateLimit::default(),
        }
    }
}

impl SimControl {
    /// Checks the ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err("faultRate must be between 0 and 1".into());
        }
        if !(0.0..=1.0).contains(&self.fault_after_write_share) {
            return Err("faultAfterWriteShare must be between 0 and 1".into());
        }
        if self.fault_rate > 0.0 && self.fault_kinds.is_empty() {
            return Err("faultKinds must not be empty when faultRate > 0".into());
        }
        if self.latency_ms.min > self.latency_ms.max {
            return Err("latencyMs.min must not exceed latencyMs.max".into());
        }
        if self.rate_limit.burst == 0 || self.rate_limit.window_ms == 0 {
            return Err("rateLimit.burst and rateLimit.windowMs must be at least 1".into());
        }
        if self.rate_limit.daily == 0 {
            return Err("rateLimit.daily must be at least 1".into());
        }
        Ok(())
    }

    /// Applies a `PUT /_sim/control` body (any subset of the fields).
    pub fn patched(&self, patch: ControlPatch) -> Result<SimControl, String> {
        let mut next = self.clone();
        if let Some(v) = patch.fault_rate {
            next.fault_rate = v;
        }
        if let Some(v) = patch.fault_kinds {
            let mut v = v;
            v.sort();
            v.dedup();
            next.fault_kinds = v;
        }
        if let Some(v) = patch.fault_after_write_share {
            next.fault_after_write_share = v;
        }
        if let Some(v) = patch.latency_ms {
            next.latency_ms = v;
        }
        if let Some(r) = patch.rate_limit {
            next.rate_limit = RateLimit {
                burst: r.burst.unwrap_or(next.rate_limit.burst),
                window_ms: r.window_ms.unwrap_or(next.rate_limit.window_ms),
                daily: r.daily.unwrap_or(next.rate_limit.daily),
            };
        }
        next.validate()?;
        Ok(next)
    }
}

/// A `PUT /_sim/control` body: every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPatch {
    pub fault_rate: Option<f64>,
    pub fault_kinds: Option<Vec<FaultKind>>,
    pub fault_after_write_share: Option<f64>,
    pub latency_ms: Option<LatencyMs>,
    pub rate_limit: Option<RateLimitPatch>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitPatch {
    pub burst: Option<u32>,
    pub window_ms: Option<u64>,
    pub daily: Option<u64>,
}

/// What the rate limiter says about one request, with the values of GHL's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: RateLimit,
    /// `X-RateLimit-Remaining`: requests left in the current window.
    pub remaining: u32,
    /// `X-RateLimit-Daily-Remaining`.
    pub daily_remaining: u64,
}

impl Verdict {
    /// GHL's five `X-RateLimit-*` headers.
    pub fn headers(&self) -> [(&'static str, String); 5] {
        [
            ("x-ratelimit-limit-daily", self.limit.daily.to_string()),
            (
                "x-ratelimit-daily-remaining",
                self.daily_remaining.to_string(),
            ),
            (
                "x-ratelimit-interval-milliseconds",
                self.limit.window_ms.to_string(),
            ),
            ("x-ratelimit-max", self.limit.burst.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
        ]
    }
}

/// The rate-limit state of the location: a fixed burst window and a fixed day, each
/// starting with the first request after the previous one ended.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    window: Option<(Instant, u32)>,
    day: Option<(Instant, u64)>,
}

impl Budget {
    /// Takes one request from the budget at `now`, or refuses it (a refused request uses
    /// nothing).
    pub fn take(&mut self, limit: RateLimit, now: Instant) -> Verdict {
        let window_len = Duration::from_millis(limit.window_ms);
        let (window_start, mut in_window) = match self.window {
            Some((start, n)) if now.duration_since(start) < window_len => (start, n),
            _ => (now, 0),
        };
        let (day_start, mut in_day) = match self.day {
            Some((start, n)) if now.duration_since(start) < DAY => (start, n),
            _ => (now, 0),
        };
        let allowed = in_window < limit.burst && in_day < limit.daily;
        if allowed {
            in_window += 1;
            in_day += 1;
        }
        self.window = Some((window_start, in_window));
        self.day = Some((day_start, in_day));
        Verdict {
            allowed,
            limit,
            remaining: limit.burst.saturating_sub(in_window),
            daily_remaining: limit.daily.saturating_sub(in_day),
        }
    }

    /// Forgets the windows (after the limit was reconfigured).
    pub fn reset(&mut self) {
        *self = Budget::default();
    }
}

/// Counters for `GET /_sim/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimStats {
    /// API requests received (inspection endpoints excluded).
    pub requests: u64,
    /// By the status the client received; `timeout` and `drop` for no response.
    pub by_status: BTreeMap<String, u64>,
    pub faults_injected: u64,
    /// Requests refused with 429.
    pub rate_limited: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        burst: 3,
        window_ms: 1_000,
        daily: 5,
    };

    #[test]
    fn the_window_counts_down_refuses_past_the_burst_and_resets() {
        let mut budget = Budget::default();
        let t0 = Instant::now();
        let remaining: Vec<(bool, u32)> = (0..4)
            .map(|_| budget.take(LIMIT, t0))
            .map(|v| (v.allowed, v.remaining))
            .collect();
        assert_eq!(remaining, [(true, 2), (true, 1), (true, 0), (false, 0)]);
        // Still inside the window.
        assert!(!budget.take(LIMIT, t0 + Duration::from_millis(999)).allowed);
        // The next window starts fresh.
        let v = budget.take(LIMIT, t0 + Duration::from_millis(1_000));
        assert!(v.allowed);
        assert_eq!(v.remaining, 2);
    }

    #[test]
    fn the_daily_limit_holds_across_windows_and_refusals_use_nothing() {
        let mut budget = Budget::default();
        let t0 = Instant::now();
        let mut daily = Vec::new();
        for i in 0..4u64 {
            let now = t0 + Duration::from_secs(2 * i);
            let first = budget.take(LIMIT, now);
            let second = budget.take(LIMIT, now);
            daily.push((first.allowed, second.allowed, second.daily_remaining));
        }
        assert_eq!(
            daily,
            [
                (true, true, 3),
                (true, true, 1),
                (true, false, 0),
                (false, false, 0)
            ]
        );
        assert!(budget.take(LIMIT, t0 + DAY).allowed);
    }

    #[test]
    fn fault_kinds_parse_from_the_flag_syntax() {
        assert_eq!(
            FaultKind::parse_list("500, 502,503,timeout,drop,401,500").unwrap(),
            [
                FaultKind::Status500,
                FaultKind::Status502,
                FaultKind::Status503,
                FaultKind::Timeout,
                FaultKind::Drop,
                FaultKind::Status401,
            ]
        );
        assert!(FaultKind::parse_list("500,418").is_err());
    }

    #[test]
    fn latency_parses_ranges_and_single_values() {
        assert_eq!("5-50".parse(), Ok(LatencyMs { min: 5, max: 50 }));
        assert_eq!("7".parse(), Ok(LatencyMs { min: 7, max: 7 }));
        assert!("50-5".parse::<LatencyMs>().is_err());
        assert!("x".parse::<LatencyMs>().is_err());
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_is_validated() {
        let control = SimControl::default();
        let patched = control
            .patched(ControlPatch {
                fault_rate: Some(0.25),
                rate_limit: Some(RateLimitPatch {
                    burst: Some(20),
                    ..RateLimitPatch::default()
                }),
                ..ControlPatch::default()
            })
            .unwrap();
        assert_eq!(patched.fault_rate, 0.25);
        assert_eq!(patched.rate_limit.burst, 20);
        assert_eq!(patched.rate_limit.window_ms, GHL_WINDOW_MS);
        assert_eq!(patched.fault_kinds, FaultKind::DEFAULTS);
        let too_high = ControlPatch {
            fault_rate: Some(1.5),
            ..ControlPatch::default()
        };
        assert!(control.patched(too_high).unwrap_err().contains("faultRate"));
    }
}

//! The monitor's health rules, as pure functions: the seed's checks
//! (environment complete, success rate > 90 %, dead-letter queue < 50, fewer
//! than 10 failures per hour) → healthy / degraded / unhealthy, with issues and
//! recommendations that name the cause of failures (grouped by location, error
//! class, HTTP status and error text) and what to do about it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::AppointmentId;
use crate::job::ErrorClass;

/// Attempt figures over the monitor's window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncFigures {
    /// Attempts finished in the window.
    pub total: u64,
    /// … that succeeded or were skipped (nothing to do in GHL).
    pub successful: u64,
    /// … that failed (retried later or dead-lettered).
    pub failed: u64,
    /// Jobs in the dead-letter queue now.
    pub dead_letter_size: u64,
    /// Failed attempts in the last hour.
    pub failures_last_hour: u64,
    pub recent_failures: Vec<RecentFailure>,
}

/// A job whose latest attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentFailure {
    pub appointment_id: AppointmentId,
    pub error: String,
    pub attempts: u32,
    pub last_attempt: DateTime<Utc>,
}

/// Failed attempts that share a cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureGroup {
    pub location_id: String,
    pub error_class: Option<ErrorClass>,
    pub http_status: Option<u16>,
    pub error: String,
    pub count: u64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

/// Attempts that finished in one time bucket (for charts).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeBucket {
    pub start: DateTime<Utc>,
    pub succeeded: u64,
    pub failed: u64,
    /// Mean time from the job's creation (the commit) to the end of the attempt.
    pub mean_latency_ms: f64,
    /// Slowest such time in the bucket.
    pub max_latency_ms: f64,
}

/// The seed's alert thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Success rate (percent) at or below which sync performance fails.
    pub min_success_rate: f64,
    /// Dead-letter size at or above which the queue check fails.
    pub max_dead_letters: u64,
    /// Failures in the last hour at or above which the failure check fails.
    pub max_failures_per_hour: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_success_rate: 90.0,
            max_dead_letters: 50,
            max_failures_per_hour: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// The seed's `checks` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthChecks {
    pub environment: bool,
    pub sync_performance: bool,
    pub dead_letter_queue: bool,
    pub recent_failures: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub issues: Vec<String>,
    pub checks: HealthChecks,
    pub recommendations: Vec<String>,
}

/// Percentage of successful attempts, one decimal; 100 when there were none.
pub fn success_rate(figures: &SyncFigures) -> f64 {
    if figures.total == 0 {
        return 100.0;
    }
    let rate = figures.successful as f64 * 100.0 / figures.total as f64;
    (rate * 10.0).round() / 10.0
}

/// Applies the rules. `missing_env` names required settings that are not set.
///
/// Status: unhealthy when the environment is incomplete or two or more of the
/// other checks fail; degraded when one fails; healthy otherwise.
pub fn assess(
    figures: &SyncFigures,
    groups: &[FailureGroup],
    missing_env: &[&str],
    thresholds: &Thresholds,
) -> HealthReport {
    let rate = success_rate(figures);
    let checks = HealthChecks {
        environment: missing_env.is_empty(),
        sync_performance: rate > thresholds.min_success_rate,
        dead_letter_queue: figures.dead_letter_size < thresholds.max_dead_letters,
        recent_failures: figures.failures_last_hour < thresholds.max_failures_per_hour,
    };
    let mut issues = Vec::new();
    let mut recommendations = Vec::new();
    if !checks.environment {
        issues.push(format!("Missing configuration: {}", missing_env.join(", ")));
        recommendations.push(format!(
            "Set {} (see README, Configuration)",
            missing_env.join(" and ")
        ));
    }
    if !checks.sync_performance {
        issues.push(format!(
            "Success rate {rate}% is at or below {}%",
            thresholds.min_success_rate
        ));
        recommendations.push(format!(
            "Investigate sync failures - success rate below {}%",
            thresholds.min_success_rate
        ));
    }
    if !checks.recent_failures {
        issues.push(format!(
            "High failure rate in last hour: {} failures",
            figures.failures_last_hour
        ));
    }
    if !checks.dead_letter_queue {
        issues.push(format!(
            "Dead-letter queue holds {} jobs (limit {})",
            figures.dead_letter_size, thresholds.max_dead_letters
        ));
    }
    for group in groups {
        let advice = advice(group);
        if !recommendations.contains(&advice) {
            recommendations.push(advice);
        }
    }
    if figures.dead_letter_size > 0 {
        recommendations.push(format!(
            "{} dead-lettered job(s): once the cause is fixed, replay them with GET or POST /monitor?action=retry (or the dashboard)",
            figures.dead_letter_size
        ));
    }
    let failing = [
        checks.sync_performance,
        checks.dead_letter_queue,
        checks.recent_failures,
    ]
    .iter()
    .filter(|ok| !**ok)
    .count();
    let status = if !checks.environment || failing >= 2 {
        HealthStatus::Unhealthy
    } else if failing == 1 {
        HealthStatus::Degraded
    } else {
        HealthStatus::Healthy
    };
    HealthReport {
        status,
        issues,
        checks,
        recommendations,
    }
}

/// A GHL location whose token GHL refuses: its jobs wait (they are not
/// dead-lettered) until a probe finds the token accepted again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPaused {
    pub location_id: String,
    pub since: DateTime<Utc>,
    /// Probes GHL refused again since the pause began.
    pub refused_checks: i32,
}

/// Adds the locations paused for a refused token to a report: each is an issue
/// with what to do, and any makes the system unhealthy (nothing of that location
/// reaches GHL until the token is fixed).
pub fn add_auth_pauses(report: &mut HealthReport, paused: &[AuthPaused]) {
    for pause in paused {
        report.issues.push(format!(
            "GHL location {} refuses our token since {} UTC ({} refused checks): its syncs are paused and wait",
            pause.location_id,
            pause.since.format("%Y-%m-%d %H:%M"),
            pause.refused_checks
        ));
        report.recommendations.push(format!(
            "location {}: reconnect the GHL app or renew the token (GHL_API_KEY, or the OAuth refresh token); the waiting syncs resume by themselves within GHL_AUTH_PAUSE_SECONDS",
            pause.location_id
        ));
    }
    if !paused.is_empty() {
        report.status = HealthStatus::Unhealthy;
    }
}

/// One actionable sentence about a group of failures.
pub fn advice(group: &FailureGroup) -> String {
    let status = group
        .http_status
        .map_or_else(|| "no HTTP answer".to_owned(), |s| s.to_string());
    let since = group.first_at.format("%Y-%m-%d %H:%M UTC");
    let location = &group.location_id;
    let n = group.count;
    match group.error_class {
        Some(ErrorClass::Auth) => format!(
            "location {location}: GHL refuses our token ({status} × {n}) since {since}: reconnect the integration or renew GHL_API_KEY (it needs the contacts and tasks scopes), then retry"
        ),
        Some(ErrorClass::Validation) => format!(
            "location {location}: GHL rejects what we send ({status} × {n}) since {since}: {}: fix the GHL set-up or our field and tag settings, then retry",
            group.error
        ),
        Some(ErrorClass::NotFound) => format!(
            "location {location}: contacts missing in GHL ({status} × {n}) since {since}: {}: check the leads' GHL contact ids, then retry or discard",
            group.error
        ),
        Some(ErrorClass::RateLimited) => format!(
            "location {location}: rate limited by GHL (429 × {n}) since {since}: Check GoHighLevel API status and rate limits; jobs are retried on their own"
        ),
        Some(ErrorClass::Transient) => format!(
            "location {location}: GHL unreachable or failing ({status} × {n}) since {since}: check GoHighLevel API status and the network; jobs are retried on their own"
        ),
        Some(ErrorClass::Permanent) | None => format!(
            "location {location}: {} ({status} × {n}) since {since}: inspect the dead-letter queue, fix, then retry or discard",
            group.error
        ),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn figures(total: u64, failed: u64, dead: u64, last_hour: u64) -> SyncFigures {
        SyncFigures {
            total,
            successful: total - failed,
            failed,
            dead_letter_size: dead,
            failures_last_hour: last_hour,
            recent_failures: Vec::new(),
        }
    }

    fn group(class: ErrorClass, status: Option<u16>, error: &str, count: u64) -> FailureGroup {
        FailureGroup {
            location_id: "loc-1".into(),
            error_class: Some(class),
            http_status: status,
            error: error.into(),
            count,
            first_at: Utc.with_ymd_and_hms(2026, 11, 29, 10, 2, 0).unwrap(),
            last_at: Utc.with_ymd_and_hms(2026, 11, 29, 11, 0, 0).unwrap(),
        }
    }

    #[test]
    fn no_attempts_is_a_full_success_rate_and_healthy() {
        let report = assess(&SyncFigures::default(), &[], &[], &Thresholds::default());
        assert_eq!(success_rate(&SyncFigures::default()), 100.0);
        assert_eq!(report.status, HealthStatus::Healthy);
        assert!(report.issues.is_empty());
        assert!(report.recommendations.is_empty());
    }

    #[test]
    fn the_seeds_example_rate_is_rounded_to_one_decimal() {
        assert_eq!(success_rate(&figures(1250, 55, 0, 0)), 95.6);
    }

    #[test]
    fn each_threshold_is_exclusive_as_in_the_seed() {
        let t = Thresholds::default();
        // 90 % exactly is not "> 90 %".
        let r = assess(&figures(10, 1, 0, 0), &[], &[], &t);
        assert!(!r.checks.sync_performance);
        let r = assess(&figures(1000, 99, 49, 9), &[], &[], &t);
        assert!(
            r.checks.sync_performance && r.checks.dead_letter_queue && r.checks.recent_failures
        );
        assert_eq!(r.status, HealthStatus::Healthy);
        let r = assess(&figures(1000, 99, 50, 10), &[], &[], &t);
        assert!(!r.checks.dead_letter_queue && !r.checks.recent_failures);
    }

    #[test]
    fn one_failing_check_degrades_two_make_it_unhealthy() {
        let t = Thresholds::default();
        let one = assess(&figures(100, 2, 0, 15), &[], &[], &t);
        assert_eq!(one.status, HealthStatus::Degraded);
        assert_eq!(one.issues, ["High failure rate in last hour: 15 failures"]);
        let two = assess(&figures(100, 20, 0, 15), &[], &[], &t);
        assert_eq!(two.status, HealthStatus::Unhealthy);
        assert!(
            two.recommendations
                .contains(&"Investigate sync failures - success rate below 90%".to_owned())
        );
    }

    #[test]
    fn a_missing_setting_is_unhealthy_and_named() {
        let r = assess(
            &figures(0, 0, 0, 0),
            &[],
            &["GHL_API_KEY"],
            &Thresholds::default(),
        );
        assert_eq!(r.status, HealthStatus::Unhealthy);
        assert!(!r.checks.environment);
        assert_eq!(r.issues, ["Missing configuration: GHL_API_KEY"]);
        assert!(r.recommendations[0].contains("GHL_API_KEY"));
    }

    #[test]
    fn recommendations_name_the_cause_the_location_and_the_fix() {
        let groups = [
            group(ErrorClass::Auth, Some(401), "unauthorized", 12),
            group(
                ErrorClass::Validation,
                Some(422),
                "custom field `foo` does not exist in GHL",
                37,
            ),
            group(ErrorClass::RateLimited, Some(429), "rate limited", 3),
        ];
        let r = assess(
            &figures(100, 52, 3, 2),
            &groups,
            &[],
            &Thresholds::default(),
        );
        let all = r.recommendations.join("\n");
        assert!(all.contains("location loc-1: GHL refuses our token (401 × 12) since 2026-11-29 10:02 UTC: reconnect"), "{all}");
        assert!(
            all.contains("(422 × 37)") && all.contains("custom field `foo`"),
            "{all}"
        );
        assert!(
            all.contains("Check GoHighLevel API status and rate limits"),
            "{all}"
        );
        assert!(
            all.contains("3 dead-lettered job(s)") && all.contains("action=retry"),
            "{all}"
        );
    }

    #[test]
    fn a_location_paused_for_its_token_makes_the_system_unhealthy_with_advice() {
        let mut report = assess(&SyncFigures::default(), &[], &[], &Thresholds::default());
        assert_eq!(report.status, HealthStatus::Healthy);
        let since = DateTime::parse_from_rfc3339("2030-01-10T10:02:00Z")
            .unwrap()
            .with_timezone(&Utc);
        add_auth_pauses(
            &mut report,
            &[AuthPaused {
                location_id: "loc-1".into(),
                since,
                refused_checks: 3,
            }],
        );
        assert_eq!(report.status, HealthStatus::Unhealthy);
        assert!(report.issues[0].contains("loc-1 refuses our token since 2030-01-10 10:02 UTC"));
        assert!(
            report
                .recommendations
                .iter()
                .any(|r| r.contains("location loc-1: reconnect"))
        );
    }
}

//! Alerts to a chat webhook (`ALERT_WEBHOOK_URL`): a message when a job is
//! dead-lettered and when the sync health (the monitor's rules) changes.
//!
//! The worker sends them: it sees dead-lettering first, and it evaluates the
//! health every `ALERT_HEALTH_INTERVAL_SECONDS` (several workers each evaluate
//! and may each send one message per change; the de-duplication is per process).
//! The body is `{"text": "...", "content": "..."}`: Slack reads `text`,
//! Discord reads `content`, each ignores the other.
//!
//! Noise control ([`Gate`]): messages with the same key (a dead-letter cause:
//! location, error class and HTTP status; or the health) are sent at most once
//! per `ALERT_DEDUP_SECONDS`, the suppressed ones counted into the next; and at
//! most `ALERT_MAX_PER_HOUR` messages go out per hour in all. The webhook URL
//! is a secret: it is never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use domain::health::{HealthReport, HealthStatus};
use domain::ids::{AppointmentId, LocationId};
use domain::intent::SyncAction;
use domain::job::{CrmError, SyncJob};
use secrecy::{ExposeSecret, SecretString};

/// How alerts are sent and throttled.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub webhook_url: SecretString,
    /// Same-key messages at most this often.
    pub dedup: Duration,
    /// Messages per hour in all.
    pub max_per_hour: u32,
}

/// De-duplication and rate limiting, with time passed in (deterministic tests).
#[derive(Debug)]
pub struct Gate {
    dedup: Duration,
    max_per_hour: u32,
    last_by_key: HashMap<String, Instant>,
    suppressed_by_key: HashMap<String, u64>,
    sent: Vec<Instant>,
}

/// What the gate decided about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send it; `suppressed` same-key messages were held back since the last one.
    Send { suppressed: u64 },
    /// Held back (counted for the next message of the key).
    Drop,
}

impl Gate {
    pub fn new(dedup: Duration, max_per_hour: u32) -> Self {
        Self {
            dedup,
            max_per_hour,
            last_by_key: HashMap::new(),
            suppressed_by_key: HashMap::new(),
            sent: Vec::new(),
        }
    }

    pub fn check(&mut self, key: &str, now: Instant) -> Verdict {
        let hour = Duration::from_secs(3600);
        self.sent.retain(|t| now.duration_since(*t) < hour);
        let recent = self
            .last_by_key
            .get(key)
            .is_some_and(|last| now.duration_since(*last) < self.dedup);
        let over_budget = self.sent.len() >= self.max_per_hour as usize;
        if recent || over_budget {
            *self.suppressed_by_key.entry(key.to_owned()).or_default() += 1;
            return Verdict::Drop;
        }
        self.last_by_key.insert(key.to_owned(), now);
        self.sent.push(now);
        Verdict::Send {
            suppressed: self.suppressed_by_key.remove(key).unwrap_or(0),
        }
    }
}

/// Sends alerts in the background; cheap to clone.
#[derive(Clone)]
pub struct Alerter {
    config: Arc<AlertConfig>,
    http: reqwest::Client,
    gate: Arc<Mutex<Gate>>,
    last_health: Arc<Mutex<Option<HealthStatus>>>,
}

static GLOBAL: OnceLock<Alerter> = OnceLock::new();

/// Makes `alerter` the process's alerter (used by the runner's dead-letter hook).
pub fn install(alerter: Alerter) {
    let _ = GLOBAL.set(alerter);
}

/// A dead-lettered job, as an alert names it (ids only, no personal data).
#[derive(Debug, Clone)]
pub struct DeadJobInfo {
    pub action: SyncAction,
    pub appointment_id: AppointmentId,
    pub location_id: LocationId,
    pub attempts: u32,
}

impl From<&SyncJob> for DeadJobInfo {
    fn from(job: &SyncJob) -> Self {
        Self {
            action: job.action,
            appointment_id: job.appointment_id,
            location_id: job.location_id.clone(),
            attempts: job.attempts,
        }
    }
}

/// The runner's hook: a job was dead-lettered.
pub fn dead_lettered(job: &DeadJobInfo, error: &CrmError) {
    if let Some(alerter) = GLOBAL.get() {
        alerter.dead_lettered(job, error);
    }
}

impl Alerter {
    pub fn new(config: AlertConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            gate: Arc::new(Mutex::new(Gate::new(config.dedup, config.max_per_hour))),
            config: Arc::new(config),
            http,
            last_health: Arc::new(Mutex::new(None)),
        })
    }

    /// A dead-lettered job: one message per cause (location, class, status).
    /// Returns whether a message was sent (not suppressed).
    pub fn dead_lettered(&self, job: &DeadJobInfo, error: &CrmError) -> bool {
        let status = error
            .status
            .map_or_else(|| "no HTTP answer".to_owned(), |s| s.to_string());
        let key = format!("dead:{}:{}:{status}", job.location_id, error.class);
        let text = format!(
            ":rotating_light: Sync job dead-lettered: `{}` of appointment `{}` (location {}), {} ({status}) after {} attempt(s): {}. Fix the cause, then retry from the dashboard or `/monitor?action=retry`.",
            job.action,
            job.appointment_id,
            job.location_id,
            error.class,
            job.attempts,
            error.message
        );
        self.send(&key, text)
    }

    /// A fresh health evaluation: alerts when the status differs from the last
    /// one (the first evaluation alerts only when not healthy). Returns
    /// whether a message was sent.
    pub fn health(&self, report: &HealthReport) -> bool {
        let previous = {
            let Ok(mut last) = self.last_health.lock() else {
                return false;
            };
            last.replace(report.status)
        };
        let changed = match previous {
            None => report.status != HealthStatus::Healthy,
            Some(p) => p != report.status,
        };
        if !changed {
            return false;
        }
        let from = previous.map_or("unknown", |p| p.as_str());
        let mut text = format!("Sync health: {} → {}", from, report.status.as_str());
        for issue in &report.issues {
            text.push_str(&format!("\n• {issue}"));
        }
        for advice in report.recommendations.iter().take(5) {
            text.push_str(&format!("\n→ {advice}"));
        }
        self.send("health", text)
    }

    fn send(&self, key: &str, mut text: String) -> bool {
        let verdict = match self.gate.lock() {
            Ok(mut gate) => gate.check(key, Instant::now()),
            Err(_) => return false,
        };
        let Verdict::Send { suppressed } = verdict else {
            tracing::debug!(
                alert.key = key,
                "alert suppressed (de-duplicated or over the hourly budget)"
            );
            return false;
        };
        if suppressed > 0 {
            text.push_str(&format!(
                "\n({suppressed} similar alert(s) suppressed since the last one)"
            ));
        }
        let request = self
            .http
            .post(self.config.webhook_url.expose_secret())
            .json(&serde_json::json!({ "text": text, "content": text }));
        let key = key.to_owned();
        tokio::spawn(async move {
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(alert.key = %key, "alert sent");
                }
                Ok(response) => {
                    tracing::warn!(alert.key = %key, http.status = response.status().as_u16(), "alert webhook refused the message");
                }
                Err(e) => {
                    // Without the URL: it is a secret.
                    tracing::warn!(alert.key = %key, error = %e.without_url(), "alert webhook unreachable");
                }
            }
        });
        true
    }
}

/// Evaluates the monitor's health rules every `every` and alerts on changes.
pub async fn watch_health(
    alerter: Alerter,
    stats: Arc<dyn domain::ports::SyncStats>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        let since = now - chrono::Duration::hours(24);
        let figures = stats
            .figures(since, now - chrono::Duration::hours(1), None, 0)
            .await;
        let groups = stats.failure_groups(since, 5).await;
        match (figures, groups) {
            (Ok(figures), Ok(groups)) => {
                // The worker runs only with its settings complete.
                let report = domain::health::assess(
                    &figures,
                    &groups,
                    &[],
                    &domain::health::Thresholds::default(),
                );
                alerter.health(&report);
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "health evaluation for alerts failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_is_sent_once_per_interval_and_counts_what_it_held_back() {
        let mut gate = Gate::new(Duration::from_secs(300), 100);
        let t0 = Instant::now();
        assert_eq!(gate.check("a", t0), Verdict::Send { suppressed: 0 });
        assert_eq!(gate.check("a", t0 + Duration::from_secs(10)), Verdict::Drop);
        assert_eq!(
            gate.check("a", t0 + Duration::from_secs(299)),
            Verdict::Drop
        );
        assert_eq!(
            gate.check("b", t0 + Duration::from_secs(20)),
            Verdict::Send { suppressed: 0 }
        );
        assert_eq!(
            gate.check("a", t0 + Duration::from_secs(300)),
            Verdict::Send { suppressed: 2 }
        );
    }

    #[test]
    fn no_more_than_the_hourly_budget_goes_out() {
        let mut gate = Gate::new(Duration::ZERO, 3);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(matches!(
                gate.check(&format!("k{i}"), t0),
                Verdict::Send { .. }
            ));
        }
        assert_eq!(
            gate.check("k9", t0 + Duration::from_secs(60)),
            Verdict::Drop
        );
        assert!(matches!(
            gate.check("k9", t0 + Duration::from_secs(3600)),
            Verdict::Send { suppressed: 1 }
        ));
    }
}

//! `worker dlq …`: the operator's view of the dead-letter queue.
//!
//! `list` shows dead jobs (a table, or JSON with `--json`); `retry` replays
//! them (one job at live priority, `--all` matching the filters at bulk
//! priority) after showing a preview and asking for confirmation; `discard`
//! takes them out of the queue (they stay recorded). Without `--yes` and
//! without a terminal to ask on, `retry` and `discard` refuse. Nothing printed
//! carries personal data: ids, actions, error classes and GHL's error messages
//! (which the adapter keeps free of request bodies).

use std::io::{BufRead, IsTerminal, Write};
use std::str::FromStr;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Utc};
use clap::{Args, Subcommand};
use domain::ids::{AppointmentId, LocationId, SyncJobId};
use domain::intent::SyncAction;
use domain::job::{ErrorClass, JobPriority};
use domain::ports::{DeadJob, DeadJobFilter, DeadLetters};
use storage::PgStore;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead-lettered sync jobs, newest first.
    List {
        #[command(flatten)]
        filters: Filters,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Replay dead jobs: re-planned from the appointment's current state.
    /// One job runs at live priority, `--all` at bulk priority.
    Retry(Selection),
    /// Take dead jobs out of the queue for good (they stay recorded as discarded).
    Discard(Selection),
}

#[derive(Debug, Args)]
pub struct Filters {
    /// Dead-lettered since: an RFC 3339 instant or a duration back from now (`30m`, `24h`, `7d`).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Only this action (create, update, confirm, cancel, complete, no_show).
    #[arg(long, value_parser = parse_action)]
    pub action: Option<SyncAction>,
    /// Only this error class (auth, not_found, validation, rate_limited, transient, permanent).
    #[arg(long, value_parser = parse_class)]
    pub error_class: Option<ErrorClass>,
    /// Only jobs of this appointment (its id).
    #[arg(long, value_parser = parse_appointment)]
    pub appointment: Option<AppointmentId>,
    /// Only jobs of this GHL location.
    #[arg(long)]
    pub location: Option<String>,
    /// At most this many jobs (newest first).
    #[arg(long)]
    pub limit: Option<u32>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["job_id", "all"])))]
pub struct Selection {
    /// The dead job (its id, as `dlq list` shows it).
    #[arg(value_parser = parse_job)]
    pub job_id: Option<SyncJobId>,
    /// Every dead job matching the filters.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub filters: Filters,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let ago = parse_duration(s).ok_or_else(|| {
        format!("{s:?} is neither an RFC 3339 instant nor a duration like 30m, 24h or 7d")
    })?;
    Ok(Utc::now() - ago)
}

/// `90s`, `30m`, `24h`, `7d`, `2w`.
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    if n < 0 {
        return None;
    }
    match unit {
        's' => Duration::try_seconds(n),
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => None,
    }
}

fn parse_action(s: &str) -> Result<SyncAction, String> {
    SyncAction::from_str(s).map_err(|e| e.to_string())
}

fn parse_class(s: &str) -> Result<ErrorClass, String> {
    ErrorClass::parse(s).ok_or_else(|| {
        format!("unknown error class {s:?}: expected auth, not_found, validation, rate_limited, transient or permanent")
    })
}

fn parse_appointment(s: &str) -> Result<AppointmentId, String> {
    AppointmentId::from_str(s).map_err(|_| format!("{s:?} is not an appointment id (a UUID)"))
}

fn parse_job(s: &str) -> Result<SyncJobId, String> {
    SyncJobId::from_str(s).map_err(|_| format!("{s:?} is not a sync job id (a UUID)"))
}

impl Filters {
    fn to_filter(&self) -> anyhow::Result<DeadJobFilter> {
        let location_id = self
            .location
            .as_deref()
            .map(LocationId::parse)
            .transpose()
            .map_err(|_| anyhow::anyhow!("--location is not a valid GHL location id"))?;
        Ok(DeadJobFilter {
            job_id: None,
            since: self.since,
            action: self.action,
            error_class: self.error_class,
            appointment_id: self.appointment,
            location_id,
            limit: self.limit,
        })
    }
}

/// Runs one `dlq` subcommand against the database of `config`.
pub async fn run(config: Config, command: DlqCommand) -> anyhow::Result<()> {
    let database_url = config
        .database_url
        .as_deref()
        .context("DATABASE_URL is required")?;
    let pool = storage::connect(database_url, 2)
        .await
        .context("connecting to the database")?;
    storage::migrate(&pool)
        .await
        .context("migrating the database")?;
    let store = PgStore::new(pool.clone());
    let mut out = std::io::stdout().lock();
    let result = execute(&store, command, &mut out).await;
    pool.close().await;
    result
}

async fn execute(store: &PgStore, command: DlqCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        DlqCommand::List { filters, json } => {
            let jobs = store.list(&filters.to_filter()?).await?;
            if json {
                let rows: Vec<_> = jobs.iter().map(job_json).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                write_table(out, &jobs)?;
            }
            Ok(())
        }
        DlqCommand::Retry(selection) => {
            let (filter, priority) = selection.filter()?;
            let preview = store.preview(&filter).await?;
            if preview.jobs == 0 {
                return nothing_matched(&selection);
            }
            writeln!(
                out,
                "{} dead job(s) to replay at {} priority, about {} GHL call(s); tags and fields \
                 follow each appointment's current state.",
                preview.jobs,
                priority_name(priority),
                preview.estimated_ghl_calls
            )?;
            confirm(out, selection.yes, "Replay them?")?;
            let n = store.replay(&filter, priority).await?;
            writeln!(out, "replayed {n} job(s)")?;
            Ok(())
        }
        DlqCommand::Discard(selection) => {
            let (filter, _) = selection.filter()?;
            let preview = store.preview(&filter).await?;
            if preview.jobs == 0 {
                return nothing_matched(&selection);
            }
            writeln!(
                out,
                "{} dead job(s) to discard (they stay recorded, but are never retried).",
                preview.jobs
            )?;
            confirm(out, selection.yes, "Discard them?")?;
            let n = store.discard(&filter).await?;
            writeln!(out, "discarded {n} job(s)")?;
            Ok(())
        }
    }
}

impl Selection {
    /// The filter and the priority of a replay: one job live, `--all` bulk.
    fn filter(&self) -> anyhow::Result<(DeadJobFilter, JobPriority)> {
        match self.job_id {
            Some(id) => Ok((
                DeadJobFilter {
                    job_id: Some(id),
                    ..DeadJobFilter::default()
                },
                JobPriority::Live,
            )),
            None => Ok((self.filters.to_filter()?, JobPriority::Bulk)),
        }
    }
}

fn nothing_matched(selection: &Selection) -> anyhow::Result<()> {
    match selection.job_id {
        Some(id) => bail!("job {id} is not in the dead-letter queue"),
        None => bail!("no dead job matches"),
    }
}

fn priority_name(priority: JobPriority) -> &'static str {
    match priority {
        JobPriority::Live => "live",
        JobPriority::Bulk => "bulk",
    }
}

/// Asks on the terminal unless `yes`; refuses without a terminal.
fn confirm(out: &mut impl Write, yes: bool, question: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("not confirmed: stdin is not a terminal; pass --yes to proceed without asking");
    }
    write!(out, "{question} [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        bail!("not confirmed; nothing changed")
    }
}

fn job_json(job: &DeadJob) -> serde_json::Value {
    serde_json::json!({
        "id": job.id.to_string(),
        "appointmentId": job.appointment_id.to_string(),
        "locationId": job.location_id.as_str(),
        "action": job.action.as_str(),
        "attempts": job.attempts,
        "errorClass": job.error_class.map(|c| c.as_str()),
        "httpStatus": job.http_status,
        "lastError": job.last_error,
        "createdAt": job.created_at.to_rfc3339(),
        "deadAt": job.finished_at.map(|t| t.to_rfc3339()),
    })
}

const ERROR_WIDTH: usize = 60;

fn write_table(out: &mut impl Write, jobs: &[DeadJob]) -> std::io::Result<()> {
    if jobs.is_empty() {
        return writeln!(out, "the dead-letter queue is empty (for these filters)");
    }
    writeln!(
        out,
        "{:<36}  {:<36}  {:<8}  {:>3}  {:<12}  {:>4}  {:<20}  ERROR",
        "JOB", "APPOINTMENT", "ACTION", "TRY", "CLASS", "HTTP", "DEAD AT (UTC)"
    )?;
    for job in jobs {
        let error = job.last_error.as_deref().unwrap_or("");
        let error: String = if error.chars().count() > ERROR_WIDTH {
            let cut: String = error.chars().take(ERROR_WIDTH - 1).collect();
            format!("{cut}…")
        } else {
            error.to_owned()
        };
        writeln!(
            out,
            "{:<36}  {:<36}  {:<8}  {:>3}  {:<12}  {:>4}  {:<20}  {}",
            job.id.to_string(),
            job.appointment_id.to_string(),
            job.action.as_str(),
            job.attempts,
            job.error_class.map_or("-", |c| c.as_str()),
            job.http_status.map_or("-".to_owned(), |s| s.to_string()),
            job.finished_at.map_or("-".to_owned(), |t| t
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()),
            error.replace(['\n', '\r'], " "),
        )?;
    }
    writeln!(out, "{} job(s)", jobs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_an_instant_or_a_duration_back_from_now() {
        let t = parse_since("2026-11-01T10:00:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-01T10:00:00+00:00");
        let day_ago = parse_since("24h").unwrap();
        let age = Utc::now() - day_ago;
        assert!(age >= Duration::hours(24) && age < Duration::hours(24) + Duration::minutes(1));
        assert_eq!(parse_duration("7d"), Some(Duration::days(7)));
        assert_eq!(parse_duration("30m"), Some(Duration::minutes(30)));
        for bad in ["", "h", "24", "-1h", "3y", "yesterday"] {
            assert!(parse_since(bad).is_err(), "{bad:?}");
        }
    }
}

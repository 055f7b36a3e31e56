//! The chaos test: ghl-sim answering ~20 % of requests with faults (5xx, hangs,
//! dropped connections; half of the faults on writes after the write was
//! applied, so the worker cannot know whether it happened) and with latency;
//! two worker processes, SIGKILLed at random moments and restarted, while
//! appointments are booked, rescheduled, confirmed, cancelled, completed and
//! marked no-show through the api. At the end every intent has succeeded or is
//! dead with a reason, nothing is lost (every succeeded job's note and task is
//! in GHL), nothing is duplicated (no marker twice), and every contact's tags
//! and custom fields equal the final state of its appointment.
//!
//! Tuned by environment variables (the defaults are the short form that
//! `cargo test` and `cargo xtask ci` run; `cargo xtask chaos` runs a longer one):
//! `CHAOS_SEED` (default 20261128), `CHAOS_APPOINTMENTS` (40), `CHAOS_SECONDS`
//! (15, the length of the change-and-kill phase), `CHAOS_FAULT_RATE` (0.2).
//! The seed drives the changes and the kills (the sim's faults and the timing
//! are not replayable); it is printed, with the figures.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use tests::{GHL_API_KEY, JWT_SECRET, LOCATION_ID, TestDb, binary, read, spawn_http_service};
use tokio::process::{Child, Command};

/// A sync job as the verification reads it.
#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    appointment_id: String,
    action: String,
    status: String,
    last_error: Option<String>,
    coalesced_into: Option<uuid::Uuid>,
}

/// splitmix64: small, seeded, good enough to pick actions and moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from + 1))
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Settings {
    seed: u64,
    appointments: usize,
    seconds: u64,
    fault_rate: f64,
}

/// One worker process slot: restarted after every kill.
struct Workers {
    env: Vec<(String, String)>,
    log_dir: PathBuf,
    children: Vec<Option<Child>>,
    generation: usize,
}

impl Workers {
    fn spawn(&mut self, slot: usize) -> Result<()> {
        self.generation += 1;
        // Appended to, so the log of every incarnation is kept.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_dir.join(format!("worker-{slot}.log")))?;
        let child = Command::new(binary("worker")?)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("WORKER_ID", format!("chaos-{slot}-{}", self.generation))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting a worker")?;
        self.children[slot] = Some(child);
        Ok(())
    }

    async fn kill(&mut self, slot: usize) -> Result<()> {
        if let Some(mut child) = self.children[slot].take() {
            child.start_kill()?; // SIGKILL
            child.wait().await?;
        }
        Ok(())
    }

    fn logs(&self) -> String {
        (0..self.children.len())
            .map(|slot| {
                std::fs::read_to_string(self.log_dir.join(format!("worker-{slot}.log")))
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// The api, by HTTP with a token.
struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn send(&self, method: Method, path: &str, body: &Value) -> Result<(u16, Value)> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        read(response).await
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Scheduled,
    Confirmed,
    Terminal,
}

struct Booked {
    id: String,
    status: Status,
    day: i64,
}

fn slot(day: i64, hour: u32) -> (String, String) {
    let start = (Utc::now() + chrono::Duration::days(day))
        .date_naive()
        .and_hms_opt(hour, 0, 0)
        .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
        .unwrap();
    (
        start.to_rfc3339(),
        (start + chrono::Duration::hours(2)).to_rfc3339(),
    )
}

/// One random change of a live appointment, through the api.
async fn change(api: &Api, rng: &mut Rng, booked: &mut Booked) -> Result<()> {
    let roll = rng.below(100);
    let (path, method, body, next) = match (booked.status, roll) {
        (Status::Terminal, _) => return Ok(()),
        (_, 0..=24) => {
            booked.day += 1 + rng.below(5) as i64;
            let (start, end) = slot(booked.day, 8 + rng.below(6) as u32);
            (
                format!("/api/appointments/{}", booked.id),
                Method::PATCH,
                json!({ "startTime": start, "endTime": end }),
                booked.status,
            )
        }
        (Status::Scheduled, 25..=64) => (
            format!("/api/appointments/{}/status", booked.id),
            Method::PATCH,
            json!({ "status": "confirmed" }),
            Status::Confirmed,
        ),
        (_, r) => {
            let status = match r % 3 {
                0 => "cancelled",
                1 => "completed",
                _ => "no_show",
            };
            (
                format!("/api/appointments/{}/status", booked.id),
                Method::PATCH,
                json!({ "status": status, "reason": "chaos" }),
                Status::Terminal,
            )
        }
    };
    let (code, answer) = api.send(method, &path, &body).await?;
    if code != 200 {
        bail!("{path} answered {code}: {answer}");
    }
    booked.status = next;
    Ok(())
}

/// `[sync <ref>/<step>]` markers in a text.
fn markers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[sync ") {
        let tail = &rest[start..];
        match tail.find(']') {
            Some(end) => {
                found.push(tail[..=end].to_owned());
                rest = &tail[end + 1..];
            }
            None => break,
        }
    }
    found
}

fn marker(job_id: &str, step: &str) -> String {
    let hex: String = job_id.chars().filter(|c| *c != '-').collect();
    format!("[sync {}/{step}]", &hex[hex.len() - 12..])
}

/// Sums a numeric field of the worker's `job succeeded` log lines.
fn sum_logged(logs: &str, field: &str) -> u64 {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "job succeeded")
        .filter_map(|l| l["fields"][field].as_u64())
        .sum()
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value> {
    let response = http
        .get(url)
        .bearer_auth(GHL_API_KEY)
        .header("Version", "2021-07-28")
        .send()
        .await?;
    Ok(read(response).await?.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_duplicated_whatever_crashes() -> Result<()> {
    let settings = Settings {
        seed: env_or("CHAOS_SEED", 20_261_128),
        appointments: env_or("CHAOS_APPOINTMENTS", 40),
        seconds: env_or("CHAOS_SECONDS", 15),
        fault_rate: env_or("CHAOS_FAULT_RATE", 0.2),
    };
    println!(
        "chaos: seed {} ({} appointments, {} s of changes and kills, fault rate {})",
        settings.seed, settings.appointments, settings.seconds, settings.fault_rate
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::create().await?;
    let log_dir = std::env::temp_dir().join(format!("chaos-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&log_dir)?;
    let outcome = run(&settings, &db, &log_dir).await;
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&log_dir);
    } else {
        eprintln!("chaos: logs kept in {}", log_dir.display());
    }
    db.drop_database().await?;
    outcome
}

async fn run(settings: &Settings, db: &TestDb, log_dir: &Path) -> Result<()> {
    let mut rng = Rng(settings.seed);
    let fault_rate = settings.fault_rate.to_string();
    let (sim, sim_url) = spawn_http_service(
        "ghl-sim",
        &["--bind", "127.0.0.1:0"],
        &[
            ("GHL_LOCATION_ID", LOCATION_ID.to_owned()),
            ("GHL_API_KEY", GHL_API_KEY.to_owned()),
            ("GHL_SIM_FAULT_RATE", fault_rate),
            ("GHL_SIM_FAULT_KINDS", "500,502,503,timeout,drop".to_owned()),
            ("GHL_SIM_FAULT_AFTER_WRITE_SHARE", "0.5".to_owned()),
            ("GHL_SIM_LATENCY_MS", "2-40".to_owned()),
            ("GHL_SIM_RATE_LIMIT_BURST", "1000000".to_owned()),
        ],
        log_dir,
        "ghl-sim listening on ",
    )
    .await?;
    let (api_service, api_url) = spawn_http_service(
        "api",
        &[],
        &[
            ("DATABASE_URL", db.url.clone()),
            ("GHL_LOCATION_ID", LOCATION_ID.to_owned()),
            ("API_BIND", "127.0.0.1:0".to_owned()),
            ("JWT_SECRET", JWT_SECRET.to_owned()),
            ("BOOKING_CAPACITY", "1000".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
        ],
        log_dir,
        "api listening on ",
    )
    .await?;
    let verifier = api::auth::JwtVerifier::new(secrecy::SecretString::from(JWT_SECRET));
    let exp = Utc::now().timestamp() + 3600;
    let api = Api {
        http: reqwest::Client::new(),
        url: api_url,
        token: verifier.sign(&json!({ "sub": "chaos", "exp": exp, "role": "admin" })),
    };

    let env: Vec<(String, String)> = [
        ("DATABASE_URL", db.url.as_str()),
        ("GHL_LOCATION_ID", LOCATION_ID),
        ("GHL_API_KEY", GHL_API_KEY),
        ("GHL_API_BASE_URL", sim_url.as_str()),
        ("LOG_FORMAT", "json"),
        ("WORKER_CONCURRENCY", "4"),
        ("WORKER_POLL_INTERVAL_MS", "200"),
        ("WORKER_LEASE_SECONDS", "5"),
        ("GHL_REQUEST_TIMEOUT_SECONDS", "2"),
        ("SYNC_MAX_ATTEMPTS", "40"),
        ("SYNC_RETRY_BASE_SECONDS", "0.2"),
        ("SYNC_RETRY_MAX_SECONDS", "1"),
        ("GHL_RETRY_INITIAL_MS", "50"),
        ("GHL_RETRY_MAX_DELAY_MS", "200"),
        ("GHL_RATE_LIMIT_BURST", "1000000"),
        ("GHL_MAX_REQUESTS_PER_SECOND", "0"),
        ("SHUTDOWN_GRACE_SECONDS", "1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut workers = Workers {
        env,
        log_dir: log_dir.to_path_buf(),
        children: vec![None, None],
        generation: 0,
    };
    workers.spawn(0)?;
    workers.spawn(1)?;

    // Contacts (through the sim's control API, never faulted) and bookings.
    let http = reqwest::Client::new();
    let mut contacts = Vec::new();
    let mut booked = Vec::new();
    for i in 0..settings.appointments {
        let email = format!("chaos{i}@example.com");
        let seeded = http
            .post(format!("{sim_url}/_sim/contacts"))
            .json(&json!({ "email": email, "firstName": "Chaos" }))
            .send()
            .await?;
        let (_, body) = read(seeded).await?;
        let contact = body["contact"]["id"]
            .as_str()
            .context("seeded contact")?
            .to_owned();
        let day = 2 + (i as i64 % 20);
        let (start, end) = slot(day, 8 + rng.below(6) as u32);
        let (code, created) = api
            .send(
                Method::POST,
                "/api/appointments",
                &json!({
                    "customer": { "name": "Chaos Monkey", "email": email },
                    "serviceType": "maintenance",
                    "startTime": start,
                    "endTime": end,
                    "ghlContactId": contact,
                }),
            )
            .await?;
        if code != 201 {
            bail!("booking answered {code}: {created}");
        }
        booked.push(Booked {
            id: created["id"].as_str().context("appointment id")?.to_owned(),
            status: Status::Scheduled,
            day,
        });
        contacts.push(contact);
    }

    // Changes and kills, interleaved, for the configured time.
    let mut kills = 0u32;
    let mut changes = 0u32;
    let phase_end = tokio::time::Instant::now() + Duration::from_secs(settings.seconds);
    let mut next_kill = tokio::time::Instant::now() + rng.millis(300, 2500);
    while tokio::time::Instant::now() < phase_end {
        if tokio::time::Instant::now() >= next_kill {
            let slot = rng.below(2) as usize;
            workers.kill(slot).await?;
            kills += 1;
            tokio::time::sleep(rng.millis(0, 400)).await;
            workers.spawn(slot)?;
            next_kill = tokio::time::Instant::now() + rng.millis(300, 2500);
        }
        let i = rng.below(booked.len() as u64) as usize;
        if booked[i].status != Status::Terminal {
            change(&api, &mut rng, &mut booked[i]).await?;
            changes += 1;
        }
        tokio::time::sleep(rng.millis(5, 60)).await;
    }

    // Drain: no more kills; wait until no job is open.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let mut conn = sqlx::PgConnection::connect(&db.url).await?;
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sync_jobs WHERE status IN ('pending', 'running')",
        )
        .fetch_one(&mut conn)
        .await?;
        if open == 0 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{open} jobs still open after 240 s of draining");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let logs = workers.logs();
    workers.kill(0).await?;
    workers.kill(1).await?;

    // ---- verification (GHL's own endpoints are read below: no more faults)
    let calm = http
        .put(format!("{sim_url}/_sim/control"))
        .json(&json!({ "faultRate": 0.0, "latencyMs": { "min": 0, "max": 0 } }))
        .send()
        .await?;
    anyhow::ensure!(
        calm.status().is_success(),
        "could not turn the sim's faults off"
    );
    let jobs: Vec<JobRow> = sqlx::query_as(
        "SELECT id::text AS id, appointment_id::text AS appointment_id, action, status,
                    last_error, coalesced_into
             FROM sync_jobs ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await?;
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_attempts")
        .fetch_one(&mut conn)
        .await?;
    let appointments: Vec<(String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT id::text, status, starts_at FROM appointments")
            .fetch_all(&mut conn)
            .await?;
    conn.close().await?;
    let contact_of: HashMap<&str, &str> = booked
        .iter()
        .zip(&contacts)
        .map(|(b, c)| (b.id.as_str(), c.as_str()))
        .collect();

    let mut problems = Vec::new();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for job in &jobs {
        *by_status.entry(job.status.as_str()).or_default() += 1;
        match job.status.as_str() {
            "succeeded" => {}
            "dead" if job.last_error.as_deref().is_some_and(|e| !e.is_empty()) => {}
            other => problems.push(format!(
                "job {} ended {other} ({:?})",
                job.id, job.last_error
            )),
        }
    }

    // The custom-field ids of the location, by key.
    let defs = get_json(
        &http,
        &format!("{sim_url}/locations/{LOCATION_ID}/customFields?model=contact"),
    )
    .await;
    let mut field_names = HashMap::new();
    // The sim may inject a fault here too: ask until it answers.
    let mut defs = defs?;
    for _ in 0..50 {
        if defs["customFields"].is_array() {
            break;
        }
        defs = get_json(
            &http,
            &format!("{sim_url}/locations/{LOCATION_ID}/customFields?model=contact"),
        )
        .await?;
    }
    for def in defs["customFields"].as_array().cloned().unwrap_or_default() {
        let key = def["fieldKey"].as_str().unwrap_or_default();
        field_names.insert(
            def["id"].as_str().unwrap_or_default().to_owned(),
            key.strip_prefix("contact.").unwrap_or(key).to_owned(),
        );
    }

    let mut duplicates = 0usize;
    let mut lost = 0usize;
    let mut checked_states = 0usize;
    for (appointment, status, starts_at) in &appointments {
        let contact = contact_of[appointment.as_str()];
        let state = read(
            http.get(format!("{sim_url}/_sim/contacts/{contact}"))
                .send()
                .await?,
        )
        .await?
        .1;
        let mut seen: HashMap<String, usize> = HashMap::new();
        for kind in ["notes", "tasks"] {
            for entry in state[kind].as_array().cloned().unwrap_or_default() {
                let text = format!(
                    "{} {}",
                    entry["title"].as_str().unwrap_or_default(),
                    entry["body"].as_str().unwrap_or_default()
                );
                for m in markers(&text) {
                    *seen.entry(m).or_default() += 1;
                }
            }
        }
        for (m, n) in &seen {
            if *n > 1 {
                duplicates += n - 1;
                problems.push(format!("{m} is in GHL {n} times (contact {contact})"));
            }
        }
        let mine: Vec<_> = jobs
            .iter()
            .filter(|j| &j.appointment_id == appointment)
            .collect();
        for job in &mine {
            if job.status != "succeeded" {
                continue;
            }
            let action = &job.action;
            let mut expected = vec![marker(&job.id, "note")];
            if action != "update" {
                expected.push(marker(&job.id, "task"));
            }
            for m in expected {
                if !seen.contains_key(&m) {
                    lost += 1;
                    problems.push(format!("{m} of a succeeded {action} job is missing in GHL"));
                }
            }
        }
        if mine.iter().any(|j| j.status != "succeeded") {
            continue; // a dead job: its effects are not expected in GHL
        }
        checked_states += 1;
        let want_tags: BTreeSet<&str> = match status.as_str() {
            "scheduled" => ["appointment-scheduled"].into(),
            "confirmed" => ["appointment-confirmed"].into(),
            "cancelled" => ["appointment-cancelled"].into(),
            "completed" => ["customer", "service-completed"].into(),
            "no_show" => ["no-show"].into(),
            other => bail!("unknown appointment status {other}"),
        };
        let tags: BTreeSet<&str> = state["contact"]["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if tags != want_tags {
            problems.push(format!(
                "contact {contact}: tags {tags:?}, expected {want_tags:?} ({status})"
            ));
        }
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for field in state["contact"]["customFields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if let Some(key) = field_names.get(field["id"].as_str().unwrap_or_default()) {
                let value = match &field["value"] {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                fields.insert(key.clone(), value);
            }
        }
        let date = starts_at.format("%Y-%m-%d").to_string();
        let live = matches!(status.as_str(), "scheduled" | "confirmed");
        let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let mut wrong = field("appointment_status") != *status;
        wrong |= field("next_appointment_date") != if live { date.clone() } else { String::new() };
        if status == "completed" {
            wrong |= field("last_service_date") != date;
        }
        if wrong {
            problems.push(format!(
                "contact {contact}: fields {fields:?}, appointment {status} on {date}"
            ));
        }
    }

    let calls = read(http.get(format!("{sim_url}/_sim/calls")).send().await?)
        .await?
        .1;
    let lookups = calls
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter(|c| c["method"] == "GET")
                .filter(|c| {
                    let path = c["path"].as_str().unwrap_or_default();
                    path.ends_with("/notes") || path.ends_with("/tasks")
                })
                .count()
        })
        .unwrap_or_default();
    let stats = read(http.get(format!("{sim_url}/_sim/stats")).send().await?)
        .await?
        .1;
    let coalesced = jobs.iter().filter(|j| j.coalesced_into.is_some()).count();

    println!("chaos: seed {}", settings.seed);
    println!(
        "chaos: {} appointments, {} changes, {} jobs {:?}, {} attempts recorded, {} worker kills",
        appointments.len(),
        changes,
        jobs.len(),
        by_status,
        attempts,
        kills
    );
    println!(
        "chaos: GHL requests {}, faults injected {}, in-doubt lookups {} (found already written: {})",
        stats["requests"],
        stats["faultsInjected"],
        lookups,
        sum_logged(&logs, "in_doubt.found")
    );
    println!(
        "chaos: coalesced jobs {coalesced}, GHL calls saved by coalescing {}",
        sum_logged(&logs, "coalesced.calls_saved")
    );
    println!(
        "chaos: duplicates found {duplicates}, lost effects {lost}, contact states checked {checked_states}"
    );
    drop(sim);
    drop(api_service);
    if !problems.is_empty() {
        bail!(
            "chaos found {} problem(s) (seed {}):\n{}",
            problems.len(),
            settings.seed,
            problems.join("\n")
        );
    }
    Ok(())
}

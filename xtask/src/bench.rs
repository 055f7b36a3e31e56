//! `cargo xtask bench`: release binaries on a throwaway PostgreSQL (or
//! DATABASE_URL) against ghl-sim, measuring in one run:
//!
//! 1. API latency of bookings (sequential) and throughput (4 clients), the worker stopped;
//! 2. how fast the resulting backlog drains through two workers compared with the GHL
//!    budget ghl-sim enforces (scaled to 50 requests / 1 s so a run takes seconds), and
//!    whether any request got a 429;
//! 3. commit → first GHL call latency with an idle queue;
//! 4. peak memory (VmHWM) of the api and the worker processes.
//!
//! Results are printed and written to `target/bench/report.md`; BENCHMARKS.md
//! explains the method and keeps a reference run. Every figure is also given as a
//! ratio to its target (the seed's and DESIGN §7's) so runs on other machines compare.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::demo::{Children, mint_token, profile_dir, random_secret, rfc3339, start};
use crate::http::request;
use crate::{cargo, no_args, pg, workspace_root};

const LOCATION: &str = "bench-location";
const GHL_KEY: &str = "bench-private-integration-token";
/// The scaled GHL budget: requests per window.
const BURST: u32 = 50;
const WINDOW_MS: u32 = 1000;
const SEQUENTIAL: usize = 300;
const CONCURRENT_CLIENTS: usize = 4;
const PER_CLIENT: usize = 75;
const IDLE_SAMPLES: usize = 30;
const CONTACTS: usize = 20;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A two-hour visit, `n` slots into the future (capacity is raised, so they may overlap).
fn booking(n: usize, contact: &str) -> Value {
    let start = (now_secs() / 86_400 + 2 + (n as u64 % 300)) * 86_400 + 8 * 3600;
    json!({
        "customer": { "name": "Bench Customer", "email": format!("bench{n}@example.com") },
        "ghlContactId": contact,
        "serviceType": "maintenance",
        "startTime": rfc3339(start),
        "endTime": rfc3339(start + 7200),
    })
}

fn book(api: &str, token: &str, body: &Value) -> Result<Duration> {
    let started = Instant::now();
    let (status, answer) = request("POST", api, "/api/appointments", Some(token), Some(body))?;
    let elapsed = started.elapsed();
    if status != 201 {
        bail!("booking failed: {status} {answer}");
    }
    Ok(elapsed)
}

fn seed_contact(sim: &str, n: usize) -> Result<String> {
    let (status, body) = request(
        "POST",
        sim,
        "/_sim/contacts",
        None,
        Some(&json!({ "email": format!("contact{n}@example.com") })),
    )?;
    if status >= 300 {
        bail!("seeding a contact failed: {status}");
    }
    body["contact"]["id"]
        .as_str()
        .map(str::to_owned)
        .context("seeded contact without id")
}

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn sim_stats(sim: &str) -> Result<(u64, u64)> {
    let (_, stats) = request("GET", sim, "/_sim/stats", None, None)?;
    let requests = stats["requests"].as_u64().unwrap_or(0);
    let limited = stats["rateLimited"].as_u64().unwrap_or(0);
    Ok((requests, limited))
}

fn spawn_worker(bin: &Path, env: &[(&str, &str)], children: &mut Children) -> Result<u32> {
    let child = Command::new(bin.join("worker"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("starting a worker")?;
    let pid = child.id();
    children.0.push(child);
    Ok(pid)
}

pub fn bench(args: &[String]) -> Result<()> {
    no_args("bench", args)?;
    println!("==> Building release binaries");
    cargo(&["build", "--release", "--bins", "--locked"], &[])?;
    println!("==> PostgreSQL");
    let (database_url, _pg_guard) = pg::database_url_or_temp()?;
    let bin = profile_dir("release");
    let secret = random_secret()?;
    let mut children = Children(Vec::new());
    let burst = BURST.to_string();
    let window = WINDOW_MS.to_string();

    let sim = start(
        &bin.join("ghl-sim"),
        &[
            ("GHL_SIM_BIND", "127.0.0.1:0"),
            ("GHL_LOCATION_ID", LOCATION),
            ("GHL_API_KEY", GHL_KEY),
            ("GHL_SIM_RATE_LIMIT_BURST", &burst),
            ("GHL_SIM_RATE_LIMIT_WINDOW_MS", &window),
            ("RUST_LOG", "warn"),
        ],
        "ghl-sim listening on ",
        &mut children,
    )?;
    let common = [
        ("DATABASE_URL", database_url.as_str()),
        ("GHL_LOCATION_ID", LOCATION),
        ("JWT_SECRET", secret.as_str()),
        ("RUST_LOG", "warn"),
    ];
    let mut api_env = common.to_vec();
    api_env.extend([("API_BIND", "127.0.0.1:0"), ("BOOKING_CAPACITY", "1000")]);
    let api = start(
        &bin.join("api"),
        &api_env,
        "api listening on ",
        &mut children,
    )?;
    let api_pid = children.0.last().map(|c| c.id()).unwrap_or(0);
    let token = mint_token(&bin, &secret)?;
    let contacts: Vec<String> = (0..CONTACTS)
        .map(|n| seed_contact(&sim, n))
        .collect::<Result<_>>()?;

    // 1. API latency and throughput (no worker: the API alone, as a client sees it).
    println!(
        "==> API: {SEQUENTIAL} sequential bookings, then {CONCURRENT_CLIENTS} clients × {PER_CLIENT}"
    );
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for n in 0..SEQUENTIAL {
        let elapsed = book(&api, &token, &booking(n, &contacts[n % CONTACTS]))?;
        latencies.push(elapsed.as_secs_f64() * 1000.0);
    }
    let latencies = sorted(latencies);
    let shared = Arc::new((api.clone(), token.clone(), contacts.clone()));
    let started = Instant::now();
    let handles: Vec<_> = (0..CONCURRENT_CLIENTS)
        .map(|client| {
            let shared = shared.clone();
            std::thread::spawn(move || -> Result<()> {
                let (api, token, contacts) = &*shared;
                for i in 0..PER_CLIENT {
                    let n = SEQUENTIAL + client * PER_CLIENT + i;
                    book(api, token, &booking(n, &contacts[n % CONTACTS]))?;
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    let concurrent_secs = started.elapsed().as_secs_f64();
    let bookings = SEQUENTIAL + CONCURRENT_CLIENTS * PER_CLIENT;
    let throughput = (CONCURRENT_CLIENTS * PER_CLIENT) as f64 / concurrent_secs;

    // 2. Drain the backlog (one create job per booking, 4 GHL calls each) with two workers.
    println!(
        "==> Backlog: {bookings} jobs through 2 workers under a GHL budget of {BURST} per {WINDOW_MS} ms"
    );
    let (before, _) = sim_stats(&sim)?;
    let mut worker_env = common.to_vec();
    worker_env.extend([
        ("GHL_API_KEY", GHL_KEY),
        ("GHL_API_BASE_URL", sim.as_str()),
        ("GHL_RATE_LIMIT_BURST", burst.as_str()),
        ("GHL_RATE_LIMIT_WINDOW_MS", window.as_str()),
        ("GHL_MAX_REQUESTS_PER_SECOND", "0"),
        ("WORKER_CONCURRENCY", "8"),
        // Two workers on one machine: no fixed admin port.
        ("WORKER_ADMIN_BIND", "off"),
    ]);
    let drain_started = Instant::now();
    let worker_pid = spawn_worker(&bin, &worker_env, &mut children)?;
    spawn_worker(&bin, &worker_env, &mut children)?;
    let expected = (bookings * 4) as u64;
    let deadline = Instant::now() + Duration::from_secs(600);
    let (after, limited) = loop {
        let (requests, limited) = sim_stats(&sim)?;
        // Custom-field listings are reads the plan does not count; writes are 4 per job.
        if requests - before >= expected {
            break (requests, limited);
        }
        if Instant::now() > deadline {
            bail!(
                "the backlog did not drain in 10 minutes ({} of {expected} calls)",
                requests - before
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let drain_secs = drain_started.elapsed().as_secs_f64();
    let calls = after - before;
    let budget_per_sec = f64::from(BURST) * 1000.0 / f64::from(WINDOW_MS);
    let drain_rate = calls as f64 / drain_secs;

    // 3. Commit → first GHL call with an idle queue: one fresh contact per booking,
    // timed from the API's answer until its first note is visible in ghl-sim.
    println!("==> Idle queue: {IDLE_SAMPLES} bookings, commit → first GHL call");
    std::thread::sleep(Duration::from_millis(1500));
    let mut idle = Vec::with_capacity(IDLE_SAMPLES);
    for n in 0..IDLE_SAMPLES {
        let contact = seed_contact(&sim, 1000 + n)?;
        book(&api, &token, &booking(10_000 + n, &contact))?;
        let answered = Instant::now();
        loop {
            let (_, state) = request(
                "GET",
                &sim,
                &format!("/_sim/contacts/{contact}"),
                None,
                None,
            )?;
            if state["notes"].as_array().is_some_and(|n| !n.is_empty()) {
                idle.push(answered.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if answered.elapsed() > Duration::from_secs(30) {
                bail!("no GHL call within 30 s of a booking");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let idle = sorted(idle);

    let api_mib = peak_rss_mib(api_pid).unwrap_or(f64::NAN);
    let worker_mib = peak_rss_mib(worker_pid).unwrap_or(f64::NAN);

    let report = format!(
        "| measure | value | target | ratio to target |\n|---|---|---|---|\n\
         | API booking latency p50 (sequential, {SEQUENTIAL}) | {:.1} ms | < 1000 ms (seed) | {:.4} |\n\
         | API booking latency p99 | {:.1} ms | < 1000 ms (seed) | {:.4} |\n\
         | API throughput, {CONCURRENT_CLIENTS} clients | {throughput:.0} bookings/s | — | — |\n\
         | backlog drain, 2 workers, {bookings} jobs | {drain_rate:.1} GHL calls/s | GHL budget {budget_per_sec:.0}/s, ≥ 95 % | {:.3} |\n\
         | 429 answers during the drain | {limited} | 0 | — |\n\
         | commit → first GHL call p50 (idle queue) | {:.1} ms | < 5000 ms (seed) | {:.4} |\n\
         | commit → first GHL call p99 (idle queue) | {:.1} ms | < 1000 ms (DESIGN §7) | {:.4} |\n\
         | api peak RSS | {api_mib:.1} MiB | — | — |\n\
         | worker peak RSS | {worker_mib:.1} MiB | — | — |\n",
        percentile(&latencies, 50.0),
        percentile(&latencies, 50.0) / 1000.0,
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.0) / 1000.0,
        drain_rate / budget_per_sec,
        percentile(&idle, 50.0),
        percentile(&idle, 50.0) / 5000.0,
        percentile(&idle, 99.0),
        percentile(&idle, 99.0) / 1000.0,
    );
    println!("\n{report}");
    let dir = workspace_root().join("target").join("bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("report.md"), &report)?;
    println!("(written to target/bench/report.md; {calls} GHL calls in {drain_secs:.1} s)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let v = sorted((1..=100).map(f64::from).collect());
        assert_eq!(percentile(&v, 50.0), 51.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}

//! `cargo xtask demo`: ghl-sim, api and worker on a throwaway PostgreSQL (or
//! DATABASE_URL), sample leads and appointments walked through confirm, cancel
//! and complete, a summary of what GHL received, then the services keep running
//! until Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::http::request;
use crate::{cargo, pg, workspace_root};

const LOCATION: &str = "staycool-demo";
const GHL_KEY: &str = "demo-private-integration-token";

/// Children are killed when the demo ends, whatever ends it.
pub(crate) struct Children(pub(crate) Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn target_dir() -> PathBuf {
    profile_dir("debug")
}

/// `target/<profile>` (or under `CARGO_TARGET_DIR`).
pub(crate) fn profile_dir(profile: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join(profile)
}

/// A secret for this run only, from the kernel's random source.
pub(crate) fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts `bin` with `env`, logs to our stderr, and waits for `"<prefix> http://..."` on stdout.
pub(crate) fn start(
    bin: &Path,
    env: &[(&str, &str)],
    prefix: &str,
    children: &mut Children,
) -> Result<String> {
    let mut child = Command::new(bin)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    children.0.push(child);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(url) = line.strip_prefix(prefix) {
            let url = url.trim().to_owned();
            std::thread::spawn(move || for _ in lines {});
            return Ok(url);
        }
    }
    bail!("{} exited before it was ready", bin.display())
}

pub fn demo(args: &[String]) -> Result<()> {
    crate::no_args("demo", args)?;
    println!("==> Building the binaries");
    cargo(&["build", "--workspace", "--bins"], &[])?;
    println!("==> PostgreSQL");
    let (database_url, _pg_guard) = pg::database_url_or_temp()?;
    let bin = target_dir();
    let secret = random_secret()?;
    let mut children = Children(Vec::new());

    let sim_bind = std::env::var("DEMO_SIM_BIND").unwrap_or_else(|_| "127.0.0.1:0".into());
    let sim = start(
        &bin.join("ghl-sim"),
        &[
            ("GHL_SIM_BIND", &sim_bind),
            ("GHL_LOCATION_ID", LOCATION),
            ("GHL_API_KEY", GHL_KEY),
        ],
        "ghl-sim listening on ",
        &mut children,
    )?;
    let api_bind = std::env::var("DEMO_API_BIND").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let common = [
        ("DATABASE_URL", database_url.as_str()),
        ("GHL_LOCATION_ID", LOCATION),
        ("APP_ENV", "development"),
        ("JWT_SECRET", secret.as_str()),
    ];
    let mut api_env = common.to_vec();
    api_env.push(("API_BIND", &api_bind));
    // POST /sync runs the pipeline in the api too.
    api_env.push(("GHL_API_KEY", GHL_KEY));
    api_env.push(("GHL_API_BASE_URL", sim.as_str()));
    let api = start(
        &bin.join("api"),
        &api_env,
        "api listening on ",
        &mut children,
    )?;
    let mut worker_env = common.to_vec();
    worker_env.extend([
        ("GHL_API_KEY", GHL_KEY),
        ("GHL_API_BASE_URL", sim.as_str()),
        ("SYNC_RETRY_BASE_SECONDS", "2"),
        ("WORKER_ADMIN_BIND", "127.0.0.1:0"),
    ]);
    let worker = Command::new(bin.join("worker"))
        .envs(worker_env.iter().copied())
        .stdin(Stdio::null())
        .spawn()
        .context("starting the worker")?;
    children.0.push(worker);

    let token = mint_token(&bin, &secret)?;
    let appointments = walk_through(&api, &sim, &token)?;
    summary(&api, &sim, &token, &appointments)?;

    println!(
        "\nThe services keep running; press Ctrl-C to stop them (and remove the throwaway database)."
    );
    // Ctrl-C reaches the whole process group: the services shut down gracefully,
    // this process dies, and the database watchdog removes the cluster.
    loop {
        std::thread::park();
    }
}

pub(crate) fn mint_token(bin: &Path, secret: &str) -> Result<String> {
    let output = Command::new(bin.join("api"))
        .args([
            "token",
            "--sub",
            "demo",
            "--role",
            "admin",
            "--ttl-seconds",
            "86400",
        ])
        .env("JWT_SECRET", secret)
        .env("APP_ENV", "development")
        .output()
        .context("running `api token`")?;
    if !output.status.success() {
        bail!(
            "`api token` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A visit `days` from now at 09:00 UTC for two hours.
fn visit(days: u64, hour: u64) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let start = (now / 86_400 + days) * 86_400 + hour * 3600;
    (rfc3339(start), rfc3339(start + 7200))
}

/// Seconds since the epoch → `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

struct Booked {
    label: &'static str,
    id: String,
    contact: Option<String>,
}

fn walk_through(api: &str, sim: &str, token: &str) -> Result<Vec<Booked>> {
    println!("\n==> Seeding GHL contacts in ghl-sim and booking appointments through the API");
    let people = [
        ("Anna de Vries", "anna@example.com", true, "confirmed"),
        ("Bram Jansen", "bram@example.com", true, "cancelled"),
        ("Chris Bakker", "chris@example.com", true, "completed"),
        ("Dirk Visser", "dirk@example.com", false, "scheduled"),
    ];
    let mut booked = Vec::new();
    for (i, (name, email, in_ghl, walk_to)) in people.into_iter().enumerate() {
        let contact = if in_ghl {
            let (status, contact) = request(
                "POST",
                sim,
                "/_sim/contacts",
                None,
                Some(&json!({ "name": name, "email": email })),
            )?;
            if status >= 300 {
                bail!("seeding {name} in ghl-sim failed: {status} {contact}");
            }
            contact["contact"]["id"].as_str().map(str::to_owned)
        } else {
            None
        };
        let (start, end) = visit(2 + i as u64, 8);
        let service = ["installation", "maintenance", "repair", "maintenance"][i];
        let mut body = json!({
            "customer": { "name": name, "email": email, "phone": format!("+31 6 1234 56{i:02}"), "address": "Stationsplein 1, Utrecht" },
            "serviceType": service,
            "startTime": start, "endTime": end,
            "notes": "Booked by cargo xtask demo",
        });
        if let Some(contact) = &contact {
            body["ghlContactId"] = json!(contact);
        }
        let (status, created) =
            request("POST", api, "/api/appointments", Some(token), Some(&body))?;
        if status != 201 {
            bail!("booking for {name} failed: {status} {created}");
        }
        let id = created["id"].as_str().context("no id")?.to_owned();
        println!(
            "    booked {id} for {name} ({})",
            if contact.is_some() {
                "GHL contact"
            } else {
                "no GHL contact"
            }
        );
        if walk_to != "scheduled" {
            let mut change = json!({ "status": walk_to });
            if walk_to == "cancelled" {
                change["reason"] = json!("customer is moving house");
            }
            let (status, changed) = request(
                "PATCH",
                api,
                &format!("/api/appointments/{id}/status"),
                Some(token),
                Some(&change),
            )?;
            if status != 200 {
                bail!("changing {id} to {walk_to} failed: {status} {changed}");
            }
            println!("    {id} → {walk_to}");
        }
        booked.push(Booked {
            label: name,
            id,
            contact,
        });
    }
    Ok(booked)
}

fn summary(api: &str, sim: &str, token: &str, booked: &[Booked]) -> Result<()> {
    println!("\n==> Waiting for the worker to sync");
    let deadline = Instant::now() + Duration::from_secs(60);
    for b in booked {
        loop {
            let (_, a) = request(
                "GET",
                api,
                &format!("/api/appointments/{}", b.id),
                Some(token),
                None,
            )?;
            let status = a["sync"]["status"].as_str().unwrap_or("pending").to_owned();
            let pending =
                a["sync"]["status"].is_null() || matches!(status.as_str(), "pending" | "running");
            if !pending {
                let action = a["sync"]["action"].as_str().unwrap_or_default();
                println!(
                    "    {:<14} {} last sync ({action}): {status}",
                    b.label, b.id
                );
                break;
            }
            if Instant::now() > deadline {
                println!("    {:<14} {} still {status} after 60 s", b.label, b.id);
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    println!("\n==> What GHL (ghl-sim) received");
    for b in booked {
        let Some(contact) = &b.contact else {
            println!(
                "  {} has no GHL contact: the sync was skipped (see its sync state).",
                b.label
            );
            continue;
        };
        let (_, state) = request("GET", sim, &format!("/_sim/contacts/{contact}"), None, None)?;
        println!("  {} (contact {contact})", b.label);
        println!("    tags:   {}", state["contact"]["tags"]);
        for note in state["notes"].as_array().into_iter().flatten() {
            let first = note["body"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default();
            println!("    note:   {first}");
        }
        for task in state["tasks"].as_array().into_iter().flatten() {
            println!(
                "    task:   {} (due {})",
                task["title"].as_str().unwrap_or_default(),
                task["dueDate"].as_str().unwrap_or_default()
            );
        }
        println!("    fields: {}", state["contact"]["customFields"]);
    }
    let (_, calls) = request("GET", sim, "/_sim/calls", None, None)?;
    println!(
        "  {} GHL API calls in all.",
        calls.as_array().map_or(0, Vec::len)
    );

    println!("\n==> Try it");
    println!("  API:               {api}  (health: {api}/healthz, {api}/readyz)");
    println!("  GHL calls:         {sim}/_sim/calls");
    if let Some(contact) = booked.iter().find_map(|b| b.contact.as_ref()) {
        println!("  A contact in GHL:  {sim}/_sim/contacts/{contact}");
    }
    println!(
        "  An appointment:    curl -H 'Authorization: Bearer {token}' {api}/api/appointments/{}",
        booked[0].id
    );
    println!(
        "  Availability:      curl -H 'Authorization: Bearer {token}' '{api}/api/availability?date={}'",
        &visit(2, 0).0[..10]
    );
    println!(
        "  Sync health:       curl -H 'Authorization: Bearer {token}' '{api}/monitor?action=status'"
    );
    println!("  Dashboard:         {api}/dashboard?token={token}");
    println!(
        "  Metrics:           {api}/metrics (the worker's: see its 'worker admin listening' line)"
    );
    println!("  (the bearer token above is valid for 24 hours, for this demo's JWT secret only)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_seconds_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_924_992_000 + 3661), "2031-01-01T01:01:01Z");
    }
}

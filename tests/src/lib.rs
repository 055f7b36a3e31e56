//! Harness for the end-to-end tests: a fresh database, and the real `ghl-sim`,
//! `api` and `worker` binaries started as child processes against it.
//!
//! The binaries are taken from the target directory of this test build (build
//! them first: `cargo build --workspace --bins`, which `cargo xtask ci` does).
//! Each process's stderr goes to a log file in a temporary directory, so a test
//! can read what was logged and a failing test can show it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub mod webdriver;
pub mod webhook;

pub const LOCATION_ID: &str = "e2e-location";
pub const GHL_API_KEY: &str = "e2e-ghl-token-0123456789";
pub const JWT_SECRET: &str = "e2e-jwt-secret-that-is-long-enough-0123456789";

/// The directory holding the workspace's binaries (`target/debug`).
pub fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/debug/deps/e2e-<hash> → target/debug
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test executable has no grandparent directory")?;
    Ok(dir.to_path_buf())
}

pub fn binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build the binaries first (cargo build --workspace --bins)",
            path.display()
        );
    }
    Ok(path)
}

/// The server to create test databases on.
pub fn admin_database_url() -> Result<String> {
    std::env::var("DATABASE_URL").context(
        "DATABASE_URL must point at a PostgreSQL server where databases may be created \
         (cargo xtask ci sets it up)",
    )
}

/// A database of its own for one test; dropped by [`TestDb::drop_database`].
pub struct TestDb {
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDb {
    pub async fn create() -> Result<Self> {
        let admin_url = admin_database_url()?;
        let name = format!("e2e_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let url = replace_database(&admin_url, &name)?;
        Ok(Self {
            url,
            name,
            admin_url,
        })
    }

    pub async fn drop_database(self) -> Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

/// `postgres://u@h:p/db?x` with the database replaced.
fn replace_database(url: &str, name: &str) -> Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").context("DATABASE_URL has no scheme")? + 3;
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host_part = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    })
}

/// A child process whose stderr is kept in a log file.
pub struct Service {
    pub name: &'static str,
    pub child: Child,
    pub log: PathBuf,
}

impl Service {
    /// What the process has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 30 s) until the process has logged `needle`.
    pub async fn wait_for_log(&self, needle: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !self.logs().contains(needle) {
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "{} did not log {needle:?} within 30 s:\n{}",
                    self.name,
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// SIGTERM, then wait for the exit (SIGKILL after `within`). Returns the exit status.
    pub async fn terminate(&mut self, within: Duration) -> Result<std::process::ExitStatus> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await?;
                bail!("{} did not stop within {within:?} of SIGTERM", self.name)
            }
        }
    }
}

/// Starts a binary and waits for the line `"<prefix> http://ADDR"` on its stdout.
pub async fn spawn_http_service(
    name: &'static str,
    args: &[&str],
    env: &[(&str, String)],
    log_dir: &Path,
    ready_prefix: &str,
) -> Result<(Service, String)> {
    let log = log_dir.join(format!("{name}.log"));
    let log_file = std::fs::File::create(&log)?;
    let mut command = Command::new(binary(name)?);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix(ready_prefix) {
                return Ok::<_, anyhow::Error>(rest.trim().to_owned());
            }
        }
        bail!("{name} exited before announcing its address")
    })
    .await
    .with_context(|| format!("{name} did not start within 30 s"))??;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((Service { name, child, log }, url))
}

/// Starts a binary that announces nothing (the worker).
pub fn spawn_service(
    name: &'static str,
    args: &[&str],
    env: &[(&str, String)],
    log_dir: &Path,
) -> Result<Service> {
    let log = log_dir.join(format!("{name}.log"));
    let log_file = std::fs::File::create(&log)?;
    let child = Command::new(binary(name)?)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    Ok(Service { name, child, log })
}

/// A running system: ghl-sim, api and worker on a fresh database.
pub struct Stack {
    pub db: Option<TestDb>,
    pub sim: Service,
    pub sim_url: String,
    pub api: Service,
    pub api_url: String,
    pub worker: Service,
    /// The worker's admin port (`/metrics`, `/healthz`).
    pub worker_admin_url: String,
    pub http: reqwest::Client,
    pub token: String,
    pub log_dir: PathBuf,
}

impl Stack {
    pub async fn start() -> Result<Self> {
        Self::start_with(&[]).await
    }

    /// `worker_env` adds or overrides worker settings.
    pub async fn start_with(worker_env: &[(&str, String)]) -> Result<Self> {
        Self::start_configured(&[], worker_env).await
    }

    /// `api_overrides` and `worker_env` add or override api and worker settings.
    pub async fn start_configured(
        api_overrides: &[(&str, String)],
        worker_env: &[(&str, String)],
    ) -> Result<Self> {
        // reqwest is built without a default TLS provider; the binaries install ring too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = TestDb::create().await?;
        let log_dir = std::env::temp_dir().join(format!("e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&log_dir)?;

        let (sim, sim_url) = spawn_http_service(
            "ghl-sim",
            &["--bind", "127.0.0.1:0"],
            &[
                ("GHL_LOCATION_ID", LOCATION_ID.to_owned()),
                ("GHL_API_KEY", GHL_API_KEY.to_owned()),
            ],
            &log_dir,
            "ghl-sim listening on ",
        )
        .await?;

        let common = [
            ("DATABASE_URL", db.url.clone()),
            ("GHL_LOCATION_ID", LOCATION_ID.to_owned()),
            ("APP_ENV", "production".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
        ];
        let mut api_env = common.to_vec();
        api_env.push(("API_BIND", "127.0.0.1:0".to_owned()));
        api_env.push(("JWT_SECRET", JWT_SECRET.to_owned()));
        // For POST /sync (the api runs run_job against ghl-sim too).
        api_env.push(("GHL_API_KEY", GHL_API_KEY.to_owned()));
        api_env.push(("GHL_API_BASE_URL", sim_url.clone()));
        for (k, v) in api_overrides {
            api_env.retain(|(key, _)| key != k);
            api_env.push((k, v.clone()));
        }
        let (api, api_url) =
            spawn_http_service("api", &[], &api_env, &log_dir, "api listening on ").await?;

        let mut env = common.to_vec();
        env.push(("GHL_API_KEY", GHL_API_KEY.to_owned()));
        env.push(("GHL_API_BASE_URL", sim_url.clone()));
        env.push(("WORKER_POLL_INTERVAL_MS", "200".to_owned()));
        env.push(("SYNC_RETRY_BASE_SECONDS", "0.2".to_owned()));
        env.push(("SYNC_RETRY_MAX_SECONDS", "1".to_owned()));
        env.push(("WORKER_ADMIN_BIND", "127.0.0.1:0".to_owned()));
        for (k, v) in worker_env {
            env.retain(|(key, _)| key != k);
            env.push((k, v.clone()));
        }
        let (worker, worker_admin_url) =
            spawn_http_service("worker", &[], &env, &log_dir, "worker admin listening on ").await?;

        let verifier = api::auth::JwtVerifier::new(secrecy::SecretString::from(JWT_SECRET));
        let exp = chrono::Utc::now().timestamp() + 3600;
        let token = verifier.sign(&json!({ "sub": "e2e", "exp": exp, "role": "admin" }));
        Ok(Self {
            db: Some(db),
            sim,
            sim_url,
            api,
            api_url,
            worker,
            worker_admin_url,
            http: reqwest::Client::new(),
            token,
            log_dir,
        })
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{}", self.api_url, path)
    }

    pub async fn get(&self, path: &str) -> Result<(u16, Value)> {
        let response = self
            .http
            .get(self.api(path))
            .bearer_auth(&self.token)
            .send()
            .await?;
        read(response).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<(u16, Value)> {
        let response = self
            .http
            .request(method, self.api(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        read(response).await
    }

    /// Seeds a contact in ghl-sim and returns its id.
    pub async fn seed_contact(&self, email: &str) -> Result<String> {
        let response = self
            .http
            .post(format!("{}/_sim/contacts", self.sim_url))
            .json(&json!({ "email": email, "firstName": "E2E" }))
            .send()
            .await?;
        let (status, body) = read(response).await?;
        if status >= 300 {
            bail!("seeding a contact failed: {status} {body}");
        }
        body.pointer("/contact/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("seeded contact has no id")
    }

    /// The sim's view of a contact: `{contact, notes, tasks}`.
    pub async fn sim_contact(&self, id: &str) -> Result<Value> {
        let response = self
            .http
            .get(format!("{}/_sim/contacts/{id}", self.sim_url))
            .send()
            .await?;
        Ok(read(response).await?.1)
    }

    /// Every call the sim received.
    pub async fn sim_calls(&self) -> Result<Vec<Value>> {
        let response = self
            .http
            .get(format!("{}/_sim/calls", self.sim_url))
            .send()
            .await?;
        let body = read(response).await?.1;
        Ok(body.as_array().cloned().unwrap_or_default())
    }

    /// Custom-field key (`appointment_status`) → value of a contact in the sim.
    pub async fn sim_fields(
        &self,
        contact_id: &str,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        let defs = self
            .http
            .get(format!(
                "{}/locations/{LOCATION_ID}/customFields?model=contact",
                self.sim_url
            ))
            .bearer_auth(GHL_API_KEY)
            .header("Version", "2021-07-28")
            .send()
            .await?;
        let defs = read(defs).await?.1;
        let mut names = std::collections::HashMap::new();
        for def in defs["customFields"].as_array().cloned().unwrap_or_default() {
            let key = def["fieldKey"].as_str().unwrap_or_default();
            let key = key.strip_prefix("contact.").unwrap_or(key).to_owned();
            names.insert(def["id"].as_str().unwrap_or_default().to_owned(), key);
        }
        let state = self.sim_contact(contact_id).await?;
        let mut fields = std::collections::BTreeMap::new();
        for field in state["contact"]["customFields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let id = field["id"].as_str().unwrap_or_default();
            let value = match &field["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let Some(key) = names.get(id) {
                fields.insert(key.clone(), value);
            }
        }
        Ok(fields)
    }

    /// Polls the appointment until its latest sync job reaches a final state.
    pub async fn wait_for_sync(&self, appointment_id: &str, job_id: &str) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (_, body) = self
                .get(&format!("/api/appointments/{appointment_id}"))
                .await?;
            let sync = &body["sync"];
            let done = sync["jobId"].as_str() == Some(job_id)
                && matches!(
                    sync["status"].as_str(),
                    Some("succeeded" | "skipped" | "dead")
                );
            if done {
                return Ok(sync.clone());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "job {job_id} of {appointment_id} did not finish in 30 s; last state {sync}\nworker log:\n{}",
                    self.worker.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the processes and drops the database.
    pub async fn stop(mut self) -> Result<()> {
        let _ = self.worker.terminate(Duration::from_secs(20)).await;
        let _ = self.api.terminate(Duration::from_secs(20)).await;
        let _ = self.sim.terminate(Duration::from_secs(20)).await;
        if let Some(db) = self.db.take() {
            db.drop_database().await?;
        }
        let _ = std::fs::remove_dir_all(&self.log_dir);
        Ok(())
    }
}

pub async fn read(response: reqwest::Response) -> Result<(u16, Value)> {
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_keeping_host_and_options() {
        assert_eq!(
            replace_database("postgres://u@h:5/postgres?sslmode=disable", "x").unwrap(),
            "postgres://u@h:5/x?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@h:5", "x").unwrap(),
            "postgres://u@h:5/x"
        );
    }
}

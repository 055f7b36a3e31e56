//! `ghl-sim`: serve a fake GoHighLevel API v2 until SIGINT or SIGTERM.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use ghl_sim::{DEFAULT_CUSTOM_FIELDS, FaultKind, LatencyMs, RateLimit, Sim, SimConfig};
use tracing_subscriber::EnvFilter;

/// A fake GoHighLevel (GHL) API v2 server for tests, demos and benchmarks.
///
/// Serves GET/PUT /contacts/{id}, POST /contacts/upsert, POST /contacts/, tags, notes and
/// tasks of a contact, and GET /locations/{id}/customFields, checking the bearer token,
/// the Version header and request bodies against GHL's OpenAPI specs. State is in memory.
/// Enforces GHL's rate limits (with the X-RateLimit-* headers and 429s) and can inject
/// faults and latency. Inspect and control it under /_sim/: GET /_sim/calls, DELETE
/// /_sim/calls, POST /_sim/contacts, GET /_sim/contacts/{id}, GET /_sim/healthz, GET and
/// PUT /_sim/control (rate limit, faults, latency at run time), GET and DELETE /_sim/stats.
///
/// On start it prints one line, `ghl-sim listening on http://<addr>`, to stdout; logs go
/// to stderr (filter with RUST_LOG).
#[derive(Debug, Parser)]
#[command(name = "ghl-sim", version, about, long_about)]
struct Args {
    /// Address to listen on; port 0 picks a free port (read it from the first stdout line).
    #[arg(long, env = "GHL_SIM_BIND", default_value = "127.0.0.1:8090")]
    bind: SocketAddr,

    /// The location (sub-account) id the token has access to; others answer 403.
    #[arg(long, env = "GHL_LOCATION_ID", default_value = "sim-location")]
    location_id: String,

    /// The token clients must send as `Authorization: Bearer <token>`.
    #[arg(
        long,
        env = "GHL_API_KEY",
        default_value = "sim-api-key",
        hide_env_values = true
    )]
    api_key: String,

    /// Add a contact custom field (a key such as `service_type` or `contact.service_type`).
    /// Repeatable. The defaults are appointment_status, next_appointment_date and
    /// last_service_date.
    #[arg(long = "custom-field", value_name = "KEY")]
    custom_fields: Vec<String>,

    /// Start without the default custom fields (only those given with --custom-field).
    #[arg(long)]
    no_default_custom_fields: bool,

    /// Accept every published Version value (2021-04-15, 2021-07-28, 2023-02-21, v3) like
    /// the live API, instead of only the one each operation's spec lists.
    #[arg(long)]
    accept_all_published_versions: bool,

    /// Share of API requests (0..1) answered with an injected fault.
    #[arg(long, env = "GHL_SIM_FAULT_RATE", default_value_t = 0.0, value_parser = share)]
    fault_rate: f64,

    /// Kinds of injected faults, drawn uniformly: 500, 502, 503, timeout (the response is
    /// held for 120 s, then the connection closed), drop (closed without a response), 401.
    #[arg(
        long,
        env = "GHL_SIM_FAULT_KINDS",
        default_value = "500,502,503,timeout,drop",
        value_parser = fault_kinds
    )]
    fault_kinds: FaultKinds,

    /// Share (0..1) of faults on writes (POST, PUT, DELETE) injected after the write was
    /// applied: the client sees a 5xx, a hang or a dropped connection although the write
    /// took effect.
    #[arg(long, env = "GHL_SIM_FAULT_AFTER_WRITE_SHARE", default_value_t = 0.5, value_parser = share)]
    fault_after_write_share: f64,

    /// Latency added to every API request, uniformly random in MIN-MAX milliseconds.
    #[arg(
        long,
        env = "GHL_SIM_LATENCY_MS",
        default_value = "0-0",
        value_name = "MIN-MAX"
    )]
    latency_ms: LatencyMs,

    /// GHL's burst limit: requests per window per location; more get 429.
    #[arg(long, env = "GHL_SIM_RATE_LIMIT_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit_burst: u32,

    /// Length of the burst window in milliseconds.
    #[arg(long, env = "GHL_SIM_RATE_LIMIT_WINDOW_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    rate_limit_window_ms: u64,

    /// GHL's daily limit: requests per day per location.
    #[arg(long, env = "GHL_SIM_RATE_LIMIT_DAILY", default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    rate_limit_daily: u64,
}

/// A parsed `--fault-kinds` list (a newtype, so clap takes the whole list as one value).
#[derive(Debug, Clone)]
struct FaultKinds(Vec<FaultKind>);

fn fault_kinds(s: &str) -> Result<FaultKinds, String> {
    FaultKind::parse_list(s)
        .map(FaultKinds)
        .map_err(|e| e.to_string())
}

fn share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number between 0 and 1")),
    }
}

impl Args {
    fn into_config(self) -> SimConfig {
        let mut custom_fields: Vec<String> = if self.no_default_custom_fields {
            Vec::new()
        } else {
            DEFAULT_CUSTOM_FIELDS.map(str::to_owned).to_vec()
        };
        custom_fields.extend(self.custom_fields);
        SimConfig {
            location_id: self.location_id,
            api_key: self.api_key,
            custom_fields,
            accept_all_published_versions: self.accept_all_published_versions,
            fault_rate: self.fault_rate,
            fault_kinds: self.fault_kinds.0,
            fault_after_write_share: self.fault_after_write_share,
            latency_ms: self.latency_ms,
            rate_limit: RateLimit {
                burst: self.rate_limit_burst,
                window_ms: self.rate_limit_window_ms,
                daily: self.rate_limit_daily,
            },
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    // Signal handlers first: a SIGTERM right after the address line must not be lost.
    let stop = shutdown_signal()?;
    let bind = args.bind;
    let sim = Sim::bind(bind, args.into_config()).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ghl-sim listening on {}", sim.base_url).context("writing to stdout")?;
    stdout.flush().context("flushing stdout")?;
    drop(stdout);
    tracing::info!(addr = %sim.addr, "ghl-sim started");

    stop.await;
    tracing::info!("shutting down");
    sim.shutdown().await?;
    tracing::info!("ghl-sim stopped");
    Ok(())
}

/// Registers SIGINT and SIGTERM handlers now and returns a future that
/// resolves on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

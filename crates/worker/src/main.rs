//! `worker`: drains the sync outbox into GoHighLevel. Wires the PostgreSQL
//! adapters and the GHL client into the use cases and runs the loop until
//! SIGTERM/SIGINT.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use domain::ports::SystemClock;
use domain::service::SyncDeps;
use ghl_adapter::{GhlClient, GhlConfig};
use secrecy::SecretString;
use storage::{PgRateLimiter, PgStore};
use tokio::sync::{Notify, watch};
use worker::config::{Cli, Command, Config};
use worker::runner::{Runner, RunnerConfig};
use worker::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("worker: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Run => runtime.block_on(run(cli.config)),
        Command::Dlq(command) => runtime.block_on(worker::dlq::run(cli.config, command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker: {e:#}");
            tracing::error!(error = %format!("{e:#}"), "worker stopped with an error");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let stop_signal = shutdown_signal().context("installing signal handlers")?;
    let _otel = telemetry::init(config.log_format());
    let retry = config.retry_policy().map_err(anyhow::Error::msg)?;
    let database_url = config
        .database_url
        .as_deref()
        .context("DATABASE_URL is required")?;
    let token = config
        .ghl_api_key
        .clone()
        .context("GHL_API_KEY is required")?;
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("a rustls crypto provider was already installed");
    }
    let ghl_config = GhlConfig::new(SecretString::from(token))
        .with_base_url(config.ghl_api_base_url.clone())
        .with_request_timeout(Duration::from_secs(config.ghl_request_timeout_seconds));
    let ghl_config = config
        .ghl_limits
        .apply(ghl_config)
        .map_err(anyhow::Error::msg)?;
    let rate_limits = ghl_config.rate_limits;
    let crm = GhlClient::new(ghl_config).context("configuring the GHL client")?;

    let pool = storage::connect(database_url, config.database_max_connections)
        .await
        .context("connecting to the database")?;
    storage::migrate(&pool)
        .await
        .context("migrating the database")?;
    let store = Arc::new(PgStore::new(pool.clone()).with_coalescing(config.sync_coalesce));
    // Every worker shares each location's GHL budget through the database.
    let crm = crm.with_rate_limiter(Arc::new(PgRateLimiter::new(pool.clone(), rate_limits)));

    start_admin(&config.worker_admin_bind, pool.clone(), rate_limits.daily).await?;
    start_alerts(&config, store.clone())?;

    let deps = Arc::new(SyncDeps {
        appointments: store.clone(),
        leads: store.clone(),
        queue: store,
        crm: Arc::new(ghl_adapter::Metered::new(crm)),
        clock: Arc::new(SystemClock),
        settings: config.effect_settings(),
        retry,
    });

    let pruner = tokio::spawn(worker::maintenance::prune_periodically(
        pool.clone(),
        config.sync_retention_days,
        worker::maintenance::PRUNE_EVERY,
    ));

    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(listen(pool.clone(), wake.clone()));

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        stop_signal.await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });

    let runner = Runner::new(
        deps,
        RunnerConfig {
            worker_id: config.worker_id(),
            concurrency: config.worker_concurrency as usize,
            lease: Duration::from_secs(config.worker_lease_seconds),
            poll_interval: Duration::from_millis(config.worker_poll_interval_ms),
            shutdown_grace: Duration::from_secs(config.shutdown_grace_seconds),
        },
        wake,
    );
    runner.run(stop_rx).await;
    listener.abort();
    pruner.abort();
    pool.close().await;
    Ok(())
}

/// Starts the admin port unless `bind` is `off`; a port that cannot be bound
/// is an error (the operator asked for it).
async fn start_admin(bind: &str, pool: storage::PgPool, daily_limit: u64) -> anyhow::Result<()> {
    if bind.eq_ignore_ascii_case("off") {
        return Ok(());
    }
    let addr: std::net::SocketAddr = bind.parse().with_context(|| {
        format!("WORKER_ADMIN_BIND {bind:?} is not an address like 127.0.0.1:9091 (or off)")
    })?;
    let handle = worker::admin::install_recorder().map_err(anyhow::Error::msg)?;
    let bound = worker::admin::serve(addr, handle, pool, daily_limit)
        .await
        .with_context(|| format!("binding WORKER_ADMIN_BIND {addr}"))?;
    tracing::info!(address = %bound, "worker admin listening");
    // Announced on stdout for scripts and tests that bind port 0.
    println!("worker admin listening on http://{bound}");
    Ok(())
}

/// Sets up alerts when `ALERT_WEBHOOK_URL` is set: the dead-letter hook and
/// the periodic health evaluation.
fn start_alerts(config: &worker::config::Config, store: Arc<PgStore>) -> anyhow::Result<()> {
    let Some(url) = config.alert_webhook_url.clone().filter(|u| !u.is_empty()) else {
        return Ok(());
    };
    let alerter = worker::alerts::Alerter::new(worker::alerts::AlertConfig {
        webhook_url: SecretString::from(url),
        dedup: Duration::from_secs(config.alert_dedup_seconds),
        max_per_hour: config.alert_max_per_hour,
    })
    .context("configuring alerts")?;
    worker::alerts::install(alerter.clone());
    tokio::spawn(worker::alerts::watch_health(
        alerter,
        store,
        Duration::from_secs(config.alert_health_interval_seconds),
    ));
    tracing::info!("alerts enabled");
    Ok(())
}

/// Wakes the runner on every `NOTIFY sync_jobs`; reconnects when the connection drops.
async fn listen(pool: storage::PgPool, wake: Arc<Notify>) {
    loop {
        match storage::listener(&pool).await {
            Ok(mut listener) => {
                tracing::debug!("listening for new sync jobs");
                loop {
                    match listener.recv().await {
                        Ok(_) => wake.notify_one(),
                        Err(e) => {
                            tracing::warn!(error = %e, "notification connection lost; polling continues");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for notifications; polling continues")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Registers SIGTERM and SIGINT handlers now (so a signal that arrives during
/// start-up is not lost) and returns a future that resolves on the first one.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}

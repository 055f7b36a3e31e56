//! `api`: the booking HTTP API. Wires the PostgreSQL adapters into the use
//! cases, serves HTTP, and shuts down gracefully on SIGTERM/SIGINT.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api::config::{ApiCommand, Cli, Config};
use api::ops::Operations;
use api::{App, AppState, Readiness, auth, routes, telemetry};
use clap::Parser;
use domain::ports::SystemClock;
use domain::service::BookingService;
use domain::service::SyncDeps;
use ghl_adapter::{GhlClient, GhlConfig, Metered};
use secrecy::SecretString;
use storage::PgStore;

struct DbReadiness(storage::PgPool);

#[async_trait::async_trait]
impl Readiness for DbReadiness {
    async fn check(&self) -> Result<(), String> {
        storage::ping(&self.0).await.map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config;
    if let Some(ApiCommand::Token {
        sub,
        role,
        ttl_seconds,
    }) = cli.command
    {
        return print_token(&config, &sub, role.as_deref(), ttl_seconds);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("api: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("api: {e:#}");
            tracing::error!(error = %format!("{e:#}"), "api stopped with an error");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let stop_signal = shutdown_signal().context("installing signal handlers")?;
    let settings = config.settings()?;
    let mut webhook_warnings = Vec::new();
    let webhook_settings = config
        .webhooks
        .settings(config.app_env, &mut webhook_warnings)?;
    let _otel = telemetry::init(config.log_format());
    for warning in settings.warnings.iter().chain(&webhook_warnings) {
        tracing::warn!("{warning}");
    }

    let pool = storage::connect(config.database_url()?, config.database_max_connections)
        .await
        .context("connecting to the database")?;
    storage::migrate(&pool)
        .await
        .context("migrating the database")?;
    let store = Arc::new(PgStore::new(pool.clone()));
    let webhooks = routes::webhooks::WebhookState {
        inbox: store.clone(),
        location: settings.location.clone(),
        clock: Arc::new(SystemClock),
        settings: Arc::new(webhook_settings),
    };
    // Stored but unapplied webhook events (a failure after storing, a crash)
    // are applied at start-up and then periodically.
    let retry = tokio::spawn(routes::webhooks::retry_unprocessed(
        webhooks.clone(),
        webhooks.settings.retry_interval,
    ));

    let ops = operations(&config, &settings, store.clone())?;
    let app = App {
        booking: BookingService {
            appointments: store.clone(),
            leads: store.clone(),
            clock: Arc::new(SystemClock),
            calendar: settings.calendar,
            location: settings.location,
        },
        appointments: store.clone(),
        leads: store,
        jwt: auth::JwtVerifier::new(settings.jwt_secret),
        readiness: Arc::new(DbReadiness(pool.clone())),
        ops: Arc::new(ops),
    };
    let router = routes::router_with(AppState(Arc::new(app)), routes::webhooks::routes(webhooks));

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "api listening");
    // Announced on stdout for scripts and tests that bind port 0.
    println!("api listening on http://{address}");

    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        stop_signal.await;
        tracing::info!("shutdown requested: finishing in-flight requests");
        let _ = stop_tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    // Wait for the server; after a signal, give in-flight requests `grace` to finish.
    let outcome = async {
        tokio::select! {
            result = server => result,
            () = async { let _ = stop_rx.await; tokio::time::sleep(grace).await; } => {
                tracing::warn!(grace_s = grace.as_secs(), "in-flight requests did not finish in time");
                Ok(Ok(()))
            }
        }
    }
    .await;
    retry.abort();
    pool.close().await;
    match outcome {
        Ok(Ok(())) => {
            tracing::info!("api stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(e).context("serving HTTP"),
        Err(e) => Err(e).context("server task"),
    }
}

/// The operations endpoints' dependencies: the GHL client and the sync
/// pipeline for `POST /sync` (when `GHL_API_KEY` is set), the monitor's
/// figures, the dead-letter queue, and the Prometheus recorder.
fn operations(
    config: &Config,
    settings: &api::config::Settings,
    store: Arc<PgStore>,
) -> anyhow::Result<Operations> {
    let cfg = &config.ops;
    let retry = cfg.retry_policy().map_err(anyhow::Error::msg)?;
    let sync = match cfg.ghl_api_key.as_deref().filter(|k| !k.is_empty()) {
        Some(key) => {
            if rustls::crypto::ring::default_provider()
                .install_default()
                .is_err()
            {
                tracing::debug!("a rustls crypto provider was already installed");
            }
            let crm = GhlClient::new(
                GhlConfig::new(SecretString::from(key.to_owned()))
                    .with_base_url(cfg.ghl_api_base_url.clone())
                    .with_request_timeout(Duration::from_secs(cfg.ghl_request_timeout_seconds)),
            )
            .context("configuring the GHL client")?;
            Some(SyncDeps {
                appointments: store.clone(),
                leads: store.clone(),
                queue: store.clone(),
                crm: Arc::new(Metered::new(crm)),
                clock: Arc::new(SystemClock),
                settings: cfg.effect_settings(settings.calendar.timezone),
                retry,
            })
        }
        None => {
            tracing::warn!("GHL_API_KEY is not set: POST /sync is disabled");
            None
        }
    };
    let metrics = match api::metrics::install() {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "metrics recorder not installed");
            None
        }
    };
    Ok(Operations {
        lease: Duration::from_secs(cfg.sync_request_lease_seconds.max(1)),
        metrics,
        metrics_token: cfg
            .metrics_token
            .clone()
            .filter(|t| !t.is_empty())
            .map(SecretString::from),
        ..Operations::new(store, sync)
    })
}

/// `api token`: prints a signed bearer token on stdout.
fn print_token(config: &Config, sub: &str, role: Option<&str>, ttl_seconds: i64) -> ExitCode {
    let mut warnings = Vec::new();
    match config.jwt_secret(&mut warnings) {
        Ok(secret) => {
            for warning in warnings {
                eprintln!("api: warning: {warning}");
            }
            let mut claims = serde_json::json!({
                "sub": sub,
                "exp": chrono::Utc::now().timestamp() + ttl_seconds,
            });
            if let Some(role) = role {
                claims["role"] = serde_json::json!(role);
            }
            println!("{}", auth::JwtVerifier::new(secret).sign(&claims));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("api: {e}");
            ExitCode::FAILURE
        }
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

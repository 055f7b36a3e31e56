//! Tracing set-up for the worker binary: `RUST_LOG` filter (default `info`),
//! JSON or readable lines on stderr. Job spans carry `sync.job_id`,
//! `appointment.id` and `sync.action`; never emails, phone numbers or tokens.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

///
/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP;
/// keep the returned guard until exit (dropping it flushes them).
pub fn init(format: LogFormat) -> Option<otel::Guard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (otel_layer, guard) = match otel::init("worker") {
        Ok(Some((layer, guard))) => (Some(layer), Some(guard)),
        Ok(None) => (None, None),
        Err(e) => {
            eprintln!("worker: traces are not exported: {e}");
            (None, None)
        }
    };
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
    if result.is_err() {
        eprintln!("tracing was already initialised");
    }
    guard
}

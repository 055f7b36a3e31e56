//! OpenTelemetry for the api and the worker.
//!
//! - [`init`]: when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, a tracer provider
//!   exporting spans over OTLP/HTTP (protobuf; the exporter reads the standard
//!   `OTEL_EXPORTER_OTLP_*` variables) and the `tracing` layer that turns our
//!   spans into OpenTelemetry spans. Keep the returned [`Guard`]: dropping it
//!   flushes and shuts the provider down.
//! - [`traceparent_of`] / [`set_parent`]: the W3C `traceparent` of a span, and
//!   a span continuing one. The api stores the request's traceparent with each
//!   sync job; the worker's job span continues it, so one trace runs from the
//!   HTTP request through the job to the GHL calls (their `ghl.call` spans).
//!
//! Without an exporter, `traceparent_of` still works when a layer is installed
//! (tests use an in-memory exporter) and returns `None` otherwise.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

/// The variable that switches the OTLP exporter on.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Shuts the provider down (flushing spans) when dropped.
pub struct Guard {
    provider: SdkTracerProvider,
}

impl Guard {
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

impl Drop for Guard {
    /// Flushes and shuts down on a plain thread: the blocking HTTP client must
    /// not be used (or dropped) on an async runtime's thread.
    fn drop(&mut self) {
        let provider = self.provider.clone();
        let done = std::thread::spawn(move || provider.shutdown());
        match done.join() {
            Ok(Err(e)) => eprintln!("OpenTelemetry shutdown: {e}"),
            Err(_) => eprintln!("OpenTelemetry shutdown panicked"),
            Ok(Ok(())) => {}
        }
    }
}

/// The `tracing` layer for `provider`, naming the tracer `service`.
pub fn layer<S>(
    provider: &SdkTracerProvider,
    service: &'static str,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer(service))
}

/// When `OTEL_EXPORTER_OTLP_ENDPOINT` is set: an OTLP/HTTP exporter in a batch
/// processor, the layer for the subscriber, and the guard to keep. `Err` when
/// the exporter cannot be built (reported, then the service runs without).
#[allow(clippy::type_complexity)]
pub fn init<S>(
    service: &'static str,
) -> Result<
    Option<(
        tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>,
        Guard,
    )>,
    String,
>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    if std::env::var_os(ENDPOINT_VAR).is_none_or(|v| v.is_empty()) {
        return Ok(None);
    }
    // Built on a plain thread: the blocking HTTP client refuses to be created
    // on an async runtime's thread.
    let exporter = std::thread::spawn(|| {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| format!("OTLP exporter: {e}"))
    })
    .join()
    .map_err(|_| "building the OTLP exporter panicked".to_owned())??;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    let layer = layer(&provider, service);
    Ok(Some((layer, Guard { provider })))
}

/// The W3C `traceparent` of `span`, if it has a valid OpenTelemetry context.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` continue the trace of `traceparent` (ignored when malformed).
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

//! [`Metered`]: a `CrmGateway` decorator that gives every CRM operation a
//! `ghl.call` span (a child of the job's span, so traces show each GHL call)
//! and records Prometheus metrics through the `metrics` facade:
//! `ghl_requests_total{operation, outcome}` and
//! `ghl_request_duration_seconds{operation, outcome}` (outcome: `ok` or the
//! error class). Without an installed recorder the metrics are no-ops.

use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;
use domain::ids::{GhlContactId, LocationId};
use domain::job::CrmError;
use domain::plan::{FieldValue, NoteEffect, TaskEffect};
use domain::ports::{CrmContact, CrmGateway};
use tracing::Instrument;

/// Wraps any `CrmGateway` (the `GhlClient` in the binaries).
#[derive(Debug, Clone)]
pub struct Metered<C> {
    inner: C,
}

impl<C> Metered<C> {
    pub fn new(inner: C) -> Self {
        Self { inner }
    }

    /// The wrapped gateway (e.g. for `GhlClient::probe_token`).
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

async fn observe<T>(
    operation: &'static str,
    location: &LocationId,
    call: impl Future<Output = Result<T, CrmError>>,
) -> Result<T, CrmError> {
    let span = tracing::info_span!(
        "ghl.call",
        ghl.operation = operation,
        ghl.location_id = %location,
        otel.kind = "client",
        ghl.outcome = tracing::field::Empty,
    );
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.class.as_str(),
    };
    span.record("ghl.outcome", outcome);
    metrics::counter!("ghl_requests_total", "operation" => operation, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("ghl_request_duration_seconds", "operation" => operation, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}

#[async_trait]
impl<C: CrmGateway> CrmGateway for Metered<C> {
    async fn add_note(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        note: &NoteEffect,
    ) -> Result<(), CrmError> {
        observe(
            "add_note",
            location,
            self.inner.add_note(location, contact, note),
        )
        .await
    }

    async fn add_tags(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        tags: &[String],
    ) -> Result<(), CrmError> {
        observe(
            "add_tags",
            location,
            self.inner.add_tags(location, contact, tags),
        )
        .await
    }

    async fn remove_tags(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        tags: &[String],
    ) -> Result<(), CrmError> {
        observe(
            "remove_tags",
            location,
            self.inner.remove_tags(location, contact, tags),
        )
        .await
    }

    async fn update_custom_fields(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        fields: &[FieldValue],
    ) -> Result<(), CrmError> {
        observe(
            "update_custom_fields",
            location,
            self.inner.update_custom_fields(location, contact, fields),
        )
        .await
    }

    async fn create_task(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        task: &TaskEffect,
    ) -> Result<(), CrmError> {
        observe(
            "create_task",
            location,
            self.inner.create_task(location, contact, task),
        )
        .await
    }

    async fn get_contact(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
    ) -> Result<CrmContact, CrmError> {
        observe(
            "get_contact",
            location,
            self.inner.get_contact(location, contact),
        )
        .await
    }

    // Every method is forwarded (the port has no default bodies, so the compiler
    // checks it): a decorator that fell back to a default would silently change
    // behaviour (the in-doubt look-ups, the missing-contact upsert).
    async fn find_note(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        observe(
            "find_note",
            location,
            self.inner.find_note(location, contact, marker),
        )
        .await
    }

    async fn find_task(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        observe(
            "find_task",
            location,
            self.inner.find_task(location, contact, marker),
        )
        .await
    }

    async fn upsert_contact(
        &self,
        location: &LocationId,
        lead: &domain::lead::Lead,
    ) -> Result<GhlContactId, CrmError> {
        observe(
            "upsert_contact",
            location,
            self.inner.upsert_contact(location, lead),
        )
        .await
    }

    async fn create_calendar_event(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        event: &domain::plan::CalendarEvent,
    ) -> Result<String, CrmError> {
        observe(
            "create_appointment",
            location,
            self.inner.create_calendar_event(location, contact, event),
        )
        .await
    }

    async fn update_calendar_event(
        &self,
        location: &LocationId,
        event_id: &str,
        event: &domain::plan::CalendarEvent,
    ) -> Result<(), CrmError> {
        observe(
            "update_appointment",
            location,
            self.inner.update_calendar_event(location, event_id, event),
        )
        .await
    }

    async fn find_calendar_event(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        calendar_id: &str,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        observe(
            "list_contact_appointments",
            location,
            self.inner
                .find_calendar_event(location, contact, calendar_id, marker),
        )
        .await
    }
}

/// Records how one attempt of a sync job ended, for the worker and for
/// `POST /sync` (`source` = `worker` or `api`):
/// `sync_jobs_finished_total{action, outcome, source}` (outcome: succeeded,
/// skipped, retry, dead) and, when the job is finished, the time from the
/// commit of the change to the end: `sync_commit_to_done_seconds{action, outcome}`.
pub fn record_job_outcome(
    action: domain::SyncAction,
    created_at: chrono::DateTime<chrono::Utc>,
    outcome: &domain::job::JobOutcome,
    source: &'static str,
) {
    use domain::job::JobOutcome;
    let name = match outcome {
        JobOutcome::Succeeded(_) => "succeeded",
        JobOutcome::Skipped { .. } => "skipped",
        JobOutcome::RetryAt { .. } => "retry",
        JobOutcome::Dead { .. } => "dead",
    };
    metrics::counter!("sync_jobs_finished_total", "action" => action.as_str(), "outcome" => name, "source" => source)
        .increment(1);
    if !matches!(outcome, JobOutcome::RetryAt { .. }) {
        let seconds = (chrono::Utc::now() - created_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("sync_commit_to_done_seconds", "action" => action.as_str(), "outcome" => name)
            .record(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every look-up with "found"; the writes are never called here.
    struct Finds;

    #[async_trait]
    impl CrmGateway for Finds {
        async fn add_note(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &NoteEffect,
        ) -> Result<(), CrmError> {
            Ok(())
        }
        async fn add_tags(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &[String],
        ) -> Result<(), CrmError> {
            Ok(())
        }
        async fn remove_tags(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &[String],
        ) -> Result<(), CrmError> {
            Ok(())
        }
        async fn update_custom_fields(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &[FieldValue],
        ) -> Result<(), CrmError> {
            Ok(())
        }
        async fn create_task(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &TaskEffect,
        ) -> Result<(), CrmError> {
            Ok(())
        }
        async fn get_contact(
            &self,
            _: &LocationId,
            c: &GhlContactId,
        ) -> Result<CrmContact, CrmError> {
            Ok(CrmContact {
                id: c.clone(),
                tags: Vec::new(),
                custom_fields: Vec::new(),
            })
        }
        async fn find_note(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &str,
        ) -> Result<Option<String>, CrmError> {
            Ok(Some("note-1".into()))
        }
        async fn find_task(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &str,
        ) -> Result<Option<String>, CrmError> {
            Ok(Some("task-1".into()))
        }
        async fn upsert_contact(
            &self,
            _: &LocationId,
            _: &domain::lead::Lead,
        ) -> Result<GhlContactId, CrmError> {
            Ok(GhlContactId::parse("upserted-1").unwrap())
        }
        async fn create_calendar_event(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &domain::plan::CalendarEvent,
        ) -> Result<String, CrmError> {
            Ok("event-1".into())
        }
        async fn update_calendar_event(
            &self,
            _: &LocationId,
            _: &str,
            _: &domain::plan::CalendarEvent,
        ) -> Result<(), CrmError> {
            Ok(())
        }
        async fn find_calendar_event(
            &self,
            _: &LocationId,
            _: &GhlContactId,
            _: &str,
            _: &str,
        ) -> Result<Option<String>, CrmError> {
            Ok(Some("event-1".into()))
        }
    }

    #[tokio::test]
    async fn calendar_operations_with_default_bodies_are_forwarded() {
        let metered = Metered::new(Finds);
        let location = LocationId::parse("loc").unwrap();
        let contact = GhlContactId::parse("c1").unwrap();
        let event = domain::plan::CalendarEvent {
            calendar_id: "cal".into(),
            title: "t".into(),
            starts_at: chrono::Utc::now(),
            ends_at: chrono::Utc::now(),
            address: None,
            status: "new",
            notify: false,
            marker: "[booking x]".into(),
        };
        let created = metered
            .create_calendar_event(&location, &contact, &event)
            .await;
        assert_eq!(created.unwrap(), "event-1");
        assert!(
            metered
                .update_calendar_event(&location, "event-1", &event)
                .await
                .is_ok()
        );
        let found = metered
            .find_calendar_event(&location, &contact, "cal", "[booking x]")
            .await;
        assert_eq!(found.unwrap().as_deref(), Some("event-1"));
    }

    #[tokio::test]
    async fn look_ups_with_default_bodies_are_forwarded() {
        let metered = Metered::new(Finds);
        let location = LocationId::parse("loc").unwrap();
        let contact = GhlContactId::parse("c1").unwrap();
        assert_eq!(
            metered
                .find_note(&location, &contact, "[sync x/note]")
                .await
                .unwrap(),
            Some("note-1".into())
        );
        assert_eq!(
            metered
                .find_task(&location, &contact, "[sync x/task]")
                .await
                .unwrap(),
            Some("task-1".into())
        );
    }
}

//! What the adapter logs: method, path template, status and duration; never the token,
//! a body, an email or a phone number.
//!
//! A test binary of its own: tracing caches per call site whether anyone listens, and
//! tests of other threads hitting the same call sites without a subscriber make a
//! thread-local subscriber miss events.

// Test helpers outside `#[test]` functions panic on purpose.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use domain::ids::{GhlContactId, LocationId};
use domain::plan::{FieldValue, NoteEffect, TaskEffect};
use domain::ports::CrmGateway;
use ghl_adapter::{GhlClient, GhlConfig};
use ghl_sim::{SeedContact, Sim, SimConfig};
use secrecy::SecretString;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn calls_are_logged_by_template_and_status_without_personal_data_or_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let client = |token: &str| {
        GhlClient::new(GhlConfig::new(SecretString::from(token)).with_base_url(&sim.base_url))
            .unwrap()
    };
    let c = &client(&sim.config().api_key);
    let location = LocationId::parse(&sim.config().location_id).unwrap();
    let seeded = sim
        .seed_contact(SeedContact {
            email: Some("ann.secret@example.com".into()),
            phone: Some("+31611122233".into()),
            ..Default::default()
        })
        .unwrap();
    let contact = GhlContactId::parse(&seeded.id).unwrap();
    c.add_note(
        &location,
        &contact,
        &NoteEffect {
            body: "note text ann.secret@example.com".into(),
        },
    )
    .await
    .unwrap();
    c.add_tags(&location, &contact, &["tag-text".into()])
        .await
        .unwrap();
    let status = FieldValue {
        key: "appointment_status".into(),
        value: "field-value-text".into(),
    };
    c.update_custom_fields(&location, &contact, &[status])
        .await
        .unwrap();
    let task = TaskEffect {
        title: "task title text".into(),
        body: "task body text".into(),
        due_at: Utc::now(),
    };
    c.create_task(&location, &contact, &task).await.unwrap();
    c.get_contact(&location, &contact).await.unwrap();
    client("wrong-token-text")
        .add_note(&location, &contact, &NoteEffect { body: "x".into() })
        .await
        .unwrap_err();

    let logs = captured.text();
    let ours: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("ghl_adapter::transport"))
        .collect();
    // The 401 paused the location, saying why (and nothing personal).
    assert!(
        logs.lines().any(|l| l.contains("ghl_adapter::limit")
            && l.contains("pausing GHL calls of the location")
            && l.contains("401")),
        "{logs}"
    );
    let expected = [
        ("add_note", "POST", "/contacts/{contactId}/notes", 201),
        ("add_tags", "POST", "/contacts/{contactId}/tags", 201),
        (
            "list_custom_fields",
            "GET",
            "/locations/{locationId}/customFields",
            200,
        ),
        ("update_custom_fields", "PUT", "/contacts/{contactId}", 200),
        ("create_task", "POST", "/contacts/{contactId}/tasks", 201),
        ("get_contact", "GET", "/contacts/{contactId}", 200),
        ("add_note", "POST", "/contacts/{contactId}/notes", 401),
    ];
    assert_eq!(ours.len(), expected.len(), "{logs}");
    for (line, (name, method, template, status)) in ours.iter().zip(expected) {
        assert!(line.contains(" DEBUG "), "{line}");
        assert!(
            line.contains(&format!("ghl.operation=\"{name}\"")),
            "{line}"
        );
        assert!(line.contains(&format!("http.method={method}")), "{line}");
        assert!(line.contains(&format!("ghl.path=\"{template}\"")), "{line}");
        assert!(line.contains(&format!("ghl.status={status}")), "{line}");
        assert!(line.contains("duration_ms="), "{line}");
    }
    for secret in [
        sim.config().api_key.as_str(),
        "wrong-token-text",
        "ann.secret",
        "31611122233",
        "note text",
        "tag-text",
        "field-value-text",
        "task title text",
        "task body text",
    ] {
        assert!(!logs.contains(secret), "`{secret}` was logged:\n{logs}");
    }
}

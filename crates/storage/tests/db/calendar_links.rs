//! The appointment ↔ GHL calendar event link (calendar mirroring).

use domain::ports::AppointmentRepository;
use sqlx::PgPool;
use storage::PgStore;

use crate::support::{book, lead_in, location, slot};

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn an_event_id_is_stored_read_back_and_unique_per_location(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (first, _) = book(&store, &lead, slot(9, 11)).await;
    let (second, _) = book(&store, &lead, slot(12, 13)).await;
    assert_eq!(store.ghl_event_id(first.id).await.unwrap(), None);

    store.set_ghl_event_id(first.id, "ev-1").await.unwrap();
    // Setting the same link again (an inbound webhook linked it first) is fine.
    store.set_ghl_event_id(first.id, "ev-1").await.unwrap();
    assert_eq!(
        store.ghl_event_id(first.id).await.unwrap().as_deref(),
        Some("ev-1")
    );
    assert_eq!(store.ghl_event_id(second.id).await.unwrap(), None);
    // One GHL event belongs to one appointment.
    let taken = store.set_ghl_event_id(second.id, "ev-1").await;
    assert!(taken.is_err(), "{taken:?}");
    assert_eq!(store.ghl_event_id(second.id).await.unwrap(), None);
}

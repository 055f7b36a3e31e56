//! Linking a lead to the GHL contact the worker created for it.

use domain::ports::LeadRepository;
use sqlx::PgPool;
use storage::PgStore;

use crate::support::{contact, lead_in, location, stored_lead};

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_lead_without_a_contact_is_linked_once_and_keeps_its_contact(pool: PgPool) {
    let store = PgStore::new(pool);
    let ann = lead_in(&store, &location(), "ann@example.com").await;
    assert_eq!(ann.ghl_contact_id, None);

    store
        .link_contact(ann.id, &contact("ghlAnn"))
        .await
        .unwrap();
    assert_eq!(
        stored_lead(&store, ann.id).await.ghl_contact_id,
        Some(contact("ghlAnn"))
    );
    // A second link does not replace the first.
    store
        .link_contact(ann.id, &contact("ghlOther"))
        .await
        .unwrap();
    assert_eq!(
        stored_lead(&store, ann.id).await.ghl_contact_id,
        Some(contact("ghlAnn"))
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_contact_linked_to_another_lead_stays_there(pool: PgPool) {
    let store = PgStore::new(pool);
    let ann = lead_in(&store, &location(), "ann@example.com").await;
    let bob = lead_in(&store, &location(), "bob@example.com").await;
    store
        .link_contact(ann.id, &contact("shared"))
        .await
        .unwrap();
    store
        .link_contact(bob.id, &contact("shared"))
        .await
        .unwrap();
    assert_eq!(stored_lead(&store, bob.id).await.ghl_contact_id, None);
}

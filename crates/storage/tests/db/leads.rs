//! LeadRepository: lookups, and finding or creating the lead of a booking.

use domain::contact::{Email, Phone};
use domain::lead::{LeadQuery, Lifecycle};
use domain::ports::LeadRepository;
use sqlx::PgPool;
use storage::PgStore;

use crate::support::*;

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn an_unknown_person_becomes_a_new_booking_lead(pool: PgPool) {
    let store = PgStore::new(pool);
    let at = now();
    let person = customer(Some("Jan@Example.nl"), Some("+31 6 1234 5678"));

    let lead = store
        .resolve_for_booking(&location(), &person, Some(contact("c-1")), at)
        .await
        .unwrap();

    assert_eq!(lead.location_id, location());
    assert_eq!(lead.ghl_contact_id, Some(contact("c-1")));
    assert_eq!(lead.name, Some(person.name.clone()));
    assert_eq!(
        lead.email.as_ref().map(Email::as_str),
        Some("jan@example.nl")
    );
    assert_eq!(lead.phone.as_ref().map(Phone::as_str), Some("+31612345678"));
    assert_eq!(lead.address, person.address);
    assert_eq!(lead.source, "booking");
    assert_eq!(lead.lifecycle, Lifecycle::Lead);
    assert_eq!((lead.customer_since, lead.services_completed), (None, 0));
    assert_eq!((lead.created_at, lead.updated_at), (at, at));
    assert_eq!(store.get(lead.id).await.unwrap(), Some(lead));
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn the_contact_id_is_matched_before_email_and_phone(pool: PgPool) {
    let store = PgStore::new(pool);
    let by_email = lead_in(&store, &location(), "jan@example.nl").await;
    let linked = store
        .resolve_for_booking(
            &location(),
            &customer(Some("other@example.nl"), None),
            Some(contact("c-1")),
            now(),
        )
        .await
        .unwrap();
    assert_ne!(linked.id, by_email.id);

    let person = customer(Some("jan@example.nl"), None);
    let found = store
        .resolve_for_booking(&location(), &person, Some(contact("c-1")), now())
        .await
        .unwrap();
    assert_eq!(found.id, linked.id);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_lead_found_by_email_is_linked_to_the_given_contact(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let unlinked = lead_in(&store, &location(), "jan@example.nl").await;
    let person = customer(Some("JAN@example.nl "), None);

    let found = store
        .resolve_for_booking(&location(), &person, Some(contact("c-9")), now())
        .await
        .unwrap();

    assert_eq!(found.id, unlinked.id);
    assert_eq!(found.ghl_contact_id, Some(contact("c-9")));
    assert_eq!(store.get(unlinked.id).await.unwrap(), Some(found));
    assert_eq!(count(&pool, "leads").await, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_lead_is_found_by_phone_when_no_email_matches(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let by_phone = store
        .resolve_for_booking(
            &location(),
            &customer(None, Some("0612345678")),
            None,
            now(),
        )
        .await
        .unwrap();

    let person = customer(Some("new@example.nl"), Some("06-1234 5678"));
    let found = store
        .resolve_for_booking(&location(), &person, None, now())
        .await
        .unwrap();

    assert_eq!(found.id, by_phone.id);
    assert_eq!(count(&pool, "leads").await, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn people_sharing_a_phone_but_not_an_email_stay_separate_leads(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let anna = store
        .resolve_for_booking(
            &location(),
            &customer(Some("anna@example.nl"), Some("0612345678")),
            None,
            now(),
        )
        .await
        .unwrap();
    let dirk = store
        .resolve_for_booking(
            &location(),
            &customer(Some("dirk@example.nl"), Some("0612345678")),
            None,
            now(),
        )
        .await
        .unwrap();
    assert_ne!(anna.id, dirk.id);
    assert_eq!(count(&pool, "leads").await, 2);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_lead_linked_to_another_contact_is_not_taken_over(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let person = customer(Some("jan@example.nl"), Some("0612345678"));
    let first = store
        .resolve_for_booking(&location(), &person, Some(contact("c-1")), now())
        .await
        .unwrap();

    let second = store
        .resolve_for_booking(&location(), &person, Some(contact("c-2")), now())
        .await
        .unwrap();

    assert_ne!(second.id, first.id);
    assert_eq!(second.ghl_contact_id, Some(contact("c-2")));
    assert_eq!(
        store.get(first.id).await.unwrap().unwrap().ghl_contact_id,
        Some(contact("c-1"))
    );
    // Without a contact id, the same person resolves to a linked lead.
    let any = store
        .resolve_for_booking(&location(), &person, None, now())
        .await
        .unwrap();
    assert_eq!(any.id, first.id);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn leads_of_another_location_are_neither_found_nor_reused(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let here = lead_in(&store, &location(), "jan@example.nl").await;

    let there = lead_in(&store, &other_location(), "jan@example.nl").await;

    assert_ne!(there.id, here.id);
    assert_eq!(there.location_id, other_location());
    let query = LeadQuery {
        email: here.email.clone(),
        ..LeadQuery::default()
    };
    let found = store.find(&location(), &query).await.unwrap();
    assert_eq!(found.iter().map(|l| l.id).collect::<Vec<_>>(), [here.id]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn find_requires_every_given_criterion_to_match(pool: PgPool) {
    let store = PgStore::new(pool);
    let jan = store
        .resolve_for_booking(
            &location(),
            &customer(Some("jan@example.nl"), Some("0612345678")),
            Some(contact("c-1")),
            now(),
        )
        .await
        .unwrap();
    let piet = store
        .resolve_for_booking(
            &location(),
            &customer(Some("piet@example.nl"), Some("0687654321")),
            None,
            now(),
        )
        .await
        .unwrap();
    let find = |email: Option<&str>, phone: Option<&str>, contact_id: Option<&str>| {
        let query = LeadQuery {
            ghl_contact_id: contact_id.map(contact),
            email: email.map(|e| Email::parse(e).unwrap()),
            phone: phone.map(|p| Phone::parse(p).unwrap()),
        };
        let store = store.clone();
        async move {
            let leads = store.find(&location(), &query).await.unwrap();
            leads.into_iter().map(|l| l.id).collect::<Vec<_>>()
        }
    };

    assert_eq!(find(Some("JAN@example.nl"), None, None).await, [jan.id]);
    assert_eq!(find(None, Some("06 1234 5678"), None).await, [jan.id]);
    assert_eq!(
        find(Some("jan@example.nl"), Some("0612345678"), Some("c-1")).await,
        [jan.id]
    );
    assert_eq!(
        find(Some("jan@example.nl"), Some("0687654321"), None).await,
        []
    );
    assert_eq!(find(None, None, Some("c-2")).await, []);
    assert_eq!(
        find(None, None, None).await,
        [piet.id, jan.id],
        "no criterion lists the location, newest first"
    );
}

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestSim;

#[tokio::test]
async fn a_note_is_created_with_201_and_listed() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}/notes", contact.id);

    let body = json!({"body": "Appointment booked [sync:42]", "userId": "u1"});
    let (status, created) = t.call(Method::POST, &path, Some(body)).await;

    assert_eq!(status, 201, "{created}");
    let note = &created["note"];
    assert_eq!(note["body"], "Appointment booked [sync:42]");
    assert_eq!(note["userId"], "u1");
    assert_eq!(note["contactId"], json!(contact.id));
    assert!(note["id"].is_string() && note["dateAdded"].is_string());

    let (status, listed) = t.call(Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["notes"], json!([note]));
    assert_eq!(t.sim.contact(&contact.id).unwrap().notes.len(), 1);
}

#[tokio::test]
async fn a_note_without_a_body_is_422_and_not_stored() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");

    let (status, body) = t
        .call(
            Method::POST,
            &format!("/contacts/{}/notes", contact.id),
            Some(json!({"title": "x"})),
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(body["message"], json!(["body should not be empty"]));
    assert!(t.sim.contact(&contact.id).unwrap().notes.is_empty());
}

#[tokio::test]
async fn a_task_is_created_with_201_and_listed() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}/tasks", contact.id);

    let body = json!({"title": "Call back", "body": "about the visit", "dueDate": "2026-07-01T09:00:00+02:00",
                      "completed": false, "assignedTo": "user-1"});
    let (status, created) = t.call(Method::POST, &path, Some(body)).await;

    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["task"],
        json!({"id": created["task"]["id"], "title": "Call back", "body": "about the visit",
               "assignedTo": "user-1", "dueDate": "2026-07-01T07:00:00.000Z", "completed": false,
               "contactId": contact.id})
    );
    let (status, listed) = t.call(Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["tasks"], json!([created["task"]]));
}

#[tokio::test]
async fn a_task_needs_a_due_date_and_completed_flag() {
    let t = TestSim::start().await;
    let contact = t.seed_email("ann@example.com");
    let path = format!("/contacts/{}/tasks", contact.id);

    let (status, body) = t
        .call(Method::POST, &path, Some(json!({"title": "x"})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        json!([
            "dueDate should not be empty",
            "completed should not be empty"
        ])
    );

    let bad_date = json!({"title": "x", "dueDate": "soon", "completed": false});
    let (status, body) = t.call(Method::POST, &path, Some(bad_date)).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        json!(["dueDate must be a valid ISO 8601 date string"])
    );
    assert!(t.sim.contact(&contact.id).unwrap().tasks.is_empty());
}

#[tokio::test]
async fn notes_and_tasks_of_an_unknown_contact_are_400() {
    let t = TestSim::start().await;
    assert_eq!(
        t.call(Method::GET, "/contacts/ghost/notes", None).await.0,
        400
    );
    assert_eq!(
        t.call(Method::GET, "/contacts/ghost/tasks", None).await.0,
        400
    );
    let note = json!({"body": "x"});
    assert_eq!(
        t.call(Method::POST, "/contacts/ghost/notes", Some(note))
            .await
            .0,
        400
    );
}

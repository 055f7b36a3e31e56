//! Looking up a note or task by the reference marker our jobs put in it
//! (`[sync <job>/<step>]`), so that a retry after an unknown outcome does not
//! write it twice. `GET /contacts/{contactId}/notes` and `.../tasks` answer
//! the contact's whole list (GHL does not paginate them); bodies are matched
//! here and never logged or copied into errors.

use domain::ids::{GhlContactId, LocationId};
use domain::job::CrmError;
use serde::Deserialize;

use super::{GhlClient, contact_path};
use crate::operation::Operation;
use crate::transport::Call;

/// `GetNotesListSuccessfulResponseDto`.
#[derive(Debug, Deserialize)]
struct NoteList {
    #[serde(default)]
    notes: Vec<Entry>,
}

/// `TasksListSuccessfulResponseDto`.
#[derive(Debug, Deserialize)]
struct TaskList {
    #[serde(default)]
    tasks: Vec<Entry>,
}

/// What we read of a note (`GetNoteSchema`) or a task (`TaskSchema`).
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

impl Entry {
    fn carries(&self, marker: &str) -> bool {
        [&self.body, &self.title]
            .into_iter()
            .flatten()
            .any(|text| text.contains(marker))
    }
}

fn first_with(entries: Vec<Entry>, marker: &str) -> Option<String> {
    entries
        .into_iter()
        .find(|e| e.carries(marker))
        .map(|e| e.id.unwrap_or_default())
}

impl GhlClient {
    pub(super) async fn note_with_marker(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        let call = Call::new(
            Operation::ListNotes,
            location,
            contact_path(contact, "/notes"),
        );
        let list: NoteList = self.transport.send(&call).await?.json()?;
        Ok(first_with(list.notes, marker))
    }

    pub(super) async fn task_with_marker(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        marker: &str,
    ) -> Result<Option<String>, CrmError> {
        let call = Call::new(
            Operation::ListTasks,
            location,
            contact_path(contact, "/tasks"),
        );
        let list: TaskList = self.transport.send(&call).await?.json()?;
        Ok(first_with(list.tasks, marker))
    }
}

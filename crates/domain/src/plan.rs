//! Planning the GHL effects of a sync intent (DESIGN §5): a pure function from
//! the intent's snapshot to a note, tag changes, custom-field values and a task.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ids::SyncJobId;
use crate::intent::{IntentPayload, SyncAction};

/// One GHL call of a plan. Executed in this order; each is journaled when done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectStep {
    Note,
    AddTags,
    RemoveTags,
    CustomFields,
    Task,
    /// The GHL calendar event mirroring the appointment (only with a calendar configured).
    Calendar,
}

impl EffectStep {
    pub const ALL: [EffectStep; 6] = [
        EffectStep::Note,
        EffectStep::AddTags,
        EffectStep::RemoveTags,
        EffectStep::CustomFields,
        EffectStep::Task,
        EffectStep::Calendar,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EffectStep::Note => "note",
            EffectStep::AddTags => "add_tags",
            EffectStep::RemoveTags => "remove_tags",
            EffectStep::CustomFields => "custom_fields",
            EffectStep::Task => "task",
            EffectStep::Calendar => "calendar",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        EffectStep::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether doing the step twice leaves a duplicate in GHL (notes and tasks
    /// are created; tags and fields are set). Such steps carry a reference
    /// marker and are looked up before a retry writes them again.
    pub fn creates_a_record(&self) -> bool {
        matches!(self, EffectStep::Note | EffectStep::Task)
    }
}

impl fmt::Display for EffectStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tag names written to GHL (lower case: GHL stores tags lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagNames {
    pub scheduled: String,
    pub confirmed: String,
    pub cancelled: String,
    pub completed: String,
    pub customer: String,
    pub no_show: String,
}

impl Default for TagNames {
    fn default() -> Self {
        Self {
            scheduled: "appointment-scheduled".into(),
            confirmed: "appointment-confirmed".into(),
            cancelled: "appointment-cancelled".into(),
            completed: "service-completed".into(),
            customer: "customer".into(),
            no_show: "no-show".into(),
        }
    }
}

/// Keys of the GHL custom fields we write (resolved to ids by the adapter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldKeys {
    pub appointment_status: String,
    pub next_appointment_date: String,
    pub last_service_date: String,
}

impl Default for FieldKeys {
    fn default() -> Self {
        Self {
            appointment_status: "appointment_status".into(),
            next_appointment_date: "next_appointment_date".into(),
            last_service_date: "last_service_date".into(),
        }
    }
}

/// Everything about effects that a business may want to set differently.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectSettings {
    /// Dates and times in notes and date fields are shown in this zone.
    pub timezone: Tz,
    pub tags: TagNames,
    pub fields: FieldKeys,
    /// The reminder task of a new booking is due this long before the visit.
    pub reminder_before: Duration,
    /// The preparation task of a confirmed visit is due this long before it.
    pub preparation_before: Duration,
    /// Follow-ups (rebook after cancel / no-show) are due this long after the change.
    pub follow_up_after: Duration,
    /// The satisfaction call is due this long after the visit ends.
    pub satisfaction_after: Duration,
    /// Which notes jobs run together (coalesced) write.
    pub coalesced_notes: CoalescedNotes,
    /// A lead without a GHL contact gets one (GHL's upsert by email or phone), linked to
    /// the lead, instead of its job being skipped (`GHL_UPSERT_MISSING_CONTACTS`).
    pub upsert_missing_contacts: bool,
    /// Mirror appointments into this GHL calendar (`GHL_CALENDAR_ID`); `None`: no calendar calls.
    pub calendar: Option<CalendarSettings>,
}

/// Which notes a coalesced run writes (`SYNC_COALESCE_NOTES`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CoalescedNotes {
    /// Every change keeps its note (the default: notes are history).
    #[default]
    All,
    /// Only the newest change's note is written; the older ones stay in the
    /// outbox (their jobs) but not in GHL. Tasks are always written.
    Last,
}

impl Default for EffectSettings {
    fn default() -> Self {
        Self {
            timezone: chrono_tz::Europe::Amsterdam,
            tags: TagNames::default(),
            fields: FieldKeys::default(),
            reminder_before: Duration::hours(24),
            preparation_before: Duration::hours(2),
            follow_up_after: Duration::hours(24),
            satisfaction_after: Duration::days(2),
            coalesced_notes: CoalescedNotes::All,
            upsert_missing_contacts: false,
            calendar: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteEffect {
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEffect {
    pub title: String,
    pub body: String,
    pub due_at: DateTime<Utc>,
}

/// A custom-field value by configured key; an empty value clears the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue {
    pub key: String,
    pub value: String,
}

/// The GHL effects of one intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectPlan {
    pub note: Option<NoteEffect>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub custom_fields: Vec<FieldValue>,
    pub task: Option<TaskEffect>,
}

impl EffectPlan {
    /// The steps this plan needs, in execution order. Empty parts need no call.
    pub fn steps(&self) -> Vec<EffectStep> {
        let mut steps = Vec::with_capacity(5);
        if self.note.is_some() {
            steps.push(EffectStep::Note);
        }
        if !self.add_tags.is_empty() {
            steps.push(EffectStep::AddTags);
        }
        if !self.remove_tags.is_empty() {
            steps.push(EffectStep::RemoveTags);
        }
        if !self.custom_fields.is_empty() {
            steps.push(EffectStep::CustomFields);
        }
        if self.task.is_some() {
            steps.push(EffectStep::Task);
        }
        steps
    }
}

/// The marker put at the end of every note and task a job writes, e.g.
/// `[sync 3f9a0c1d2e4b/note]`: a retry after an unknown outcome searches for it.
pub fn reference_marker(job: SyncJobId, step: EffectStep) -> String {
    format!("[sync {}/{}]", job.short_ref(), step.as_str())
}

/// Plans the effects of `action` from the intent's snapshot.
pub fn plan_effects(
    job: SyncJobId,
    action: SyncAction,
    intent: &IntentPayload,
    settings: &EffectSettings,
    now: DateTime<Utc>,
) -> EffectPlan {
    let fmt = Formatter { settings, intent };
    let tags = &settings.tags;
    let keys = &settings.fields;
    let status = intent.status.as_str().to_owned();
    let field = |key: &str, value: String| FieldValue {
        key: key.to_owned(),
        value,
    };
    let next_date = fmt.local_date(intent.starts_at);
    let not_before_now = |t: DateTime<Utc>| t.max(now);

    let (note, add, remove, fields, task) = match action {
        SyncAction::Create => (
            fmt.booked(),
            vec![tags.scheduled.clone()],
            vec![],
            vec![
                field(&keys.appointment_status, status),
                field(&keys.next_appointment_date, next_date),
            ],
            Some((
                "Appointment reminder",
                intent.starts_at - settings.reminder_before,
            )),
        ),
        // An update never changes the status; the next date changes only when the start
        // moved to another day. Otherwise GHL already has both values: no call.
        SyncAction::Update => (
            fmt.updated(),
            vec![],
            vec![],
            if fmt.moved_to_another_day() {
                vec![
                    field(&keys.appointment_status, status),
                    field(&keys.next_appointment_date, next_date),
                ]
            } else {
                vec![]
            },
            None,
        ),
        SyncAction::Confirm => (
            format!(
                "Appointment confirmed by the customer: {}.",
                fmt.what_when()
            ),
            vec![tags.confirmed.clone()],
            vec![tags.scheduled.clone()],
            vec![
                field(&keys.appointment_status, status),
                field(&keys.next_appointment_date, next_date),
            ],
            Some((
                "Prepare the visit",
                intent.starts_at - settings.preparation_before,
            )),
        ),
        SyncAction::Cancel => (
            format!(
                "Appointment cancelled: {}. Reason: {}.",
                fmt.what_when(),
                intent.reason.as_deref().unwrap_or("none given")
            ),
            vec![tags.cancelled.clone()],
            vec![tags.confirmed.clone(), tags.scheduled.clone()],
            vec![
                field(&keys.appointment_status, status),
                field(&keys.next_appointment_date, String::new()),
            ],
            Some((
                "Follow up to rebook the cancelled appointment",
                now + settings.follow_up_after,
            )),
        ),
        SyncAction::Complete => (
            format!("Service completed: {}.", fmt.what_when()),
            vec![tags.customer.clone(), tags.completed.clone()],
            vec![tags.confirmed.clone(), tags.scheduled.clone()],
            vec![
                field(&keys.appointment_status, status),
                field(&keys.next_appointment_date, String::new()),
                field(&keys.last_service_date, fmt.local_date(intent.starts_at)),
            ],
            Some((
                "Satisfaction call",
                intent.ends_at + settings.satisfaction_after,
            )),
        ),
        SyncAction::NoShow => (
            format!("The customer did not show up: {}.", fmt.what_when()),
            vec![tags.no_show.clone()],
            vec![tags.confirmed.clone(), tags.scheduled.clone()],
            vec![
                field(&keys.appointment_status, status),
                field(&keys.next_appointment_date, String::new()),
            ],
            Some((
                "Follow up on the missed appointment",
                now + settings.follow_up_after,
            )),
        ),
    };

    EffectPlan {
        note: Some(NoteEffect {
            body: format!("{note}\n\n{}", reference_marker(job, EffectStep::Note)),
        }),
        add_tags: add,
        remove_tags: remove,
        custom_fields: fields,
        task: task.map(|(title, due)| TaskEffect {
            title: title.to_owned(),
            body: format!(
                "{}\n\n{}",
                fmt.what_when(),
                reference_marker(job, EffectStep::Task)
            ),
            due_at: not_before_now(due),
        }),
    }
}

struct Formatter<'a> {
    settings: &'a EffectSettings,
    intent: &'a IntentPayload,
}

impl Formatter<'_> {
    fn local(&self, t: DateTime<Utc>) -> chrono::DateTime<Tz> {
        t.with_timezone(&self.settings.timezone)
    }

    /// Whether an update moved the start to another local day (or its old start is
    /// unknown).
    fn moved_to_another_day(&self) -> bool {
        self.intent
            .changes
            .iter()
            .filter(|c| c.field == "startTime")
            .any(|c| {
                let day = |v: &str| {
                    DateTime::parse_from_rfc3339(v)
                        .ok()
                        .map(|t| self.local_date(t.with_timezone(&Utc)))
                };
                day(&c.old).is_none() || day(&c.old) != day(&c.new)
            })
    }

    fn local_date(&self, t: DateTime<Utc>) -> String {
        self.local(t).format("%Y-%m-%d").to_string()
    }

    fn when(&self) -> String {
        let start = self.local(self.intent.starts_at);
        let end = self.local(self.intent.ends_at);
        let end_fmt = if start.date_naive() == end.date_naive() {
            "%H:%M"
        } else {
            "%Y-%m-%d %H:%M"
        };
        format!(
            "{}–{} ({})",
            start.format("%Y-%m-%d %H:%M"),
            end.format(end_fmt),
            self.settings.timezone.name()
        )
    }

    fn what_when(&self) -> String {
        format!("{} on {}", self.intent.service_type, self.when())
    }

    fn booked(&self) -> String {
        let mut text = format!("Appointment booked: {}", self.what_when());
        if let Some(address) = &self.intent.address {
            text.push_str(&format!(" at {address}"));
        }
        text.push('.');
        if let Some(notes) = &self.intent.customer_notes {
            text.push_str(&format!("\nCustomer notes: {notes}"));
        }
        text
    }

    fn updated(&self) -> String {
        let mut text = format!("Appointment changed: {}.", self.what_when());
        for change in &self.intent.changes {
            let show = |v: &str| -> String {
                match DateTime::parse_from_rfc3339(v) {
                    Ok(t) => self
                        .local(t.with_timezone(&Utc))
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    Err(_) if v.is_empty() => "(none)".to_owned(),
                    Err(_) => v.to_owned(),
                }
            };
            text.push_str(&format!(
                "\n- {}: {} → {}",
                change.field,
                show(&change.old),
                show(&change.new)
            ));
        }
        text
    }
}

mod calendar;
pub use calendar::*;

#[cfg(test)]
mod tests;

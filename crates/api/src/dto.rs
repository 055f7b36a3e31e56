//! Request and response bodies. Requests arrive as loose JSON and are parsed
//! field by field into domain types, so an error names the exact field.

use chrono::{DateTime, Utc};
use domain::Appointment;
use domain::appointment::{
    AppointmentEdit, AppointmentStatus, Command, ServiceType, parse_free_text,
};
use domain::contact::{Address, Customer, Email, InvalidField, PersonName, Phone};
use domain::lead::Lead;
use domain::ports::JobSummary;
use domain::service::BookingRequest;
use domain::slot::{SlotAvailability, TimeSlot};
use domain::{AppointmentId, GhlContactId, LeadId, SyncJobId};
use serde::{Deserialize, Serialize};

fn optional<T>(
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, InvalidField>,
) -> Result<Option<T>, InvalidField> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => parse(v).map(Some),
    }
}

fn instant(field: &'static str, raw: &str) -> Result<DateTime<Utc>, InvalidField> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            InvalidField::new(
                field,
                "must be an RFC 3339 date-time, e.g. 2030-01-20T10:00:00+01:00",
            )
        })
}

/// No `Debug`: it holds personal data.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerBody {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

impl CustomerBody {
    fn parse(&self) -> Result<Customer, InvalidField> {
        Customer::new(
            PersonName::parse(&self.name).map_err(in_customer)?,
            optional(self.email.as_deref(), Email::parse).map_err(in_customer)?,
            optional(self.phone.as_deref(), Phone::parse).map_err(in_customer)?,
            optional(self.address.as_deref(), Address::parse).map_err(in_customer)?,
        )
    }
}

/// Names a customer field by its full JSON path.
fn in_customer(e: InvalidField) -> InvalidField {
    let field = match e.field {
        "name" => "customer.name",
        "email" => "customer.email",
        "phone" => "customer.phone",
        "address" => "customer.address",
        other => other,
    };
    InvalidField { field, ..e }
}

/// No `Debug`: it holds personal data.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAppointmentBody {
    pub customer: CustomerBody,
    #[serde(default)]
    pub lead_id: Option<String>,
    #[serde(default)]
    pub ghl_contact_id: Option<String>,
    pub service_type: String,
    pub start_time: String,
    pub end_time: String,
    #[serde(default)]
    pub notes: Option<String>,
}

impl CreateAppointmentBody {
    pub fn parse(&self) -> Result<BookingRequest, InvalidField> {
        let lead_id = optional(self.lead_id.as_deref(), |v| {
            v.parse::<LeadId>()
                .map_err(|_| InvalidField::new("leadId", "must be a UUID"))
        })?;
        let ghl_contact_id = optional(self.ghl_contact_id.as_deref(), |v| {
            GhlContactId::parse(v).map_err(|_| {
                InvalidField::new(
                    "ghlContactId",
                    "must be 1 to 64 letters, digits, '-' or '_'",
                )
            })
        })?;
        Ok(BookingRequest {
            customer: self.customer.parse()?,
            lead_id,
            ghl_contact_id,
            service_type: ServiceType::parse(&self.service_type)?,
            slot: TimeSlot::new(
                instant("startTime", &self.start_time)?,
                instant("endTime", &self.end_time)?,
            )?,
            notes: optional(self.notes.as_deref(), |v| {
                parse_free_text("notes", v).map(Option::unwrap_or_default)
            })?,
        })
    }
}

/// `PATCH /api/appointments/{id}`: reschedule or edit. Times move together.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditAppointmentBody {
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub service_type: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl EditAppointmentBody {
    /// `current` supplies the end (or start) when only one of the two is given:
    /// moving the start keeps the visit's length.
    pub fn parse(&self, current: &TimeSlot) -> Result<AppointmentEdit, InvalidField> {
        let start = optional(self.start_time.as_deref(), |v| instant("startTime", v))?;
        let end = optional(self.end_time.as_deref(), |v| instant("endTime", v))?;
        let slot = match (start, end) {
            (None, None) => None,
            (Some(s), Some(e)) => Some(TimeSlot::new(s, e)?),
            (Some(s), None) => Some(TimeSlot::new(
                s,
                s + (current.ends_at() - current.starts_at()),
            )?),
            (None, Some(e)) => Some(TimeSlot::new(current.starts_at(), e)?),
        };
        let edit = AppointmentEdit {
            slot,
            service_type: optional(self.service_type.as_deref(), ServiceType::parse)?,
            address: optional(self.address.as_deref(), Address::parse)?,
            notes: optional(self.notes.as_deref(), |v| {
                parse_free_text("notes", v).map(Option::unwrap_or_default)
            })?,
        };
        if edit == AppointmentEdit::default() {
            return Err(InvalidField::new(
                "body",
                "give at least one of startTime, endTime, serviceType, address, notes",
            ));
        }
        Ok(edit)
    }
}

/// `PATCH /api/appointments/{id}/status` (and the seed's `POST /api/appointments/status`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusBody {
    #[serde(default)]
    pub appointment_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

impl StatusBody {
    pub fn command(&self) -> Result<Command, InvalidField> {
        let status: AppointmentStatus = self.status.trim().parse().map_err(|_| {
            InvalidField::new(
                "status",
                "must be one of confirmed, cancelled, completed, no_show",
            )
        })?;
        let reason = match self.reason.as_deref() {
            Some(r) => parse_free_text("reason", r)?,
            None => None,
        };
        match status {
            AppointmentStatus::Confirmed => Ok(Command::Confirm),
            AppointmentStatus::Cancelled => Ok(Command::Cancel { reason }),
            AppointmentStatus::Completed => Ok(Command::Complete),
            AppointmentStatus::NoShow => Ok(Command::NoShow),
            AppointmentStatus::Scheduled => Err(InvalidField::new(
                "status",
                "must be one of confirmed, cancelled, completed, no_show",
            )),
        }
    }

    pub fn appointment_id(&self) -> Result<AppointmentId, InvalidField> {
        self.appointment_id
            .as_deref()
            .ok_or(InvalidField::new("appointmentId", "is required"))?
            .trim()
            .parse()
            .map_err(|_| InvalidField::new("appointmentId", "must be a UUID"))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    pub job_id: SyncJobId,
    pub action: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub error_class: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&JobSummary> for SyncView {
    fn from(job: &JobSummary) -> Self {
        Self {
            job_id: job.id,
            action: job.action.as_str().to_owned(),
            status: job.status.as_str().to_owned(),
            attempts: job.attempts,
            last_error: job.last_error.clone(),
            error_class: job.error_class.map(|c| c.as_str().to_owned()),
            next_attempt_at: job.next_attempt_at,
            created_at: job.created_at,
            finished_at: job.finished_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentView {
    pub id: AppointmentId,
    pub lead_id: LeadId,
    pub location_id: String,
    pub status: AppointmentStatus,
    pub service_type: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub customer: CustomerView,
    pub notes: Option<String>,
    pub cancellation_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The job this request created (on create and change responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_job_id: Option<SyncJobId>,
    /// The latest sync job of the appointment (on reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncView>,
}

impl AppointmentView {
    pub fn new(a: &Appointment) -> Self {
        Self {
            id: a.id,
            lead_id: a.lead_id,
            location_id: a.location_id.as_str().to_owned(),
            status: a.status,
            service_type: a.service_type.as_str().to_owned(),
            start_time: a.slot.starts_at(),
            end_time: a.slot.ends_at(),
            customer: CustomerView {
                name: a.customer.name.as_str().to_owned(),
                email: a.customer.email.as_ref().map(|e| e.as_str().to_owned()),
                phone: a.customer.phone.as_ref().map(|p| p.as_str().to_owned()),
                address: a.customer.address.as_ref().map(|x| x.as_str().to_owned()),
            },
            notes: a.notes.clone(),
            cancellation_reason: a.cancellation_reason.clone(),
            version: a.version,
            created_at: a.created_at,
            updated_at: a.updated_at,
            sync_job_id: None,
            sync: None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotView {
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub remaining: u32,
    pub available: bool,
}

impl From<&SlotAvailability> for SlotView {
    fn from(s: &SlotAvailability) -> Self {
        Self {
            start_time: s.slot.starts_at(),
            end_time: s.slot.ends_at(),
            remaining: s.remaining,
            available: s.remaining > 0,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadView {
    pub id: LeadId,
    pub location_id: String,
    pub ghl_contact_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub source: String,
    pub lifecycle: String,
    pub customer_since: Option<DateTime<Utc>>,
    pub services_completed: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Lead> for LeadView {
    fn from(l: &Lead) -> Self {
        Self {
            id: l.id,
            location_id: l.location_id.as_str().to_owned(),
            ghl_contact_id: l.ghl_contact_id.as_ref().map(|c| c.as_str().to_owned()),
            name: l.name.as_ref().map(|n| n.as_str().to_owned()),
            email: l.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: l.phone.as_ref().map(|p| p.as_str().to_owned()),
            address: l.address.as_ref().map(|a| a.as_str().to_owned()),
            source: l.source.clone(),
            lifecycle: l.lifecycle.as_str().to_owned(),
            customer_since: l.customer_since,
            services_completed: l.services_completed,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

//! The link between an appointment and its GHL calendar event (calendar mirroring):
//! the `ghl_appointment_id` column, also set by inbound appointment webhooks.

use domain::ids::AppointmentId;
use domain::ports::RepoError;
use sqlx::PgPool;

use crate::error::repo;

pub(crate) async fn ghl_event_id(
    pool: &PgPool,
    id: AppointmentId,
) -> Result<Option<String>, RepoError> {
    let found: Option<Option<String>> =
        sqlx::query_scalar("SELECT ghl_appointment_id FROM appointments WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await
            .map_err(repo)?;
    Ok(found.flatten())
}

/// Sets the link; a no-op when it is already `event_id` (an inbound webhook about our
/// own create may have linked it first).
pub(crate) async fn set_ghl_event_id(
    pool: &PgPool,
    id: AppointmentId,
    event_id: &str,
) -> Result<(), RepoError> {
    sqlx::query(
        "UPDATE appointments SET ghl_appointment_id = $2
         WHERE id = $1 AND ghl_appointment_id IS DISTINCT FROM $2",
    )
    .bind(id.as_uuid())
    .bind(event_id)
    .execute(pool)
    .await
    .map_err(repo)?;
    Ok(())
}

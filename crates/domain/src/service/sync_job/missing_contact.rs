//! The lead's GHL contact, created when it has none and the settings say so
//! (`EffectSettings::upsert_missing_contacts`).

use super::{Failure, SyncDeps};
use crate::ids::GhlContactId;
use crate::job::SyncJob;
use crate::lead::Lead;

/// The contact to sync to: the lead's; else, when missing contacts are upserted and the
/// lead has an email or phone, the contact GHL finds or creates for them, linked to the
/// lead (one GHL call). `None`: the job is skipped.
pub(super) async fn contact_of(
    deps: &SyncDeps,
    job: &SyncJob,
    lead: Option<Lead>,
    calls: &mut u32,
) -> Result<Option<GhlContactId>, Failure> {
    let Some(lead) = lead else {
        return Ok(None);
    };
    if let Some(contact) = lead.ghl_contact_id.clone() {
        return Ok(Some(contact));
    }
    if !deps.settings.upsert_missing_contacts || (lead.email.is_none() && lead.phone.is_none()) {
        return Ok(None);
    }
    *calls += 1;
    let contact = deps
        .crm
        .upsert_contact(&job.location_id, &lead)
        .await
        .map_err(Failure::Crm)?;
    deps.leads.link_contact(lead.id, &contact).await?;
    Ok(Some(contact))
}

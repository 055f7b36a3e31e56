//! Ends auth pauses (issue 3): a location whose GHL token was refused stays paused (its
//! jobs are not claimed) until a probe finds the token accepted again. Every worker runs
//! this loop; `storage::auth_pause::claim_auth_recheck` hands each due probe to exactly
//! one of them, once per `GHL_AUTH_PAUSE_SECONDS`, so a revoked token costs one GHL
//! request per location and period instead of a retry storm.

use std::time::Duration;

use domain::job::ErrorClass;
use ghl_adapter::{GhlClient, Metered};
use storage::auth_pause::{auth_recheck_refused, claim_auth_recheck, end_auth_pause};

/// How often a worker looks for due probes (a cheap indexed query).
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Probes due locations forever (abort the task to stop). `recheck_every` is the auth
/// pause; zero turns the loop off (no pause is then recorded either).
pub async fn recheck_periodically(
    pool: storage::PgPool,
    crm: std::sync::Arc<Metered<GhlClient>>,
    recheck_every: Duration,
    look_every: Duration,
) {
    if recheck_every.is_zero() {
        return;
    }
    loop {
        while let Some(done) = recheck_one(&pool, crm.inner(), recheck_every).await {
            if !done {
                break;
            }
        }
        tokio::time::sleep(look_every).await;
    }
}

/// Probes one due location, if any. Some(true): one was probed; None or Some(false):
/// nothing due, or the database failed (try later).
async fn recheck_one(
    pool: &storage::PgPool,
    crm: &GhlClient,
    recheck_every: Duration,
) -> Option<bool> {
    let location = match claim_auth_recheck(pool, recheck_every).await {
        Ok(Some(location)) => location,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for auth pauses to recheck");
            return Some(false);
        }
    };
    match crm.probe_token(&location).await {
        Ok(()) => match end_auth_pause(pool, &location).await {
            Ok(true) => tracing::info!(
                ghl.location_id = %location,
                "GHL accepts the token again: the location's auth pause ended, its jobs run"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(ghl.location_id = %location, error = %e, "could not end the auth pause")
            }
        },
        Err(error) if error.class == ErrorClass::Auth => {
            tracing::debug!(ghl.location_id = %location, "GHL still refuses the token");
            if let Err(e) = auth_recheck_refused(pool, &location).await {
                tracing::warn!(ghl.location_id = %location, error = %e, "could not count a refused recheck");
            }
        }
        Err(error) => tracing::debug!(
            ghl.location_id = %location,
            error.class = %error.class,
            "the auth recheck got no answer; trying again next period"
        ),
    }
    Some(true)
}

//! Connecting, migrating, and the helpers the binaries need around the pool.

use std::time::Duration;

use domain::ports::RepoError;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

use crate::error::repo;
use crate::{MIGRATOR, NOTIFY_CHANNEL};

/// How long a request waits for a free connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Failures at start-up. Messages never contain the connection URL.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("could not migrate the database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// A pool of up to `max_connections` connections to `url` (a `postgres://` URL);
/// connects once to prove that the database is reachable.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StorageError> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .map_err(StorageError::Connect)
}

/// Applies the embedded migrations that the database has not seen yet.
pub async fn migrate(pool: &PgPool) -> Result<(), StorageError> {
    MIGRATOR.run(pool).await.map_err(StorageError::Migrate)
}

/// Readiness: the database answers a query.
pub async fn ping(pool: &PgPool) -> Result<(), RepoError> {
    sqlx::query("SELECT 1").execute(pool).await.map_err(repo)?;
    Ok(())
}

/// A dedicated connection listening on [`NOTIFY_CHANNEL`]: each notification's
/// payload is the id of a sync job that was just committed. Notifications are
/// a wake-up call only (they are lost while disconnected); workers still poll.
pub async fn listener(pool: &PgPool) -> Result<PgListener, RepoError> {
    let mut listener = PgListener::connect_with(pool).await.map_err(repo)?;
    listener.listen(NOTIFY_CHANNEL).await.map_err(repo)?;
    Ok(listener)
}

//! sqlx errors mapped to the domain's `RepoError`.
//!
//! Messages never carry row contents: database error messages can quote the
//! offending value (`invalid input syntax ...: "<value>"`) and decode errors can
//! quote JSON, so only error codes, constraint, table and column names are kept.

use domain::ports::RepoError;

/// Maps a sqlx error: undecodable rows are `Corrupt`, everything else (the
/// connection, the pool, the server refusing a statement) is `Unavailable`.
pub(crate) fn repo(e: sqlx::Error) -> RepoError {
    match e {
        sqlx::Error::ColumnDecode { index, .. } => {
            RepoError::Corrupt(format!("column {index} could not be decoded"))
        }
        sqlx::Error::ColumnNotFound(column) => {
            RepoError::Corrupt(format!("column {column} is missing"))
        }
        sqlx::Error::Decode(_) => RepoError::Corrupt("a stored value could not be decoded".into()),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let mut message = format!("database error {code}");
            if let Some(table) = db.table() {
                message.push_str(&format!(" on {table}"));
            }
            if let Some(constraint) = db.constraint() {
                message.push_str(&format!(" ({constraint})"));
            }
            RepoError::Unavailable(message)
        }
        sqlx::Error::Io(e) => RepoError::Unavailable(format!("database connection failed: {e}")),
        sqlx::Error::Tls(e) => RepoError::Unavailable(format!("database TLS failed: {e}")),
        sqlx::Error::PoolTimedOut => {
            RepoError::Unavailable("timed out waiting for a database connection".into())
        }
        sqlx::Error::PoolClosed => RepoError::Unavailable("the database pool is closed".into()),
        sqlx::Error::Protocol(_) => RepoError::Unavailable("database protocol error".into()),
        sqlx::Error::RowNotFound => {
            RepoError::Unavailable("a row expected to exist was not returned".into())
        }
        _ => RepoError::Unavailable("database error".into()),
    }
}

/// Whether `e` is a unique violation, of `constraint` when one is named.
pub(crate) fn is_unique_violation(e: &sqlx::Error, constraint: Option<&str>) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() && constraint.is_none_or(|name| db.constraint() == Some(name))
        }
        _ => false,
    }
}

/// A stored value that does not parse into its domain type.
pub(crate) fn corrupt(table: &str, column: &str, id: impl std::fmt::Display) -> RepoError {
    RepoError::Corrupt(format!("{table}.{column} of {id} is invalid"))
}

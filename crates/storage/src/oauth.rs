//! [`PgTokenSource`]: GHL OAuth tokens per location in `oauth_tokens` (migration
//! `20261129003101`). A refresh locks the location's row (`FOR UPDATE`), trades the
//! stored refresh token through the [`TokenExchange`], and writes both new tokens in the
//! same transaction: two workers never both spend (and so invalidate) one refresh token;
//! the second waits for the lock and finds the new access token. Tokens never reach a log
//! or an error.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::ids::LocationId;
use domain::ports::{TokenError, TokenExchange, TokenSecret, TokenSource};
use sqlx::{PgPool, Row as _};

use crate::error::repo;

/// Refresh this long before the access token expires.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// OAuth tokens from the database. Cheap to clone.
#[derive(Clone)]
pub struct PgTokenSource {
    pool: PgPool,
    exchange: Arc<dyn TokenExchange>,
    margin: Duration,
}

fn unavailable(e: sqlx::Error) -> TokenError {
    TokenError::Unavailable(repo(e).to_string())
}

impl PgTokenSource {
    pub fn new(pool: PgPool, exchange: Arc<dyn TokenExchange>) -> Self {
        PgTokenSource {
            pool,
            exchange,
            margin: DEFAULT_REFRESH_MARGIN,
        }
    }

    /// Refreshes when less than `margin` of the access token's life is left.
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Stores `refresh_token` as the location's first (bootstrap) token unless the
    /// database already has one: afterwards the database is the source of truth.
    /// Returns whether it was stored.
    pub async fn seed(
        &self,
        location: &LocationId,
        refresh_token: &TokenSecret,
    ) -> Result<bool, TokenError> {
        let done = sqlx::query(
            "INSERT INTO oauth_tokens (location_id, refresh_token) VALUES ($1, $2)
             ON CONFLICT (location_id) DO NOTHING",
        )
        .bind(location.as_str())
        .bind(refresh_token.expose())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    /// Refreshes under the row's lock, unless the stored access token is fresh and is
    /// not `rejected` (another process refreshed meanwhile).
    async fn refresh(
        &self,
        location: &LocationId,
        rejected: Option<&TokenSecret>,
    ) -> Result<TokenSecret, TokenError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let row = sqlx::query(
            "SELECT access_token, refresh_token,
                    expires_at > now() + $2 * interval '1 second' AS fresh
               FROM oauth_tokens WHERE location_id = $1 FOR UPDATE",
        )
        .bind(location.as_str())
        .bind(self.margin.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?
        .ok_or(TokenError::Missing)?;
        let access = TokenSecret::new(
            row.try_get::<String, _>("access_token")
                .map_err(unavailable)?,
        );
        let fresh: bool = row.try_get("fresh").map_err(unavailable)?;
        if fresh && rejected != Some(&access) {
            return Ok(access);
        }
        let refresh = TokenSecret::new(
            row.try_get::<String, _>("refresh_token")
                .map_err(unavailable)?,
        );
        // The lock is held across the exchange (bounded by the HTTP timeout): whoever
        // waits for it reads the rotated tokens instead of spending the old one.
        let tokens = self.exchange.refresh(&refresh).await?;
        sqlx::query(
            "UPDATE oauth_tokens
                SET access_token = $2, refresh_token = $3,
                    expires_at = now() + $4 * interval '1 second', updated_at = now()
              WHERE location_id = $1",
        )
        .bind(location.as_str())
        .bind(tokens.access_token.expose())
        .bind(tokens.refresh_token.expose())
        .bind(tokens.expires_in.as_secs_f64())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        tracing::info!(ghl.location_id = %location, expires_in_s = tokens.expires_in.as_secs(), "GHL OAuth token refreshed");
        Ok(tokens.access_token)
    }
}

#[async_trait]
impl TokenSource for PgTokenSource {
    async fn access_token(&self, location: &LocationId) -> Result<TokenSecret, TokenError> {
        let fresh: Option<String> = sqlx::query_scalar(
            "SELECT access_token FROM oauth_tokens
              WHERE location_id = $1 AND expires_at > now() + $2 * interval '1 second'",
        )
        .bind(location.as_str())
        .bind(self.margin.as_secs_f64())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        match fresh {
            Some(token) => Ok(TokenSecret::new(token)),
            None => self.refresh(location, None).await,
        }
    }

    async fn after_rejection(
        &self,
        location: &LocationId,
        rejected: &TokenSecret,
    ) -> Result<Option<TokenSecret>, TokenError> {
        self.refresh(location, Some(rejected)).await.map(Some)
    }
}

//! GHL access tokens (issue 3, auth): where the adapter gets the bearer token of a
//! location. A Private Integration Token is one static token; an OAuth (Marketplace app)
//! token expires and is refreshed, its refresh token rotated and persisted.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::ids::LocationId;

/// A token: `Debug` never shows it, and no error carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn new(token: impl Into<String>) -> Self {
        TokenSecret(token.into())
    }

    /// The token itself: only for the `Authorization` header and the token store.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// Why no token could be had. Messages name no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// GHL refused the refresh token (revoked, or used already): the app must be
    /// authorised again for the location.
    #[error("GHL refused the OAuth refresh token of the location; authorise the app again")]
    Refused,
    /// Nothing stored for the location.
    #[error("no OAuth token is stored for the location")]
    Missing,
    /// The exchange or the store failed for now.
    #[error("could not get a GHL access token: {0}")]
    Unavailable(String),
}

/// The answer of one refresh: both tokens are new (GHL rotates the refresh token).
#[derive(Debug, Clone)]
pub struct FreshTokens {
    pub access_token: TokenSecret,
    pub refresh_token: TokenSecret,
    pub expires_in: Duration,
}

/// Trades a refresh token for new tokens (GHL's `POST /oauth/token`).
#[async_trait]
pub trait TokenExchange: Send + Sync {
    async fn refresh(&self, refresh_token: &TokenSecret) -> Result<FreshTokens, TokenError>;
}

/// The bearer token of a location's GHL calls.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A token valid for a while yet (refreshed first when it expires soon).
    async fn access_token(&self, location: &LocationId) -> Result<TokenSecret, TokenError>;

    /// `rejected` was refused with a 401: a newer token, refreshing unless another
    /// process already did. A static token has nothing newer: `Ok(None)`.
    async fn after_rejection(
        &self,
        location: &LocationId,
        rejected: &TokenSecret,
    ) -> Result<Option<TokenSecret>, TokenError>;
}

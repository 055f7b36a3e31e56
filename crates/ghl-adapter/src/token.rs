//! Where the bearer token of a call comes from ([`TokenSource`]): a static Private
//! Integration Token ([`StaticToken`]), or OAuth tokens refreshed through GHL's
//! `POST /oauth/token` ([`OAuthExchange`], used by storage's `PgTokenSource`, which
//! persists the rotated refresh token). Tokens never reach a log or an error.

use std::time::Duration;

use async_trait::async_trait;
use domain::ids::LocationId;
use domain::ports::{FreshTokens, TokenError, TokenExchange, TokenSecret, TokenSource};
use reqwest::redirect;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::BuildError;

/// One token for every location (a sub-account Private Integration Token): nothing to
/// refresh.
#[derive(Debug, Clone)]
pub struct StaticToken(TokenSecret);

impl StaticToken {
    pub fn new(token: &SecretString) -> Self {
        StaticToken(TokenSecret::new(token.expose_secret()))
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn access_token(&self, _: &LocationId) -> Result<TokenSecret, TokenError> {
        Ok(self.0.clone())
    }

    async fn after_rejection(
        &self,
        _: &LocationId,
        _: &TokenSecret,
    ) -> Result<Option<TokenSecret>, TokenError> {
        Ok(None)
    }
}

/// GHL's token endpoint for a Marketplace app (`client_id`, `client_secret`), trading a
/// location's refresh token (`user_type=Location`).
pub struct OAuthExchange {
    http: reqwest::Client,
    url: String,
    client_id: String,
    client_secret: SecretString,
}

impl std::fmt::Debug for OAuthExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthExchange")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    expires_in: u64,
}

impl OAuthExchange {
    /// `base_url` as for the API (`/oauth/token` is appended).
    pub fn new(
        base_url: &str,
        client_id: String,
        client_secret: SecretString,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(BuildError::NoCryptoProvider);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(redirect::Policy::none())
            .user_agent(concat!("ghl-adapter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(BuildError::Http)?;
        Ok(OAuthExchange {
            http,
            url: format!("{}/oauth/token", base_url.trim().trim_end_matches('/')),
            client_id,
            client_secret,
        })
    }
}

#[async_trait]
impl TokenExchange for OAuthExchange {
    async fn refresh(&self, refresh_token: &TokenSecret) -> Result<FreshTokens, TokenError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("user_type", "Location"),
        ];
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            // Without the URL: reqwest's message could carry it; nothing secret, but short.
            .map_err(|e| {
                TokenError::Unavailable(format!("POST /oauth/token failed: {}", e.without_url()))
            })?;
        let status = response.status();
        if status.as_u16() == 400 || status.as_u16() == 401 {
            // invalid_grant (a used or revoked refresh token) or a wrong client.
            return Err(TokenError::Refused);
        }
        if !status.is_success() {
            return Err(TokenError::Unavailable(format!(
                "POST /oauth/token answered {}",
                status.as_u16()
            )));
        }
        let answer: TokenAnswer = response.json().await.map_err(|_| {
            TokenError::Unavailable("POST /oauth/token answered an unreadable body".into())
        })?;
        Ok(FreshTokens {
            access_token: TokenSecret::new(answer.access_token),
            refresh_token: TokenSecret::new(answer.refresh_token),
            expires_in: Duration::from_secs(answer.expires_in),
        })
    }
}

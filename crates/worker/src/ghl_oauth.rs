//! OAuth (a GHL Marketplace app) instead of a static `GHL_API_KEY` (issue 3, auth):
//! flattened into [`crate::config::Config`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use domain::ids::LocationId;
use domain::ports::TokenSecret;
use ghl_adapter::{GhlClient, OAuthExchange};
use secrecy::SecretString;
use storage::PgTokenSource;

#[derive(Debug, Clone, Args)]
pub struct GhlOAuthArgs {
    /// OAuth client id of the GHL Marketplace app. When set, GHL calls use OAuth tokens
    /// from the database (refreshed before expiry and once on a 401) instead of
    /// GHL_API_KEY.
    #[arg(long, env = "GHL_OAUTH_CLIENT_ID", global = true)]
    pub ghl_oauth_client_id: Option<String>,

    /// OAuth client secret of the app.
    #[arg(
        long,
        env = "GHL_OAUTH_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub ghl_oauth_client_secret: Option<String>,

    /// Bootstrap only: the location's first refresh token, stored when the database has
    /// none. Afterwards the database holds the (rotated) token; this value is ignored.
    #[arg(
        long,
        env = "GHL_OAUTH_REFRESH_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub ghl_oauth_refresh_token: Option<String>,

    /// The location GHL_OAUTH_REFRESH_TOKEN belongs to.
    #[arg(long, env = "GHL_OAUTH_LOCATION_ID", global = true)]
    pub ghl_oauth_location_id: Option<String>,

    /// Refresh an access token this many seconds before it expires.
    #[arg(
        long,
        env = "GHL_OAUTH_REFRESH_MARGIN_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub ghl_oauth_refresh_margin_seconds: u64,
}

impl GhlOAuthArgs {
    pub fn enabled(&self) -> bool {
        self.ghl_oauth_client_id.is_some()
    }

    /// `crm` taking its tokens from the database, with the bootstrap token seeded.
    pub async fn apply(
        &self,
        crm: GhlClient,
        pool: storage::PgPool,
        base_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<GhlClient> {
        let Some(client_id) = self.ghl_oauth_client_id.clone() else {
            return Ok(crm);
        };
        let secret = self
            .ghl_oauth_client_secret
            .clone()
            .context("GHL_OAUTH_CLIENT_SECRET is required with GHL_OAUTH_CLIENT_ID")?;
        let exchange = OAuthExchange::new(base_url, client_id, SecretString::from(secret), timeout)
            .context("configuring the GHL OAuth client")?;
        let source = PgTokenSource::new(pool, Arc::new(exchange))
            .with_margin(Duration::from_secs(self.ghl_oauth_refresh_margin_seconds));
        if let Some(token) = &self.ghl_oauth_refresh_token {
            let location = self
                .ghl_oauth_location_id
                .as_deref()
                .context("GHL_OAUTH_LOCATION_ID is required with GHL_OAUTH_REFRESH_TOKEN")?;
            let location = LocationId::parse(location)
                .map_err(|e| anyhow::anyhow!("GHL_OAUTH_LOCATION_ID: {e}"))?;
            let stored = source
                .seed(&location, &TokenSecret::new(token.clone()))
                .await
                .map_err(|e| anyhow::anyhow!("storing the bootstrap refresh token: {e}"))?;
            if stored {
                tracing::info!(ghl.location_id = %location, "stored the bootstrap GHL OAuth refresh token");
            }
        }
        Ok(crm.with_token_source(Arc::new(source)))
    }
}

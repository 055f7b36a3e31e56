//! GHL's OAuth token endpoint for a Marketplace app, as the sim plays it: `POST
//! /oauth/token` (form body, `grant_type=refresh_token`) checks the client id and secret,
//! spends the refresh token (GHL rotates them: a used or revoked one answers 400
//! `invalid_grant`), and issues an access token valid `expires_in` seconds, which the API
//! then accepts besides the static API key. Controls for tests:
//! `PUT /_sim/oauth` (`expiresIn`, `grantRefreshToken`: make a refresh token valid, e.g.
//! to "fix" a revoked one), `POST /_sim/oauth/revoke` (`accessTokens`, `refreshTokens`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::state::SimState;

/// The app's client id the sim expects.
pub const CLIENT_ID: &str = "sim-client-id";
/// The app's client secret the sim expects.
pub const CLIENT_SECRET: &str = "sim-client-secret";
/// The refresh token valid when the sim starts.
pub const INITIAL_REFRESH_TOKEN: &str = "sim-refresh-token";

/// Issued tokens.
#[derive(Debug)]
pub(crate) struct OAuthSim {
    refresh_tokens: HashSet<String>,
    access_tokens: HashMap<String, Instant>,
    expires_in: u64,
    issued: u64,
}

impl Default for OAuthSim {
    fn default() -> Self {
        OAuthSim {
            refresh_tokens: HashSet::from([INITIAL_REFRESH_TOKEN.to_owned()]),
            access_tokens: HashMap::new(),
            expires_in: 86_399,
            issued: 0,
        }
    }
}

impl OAuthSim {
    /// Whether `token` is an issued, unexpired, unrevoked access token.
    pub(crate) fn accepts(&self, token: &str) -> bool {
        self.access_tokens
            .get(token)
            .is_some_and(|until| *until > Instant::now())
    }
}

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/_sim/oauth", put(set_oauth))
        .route("/_sim/oauth/revoke", post(revoke))
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    refresh_token: Option<String>,
    user_type: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(state): State<SimState>, Form(form): Form<TokenForm>) -> Response {
    if form.client_id.as_deref() != Some(CLIENT_ID)
        || form.client_secret.as_deref() != Some(CLIENT_SECRET)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if form.grant_type.as_deref() != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "the sim supports grant_type=refresh_token",
        );
    }
    if form.user_type.as_deref().is_some_and(|t| t != "Location") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the sim issues Location tokens",
        );
    }
    let location = state.config().location_id.clone();
    let mut oauth = state.oauth();
    let Some(refresh) = form.refresh_token else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    };
    // Spent on use: GHL rotates refresh tokens.
    if !oauth.refresh_tokens.remove(&refresh) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid grant: refresh token is invalid",
        );
    }
    oauth.issued += 1;
    let n = oauth.issued;
    let access = format!("sim-access-{n}-{}", uuid::Uuid::new_v4().simple());
    let next = format!("sim-refresh-{n}-{}", uuid::Uuid::new_v4().simple());
    let expires_in = oauth.expires_in;
    oauth.access_tokens.insert(
        access.clone(),
        Instant::now() + Duration::from_secs(expires_in),
    );
    oauth.refresh_tokens.insert(next.clone());
    tracing::info!(issued = n, expires_in, "sim: OAuth tokens issued");
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_token": next,
        "scope": "contacts.readonly contacts.write locations/customFields.readonly",
        "userType": "Location",
        "locationId": location,
        "userId": "sim-user",
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OAuthPatch {
    expires_in: Option<u64>,
    grant_refresh_token: Option<String>,
}

async fn set_oauth(State(state): State<SimState>, Json(patch): Json<OAuthPatch>) -> Response {
    let mut oauth = state.oauth();
    if let Some(expires_in) = patch.expires_in {
        oauth.expires_in = expires_in;
    }
    if let Some(token) = patch.grant_refresh_token {
        oauth.refresh_tokens.insert(token);
    }
    Json(json!({"expiresIn": oauth.expires_in})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Revoke {
    #[serde(default)]
    access_tokens: bool,
    #[serde(default)]
    refresh_tokens: bool,
}

async fn revoke(State(state): State<SimState>, Json(revoke): Json<Revoke>) -> Response {
    let mut oauth = state.oauth();
    let access = if revoke.access_tokens {
        std::mem::take(&mut oauth.access_tokens).len()
    } else {
        0
    };
    let refresh = if revoke.refresh_tokens {
        std::mem::take(&mut oauth.refresh_tokens).len()
    } else {
        0
    };
    Json(json!({"revokedAccessTokens": access, "revokedRefreshTokens": refresh})).into_response()
}

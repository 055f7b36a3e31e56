//! OAuth against ghl-sim's `POST /oauth/token`: the exchange rotates refresh tokens, a
//! call refreshes before expiry and once after a 401, and a revoked refresh token is an
//! auth error (a refused token: the job waits, the location is paused).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::ids::LocationId;
use domain::job::ErrorClass;
use domain::ports::{TokenError, TokenExchange, TokenSecret, TokenSource};
use ghl_adapter::OAuthExchange;
use ghl_sim::oauth::{CLIENT_ID, CLIENT_SECRET, INITIAL_REFRESH_TOKEN};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::support::TestSim;

fn exchange(t: &TestSim, secret: &str) -> OAuthExchange {
    OAuthExchange::new(
        &t.sim.base_url,
        CLIENT_ID.to_owned(),
        SecretString::from(secret.to_owned()),
        Duration::from_secs(5),
    )
    .unwrap()
}

/// Storage's `PgTokenSource` in memory (same rules, no database): refresh when less than
/// `margin` is left, or after a 401 with the current token.
struct MemoryTokens {
    exchange: OAuthExchange,
    margin: Duration,
    state: Mutex<(TokenSecret, TokenSecret, Instant)>,
    exchanges: AtomicU32,
}

impl MemoryTokens {
    fn new(exchange: OAuthExchange, access: &str, refresh: &str, margin: Duration) -> Arc<Self> {
        Arc::new(MemoryTokens {
            exchange,
            margin,
            state: Mutex::new((
                TokenSecret::new(access),
                TokenSecret::new(refresh),
                Instant::now() + Duration::from_secs(3600),
            )),
            exchanges: AtomicU32::new(0),
        })
    }

    async fn refresh(
        &self,
        state: &mut (TokenSecret, TokenSecret, Instant),
    ) -> Result<TokenSecret, TokenError> {
        self.exchanges.fetch_add(1, Ordering::SeqCst);
        let fresh = self.exchange.refresh(&state.1).await?;
        *state = (
            fresh.access_token.clone(),
            fresh.refresh_token,
            Instant::now() + fresh.expires_in,
        );
        Ok(fresh.access_token)
    }
}

#[async_trait]
impl TokenSource for MemoryTokens {
    async fn access_token(&self, _: &LocationId) -> Result<TokenSecret, TokenError> {
        let mut state = self.state.lock().await;
        if state.2 > Instant::now() + self.margin {
            return Ok(state.0.clone());
        }
        self.refresh(&mut state).await
    }

    async fn after_rejection(
        &self,
        _: &LocationId,
        rejected: &TokenSecret,
    ) -> Result<Option<TokenSecret>, TokenError> {
        let mut state = self.state.lock().await;
        if state.0 != *rejected {
            return Ok(Some(state.0.clone()));
        }
        self.refresh(&mut state).await.map(Some)
    }
}

async fn sim_post(t: &TestSim, method: reqwest::Method, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", t.sim.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

#[tokio::test]
async fn the_exchange_rotates_refresh_tokens_and_refuses_a_spent_one() {
    let t = TestSim::start().await;
    let oauth = exchange(&t, CLIENT_SECRET);
    let first = oauth
        .refresh(&TokenSecret::new(INITIAL_REFRESH_TOKEN))
        .await
        .unwrap();
    assert_eq!(first.expires_in, Duration::from_secs(86_399));
    assert_ne!(first.refresh_token.expose(), INITIAL_REFRESH_TOKEN);
    // Spent: GHL (and the sim) refuse a used refresh token.
    let again = oauth
        .refresh(&TokenSecret::new(INITIAL_REFRESH_TOKEN))
        .await;
    assert_eq!(again.unwrap_err(), TokenError::Refused);
    // The issued access token works for API calls.
    let client = t
        .client_with_token("not-the-api-key")
        .with_token_source(MemoryTokens::new(
            exchange(&t, CLIENT_SECRET),
            first.access_token.expose(),
            first.refresh_token.expose(),
            Duration::ZERO,
        ));
    client.probe_token(&t.location).await.unwrap();
    // A wrong client secret is refused too, and the error names no secret.
    let wrong = exchange(&t, "wrong-secret")
        .refresh(&first.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(wrong, TokenError::Refused);
    assert!(!wrong.to_string().contains("wrong-secret"));
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    let t = TestSim::start().await;
    // Tokens live 60 s; with a 5-minute margin each call refreshes first.
    sim_post(
        &t,
        reqwest::Method::PUT,
        "/_sim/oauth",
        json!({"expiresIn": 60}),
    )
    .await;
    let tokens = MemoryTokens::new(
        exchange(&t, CLIENT_SECRET),
        "expired-access",
        INITIAL_REFRESH_TOKEN,
        Duration::from_secs(300),
    );
    {
        let mut state = tokens.state.lock().await;
        state.2 = Instant::now();
    }
    let client = t
        .client_with_token("unused")
        .with_token_source(tokens.clone());
    client.probe_token(&t.location).await.unwrap();
    client.probe_token(&t.location).await.unwrap();
    assert_eq!(tokens.exchanges.load(Ordering::SeqCst), 2);
    // No call was refused: the refresh came first.
    assert!(t.sim.calls().iter().all(|c| c.status != 401));
}

#[tokio::test]
async fn a_401_refreshes_once_and_the_call_goes_through() {
    let t = TestSim::start().await;
    // The stored access token was revoked (GHL answers 401) but looks unexpired.
    let tokens = MemoryTokens::new(
        exchange(&t, CLIENT_SECRET),
        "revoked-access",
        INITIAL_REFRESH_TOKEN,
        Duration::ZERO,
    );
    let client = t
        .client_with_token("unused")
        .with_token_source(tokens.clone());
    client.probe_token(&t.location).await.unwrap();
    assert_eq!(tokens.exchanges.load(Ordering::SeqCst), 1);
    let statuses: Vec<u16> = t.sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [401, 200]);

    // Revoking every access token: the next call refreshes once more.
    sim_post(
        &t,
        reqwest::Method::POST,
        "/_sim/oauth/revoke",
        json!({"accessTokens": true}),
    )
    .await;
    client.probe_token(&t.location).await.unwrap();
    assert_eq!(tokens.exchanges.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_revoked_refresh_token_is_a_refused_token() {
    let t = TestSim::start().await;
    let tokens = MemoryTokens::new(
        exchange(&t, CLIENT_SECRET),
        "revoked-access",
        INITIAL_REFRESH_TOKEN,
        Duration::ZERO,
    );
    sim_post(
        &t,
        reqwest::Method::POST,
        "/_sim/oauth/revoke",
        json!({"accessTokens": true, "refreshTokens": true}),
    )
    .await;
    let client = t
        .client_with_token("unused")
        .with_token_source(tokens.clone());
    let error = client.probe_token(&t.location).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Auth);
    assert!(error.is_refused_token(), "{error:?}");
    // One refresh, not one per retry.
    assert_eq!(tokens.exchanges.load(Ordering::SeqCst), 1);
    assert!(!error.message.contains(INITIAL_REFRESH_TOKEN));
}

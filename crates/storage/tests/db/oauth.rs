//! OAuth tokens: refresh before expiry, refresh once after a 401, and refresh-token
//! rotation under concurrency (two refreshers, one exchange).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use domain::ports::{FreshTokens, TokenError, TokenExchange, TokenSecret, TokenSource};
use sqlx::PgPool;
use storage::PgTokenSource;
use tokio::sync::Mutex;

use crate::support::*;

/// Rotates like GHL: each refresh token works once; the answer carries the next one.
struct Rotating {
    current: Mutex<String>,
    exchanges: AtomicU32,
    expires_in: Duration,
}

impl Rotating {
    fn new(first: &str, expires_in: Duration) -> Arc<Self> {
        Arc::new(Rotating {
            current: Mutex::new(first.to_owned()),
            exchanges: AtomicU32::new(0),
            expires_in,
        })
    }
}

#[async_trait]
impl TokenExchange for Rotating {
    async fn refresh(&self, refresh_token: &TokenSecret) -> Result<FreshTokens, TokenError> {
        let n = self.exchanges.fetch_add(1, Ordering::SeqCst) + 1;
        // Long enough for a concurrent refresher to queue behind the row lock.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut current = self.current.lock().await;
        if refresh_token.expose() != current.as_str() {
            return Err(TokenError::Refused);
        }
        *current = format!("refresh-{n}");
        Ok(FreshTokens {
            access_token: TokenSecret::new(format!("access-{n}")),
            refresh_token: TokenSecret::new(current.clone()),
            expires_in: self.expires_in,
        })
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn two_refreshers_make_one_exchange_and_share_the_new_token(pool: PgPool) {
    let exchange = Rotating::new("bootstrap", Duration::from_secs(86_399));
    let source = PgTokenSource::new(pool.clone(), exchange.clone());
    assert!(
        source
            .seed(&location(), &TokenSecret::new("bootstrap"))
            .await
            .unwrap()
    );
    // A second seed (a restart with the same env) does not overwrite the rotated token.
    assert!(
        !source
            .seed(&location(), &TokenSecret::new("bootstrap"))
            .await
            .unwrap()
    );

    let loc = location();
    let (a, b) = tokio::join!(source.access_token(&loc), source.access_token(&loc));
    assert_eq!(a.unwrap(), TokenSecret::new("access-1"));
    assert_eq!(b.unwrap(), TokenSecret::new("access-1"));
    assert_eq!(exchange.exchanges.load(Ordering::SeqCst), 1);
    let stored: String =
        sqlx::query_scalar("SELECT refresh_token FROM oauth_tokens WHERE location_id = $1")
            .bind(location().as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        stored, "refresh-1",
        "the rotated refresh token is persisted"
    );

    // Fresh: no exchange.
    source.access_token(&location()).await.unwrap();
    assert_eq!(exchange.exchanges.load(Ordering::SeqCst), 1);

    // Two calls refused with the same token: one refresh, both get the new token.
    let rejected = TokenSecret::new("access-1");
    let (a, b) = tokio::join!(
        source.after_rejection(&loc, &rejected),
        source.after_rejection(&loc, &rejected)
    );
    assert_eq!(a.unwrap(), Some(TokenSecret::new("access-2")));
    assert_eq!(b.unwrap(), Some(TokenSecret::new("access-2")));
    assert_eq!(exchange.exchanges.load(Ordering::SeqCst), 2);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_token_expiring_within_the_margin_is_refreshed_first(pool: PgPool) {
    // Tokens live 60 s; the margin is 5 min: every request refreshes.
    let exchange = Rotating::new("bootstrap", Duration::from_secs(60));
    let source = PgTokenSource::new(pool.clone(), exchange.clone());
    source
        .seed(&location(), &TokenSecret::new("bootstrap"))
        .await
        .unwrap();
    assert_eq!(
        source.access_token(&location()).await.unwrap(),
        TokenSecret::new("access-1")
    );
    assert_eq!(
        source.access_token(&location()).await.unwrap(),
        TokenSecret::new("access-2")
    );
    // With a margin shorter than the life, the token is reused.
    let source = source.with_margin(Duration::from_secs(10));
    assert_eq!(
        source.access_token(&location()).await.unwrap(),
        TokenSecret::new("access-2")
    );
    assert_eq!(exchange.exchanges.load(Ordering::SeqCst), 2);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_refused_refresh_token_is_an_error_naming_no_token(pool: PgPool) {
    let exchange = Rotating::new("the-real-one", Duration::from_secs(86_399));
    let source = PgTokenSource::new(pool.clone(), exchange);
    source
        .seed(&location(), &TokenSecret::new("revoked-secret"))
        .await
        .unwrap();
    let error = source.access_token(&location()).await.unwrap_err();
    assert_eq!(error, TokenError::Refused);
    assert!(!error.to_string().contains("revoked-secret"));
    assert!(!format!("{error:?}").contains("revoked-secret"));
    let missing = source.access_token(&other_location()).await.unwrap_err();
    assert_eq!(missing, TokenError::Missing);
}

//! The one place a GHL request is sent: base URL, token, `Version`, logging and
//! classification, wrapped in the per-call retries ([`crate::retry`]) and the location
//! budget ([`crate::limit`]).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use domain::ids::LocationId;
use domain::job::CrmError;
use domain::ports::{RateLimiter, TokenError, TokenSecret, TokenSource};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, redirect};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::classify::{parse_retry_after, status_error, transport_error, unexpected_answer};
use crate::config::{BuildError, GhlConfig};
use crate::limit::{Budget, InProcessRateLimiter, RateHeaders};
use crate::operation::Operation;
use crate::retry::{Failure, RetryConfig, with_retries};
use crate::token::StaticToken;

const JSON: &str = "application/json";
const VERSION: &str = "Version";

/// One GHL call, complete enough to be sent again.
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
    pub op: Operation,
    /// The location the call acts in (the key of GHL's rate limits).
    pub location: &'a LocationId,
    /// The concrete path, e.g. `/contacts/abc/notes`.
    pub path: String,
    pub query: &'a [(&'a str, &'a str)],
    /// Serialised JSON body, if the operation takes one.
    pub body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(op: Operation, location: &'a LocationId, path: String) -> Self {
        Call {
            op,
            location,
            path,
            query: &[],
            body: None,
        }
    }

    pub(crate) fn with_query(mut self, query: &'a [(&'a str, &'a str)]) -> Self {
        self.query = query;
        self
    }

    pub(crate) fn with_json(mut self, body: &impl Serialize) -> Result<Self, CrmError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            CrmError::new(
                domain::job::ErrorClass::Permanent,
                None,
                format!(
                    "{}: could not serialise the request: {e}",
                    self.op.spec().name
                ),
            )
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub op: Operation,
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, CrmError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| unexpected_answer(&self.op.spec(), self.status, &e))
    }
}

pub(crate) struct Transport {
    http: reqwest::Client,
    /// Without a trailing slash.
    base_url: String,
    /// The bearer token of each call (a static token, or OAuth tokens).
    tokens: Arc<dyn TokenSource>,
    retry: RetryConfig,
    budget: Budget,
}

impl Transport {
    pub(crate) fn new(config: GhlConfig) -> Result<Self, BuildError> {
        let base_url = config.base_url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| BuildError::InvalidBaseUrl {
            url: config.base_url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(BuildError::InvalidBaseUrl {
                url: config.base_url.clone(),
                reason: "expected http(s)://host[:port][/prefix] without query".to_owned(),
            });
        }
        let token = config.token.expose_secret();
        if token.trim().is_empty() || HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(BuildError::InvalidToken);
        }
        // reqwest panics when it has no crypto provider to build its TLS config with.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(BuildError::NoCryptoProvider);
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            // An API does not redirect; following one could carry the token elsewhere.
            .redirect(redirect::Policy::none())
            .user_agent(concat!("ghl-adapter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(BuildError::Http)?;
        let shared: Arc<dyn RateLimiter> = Arc::new(InProcessRateLimiter::new(config.rate_limits));
        let budget = Budget::new(
            shared,
            config.max_requests_per_second,
            config.rate_limits,
            config.rate_limit_max_wait,
            config.auth_pause,
        );
        Ok(Transport {
            http,
            base_url,
            tokens: Arc::new(StaticToken::new(&config.token)),
            retry: config.retry,
            budget,
        })
    }

    /// Shares the location budgets with other processes through `limiter`.
    pub(crate) fn set_rate_limiter(&mut self, limiter: Arc<dyn RateLimiter>) {
        self.budget.set_shared(limiter);
    }

    /// Takes each call's token from `tokens` (OAuth) instead of the configured one.
    pub(crate) fn set_token_source(&mut self, tokens: Arc<dyn TokenSource>) {
        self.tokens = tokens;
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends `call` with the per-call retries of [`crate::retry`], each attempt waiting
    /// for the location's budget first and reporting GHL's rate-limit headers after.
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Reply, CrmError> {
        let idempotent = call.op.idempotent();
        // One token refresh per call, on the first 401.
        let refreshed = std::sync::atomic::AtomicBool::new(false);
        with_retries(&self.retry, idempotent, |_| async {
            self.budget
                .admit(call.location)
                .await
                .map_err(|e| (e, Failure::Budget))?;
            let token = match self.tokens.access_token(call.location).await {
                Ok(token) => token,
                Err(e) => return Err(self.no_token(call, e).await),
            };
            let mut attempt = self.send_once(call, &token).await;
            let refused = matches!(&attempt, Err((e, _, _)) if e.status == Some(401));
            if refused && !refreshed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                // A 401 means GHL did nothing: the call is sent once more with a newer
                // token when there is one (an expired or revoked OAuth access token).
                match self.tokens.after_rejection(call.location, &token).await {
                    Ok(Some(newer)) => {
                        self.budget
                            .admit(call.location)
                            .await
                            .map_err(|e| (e, Failure::Budget))?;
                        attempt = self.send_once(call, &newer).await;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!(ghl.location_id = %call.location, error = %e, "no newer GHL token after a 401");
                    }
                }
            }
            let (status, retry_after) = match &attempt {
                Ok((reply, _)) => (Some(reply.status.as_u16()), None),
                Err((error, _, _)) => (error.status, error.retry_after),
            };
            self.budget
                .observe(
                    call.location,
                    status,
                    self.last_headers(&attempt),
                    retry_after,
                )
                .await;
            attempt
                .map(|(reply, _)| reply)
                .map_err(|(error, failure, _)| (error, failure))
        })
        .await
        .map_err(|mut error| {
            // A refused token pauses the location: its job need not come back sooner.
            let pause = self.budget.auth_pause();
            if error.is_refused_token() && error.retry_after.is_none() && !pause.is_zero() {
                error.retry_after = Some(pause);
            }
            error
        })
    }

    /// The failure of a call that got no token: a refused refresh token is a refused
    /// token (`Auth`, 401: the location is paused for auth); anything else is transient.
    async fn no_token(&self, call: &Call<'_>, error: TokenError) -> (CrmError, Failure) {
        let name = call.op.spec().name;
        if error == TokenError::Refused || error == TokenError::Missing {
            self.budget
                .observe(call.location, Some(401), RateHeaders::default(), None)
                .await;
            let error = CrmError::new(
                domain::job::ErrorClass::Auth,
                Some(401),
                format!("{name}: {error}"),
            );
            (error, Failure::Status(401))
        } else {
            let error = CrmError::new(
                domain::job::ErrorClass::Transient,
                None,
                format!("{name}: {error}"),
            );
            (error, Failure::Build)
        }
    }

    fn last_headers(
        &self,
        attempt: &Result<(Reply, RateHeaders), (CrmError, Failure, RateHeaders)>,
    ) -> RateHeaders {
        match attempt {
            Ok((_, headers)) | Err((_, _, headers)) => *headers,
        }
    }

    /// Sends `call` once and classifies the outcome. Logs method, path template,
    /// status and duration at debug level; never the token, a body or a query value.
    async fn send_once(
        &self,
        call: &Call<'_>,
        token: &TokenSecret,
    ) -> Result<(Reply, RateHeaders), (CrmError, Failure, RateHeaders)> {
        let spec = call.op.spec();
        let mut request = self
            .http
            .request(
                spec.method.clone(),
                format!("{}{}", self.base_url, call.path),
            )
            .bearer_auth(token.expose())
            .header(VERSION, spec.version)
            .header(ACCEPT, JSON);
        if !call.query.is_empty() {
            request = request.query(call.query);
        }
        if let Some(body) = &call.body {
            request = request.header(CONTENT_TYPE, JSON).body(body.clone());
        }

        let started = Instant::now();
        let mut headers = RateHeaders::default();
        let outcome = async {
            let response = request.send().await?;
            let status = response.status();
            headers = RateHeaders::read(response.headers());
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, retry_after, body))
        }
        .await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        match outcome {
            Ok((status, retry_after, body)) => {
                tracing::debug!(
                    ghl.operation = spec.name,
                    http.method = %spec.method,
                    ghl.path = spec.template,
                    ghl.location_id = %call.location,
                    ghl.status = status.as_u16(),
                    duration_ms,
                    "GHL call"
                );
                if status.is_success() {
                    let reply = Reply {
                        op: call.op,
                        status,
                        body: body.to_vec(),
                    };
                    Ok((reply, headers))
                } else {
                    let error = status_error(&spec, status, retry_after, &body);
                    Err((error, Failure::Status(status.as_u16()), headers))
                }
            }
            Err(error) => {
                let failure = transport_failure(&error);
                let error = transport_error(&spec, &error);
                tracing::debug!(
                    ghl.operation = spec.name,
                    http.method = %spec.method,
                    ghl.path = spec.template,
                    ghl.location_id = %call.location,
                    error.class = %error.class,
                    duration_ms,
                    "GHL call failed without an answer"
                );
                Err((error, failure, headers))
            }
        }
    }
}

/// Where a call without an answer failed, for the retry table: a refused connection
/// provably sent nothing; a timeout or a broken connection may have.
fn transport_failure(error: &reqwest::Error) -> Failure {
    if error.is_builder() {
        Failure::Build
    } else if error.is_connect() {
        Failure::Connect
    } else if error.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Interrupted
    }
}

//! Bearer JWTs signed HS256 with `JWT_SECRET` (claims `sub`, `exp`, optional
//! `role`). Only HS256 is accepted: `alg: none` and other algorithms are refused.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use crate::AppState;
use crate::error::ApiError;

/// Tokens are accepted this long after `exp` (clock skew between hosts).
const LEEWAY_SECONDS: i64 = 30;

/// Who made the request, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("unsupported token algorithm")]
    Algorithm,
    #[error("bad token signature")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

pub struct JwtVerifier {
    secret: SecretString,
}

impl JwtVerifier {
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
    }

    /// Checks the signature, the algorithm and the validity window.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| TokenError::Malformed)
        };
        let header: Header =
            serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Algorithm);
        }
        let signature = decode(signature)?;
        let mut mac = self.mac();
        mac.update(&token.as_bytes()[..token.rfind('.').unwrap_or(0)]);
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims =
            serde_json::from_slice(&decode(payload)?).map_err(|_| TokenError::Malformed)?;
        if claims.exp + LEEWAY_SECONDS < now_unix {
            return Err(TokenError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now_unix + LEEWAY_SECONDS)
        {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }

    /// Signs claims: for tests, the demo and operators' tooling.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = self.mac();
        mac.update(format!("{header}.{payload}").as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{payload}.{signature}")
    }
}

fn bearer(parts: &Parts) -> Result<&str, TokenError> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(TokenError::Missing)?
        .to_str()
        .map_err(|_| TokenError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(token.trim())
}

/// Middleware for every route that needs a token. Puts the [`Claims`] into the
/// request extensions for handlers that want to know who called.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let now = chrono::Utc::now().timestamp();
    let claims = bearer(&parts)
        .and_then(|token| state.jwt.verify(token, now))
        .map_err(|e| {
            tracing::info!(auth.error = %e, "request refused");
            ApiError::Unauthorized(e)
        })?;
    tracing::Span::current().record("auth.sub", claims.sub.as_str());
    parts.extensions.insert(claims);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or(ApiError::Unauthorized(TokenError::Missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(SecretString::from("a-test-secret-that-is-long-enough-0123"))
    }

    #[test]
    fn a_signed_token_verifies_and_yields_its_claims() {
        let v = verifier();
        let token = v.sign(&json!({"sub": "ops", "exp": 2_000, "role": "admin"}));
        let claims = v.verify(&token, 1_000).unwrap();
        assert_eq!(claims.sub, "ops");
        assert_eq!(claims.role.as_deref(), Some("admin"));
    }

    #[test]
    fn expired_tokens_are_refused_after_the_leeway() {
        let v = verifier();
        let token = v.sign(&json!({"sub": "ops", "exp": 1_000}));
        assert!(v.verify(&token, 1_020).is_ok());
        assert_eq!(v.verify(&token, 1_031), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let other = JwtVerifier::new(SecretString::from("another-secret-entirely-0123456789"));
        let token = other.sign(&json!({"sub": "ops", "exp": 2_000}));
        assert_eq!(verifier().verify(&token, 1_000), Err(TokenError::Signature));
    }

    #[test]
    fn alg_none_and_tampered_payloads_are_refused() {
        let v = verifier();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"x","exp":9999999999}"#);
        assert_eq!(
            v.verify(&format!("{header}.{payload}."), 0),
            Err(TokenError::Algorithm)
        );

        let token = v.sign(&json!({"sub": "ops", "exp": 2_000}));
        let mut pieces: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","exp":2000}"#);
        pieces[1] = &forged;
        assert_eq!(
            v.verify(&pieces.join("."), 1_000),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let v = verifier();
        for junk in ["", "a", "a.b", "a.b.c.d", "!!!.???.***", "e30.e30.e30"] {
            assert!(v.verify(junk, 0).is_err(), "{junk}");
        }
    }
}

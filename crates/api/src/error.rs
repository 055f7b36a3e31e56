//! The API's one error type. Every error renders as
//! `{"error": "<stable_code>", "message": "<human text>"}` (plus `field` when
//! one input field is at fault). Messages never carry personal data or
//! internals; server-side failures are logged once, here, without details
//! the client could misuse.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::appointment::{BookingRefused, TransitionError};
use domain::contact::InvalidField;
use domain::ports::RepoError;
use domain::service::{BookingError, ChangeError};
use serde_json::json;

use crate::auth::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(TokenError),
    #[error("{message}")]
    MalformedJson { message: String },
    #[error("request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    InvalidField(InvalidField),
    /// A body that is valid JSON but not of the expected shape (missing field, wrong type).
    #[error("{message}")]
    InvalidBody { message: String },
    #[error("{message}")]
    InvalidQuery { message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Transition(TransitionError),
    #[error(transparent)]
    Booking(BookingError),
    #[error(transparent)]
    Change(ChangeError),
    #[error("service temporarily unavailable")]
    Unavailable(RepoError),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        match self {
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            MalformedJson { .. } => (StatusCode::BAD_REQUEST, "malformed_json"),
            UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            InvalidField(_) | InvalidBody { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
            }
            InvalidQuery { .. } => (StatusCode::BAD_REQUEST, "invalid_query"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Transition(e) => transition(e),
            Booking(e) => match e {
                BookingError::Refused(BookingRefused::InThePast) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "booking_in_the_past")
                }
                BookingError::SlotTaken => (StatusCode::CONFLICT, "slot_unavailable"),
                BookingError::UnknownLead => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_lead"),
                BookingError::IdempotencyMismatch => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
                }
                BookingError::Repo(_) => unavailable(),
            },
            Change(e) => match e {
                ChangeError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                ChangeError::Transition(t) => transition(t),
                ChangeError::Refused(BookingRefused::InThePast) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "booking_in_the_past")
                }
                ChangeError::SlotTaken => (StatusCode::CONFLICT, "slot_unavailable"),
                ChangeError::Conflict => (StatusCode::CONFLICT, "concurrent_modification"),
                ChangeError::Repo(_) => unavailable(),
            },
            Unavailable(_) => unavailable(),
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            ApiError::InvalidField(e) => Some(e.field),
            ApiError::Booking(BookingError::UnknownLead) => Some("leadId"),
            ApiError::Booking(BookingError::Refused(_))
            | ApiError::Change(ChangeError::Refused(_)) => Some("startTime"),
            _ => None,
        }
    }
}

fn transition(e: &TransitionError) -> (StatusCode, &'static str) {
    match e {
        TransitionError::NotAllowed { .. } => (StatusCode::CONFLICT, "invalid_transition"),
        TransitionError::NothingChanged => (StatusCode::UNPROCESSABLE_ENTITY, "nothing_changed"),
    }
}

fn unavailable() -> (StatusCode, &'static str) {
    (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
}

impl From<InvalidField> for ApiError {
    fn from(e: InvalidField) -> Self {
        ApiError::InvalidField(e)
    }
}

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> Self {
        ApiError::Unavailable(e)
    }
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> Self {
        match e {
            BookingError::Repo(r) => ApiError::Unavailable(r),
            other => ApiError::Booking(other),
        }
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Repo(r) => ApiError::Unavailable(r),
            other => ApiError::Change(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Unavailable(cause) => {
                // Logged once, here; the client only learns that it may retry.
                tracing::error!(error = %cause, "storage failure");
                "the service is temporarily unavailable; retry shortly".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = json!({ "error": code, "message": message });
        if let Some(field) = self.field() {
            body["field"] = json!(field);
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}

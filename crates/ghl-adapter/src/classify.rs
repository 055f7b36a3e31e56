//! Classification of GHL failures (what retrying can achieve), and the messages that
//! describe them. Messages name the operation and the status and carry GHL's own
//! `message` (which does not echo personal data), never our request body.

use std::error::Error as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::job::{CrmError, ErrorClass};
use reqwest::StatusCode;
use serde_json::Value;

use crate::operation::OperationSpec;

/// Longest piece of GHL's error message copied into a [`CrmError`].
const MAX_DETAIL_CHARS: usize = 200;

/// The class of a non-success HTTP status.
///
/// | status | class |
/// |---|---|
/// | 400, 422 | Validation (a 400 saying "not found" is refined to NotFound by [`status_error`]) |
/// | 401, 403 | Auth |
/// | 404 | NotFound |
/// | 408 | Transient |
/// | 429 | RateLimited |
/// | 501 | Permanent |
/// | other 5xx | Transient |
/// | other 4xx, 1xx, 3xx | Permanent |
pub(crate) fn classify(status: StatusCode) -> ErrorClass {
    match status.as_u16() {
        400 | 422 => ErrorClass::Validation,
        401 | 403 => ErrorClass::Auth,
        404 => ErrorClass::NotFound,
        408 => ErrorClass::Transient,
        429 => ErrorClass::RateLimited,
        501 => ErrorClass::Permanent,
        500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// The class of a failure without an HTTP answer. Timeouts, refused or reset connections
/// and interrupted bodies may work next time; a request we could not even build will not.
pub(crate) fn classify_transport(error: &reqwest::Error) -> ErrorClass {
    if error.is_builder() {
        ErrorClass::Permanent
    } else {
        ErrorClass::Transient
    }
}

/// The error for a non-success answer. `body` is GHL's answer (never our request).
pub(crate) fn status_error(
    op: &OperationSpec,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> CrmError {
    let detail = ghl_message(body);
    let class = match classify(status) {
        // GHL answers an unknown or deleted contact with 400 "Contact with id … not found".
        ErrorClass::Validation
            if status == StatusCode::BAD_REQUEST
                && detail.as_deref().is_some_and(says_not_found) =>
        {
            ErrorClass::NotFound
        }
        class => class,
    };
    let mut message = format!(
        "{} ({} {}) answered HTTP {status}",
        op.name, op.method, op.template
    );
    if let Some(detail) = detail {
        message.push_str(": ");
        message.push_str(&truncate(&detail, MAX_DETAIL_CHARS));
    }
    CrmError {
        class,
        status: Some(status.as_u16()),
        message,
        retry_after,
    }
}

/// The error for a call that got no (complete) answer.
pub(crate) fn transport_error(op: &OperationSpec, error: &reqwest::Error) -> CrmError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "lost the answer while reading it"
    } else {
        "failed"
    };
    // The chain of causes, without the URL (which would repeat the ids).
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let mut message = format!("{} ({} {}) {what}", op.name, op.method, op.template);
    if !causes.is_empty() {
        message.push_str(": ");
        message.push_str(&truncate(&causes.join(": "), MAX_DETAIL_CHARS));
    }
    CrmError::new(classify_transport(error), None, message)
}

/// A 2xx answer we could not understand: GHL changed its format, retrying will not help.
pub(crate) fn unexpected_answer(
    op: &OperationSpec,
    status: StatusCode,
    error: &serde_json::Error,
) -> CrmError {
    CrmError::new(
        ErrorClass::Permanent,
        Some(status.as_u16()),
        format!(
            "{} ({} {}) answered HTTP {status} with an unexpected body: {}",
            op.name,
            op.method,
            op.template,
            truncate(&error.to_string(), MAX_DETAIL_CHARS)
        ),
    )
}

/// `Retry-After` as delta-seconds (what rate limiters send) or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// GHL's `message` (a string, or a list of strings for 422), else its `error`.
fn ghl_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Array(items) => {
                let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            _ => None,
        }
    };
    value
        .get("message")
        .and_then(text)
        .or_else(|| value.get("error").and_then(text))
}

fn says_not_found(message: &str) -> bool {
    message.to_ascii_lowercase().contains("not found")
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;

//! GHL's error responses. Bodies follow `common/common-schemas.json` (400
//! `{statusCode, message}`, 401 `{statusCode, message, error}`, 422 `{statusCode,
//! message: [..], error}`) and, where the spec is silent, what integrators observed.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The 401 message of the common `UnauthorizedDTO`.
pub const INVALID_TOKEN: &str = "Invalid token: access token is invalid";
/// Observed for a request without `Version` (401, not 400).
pub const VERSION_MISSING: &str = "version header was not found.";
/// Observed for a `Version` value that is not published.
pub const VERSION_INVALID: &str = "version header is invalid";
/// Observed for a location the token may not access (n8n-io/n8n#11353 and others).
pub const LOCATION_FORBIDDEN: &str = "The token does not have access to this location.";

/// An error answer of the simulated API.
#[derive(Debug, Clone, PartialEq)]
pub enum GhlError {
    /// 401 with a message.
    Unauthorized(&'static str),
    /// 403: the location is not the token's.
    ForbiddenLocation,
    /// 400 `{statusCode, message}`.
    BadRequest(String),
    /// 400 for `POST /contacts/` when the email or phone is already taken.
    DuplicateContact {
        contact_id: String,
        contact_name: Option<String>,
        matching_field: &'static str,
    },
    /// 404 of an unknown route, NestJS-style (`Cannot GET /x`).
    RouteNotFound { method: String, path: String },
    /// 422 with class-validator style messages.
    Unprocessable(Vec<String>),
}

impl GhlError {
    /// GHL answers an unknown (or deleted) contact id with 400, not 404: its specs list no
    /// 404 for contact operations, and integrators quote `400 "Contact with id lookup not
    /// found"` for `GET /contacts/lookup` (the path parameter taken as an id).
    pub fn contact_not_found(id: &str) -> Self {
        GhlError::BadRequest(format!("Contact with id {id} not found"))
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        GhlError::Unprocessable(vec![message.into()])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GhlError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            GhlError::ForbiddenLocation => StatusCode::FORBIDDEN,
            GhlError::BadRequest(_) | GhlError::DuplicateContact { .. } => StatusCode::BAD_REQUEST,
            GhlError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            GhlError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    pub fn body(&self) -> Value {
        let code = self.status().as_u16();
        match self {
            GhlError::Unauthorized(message) => {
                json!({"statusCode": code, "message": message, "error": "Unauthorized"})
            }
            GhlError::ForbiddenLocation => {
                json!({"statusCode": code, "message": LOCATION_FORBIDDEN, "error": "Forbidden"})
            }
            GhlError::BadRequest(message) => json!({"statusCode": code, "message": message}),
            GhlError::DuplicateContact {
                contact_id,
                contact_name,
                matching_field,
            } => json!({
                "statusCode": code,
                "message": "This location does not allow duplicated contacts.",
                "meta": {
                    "contactName": contact_name,
                    "contactId": contact_id,
                    "matchingField": matching_field,
                },
            }),
            GhlError::RouteNotFound { method, path } => json!({
                "statusCode": code,
                "message": format!("Cannot {method} {path}"),
                "error": "Not Found",
            }),
            GhlError::Unprocessable(messages) => {
                json!({"statusCode": code, "message": messages, "error": "Unprocessable Entity"})
            }
        }
    }
}

impl IntoResponse for GhlError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unauthorized_body_is_the_common_401() {
        assert_eq!(
            GhlError::Unauthorized(INVALID_TOKEN).body(),
            json!({"statusCode": 401, "message": INVALID_TOKEN, "error": "Unauthorized"})
        );
    }

    #[test]
    fn validation_errors_carry_an_array_of_messages() {
        let error = GhlError::unprocessable("property gender should not exist");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error.body(),
            json!({"statusCode": 422, "message": ["property gender should not exist"],
                   "error": "Unprocessable Entity"})
        );
    }

    #[test]
    fn an_unknown_contact_is_a_bad_request() {
        let error = GhlError::contact_not_found("abc");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            error.body(),
            json!({"statusCode": 400, "message": "Contact with id abc not found"})
        );
    }
}

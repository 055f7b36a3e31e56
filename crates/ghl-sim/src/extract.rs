//! Extractors that answer GHL-style errors.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::GhlError;
use crate::gate::ParsedBody;

/// The request body the [`crate::gate`] parsed and validated against the operation's
/// schema, deserialised into `T`.
#[derive(Debug)]
pub(crate) struct ValidBody<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for ValidBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = GhlError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .extensions
            .get::<ParsedBody>()
            .map_or_else(|| Value::Object(Map::new()), |body| body.0.clone());
        serde_json::from_value(value)
            .map(ValidBody)
            .map_err(|e| GhlError::unprocessable(e.to_string()))
    }
}

//! `GET /locations/{locationId}/customFields` (the gate has checked the location).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use crate::error::GhlError;
use crate::state::SimState;

/// 200 `{"customFields": [...]}`. The sim's fields are all contact fields, so
/// `model=opportunity` lists none; no `model` lists all, like `model=all`.
pub(super) async fn custom_fields(
    State(state): State<SimState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GhlError> {
    let fields = state.custom_fields();
    let fields = match query.get("model").map(String::as_str) {
        None | Some("contact" | "all") => fields,
        Some("opportunity") => Vec::new(),
        Some(_) => {
            return Err(GhlError::unprocessable(
                "model must be one of the following values: contact, opportunity, all",
            ));
        }
    };
    Ok(Json(json!({ "customFields": fields })))
}

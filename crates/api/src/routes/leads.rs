use axum::Json;
use axum::extract::State;
use domain::LeadId;
use domain::contact::{Email, Phone};
use domain::lead::LeadQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::dto::LeadView;
use crate::error::ApiError;
use crate::extract::{PathParam, QueryParams};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadSearch {
    #[serde(default)]
    ghl_contact_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `GET /api/leads?ghlContactId=&email=&phone=`: at least one criterion.
pub async fn search(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<LeadSearch>,
) -> Result<Json<Value>, ApiError> {
    let query = LeadQuery {
        ghl_contact_id: q
            .ghl_contact_id
            .as_deref()
            .map(domain::GhlContactId::parse)
            .transpose()
            .map_err(|_| {
                domain::contact::InvalidField::new(
                    "ghlContactId",
                    "must be 1 to 64 letters, digits, '-' or '_'",
                )
            })?,
        email: q.email.as_deref().map(Email::parse).transpose()?,
        phone: q.phone.as_deref().map(Phone::parse).transpose()?,
    };
    if query.is_empty() {
        return Err(ApiError::InvalidQuery {
            message: "give at least one of ghlContactId, email, phone".into(),
        });
    }
    let leads = state.leads.find(&state.booking.location, &query).await?;
    let leads: Vec<LeadView> = leads.iter().map(LeadView::from).collect();
    Ok(Json(json!({ "leads": leads })))
}

pub async fn get_one(
    State(state): State<AppState>,
    PathParam(id): PathParam<LeadId>,
) -> Result<Json<LeadView>, ApiError> {
    let lead = state
        .leads
        .get(id)
        .await?
        .filter(|l| l.location_id == state.booking.location)
        .ok_or(ApiError::NotFound("lead"))?;
    Ok(Json(LeadView::from(&lead)))
}

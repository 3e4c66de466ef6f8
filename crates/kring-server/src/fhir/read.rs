//! `GET /fhir/{type}/{id}` and `GET /fhir/{type}/{id}/_history/{vid}`.

use axum::extract::{Path, State};
use axum::response::Response;

use super::request::Ctx;
use super::{response, FhirError};
use crate::AppState;

pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((rtype, id)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let v = state.record.read(&ctx.caller, &rtype, &id).await?;
    Ok(response::resource(&ctx, v))
}

pub async fn vread(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((rtype, id, vid)): Path<(String, String, String)>,
) -> Result<Response, FhirError> {
    let v = state.record.vread(&ctx.caller, &rtype, &id, &vid).await?;
    Ok(response::resource(&ctx, v))
}

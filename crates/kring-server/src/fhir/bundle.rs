//! `POST /fhir` with a `batch` or `transaction` Bundle.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::request::{json_body, Ctx};
use super::{response, FhirError};
use crate::AppState;

pub async fn process(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FhirError> {
    let value = json_body(&state, &headers, body, false).await?;
    let (record, caller, base, prefer) = (
        state.record.clone(),
        ctx.caller.clone(),
        ctx.base.clone(),
        ctx.prefer,
    );
    // Like single writes, a Bundle runs to completion even if the caller disconnects.
    let result =
        tokio::spawn(async move { record.process_bundle(&caller, value, &base, prefer).await })
            .await
            .map_err(|e| FhirError::from(kring_record::RecordError::Internal(e.to_string())))??;
    Ok(response::json(
        &ctx,
        StatusCode::OK,
        serde_json::to_vec(&result).unwrap_or_default(),
    ))
}

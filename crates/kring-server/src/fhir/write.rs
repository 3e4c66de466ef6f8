//! Writes: create, update, conditional update, JSON Patch, delete, conditional delete.
//! Each write runs in its own task, so a caller who disconnects cannot cut it off half-way.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use kring_record::{RecordError, WriteResult};

use super::request::{json_body, Ctx};
use super::{response, FhirError};
use crate::AppState;

/// Runs a write to completion even if the client goes away.
async fn detached<F>(f: F) -> Result<WriteResult, FhirError>
where
    F: std::future::Future<Output = Result<WriteResult, RecordError>> + Send + 'static,
{
    match tokio::spawn(f).await {
        Ok(r) => Ok(r?),
        Err(e) => Err(RecordError::Internal(format!("write task failed: {e}")).into()),
    }
}

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FhirError> {
    let value = json_body(&state, &headers, body, false).await?;
    let (record, caller, cond) = (
        state.record.clone(),
        ctx.caller.clone(),
        ctx.if_none_exist.clone(),
    );
    let r = detached(async move { record.create(&caller, &rtype, value, cond.as_deref()).await })
        .await?;
    Ok(response::written(&ctx, r))
}

pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FhirError> {
    let value = json_body(&state, &headers, body, false).await?;
    let (record, caller, if_match) = (state.record.clone(), ctx.caller.clone(), ctx.if_match);
    let r =
        detached(async move { record.update(&caller, &rtype, &id, value, if_match).await }).await?;
    Ok(response::written(&ctx, r))
}

pub async fn conditional_update(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FhirError> {
    if ctx.query.is_empty() {
        return Err(FhirError::bad_request(
            "PUT on a type needs search criteria (conditional update), or use PUT /Type/id",
        ));
    }
    let value = json_body(&state, &headers, body, false).await?;
    let (record, caller, if_match, query) = (
        state.record.clone(),
        ctx.caller.clone(),
        ctx.if_match,
        ctx.query.clone(),
    );
    let r = detached(async move {
        record
            .conditional_update(&caller, &rtype, &query, value, if_match)
            .await
    })
    .await?;
    Ok(response::written(&ctx, r))
}

pub async fn patch(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FhirError> {
    let value = json_body(&state, &headers, body, true).await?;
    let (record, caller, if_match) = (state.record.clone(), ctx.caller.clone(), ctx.if_match);
    let r =
        detached(async move { record.patch(&caller, &rtype, &id, value, if_match).await }).await?;
    Ok(response::written(&ctx, r))
}

pub async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((rtype, id)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let (record, caller, if_match) = (state.record.clone(), ctx.caller.clone(), ctx.if_match);
    let r = detached(async move { record.delete(&caller, &rtype, &id, if_match).await }).await?;
    Ok(response::written(&ctx, r))
}

pub async fn conditional_delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(rtype): Path<String>,
) -> Result<Response, FhirError> {
    if ctx.query.is_empty() {
        return Err(FhirError::bad_request(
            "DELETE on a type needs search criteria (conditional delete), or use DELETE /Type/id",
        ));
    }
    let (record, caller, query) = (state.record.clone(), ctx.caller.clone(), ctx.query.clone());
    let r =
        detached(async move { record.conditional_delete(&caller, &rtype, &query).await }).await?;
    Ok(response::written(&ctx, r))
}

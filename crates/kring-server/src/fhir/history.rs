//! History: `/_history`, `/Type/_history`, `/Type/id/_history`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kring_record::HistoryRequest;

use super::request::Ctx;
use super::{response, FhirError};
use crate::AppState;

async fn run(
    state: &AppState,
    ctx: &Ctx,
    rtype: Option<String>,
    id: Option<String>,
) -> Result<Response, FhirError> {
    let path = match (&rtype, &id) {
        (Some(t), Some(i)) => format!("{t}/{i}/_history"),
        (Some(t), None) => format!("{t}/_history"),
        _ => "_history".to_string(),
    };
    let page = state
        .record
        .history(
            &ctx.caller,
            &HistoryRequest {
                rtype,
                id,
                params: ctx.params(),
            },
        )
        .await?;
    Ok(response::json(
        ctx,
        StatusCode::OK,
        kring_record::output::history_bundle(&ctx.base, &path, &page),
    ))
}

pub async fn system(State(state): State<AppState>, ctx: Ctx) -> Result<Response, FhirError> {
    run(&state, &ctx, None, None).await
}

pub async fn of_type(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(rtype): Path<String>,
) -> Result<Response, FhirError> {
    run(&state, &ctx, Some(rtype), None).await
}

pub async fn instance(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((rtype, id)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    run(&state, &ctx, Some(rtype), Some(id)).await
}

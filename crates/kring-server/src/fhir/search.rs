//! Search (`GET /Type?…`, `POST /Type/_search`) and `Patient/{id}/$everything`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use kring_fhir::IssueCode;
use kring_record::search::SearchOutcome;
use kring_record::SearchRequest;

use super::request::{read_body, Ctx};
use super::{response, FhirError};
use crate::AppState;

fn bundle(state: &AppState, ctx: &Ctx, path: &str, out: &SearchOutcome) -> Response {
    let bytes =
        kring_record::output::search_bundle(state.record.definitions(), &ctx.base, path, out);
    response::json(ctx, StatusCode::OK, bytes)
}

pub async fn search_get(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(rtype): Path<String>,
) -> Result<Response, FhirError> {
    let req = SearchRequest {
        rtype: rtype.clone(),
        params: ctx.params(),
    };
    let out = state.record.search(&ctx.caller, &req, ctx.handling).await?;
    Ok(bundle(&state, &ctx, &rtype, &out))
}

/// `POST /Type/_search` with form-encoded parameters (and any in the URL).
pub async fn search_post(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FhirError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(FhirError::unsupported_media(
            "_search takes its parameters as application/x-www-form-urlencoded",
        ));
    }
    let bytes = read_body(body, state.http.max_body_bytes).await?;
    let mut params = ctx.params();
    params.extend(form_urlencoded::parse(&bytes).into_owned());
    let req = SearchRequest {
        rtype: rtype.clone(),
        params,
    };
    let out = state.record.search(&ctx.caller, &req, ctx.handling).await?;
    Ok(bundle(&state, &ctx, &rtype, &out))
}

/// `GET /Type/id/$operation`: `$everything` on Patient.
pub async fn operation(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((rtype, id, op)): Path<(String, String, String)>,
) -> Result<Response, FhirError> {
    match (rtype.as_str(), op.as_str()) {
        ("Patient", "$everything") => {
            let out = state
                .record
                .everything(&ctx.caller, &id, &ctx.params())
                .await?;
            Ok(bundle(
                &state,
                &ctx,
                &format!("Patient/{id}/$everything"),
                &out,
            ))
        }
        _ => Err(FhirError::new(
            StatusCode::NOT_FOUND,
            IssueCode::NotSupported,
            format!("the operation {op} is not supported on {rtype}"),
        )),
    }
}

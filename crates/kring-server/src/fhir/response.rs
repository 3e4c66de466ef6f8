//! Building FHIR responses: content type, `ETag`, `Last-Modified`, `Location`, `Prefer`,
//! `_pretty`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kring_fhir::{Issue, OperationOutcome};
use kring_record::{Preference, Versioned, WriteResult};

use super::request::Ctx;

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

fn http_date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(t)
}

/// A JSON body with the FHIR content type (pretty-printed on `_pretty=true`).
pub fn json(ctx: &Ctx, status: StatusCode, body: Vec<u8>) -> Response {
    json_as(ctx.pretty, status, body)
}

/// A FHIR JSON response, pretty-printed when asked.
pub fn json_as(pretty: bool, status: StatusCode, body: Vec<u8>) -> Response {
    let body = if pretty {
        kring_record::output::pretty(&body)
    } else {
        body
    };
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], body).into_response()
}

fn with_version_headers(mut res: Response, ctx: &Ctx, v: &Versioned, location: bool) -> Response {
    let h = res.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&v.etag()) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(lm) = HeaderValue::from_str(&http_date(v.last_updated)) {
        h.insert(header::LAST_MODIFIED, lm);
    }
    if location {
        if let Ok(loc) = HeaderValue::from_str(&format!("{}/{}", ctx.base, v.versioned_path())) {
            h.insert(header::LOCATION, loc.clone());
            h.insert(header::CONTENT_LOCATION, loc);
        }
    }
    res
}

/// A resource read.
pub fn resource(ctx: &Ctx, v: Versioned) -> Response {
    let res = json(ctx, StatusCode::OK, v.body.clone());
    with_version_headers(res, ctx, &v, false)
}

/// The answer to a write, shaped by `Prefer: return=…`.
pub fn written(ctx: &Ctx, r: WriteResult) -> Response {
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let Some(v) = r.resource else {
        return match ctx.prefer {
            Preference::OperationOutcome => {
                let oo = OperationOutcome::single(Issue::information(if r.unchanged {
                    "nothing to change"
                } else {
                    "done"
                }));
                json(
                    ctx,
                    StatusCode::OK,
                    serde_json::to_vec(&oo.to_json()).unwrap_or_default(),
                )
            }
            _ => StatusCode::NO_CONTENT.into_response(),
        };
    };
    let res = match ctx.prefer {
        Preference::Representation => json(ctx, status, v.body.clone()),
        Preference::Minimal => status.into_response(),
        Preference::OperationOutcome => {
            let msg = if r.created {
                format!("created {}", v.versioned_path())
            } else if r.unchanged {
                format!(
                    "{} already exists and matches the criteria; nothing was created",
                    v.versioned_path()
                )
            } else {
                format!("updated to {}", v.versioned_path())
            };
            json(
                ctx,
                status,
                serde_json::to_vec(&OperationOutcome::single(Issue::information(msg)).to_json())
                    .unwrap_or_default(),
            )
        }
    };
    with_version_headers(res, ctx, &v, true)
}

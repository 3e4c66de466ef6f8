//! The access log as FHIR `AuditEvent` (IHE BALP shape): read and search by date, agent,
//! entity, patient, outcome, purpose and action — as far as the decision point lets the caller
//! read the log (privacy officers for their organisation, clients for their own file) — with
//! `_format=application/fhir+ndjson` for an NDJSON export. The operations `$checkpoint`,
//! `$inclusion-proof` and `$consistency-proof` give the signed tree head and RFC 6962 proofs.
//! The log is append-only: every write answers 405.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use kring_audit::audit_event::to_audit_event;
use kring_fhir::{Issue, IssueCode, OperationOutcome};
use kring_record::LogRequest;
use serde_json::{json, Value};

use super::request::{read_body, Ctx};
use super::{response, FhirError};
use crate::AppState;

const NDJSON: &str = "application/fhir+ndjson";

/// The CapabilityStatement entry of AuditEvent.
pub fn capability() -> Value {
    let param = |name: &str, kind: &str| json!({"name": name, "type": kind, "definition": format!("http://hl7.org/fhir/SearchParameter/AuditEvent-{name}")});
    json!({
        "type": "AuditEvent",
        "profile": "http://hl7.org/fhir/StructureDefinition/AuditEvent",
        "documentation": "The access log (NEN 7513), shaped after IHE BALP. Read-only: Kring writes it itself, before data leaves. Privacy officers read the entries of their organisation's clients and users; clients and parents with authority their own. _format=application/fhir+ndjson exports the matches as NDJSON. $checkpoint, $inclusion-proof and $consistency-proof prove the log is append-only (RFC 6962, Ed25519).",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "versioning": "no-version",
        "readHistory": false,
        "updateCreate": false,
        "conditionalCreate": false,
        "conditionalRead": "not-supported",
        "conditionalUpdate": false,
        "conditionalDelete": "not-supported",
        "searchParam": [
            param("date", "date"), param("agent", "reference"), param("entity", "reference"),
            param("patient", "reference"), param("outcome", "token"), param("purpose", "token"),
            param("action", "token"),
        ],
        "operation": [
            {"name": "checkpoint", "definition": "https://kring.example/fhir/OperationDefinition/AuditEvent-checkpoint"},
            {"name": "inclusion-proof", "definition": "https://kring.example/fhir/OperationDefinition/AuditEvent-inclusion-proof"},
            {"name": "consistency-proof", "definition": "https://kring.example/fhir/OperationDefinition/AuditEvent-consistency-proof"},
        ],
    })
}

fn bad(msg: impl Into<String>) -> FhirError {
    FhirError::from(kring_record::RecordError::BadRequest(
        OperationOutcome::single(Issue::error(IssueCode::Invalid, msg)),
    ))
}

/// Writes to the log are refused.
pub async fn append_only() -> Response {
    let oo = OperationOutcome::single(Issue::error(
        IssueCode::NotSupported,
        "the access log is append-only: Kring writes it itself, and nobody can change, delete or version its entries",
    ));
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [
            (header::CONTENT_TYPE, "application/fhir+json"),
            (header::ALLOW, "GET"),
        ],
        serde_json::to_vec(&oo.to_json()).unwrap_or_default(),
    )
        .into_response()
}

/// `GET /fhir/AuditEvent/{id}` (and the `$` operations).
pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    if let Some(op) = id.strip_prefix('$') {
        return operation(&state, &ctx, op).await;
    }
    let Ok(n) = id.parse::<u64>() else {
        return Err(kring_record::RecordError::NotFound(format!("AuditEvent/{id}")).into());
    };
    let entry = state.record.read_log_entry(&ctx.caller, n).await?;
    let body = serde_json::to_vec(&to_audit_event(&entry)).unwrap_or_default();
    Ok(response::json(&ctx, StatusCode::OK, body))
}

pub async fn search_get(State(state): State<AppState>, ctx: Ctx) -> Result<Response, FhirError> {
    let params = ctx.params();
    search(&state, &ctx, params).await
}

pub async fn search_post(
    State(state): State<AppState>,
    ctx: Ctx,
    body: Body,
) -> Result<Response, FhirError> {
    let bytes = read_body(body, state.http.max_body_bytes).await?;
    let mut params = ctx.params();
    params.extend(form_urlencoded::parse(&bytes).into_owned());
    search(&state, &ctx, params).await
}

/// Reads the search parameters of the log.
pub fn log_request(params: &[(String, String)]) -> Result<(LogRequest, bool), FhirError> {
    let mut req = LogRequest {
        count: 50,
        ..LogRequest::default()
    };
    let mut ndjson = false;
    for (k, v) in params {
        match k.as_str() {
            "date" => {
                let (prefix, value) = match v.get(..2) {
                    Some(p @ ("ge" | "gt" | "le" | "lt" | "eq")) => (p, &v[2..]),
                    _ => ("eq", v.as_str()),
                };
                let range = kring_fhir::datetime::parse_range(value).ok_or_else(|| {
                    bad(format!("date needs a date or time such as 2026-11-01 or ge2026-11-01T08:00:00Z, not '{v}'"))
                })?;
                match prefix {
                    "ge" => req.from_ms = Some(range.low),
                    "gt" => req.from_ms = Some(range.high + 1),
                    "le" => req.to_ms = Some(range.high),
                    "lt" => req.to_ms = Some(range.low - 1),
                    _ => {
                        req.from_ms = Some(range.low);
                        req.to_ms = Some(range.high);
                    }
                }
            }
            "agent" | "agent:identifier" => req.agent = Some(v.trim_start_matches(kring_audit::audit_event::USER_SYSTEM).trim_start_matches('|').to_string()),
            "patient" => {
                req.client = Some(v.strip_prefix("Patient/").unwrap_or(v).to_string())
            }
            "entity" => match v.split_once('/') {
                Some(("Patient", id)) => req.client = Some(id.to_string()),
                Some((t, id)) => {
                    req.data_type = Some(t.to_string());
                    req.data_id = Some(id.to_string());
                }
                None => return Err(bad("entity needs a reference such as CarePlan/123")),
            },
            "outcome" => {
                for code in v.split(',') {
                    let words: &[&str] = match code {
                        "0" | "success" => &["success"],
                        "4" => &["not-found", "invalid"],
                        "8" | "denied" => &["denied"],
                        "12" | "failed" => &["failed"],
                        other => return Err(bad(format!("outcome is 0, 4, 8 or 12, not '{other}'"))),
                    };
                    req.outcome.extend(words.iter().map(|w| w.to_string()));
                }
            }
            "purpose" => req.purpose = Some(v.rsplit('|').next().unwrap_or(v).to_string()),
            "action" => {
                if !matches!(v.as_str(), "C" | "R" | "U" | "D" | "E") {
                    return Err(bad("action is C, R, U, D or E"));
                }
                req.action = Some(v.clone());
            }
            "_count" => {
                req.count = v
                    .parse::<usize>()
                    .map_err(|_| bad("_count needs a number"))?
                    .clamp(1, 1000)
            }
            "_offset" => req.offset = v.parse().map_err(|_| bad("_offset needs a number"))?,
            "_format" => ndjson = v.contains("ndjson"),
            "_pretty" => {}
            other => {
                return Err(bad(format!(
                    "the access log is searched by date, agent, entity, patient, outcome, purpose, action, _count and _offset; '{other}' is not one of them"
                )))
            }
        }
    }
    Ok((req, ndjson))
}

async fn search(
    state: &AppState,
    ctx: &Ctx,
    params: Vec<(String, String)>,
) -> Result<Response, FhirError> {
    let (req, ndjson) = log_request(&params)?;
    let entries = state
        .record
        .read_log(&ctx.caller, &req, "search-type")
        .await?;
    if ndjson {
        let mut body = Vec::new();
        for e in &entries {
            serde_json::to_writer(&mut body, &to_audit_event(e)).unwrap_or_default();
            body.push(b'\n');
        }
        return Ok(([(header::CONTENT_TYPE, NDJSON)], body).into_response());
    }
    let base = ctx.base.trim_end_matches('/');
    let query = |offset: usize| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params.iter().filter(|(k, _)| k != "_offset") {
            q.append_pair(k, v);
        }
        q.append_pair("_offset", &offset.to_string());
        format!("{base}/AuditEvent?{}", q.finish())
    };
    let mut links = vec![json!({"relation": "self", "url": query(req.offset)})];
    if entries.len() == req.count {
        links.push(json!({"relation": "next", "url": query(req.offset + req.count)}));
    }
    if req.offset > 0 {
        links.push(
            json!({"relation": "previous", "url": query(req.offset.saturating_sub(req.count))}),
        );
    }
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": entries.iter().map(|e| json!({
            "fullUrl": format!("{base}/AuditEvent/{}", e.id),
            "resource": to_audit_event(e),
            "search": {"mode": "match"},
        })).collect::<Vec<_>>(),
    });
    Ok(response::json(
        ctx,
        StatusCode::OK,
        serde_json::to_vec(&bundle).unwrap_or_default(),
    ))
}

fn number(ctx: &Ctx, name: &str) -> Result<u64, FhirError> {
    ctx.params()
        .into_iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| bad(format!("{name} needs a number")))
}

/// `$checkpoint`, `$inclusion-proof?entry=N&size=S`, `$consistency-proof?first=M&second=N`.
async fn operation(state: &AppState, ctx: &Ctx, op: &str) -> Result<Response, FhirError> {
    let log = state.record.access_log();
    let b64 = |h: &[u8]| base64::engine::general_purpose::STANDARD.encode(h);
    let unavailable = |e| FhirError::from(kring_record::RecordError::from(e));
    let body = match op {
        "checkpoint" => match log.latest_checkpoint().await.map_err(unavailable)? {
            Some(cp) => cp.to_json(),
            None => json!({"size": 0}),
        },
        "inclusion-proof" => {
            let (entry, size) = (number(ctx, "entry")?, number(ctx, "size")?);
            if entry >= size {
                return Err(bad("entry must be below size"));
            }
            let proof = log.inclusion_proof(entry, size).await.map_err(unavailable)?;
            let leaf = log.leaf(entry).await.map_err(unavailable)?.unwrap_or_default();
            json!({"entry": entry, "size": size, "leafHash": b64(&leaf), "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>()})
        }
        "consistency-proof" => {
            let (first, second) = (number(ctx, "first")?, number(ctx, "second")?);
            if first > second {
                return Err(bad("first must not be above second"));
            }
            let proof = log.consistency_proof(first, second).await.map_err(unavailable)?;
            json!({"first": first, "second": second, "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>()})
        }
        other => {
            return Err(FhirError::from(kring_record::RecordError::bad_request(
                IssueCode::NotSupported,
                format!("AuditEvent has the operations $checkpoint, $inclusion-proof and $consistency-proof, not ${other}"),
            )))
        }
    };
    Ok(response::json(
        ctx,
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    ))
}

//! `GET /fhir/metadata`: the CapabilityStatement, generated from the same definitions that
//! drive validation and search, so it states exactly what this server does.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kring_fhir::{Definitions, SearchParamType};
use serde_json::{json, Value};

use super::request::Format;
use super::response;
use crate::AppState;

fn statement(defs: &Definitions) -> Value {
    let mut resources = Vec::new();
    for rt in defs.resource_types() {
        let params: Vec<Value> = defs
            .search_params(rt)
            .iter()
            .filter(|p| p.kind.is_indexed() && (p.parsed.is_some() || p.code == "_id" || p.code == "_lastUpdated"))
            .map(|p| json!({"name": p.code, "type": p.kind.as_str(), "definition": format!("http://hl7.org/fhir/SearchParameter/{}-{}", rt, p.code)}))
            .collect();
        let mut includes = vec![json!("*")];
        for p in defs
            .search_params(rt)
            .iter()
            .filter(|p| p.kind == SearchParamType::Reference)
        {
            includes.push(json!(format!("{rt}:{}", p.code)));
        }
        let interactions: Vec<Value> = [
            "read",
            "vread",
            "update",
            "patch",
            "delete",
            "history-instance",
            "history-type",
            "create",
            "search-type",
        ]
        .iter()
        .map(|c| json!({"code": c}))
        .collect();
        let mut r = json!({
            "type": rt,
            "profile": format!("http://hl7.org/fhir/StructureDefinition/{rt}"),
            "interaction": interactions,
            "versioning": "versioned",
            "readHistory": true,
            "updateCreate": true,
            "conditionalCreate": true,
            "conditionalRead": "not-supported",
            "conditionalUpdate": true,
            "conditionalDelete": "single",
            "referencePolicy": ["literal", "logical"],
            "searchInclude": includes,
            "searchRevInclude": ["*"],
            "searchParam": params,
        });
        if rt == "AuditEvent" {
            resources.push(super::audit::capability());
            continue;
        }
        if rt == "Patient" {
            r["operation"] = json!([{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]);
        }
        resources.push(r);
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "Kring",
        "kind": "instance",
        "software": {"name": "Kring", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Kring: the shared client record of a care network"},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                "description": "Partner systems: OAuth2 client credentials at /oauth/token (see /.well-known/smart-configuration) with SMART v2 system scopes, bound to the partner's organisation. People: a session after sign-in with two factors. Every access is decided by need-to-know (circle, data category, consent) and logged. A partner system reads, searches, creates and updates the data of clients in whose circle its organisation stands, within its scopes; it deletes only data its own organisation owns (a client it registered, and that client's data), and only with a scope that grants d. Organisations, practitioners and other shared data are created and updated, never deleted, by partner systems. A 403 names the access rule that refused, unless the caller may not see the client concerned.",
            },
            "documentation": "Search supports the string, token, reference, date, number, quantity and uri parameters listed per type; modifiers :exact, :contains, :missing, :not, :text, :below and :[type]; prefixes eq, ne, lt, gt, le, ge, sa, eb, ap; _id, _lastUpdated, _count, _offset, _sort, _summary, _elements, _total, _include, _revinclude (with :iterate one level), chaining and _has. Composite and special parameters are not supported. XML is not supported.",
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
        }],
    })
}

/// `GET /fhir/metadata`: public, as the specification requires.
pub async fn metadata(State(state): State<AppState>, format: Format) -> Response {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = BYTES.get_or_init(|| {
        serde_json::to_vec(&statement(state.record.definitions())).unwrap_or_default()
    });
    response::json_as(format.pretty, StatusCode::OK, bytes.clone())
}

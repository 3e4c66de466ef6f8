//! The log in standard forms: each entry as a FHIR R4 `AuditEvent` shaped after IHE Basic
//! Audit Log Patterns (BALP), and as an RFC 5424 syslog line.
//!
//! Owns: the mapping from [`AccessEntry`] to those forms; nothing else reads entry fields for
//! export.

use serde_json::{json, Value};

use crate::AccessEntry;

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL: &str = "http://hl7.org/fhir/restful-interaction";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const KRING: &str = "https://kring.example/fhir/CodeSystem";
/// The naming system of Kring's user ids (`account/…`, `client/…`, `operator`).
pub const USER_SYSTEM: &str = "https://kring.example/fhir/NamingSystem/user";

/// The FHIR `AuditEvent.outcome` code of an entry's outcome.
pub fn outcome_code(outcome: &str) -> &'static str {
    match outcome {
        "success" => "0",
        "not-found" | "invalid" => "4",
        "denied" => "8",
        _ => "12",
    }
}

/// The entry as an `AuditEvent`.
pub fn to_audit_event(e: &AccessEntry) -> Value {
    let restful = matches!(
        e.interaction.as_str(),
        "read"
            | "vread"
            | "update"
            | "patch"
            | "delete"
            | "history-instance"
            | "history-type"
            | "history-system"
            | "create"
            | "search-type"
            | "search-system"
            | "batch"
            | "transaction"
            | "operation"
    );
    let subtype = if restful {
        json!({"system": RESTFUL, "code": e.interaction})
    } else {
        json!({"system": format!("{KRING}/access-event"), "code": e.interaction})
    };
    // A person is a human user; a partner system (or the command line) an application.
    let user_type = if e.user.person.is_empty() {
        json!({"coding": [{"system": DCM, "code": "110150", "display": "Application"}]})
    } else {
        json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser", "display": "human user"}]})
    };
    let mut user = json!({
        "type": user_type,
        "who": {"identifier": {"system": USER_SYSTEM, "value": e.user.id}},
        "requestor": true,
        "network": {"address": e.source.address, "type": "2"},
    });
    if !e.user.person.is_empty() {
        user["who"]["reference"] = json!(e.user.person);
    }
    if !e.user.name.is_empty() {
        user["who"]["display"] = json!(e.user.name);
        user["name"] = json!(e.user.name);
    }
    if !e.user.role.is_empty() {
        user["role"] =
            json!([{"coding": [{"system": format!("{KRING}/user-role"), "code": e.user.role}]}]);
    }
    if !e.purpose.is_empty() {
        user["purposeOfUse"] = json!([{"coding": [{"system": ACT_REASON, "code": e.purpose}]}]);
    }
    let mut agents = vec![user];
    if !e.user.organisation.is_empty() {
        agents.push(json!({
            "type": {"text": "organisation the user acted for"},
            "who": {"reference": e.user.organisation},
            "requestor": false,
        }));
    }
    if !e.on_behalf_of.is_empty() {
        agents.push(json!({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": "AGNT", "display": "agent"}], "text": "responsible user"},
            "who": {"reference": e.on_behalf_of},
            "requestor": false,
        }));
    }
    let mut source_agent = json!({
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "who": {"display": e.source.system},
        "requestor": false,
        "network": {"address": e.source.address, "type": "2"},
    });
    if !e.source.user_agent.is_empty() {
        source_agent["name"] = json!(e.source.user_agent);
    }
    agents.push(source_agent);
    let mut entities = Vec::new();
    if !e.client.is_empty() {
        entities.push(json!({
            "what": {"reference": format!("Patient/{}", e.client)},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        }));
    }
    if !e.data.resource_type.is_empty() {
        let what = if e.data.id.is_empty() {
            json!({"display": e.data.resource_type})
        } else {
            json!({"reference": format!("{}/{}", e.data.resource_type, e.data.id)})
        };
        let mut detail = Vec::new();
        if !e.data.category.is_empty() {
            detail.push(json!({"type": "category", "valueString": e.data.category}));
        }
        for r in &e.reasons {
            detail.push(json!({"type": "reason", "valueString": r}));
        }
        let mut data = json!({
            "what": what,
            "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
            "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
        });
        if !detail.is_empty() {
            data["detail"] = json!(detail);
        }
        entities.push(data);
    }
    for g in &e.grounds {
        let reference = g.split('#').next().unwrap_or(g);
        entities.push(json!({
            "what": {"reference": reference, "display": g},
            "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
            "role": {"system": OBJECT_ROLE, "code": "13", "display": "Security Resource"},
            "description": "ground of the access",
        }));
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": e.id.to_string(),
        "type": if restful {
            json!({"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"})
        } else {
            json!({"system": DCM, "code": "110110", "display": "Patient Record"})
        },
        "subtype": [subtype],
        "action": e.action,
        "recorded": e.recorded,
        "outcome": outcome_code(&e.outcome),
        "outcomeDesc": e.outcome,
        "agent": agents,
        "source": {
            "observer": {"display": "Kring"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}],
        },
    });
    if !e.purpose.is_empty() {
        event["purposeOfEvent"] = json!([{"coding": [{"system": ACT_REASON, "code": e.purpose}]}]);
        if !e.stated_reason.is_empty() {
            event["purposeOfEvent"][0]["text"] = json!(e.stated_reason);
        }
    }
    if !entities.is_empty() {
        event["entity"] = json!(entities);
    }
    event
}

/// The entry as one RFC 5424 syslog line (facility 13, log audit; a denial is a warning).
/// Carries ids only: the same data as the entry, never a name of a client.
pub fn to_syslog(e: &AccessEntry, hostname: &str) -> String {
    let severity = if e.outcome == "success" { 6 } else { 4 };
    let pri = 13 * 8 + severity;
    let sd = [
        ("id", e.id.to_string()),
        ("action", e.action.clone()),
        ("interaction", e.interaction.clone()),
        ("outcome", e.outcome.clone()),
        ("user", e.user.id.clone()),
        ("organisation", e.user.organisation.clone()),
        ("client", e.client.clone()),
        ("data", format!("{}/{}", e.data.resource_type, e.data.id)),
        ("purpose", e.purpose.clone()),
        ("address", e.source.address.clone()),
    ]
    .iter()
    .map(|(k, v)| format!("{k}=\"{}\"", sd_escape(v)))
    .collect::<Vec<_>>()
    .join(" ");
    let host = if hostname.is_empty() { "-" } else { hostname };
    format!(
        "<{pri}>1 {} {host} kring - access [kring@32473 {sd}] {} {} {} by {}",
        e.recorded, e.action, e.outcome, e.data.resource_type, e.user.id
    )
}

fn sd_escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(']', "\\]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Data, Origin};

    fn entry() -> AccessEntry {
        AccessEntry {
            id: 42,
            recorded: "2026-11-23T10:00:00.123Z".into(),
            action: "R".into(),
            interaction: "read".into(),
            outcome: "success".into(),
            user: Actor {
                id: "account/jan".into(),
                person: "Practitioner/pr1".into(),
                name: "Jan de Vries".into(),
                role: "PractitionerRole/r1".into(),
                organisation: "Organization/o1".into(),
            },
            client: "p1".into(),
            data: Data {
                resource_type: "CarePlan".into(),
                id: "cp1".into(),
                category: "crisis-plan".into(),
            },
            source: Origin {
                system: "kring-web".into(),
                address: "10.0.0.1".into(),
                user_agent: "Firefox".into(),
            },
            purpose: "ETREAT".into(),
            grounds: vec!["Communication/e1".into()],
            reasons: vec!["rule:emergency-access".into()],
            ..AccessEntry::default()
        }
    }

    #[test]
    fn an_entry_becomes_a_balp_shaped_audit_event() {
        let ev = to_audit_event(&entry());
        insta::assert_json_snapshot!(ev);
        // What `kring watch` reads of an AuditEvent.
        let requestor = ev["agent"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["requestor"] == true)
            .unwrap();
        assert_eq!(requestor["who"]["reference"], "Practitioner/pr1");
        assert_eq!(ev["entity"][0]["what"]["reference"], "Patient/p1");
        assert_eq!(ev["purposeOfEvent"][0]["coding"][0]["code"], "ETREAT");
    }

    #[test]
    fn a_syslog_line_follows_rfc_5424_and_escapes_values() {
        let mut e = entry();
        e.user.id = "account/a\"]b".into();
        let line = to_syslog(&e, "kring-host");
        assert!(line.starts_with(
            "<110>1 2026-11-23T10:00:00.123Z kring-host kring - access [kring@32473 id=\"42\""
        ));
        assert!(line.contains("user=\"account/a\\\"\\]b\""));
        assert!(!line.contains("Jan de Vries"), "no names in syslog");
    }
}

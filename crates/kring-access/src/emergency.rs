//! Emergency access ("break the glass"): a professional outside the circle states a reason and
//! may then open the client's crisis plan, medication and contacts for four hours.
//!
//! A declaration is a FHIR `Communication` with category `emergency-access`, sent by the
//! professional about the client to the case director and the privacy officer, with the reason
//! as its payload. Being a resource of the record, it is durable, notifies its recipients in
//! Kring, and is the ground the access log names.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::facts::reference_id;

pub const EMERGENCY_CATEGORY: &str = "emergency-access";
pub const EMERGENCY_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/notification";
/// How long a declaration opens the record.
pub const EMERGENCY_HOURS: i64 = 4;

/// One running or past declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Emergency {
    pub id: String,
    pub client: String,
    pub practitioner: String,
    pub declared: DateTime<Utc>,
}

impl Emergency {
    pub fn running(&self, now: DateTime<Utc>) -> bool {
        self.declared <= now && now < self.declared + Duration::hours(EMERGENCY_HOURS)
    }

    pub fn from_json(id: &str, v: &Value) -> Option<Emergency> {
        if !crate::facts::is_emergency_declaration(v) {
            return None;
        }
        let client = reference_id(v["subject"]["reference"].as_str()?, "Patient")?;
        let practitioner = reference_id(v["sender"]["reference"].as_str()?, "Practitioner")?;
        let declared = DateTime::parse_from_rfc3339(v["sent"].as_str()?)
            .ok()?
            .with_timezone(&Utc);
        Some(Emergency {
            id: id.to_string(),
            client,
            practitioner,
            declared,
        })
    }
}

/// The declaration to store: from the practitioner, about the client, to the recipients
/// (`PractitionerRole/…` of the case director, `Practitioner/…` or `Organization/…` of the
/// privacy officer), with the stated reason.
pub fn declaration(
    practitioner: &str,
    client: &str,
    reason: &str,
    recipients: &[String],
    now: DateTime<Utc>,
) -> Value {
    json!({
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": EMERGENCY_SYSTEM, "code": EMERGENCY_CATEGORY,
                                  "display": "Noodtoegang"}]}],
        "priority": "urgent",
        "subject": {"reference": format!("Patient/{client}")},
        "sender": {"reference": format!("Practitioner/{practitioner}")},
        "recipient": recipients.iter().map(|r| json!({"reference": r})).collect::<Vec<_>>(),
        "sent": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "reasonCode": [{"text": reason}],
        "payload": [{"contentString": format!("Noodtoegang gevraagd. Reden: {reason}")}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_runs_four_hours() {
        let now = Utc::now();
        let v = declaration(
            "pr1",
            "p1",
            "Crisis at night, no circle member reachable",
            &[],
            now,
        );
        let e = Emergency::from_json("e1", &v).unwrap();
        assert_eq!(e.client, "p1");
        assert_eq!(e.practitioner, "pr1");
        assert!(e.running(now + Duration::minutes(239)));
        assert!(!e.running(now + Duration::minutes(241)));
        assert!(!e.running(now - Duration::minutes(1)));
    }
}

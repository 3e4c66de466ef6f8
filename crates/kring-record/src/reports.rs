//! Reports (rapportages) as Kring keeps them in FHIR: a `Communication` in the category
//! `reports`, with its kind ([`ReportKind`], a second category coding), the author's role as
//! `sender`, the moment as `sent`, the text as `payload[0].contentString`, and — when the
//! client may read it in the portal — the client among its `recipient`s. A correction is a
//! new version of the same Communication: the history keeps the old one (see
//! [`crate::rules`]).

use serde_json::{json, Value};

use kring_access::category::CATEGORY_SYSTEM;

/// The code system of report kinds.
pub const REPORT_KIND_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/report-kind";

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReportKind {
    /// A home visit.
    Visit,
    /// A telephone call.
    Phone,
    /// A meeting (with school, in the network …).
    Meeting,
    /// An incident.
    Incident,
    /// Any other note of the day.
    Note,
}

impl ReportKind {
    pub const ALL: [ReportKind; 5] = [
        ReportKind::Visit,
        ReportKind::Phone,
        ReportKind::Meeting,
        ReportKind::Incident,
        ReportKind::Note,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReportKind::Visit => "visit",
            ReportKind::Phone => "phone",
            ReportKind::Meeting => "meeting",
            ReportKind::Incident => "incident",
            ReportKind::Note => "note",
        }
    }

    pub fn from_code(code: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The Dutch name, as the coding's display.
    pub fn dutch(self) -> &'static str {
        match self {
            ReportKind::Visit => "Huisbezoek",
            ReportKind::Phone => "Telefonisch contact",
            ReportKind::Meeting => "Overleg",
            ReportKind::Incident => "Incident",
            ReportKind::Note => "Notitie",
        }
    }
}

/// Whether a Communication is a report (not an emergency declaration, not a message).
pub fn is_report(v: &Value) -> bool {
    codings(v).any(|c| c["system"] == CATEGORY_SYSTEM && c["code"] == "reports")
}

fn codings(v: &Value) -> impl Iterator<Item = &Value> {
    v["category"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
}

/// The kind of a report (none when it was written without one).
pub fn kind_of(v: &Value) -> Option<ReportKind> {
    codings(v)
        .find(|c| c["system"] == REPORT_KIND_SYSTEM)
        .and_then(|c| c["code"].as_str())
        .and_then(ReportKind::from_code)
}

/// Whether the client may read the report in the portal: the client is a recipient.
pub fn for_client(v: &Value) -> bool {
    let Some(client) = v["subject"]["reference"].as_str() else {
        return false;
    };
    v["recipient"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["reference"].as_str() == Some(client))
}

/// The text of a report.
pub fn text_of(v: &Value) -> String {
    v["payload"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["contentString"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A new report on client `client` by the professional in role `sender` (a reference), sent
/// at `sent` (a FHIR dateTime).
pub fn new_report(
    client: &str,
    sender: &str,
    kind: ReportKind,
    text: &str,
    for_the_client: bool,
    sent: &str,
) -> Value {
    let mut r = json!({
        "resourceType": "Communication", "status": "completed",
        "category": [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": "reports", "display": "Rapportage"}]},
            {"coding": [{"system": REPORT_KIND_SYSTEM, "code": kind.code(), "display": kind.dutch()}]}],
        "subject": {"reference": format!("Patient/{client}")},
        "sent": sent,
        "sender": {"reference": sender},
        "payload": [{"contentString": text}],
    });
    set_for_client(&mut r, for_the_client);
    r
}

/// Marks a report as readable for the client, or not (the other recipients stay).
pub fn set_for_client(report: &mut Value, yes: bool) {
    let Some(client) = report["subject"]["reference"].as_str().map(str::to_string) else {
        return;
    };
    let mut recipients: Vec<Value> = report["recipient"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["reference"].as_str() != Some(client.as_str()))
        .collect();
    if yes {
        recipients.push(json!({ "reference": client }));
    }
    match (recipients.is_empty(), report.as_object_mut()) {
        (true, Some(o)) => {
            o.shift_remove("recipient");
        }
        (false, Some(o)) => {
            o.insert("recipient".into(), Value::Array(recipients));
        }
        _ => {}
    }
}

/// Changes a report's text and kind for a correction, keeping everything else.
pub fn correct(report: &mut Value, kind: ReportKind, text: &str) {
    report["payload"] = json!([{ "contentString": text }]);
    let mut cats: Vec<Value> = report["category"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| {
            !c["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["system"] == REPORT_KIND_SYSTEM)
        })
        .collect();
    cats.push(json!({"coding": [{"system": REPORT_KIND_SYSTEM, "code": kind.code(), "display": kind.dutch()}]}));
    report["category"] = Value::Array(cats);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_as_written() {
        let mut r = new_report(
            "c1",
            "PractitionerRole/p",
            ReportKind::Phone,
            "Gebeld.",
            true,
            "2026-12-06T10:00:00+01:00",
        );
        assert!(is_report(&r));
        assert_eq!(kind_of(&r), Some(ReportKind::Phone));
        assert!(for_client(&r));
        assert_eq!(text_of(&r), "Gebeld.");
        set_for_client(&mut r, false);
        assert!(!for_client(&r) && r.get("recipient").is_none());
        correct(&mut r, ReportKind::Visit, "Huisbezoek, niet gebeld.");
        assert_eq!(kind_of(&r), Some(ReportKind::Visit));
        assert!(is_report(&r), "a correction stays a report");
        assert_eq!(text_of(&r), "Huisbezoek, niet gebeld.");
    }
}

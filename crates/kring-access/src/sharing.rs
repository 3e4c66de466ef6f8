//! Sharing grants: what a sharing decision (the Kiezen en Delen aid) allows, as a ground of its
//! own beside membership and consent.
//!
//! A grant is modelled on a Nuts authorization credential and stored as a FHIR `Consent` coded
//! `sharing-grant`: the custodian organisation (`Consent.organization`), the recipient
//! (`provision.actor`, an organisation, professional or role), the client (`patient`), the
//! legal ground (`policyRule`, a [`Ground`]), the aid's answer as evidence (`sourceReference`,
//! a `QuestionnaireResponse`), the data categories (`provision.class`) and the period
//! (`provision.period`). A withdrawn grant has status `inactive`. The record refuses a grant
//! without an aid answer behind it (`kring_record::sharing`); here it is only read.

use chrono::NaiveDate;
use serde_json::Value;

use crate::category::{Category, CATEGORY_SYSTEM};
use crate::facts::{date_of, reference_id};

/// The code system and code that mark a `Consent` as a sharing grant.
pub const GRANT_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/consent-kind";
pub const GRANT_CODE: &str = "sharing-grant";
/// The code system of the legal grounds ([`Ground`]), in `Consent.policyRule`.
pub const GROUND_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/sharing-ground";
/// The canonical URL of the sharing aid's questionnaire (Kiezen en Delen).
pub const AID_QUESTIONNAIRE: &str = "https://kring.example/fhir/Questionnaire/kiezen-en-delen";
/// The id the sharing aid's questionnaire is stored under (its words are the privacy
/// officer's to change).
pub const AID_QUESTIONNAIRE_ID: &str = "kiezen-en-delen";
/// The canonical URL of the meldcode's case questionnaire (domestic violence and child abuse):
/// a case in the record is a `QuestionnaireResponse` of it, in the category `safety`.
pub const MELDCODE_QUESTIONNAIRE: &str = "https://kring.example/fhir/Questionnaire/meldcode";
/// The extension (valueDate) that withholds a grant, and the aid answer behind it, from the
/// client and their representatives until that date: telling them now would endanger the
/// child or another person.
pub const WITHHELD_EXTENSION: &str =
    "https://kring.example/fhir/StructureDefinition/withheld-from-client-until";
/// How long a grant may at most withhold itself from the client.
pub const MAX_WITHHELD_DAYS: i64 = 90;

/// The legal ground a share rests on (the rule tree of Kiezen en Delen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ground {
    /// The recipient is inside the treatment relationship and needs it for that task
    /// (Jeugdwet art. 7.3.11 lid 2; WGBO art. 7:457 lid 2 BW).
    CoTreatment,
    /// The certified institution carrying out a child protection order
    /// (Jeugdwet art. 7.3.11 lid 4).
    ProtectionOrder,
    /// The right to report to Veilig Thuis (Wmo 2015 art. 5.2.6; Jeugdwet art. 7.3.11 lid 4).
    VeiligThuisReport,
    /// Consent of whoever decides under the age rules (WGBO art. 7:457 lid 1; Jeugdwet
    /// art. 7.3.11 lid 1; AVG art. 6(1)(a) and 9(2)(a)).
    Consent,
    /// Conflict of duties (conflict van plichten): silence would cause serious harm and
    /// every condition is met.
    ConflictOfDuties,
}

impl Ground {
    pub const ALL: [Ground; 5] = [
        Ground::CoTreatment,
        Ground::ProtectionOrder,
        Ground::VeiligThuisReport,
        Ground::Consent,
        Ground::ConflictOfDuties,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Ground::CoTreatment => "co-treatment",
            Ground::ProtectionOrder => "protection-order",
            Ground::VeiligThuisReport => "veilig-thuis-report",
            Ground::Consent => "consent",
            Ground::ConflictOfDuties => "conflict-of-duties",
        }
    }

    pub fn from_code(code: &str) -> Option<Ground> {
        Ground::ALL.into_iter().find(|g| g.code() == code)
    }

    /// The legal anchor, as it is cited.
    pub fn anchor(self) -> &'static str {
        match self {
            Ground::CoTreatment => "Jeugdwet art. 7.3.11 lid 2; WGBO (BW art. 7:457 lid 2)",
            Ground::ProtectionOrder => "Jeugdwet art. 7.3.11 lid 4",
            Ground::VeiligThuisReport => "Wmo 2015 art. 5.2.6; Jeugdwet art. 7.3.11 lid 4",
            Ground::Consent => "WGBO (BW art. 7:457 lid 1); Jeugdwet art. 7.3.11 lid 1",
            Ground::ConflictOfDuties => {
                "conflict van plichten (jurisprudentie; Jeugdwet art. 7.3.11 lid 3)"
            }
        }
    }

    /// The AVG ground of the processing (WORK.md: prefer 6(1)(c)/(e) with 9(2)(h) and UAVG
    /// art. 30(3) for health data over consent, which is weak in dependent relationships).
    pub fn avg(self) -> &'static str {
        match self {
            Ground::Consent => "AVG art. 6 lid 1 onder a, art. 9 lid 2 onder a",
            Ground::CoTreatment => {
                "AVG art. 6 lid 1 onder c, art. 9 lid 2 onder h; UAVG art. 30 lid 3"
            }
            Ground::ProtectionOrder | Ground::VeiligThuisReport => {
                "AVG art. 6 lid 1 onder c en e, art. 9 lid 2 onder g; UAVG art. 30 lid 3"
            }
            Ground::ConflictOfDuties => "AVG art. 6 lid 1 onder d, art. 9 lid 2 onder c",
        }
    }

    /// The longest period a grant on this ground may run, in days: a share for a task runs
    /// while the task does, a report or an emergency is a moment.
    pub fn max_days(self) -> i64 {
        match self {
            Ground::CoTreatment => 180,
            Ground::ProtectionOrder => 365,
            Ground::VeiligThuisReport => 14,
            Ground::Consent => 365,
            Ground::ConflictOfDuties => 14,
        }
    }

    /// The period a grant gets unless the professional chooses a shorter one.
    pub fn default_days(self) -> i64 {
        self.max_days().min(30)
    }

    /// Whether the ground holds without consent, and so also against a refusal.
    pub fn without_consent(self) -> bool {
        self != Ground::Consent
    }
}

/// What the decision's facts tell the sharing aid about a client and a recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharingFacts {
    /// The recipient (or, for an organisation, one acting for it) has a running membership in
    /// the client's circle.
    pub in_circle: Option<bool>,
    /// The client's valid consents for the recipient's organisation: `Some(true)` when they
    /// permit every category asked, `Some(false)` when they refuse one, `None` otherwise.
    pub consent: Option<bool>,
    /// The client's age in whole years.
    pub age: Option<u32>,
}

/// The code system that marks what kind of organisation a recipient is, where the law names
/// it (`Organization.type`).
pub const ORGANISATION_KIND_SYSTEM: &str =
    "https://kring.example/fhir/CodeSystem/organisation-kind";

/// What kind of organisation a recipient is, as far as the sharing grounds care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    /// Veilig Thuis (advice and reporting centre for domestic violence and child abuse).
    VeiligThuis,
    /// A certified institution (gecertificeerde instelling) carrying out child protection.
    CertifiedInstitution,
    /// Any other organisation.
    Other,
}

impl RecipientKind {
    pub fn code(self) -> &'static str {
        match self {
            RecipientKind::VeiligThuis => "veilig-thuis",
            RecipientKind::CertifiedInstitution => "gecertificeerde-instelling",
            RecipientKind::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<RecipientKind> {
        [
            RecipientKind::VeiligThuis,
            RecipientKind::CertifiedInstitution,
            RecipientKind::Other,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }

    /// The kind of an `Organization` resource.
    pub fn of_organisation(v: &Value) -> RecipientKind {
        v["type"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["coding"].as_array().into_iter().flatten())
            .filter(|c| c["system"] == ORGANISATION_KIND_SYSTEM)
            .find_map(|c| c["code"].as_str().and_then(RecipientKind::from_code))
            .unwrap_or(RecipientKind::Other)
    }
}

/// One sharing grant, as the decision weighs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub id: String,
    pub client: String,
    pub custodian: Option<String>,
    /// `Organization/…`, `Practitioner/…` or `PractitionerRole/…`.
    pub recipient: String,
    pub categories: Vec<Category>,
    /// Specific items (`Type/id`, from `provision.data`): when any are named, the grant
    /// opens only those of its categories.
    pub items: Vec<String>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub active: bool,
    pub ground: Ground,
    /// The aid's answer (QuestionnaireResponse id).
    pub evidence: Option<String>,
    pub withheld_until: Option<NaiveDate>,
}

impl Grant {
    /// Reads a grant from its `Consent`; `None` when the Consent is no grant or lacks a
    /// client, a recipient or a ground.
    pub fn from_json(id: &str, v: &Value) -> Option<Grant> {
        if !is_grant(v) {
            return None;
        }
        let p = &v["provision"];
        let recipient = p["actor"]
            .as_array()?
            .iter()
            .filter_map(|a| a["reference"]["reference"].as_str())
            .find(|r| {
                ["Organization/", "Practitioner/", "PractitionerRole/"]
                    .iter()
                    .any(|t| r.starts_with(t))
            })?
            .to_string();
        let ground = v["policyRule"]["coding"]
            .as_array()?
            .iter()
            .filter(|c| c["system"] == GROUND_SYSTEM)
            .find_map(|c| c["code"].as_str().and_then(Ground::from_code))?;
        Some(Grant {
            id: id.to_string(),
            client: reference_id(v["patient"]["reference"].as_str()?, "Patient")?,
            custodian: v["organization"][0]["reference"]
                .as_str()
                .and_then(|r| reference_id(r, "Organization")),
            recipient,
            categories: p["class"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["system"] == CATEGORY_SYSTEM)
                .filter_map(|c| c["code"].as_str().and_then(Category::from_code))
                .filter(|c| Category::GRANTABLE.contains(c))
                .collect(),
            items: p["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["reference"]["reference"].as_str())
                .map(str::to_string)
                .collect(),
            start: date_of(&p["period"]["start"]),
            end: date_of(&p["period"]["end"]),
            active: v["status"] == "active" && p["type"] == "permit",
            ground,
            evidence: v["sourceReference"]["reference"]
                .as_str()
                .and_then(|r| reference_id(r, "QuestionnaireResponse")),
            withheld_until: withheld_until(v),
        })
    }

    /// Whether the grant covers one piece of data: one of its categories and, when it names
    /// items, one of them; who the client is always (data without its client is of no use).
    pub fn covers(&self, category: Category, rtype: &str, id: Option<&str>) -> bool {
        if category == Category::Identity {
            return true;
        }
        // A meldcode case (the only QuestionnaireResponse in `safety`) is never shared by a
        // grant: it stays with the professionals named for safety.
        if category == Category::Safety && rtype == "QuestionnaireResponse" {
            return false;
        }
        let prefix = format!("{rtype}/");
        self.categories.contains(&category)
            && (self.items.is_empty()
                || match id {
                    Some(id) => self.items.iter().any(|i| *i == format!("{prefix}{id}")),
                    // A question about the type (a search, a page's tab): some items of it
                    // are open; each resource is then decided on its own.
                    None => self.items.iter().any(|i| i.starts_with(&prefix)),
                })
    }

    /// Whether the grant allows access on `today`: active, within its period, which must
    /// have an end (a grant never runs without one).
    pub fn running(&self, today: NaiveDate) -> bool {
        self.active && self.start.is_none_or(|s| s <= today) && self.end.is_some_and(|e| today <= e)
    }
}

/// Whether a Consent is a sharing grant (coded `sharing-grant`).
pub fn is_grant(v: &Value) -> bool {
    v["category"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            c["coding"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["system"] == GRANT_SYSTEM && c["code"] == GRANT_CODE)
            })
        })
    })
}

/// Whether a QuestionnaireResponse answers the sharing aid's questionnaire (any version).
pub fn is_aid_answer(v: &Value) -> bool {
    v["questionnaire"]
        .as_str()
        .is_some_and(|q| q.split('|').next() == Some(AID_QUESTIONNAIRE))
}

/// Whether a QuestionnaireResponse is a meldcode case.
pub fn is_meldcode_case(v: &Value) -> bool {
    v["questionnaire"]
        .as_str()
        .is_some_and(|q| q.split('|').next() == Some(MELDCODE_QUESTIONNAIRE))
}

/// [`is_meldcode_case`] on stored bytes.
pub fn is_meldcode_case_bytes(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| is_meldcode_case(&v))
}

/// [`is_grant`] on stored bytes.
pub fn is_grant_bytes(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| is_grant(&v))
}

/// [`is_aid_answer`] on stored bytes.
pub fn is_aid_answer_bytes(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| is_aid_answer(&v))
}

/// Until when a grant or aid answer is withheld from the client, if it is.
pub fn withheld_until(v: &Value) -> Option<NaiveDate> {
    v["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == WITHHELD_EXTENSION)
        .and_then(|e| date_of(&e["valueDate"]))
}

/// Whether a stored grant, aid answer or meldcode case is withheld from the client on
/// `today`: until its date, and a meldcode case as long as it is open (every version of it
/// that was open, so its history does not show it either).
pub fn withheld_from_client(body: &[u8], today: NaiveDate) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    (is_meldcode_case(&v) && v["status"] == "in-progress")
        || withheld_until(&v).is_some_and(|until| today <= until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grant() -> Value {
        json!({
            "resourceType": "Consent", "status": "active",
            "category": [{"coding": [{"system": GRANT_SYSTEM, "code": GRANT_CODE}]}],
            "patient": {"reference": "Patient/p1"},
            "organization": [{"reference": "Organization/o1"}],
            "policyRule": {"coding": [{"system": GROUND_SYSTEM, "code": "conflict-of-duties"}]},
            "sourceReference": {"reference": "QuestionnaireResponse/qr1"},
            "provision": {"type": "permit",
                "period": {"start": "2026-12-01", "end": "2026-12-14"},
                "actor": [{"reference": {"reference": "Organization/o2"}}],
                "class": [{"system": CATEGORY_SYSTEM, "code": "crisis-plan"},
                          {"system": CATEGORY_SYSTEM, "code": "circle"}]},
            "extension": [{"url": WITHHELD_EXTENSION, "valueDate": "2026-12-10"}]
        })
    }

    #[test]
    fn a_grant_reads_from_its_consent() {
        let g = Grant::from_json("g1", &grant()).unwrap();
        assert_eq!(g.client, "p1");
        assert_eq!(g.recipient, "Organization/o2");
        assert_eq!(g.custodian.as_deref(), Some("o1"));
        assert_eq!(g.ground, Ground::ConflictOfDuties);
        // Only categories a grant can name: never the circle, the log, consents.
        assert_eq!(g.categories, vec![Category::CrisisPlan]);
        assert_eq!(g.evidence.as_deref(), Some("qr1"));
        assert!(g.covers(Category::CrisisPlan, "CarePlan", Some("any")));
        assert!(g.covers(Category::Identity, "Patient", Some("p1")));
        assert!(!g.covers(Category::Reports, "Communication", Some("r1")));
        let mut one = grant();
        one["provision"]["data"] = serde_json::json!([{"meaning": "instance", "reference": {"reference": "CarePlan/cp1"}}]);
        let one = Grant::from_json("g2", &one).unwrap();
        assert!(one.covers(Category::CrisisPlan, "CarePlan", Some("cp1")));
        assert!(!one.covers(Category::CrisisPlan, "CarePlan", Some("cp2")));
        assert!(one.covers(Category::CrisisPlan, "CarePlan", None));
        assert!(!one.covers(Category::CrisisPlan, "Goal", None));
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert!(g.running(day("2026-12-14")));
        assert!(!g.running(day("2026-12-15")));
        assert!(!g.running(day("2026-11-30")));
        let bytes = serde_json::to_vec(&grant()).unwrap();
        assert!(withheld_from_client(&bytes, day("2026-12-10")));
        assert!(!withheld_from_client(&bytes, day("2026-12-11")));
    }

    #[test]
    fn a_grant_without_an_end_or_withdrawn_allows_nothing() {
        let mut v = grant();
        v["provision"]["period"]
            .as_object_mut()
            .unwrap()
            .remove("end");
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert!(!Grant::from_json("g", &v).unwrap().running(day));
        let mut v = grant();
        v["status"] = json!("inactive");
        assert!(!Grant::from_json("g", &v).unwrap().running(day));
        let mut v = grant();
        v["category"] = json!([]);
        assert!(Grant::from_json("g", &v).is_none());
    }

    #[test]
    fn every_ground_reads_back() {
        for g in Ground::ALL {
            assert_eq!(Ground::from_code(g.code()), Some(g));
            assert!(g.default_days() <= g.max_days());
        }
        assert!(!Ground::Consent.without_consent());
    }
}

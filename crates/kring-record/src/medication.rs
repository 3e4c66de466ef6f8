//! Medication: the schedule of a client (a `MedicationRequest` with its dosage and times of
//! day), the doses a round must give, and the rule every administration write obeys — from a
//! page or a partner's ECD alike: a dose of high-risk medication (a configurable list:
//! insulin, anticoagulants, opioids, antiepileptics …) counts as given only after a second,
//! *different* professional checked medication, dose, client and time, shortly before or at
//! the administration.
//!
//! An administration is a `MedicationAdministration`: `status` `completed` (given),
//! `not-done` (refused or not given, with `statusReason`), or `in-progress` (prepared, waiting
//! for its double check); the moment it was due in the Nictiz extension *AgreedDateTime*; the
//! double check as a performer with function `verifier` (FHIR's med-admin-perform-function),
//! with the moment of the check in the extension `checked-at`.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;

/// The moment a dose was due (Nictiz mp-MedicationAdministration2, NL-CM:9.13.23171).
pub const AGREED_AT: &str =
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationAdministration2.AgreedDateTime";
/// A deviation from the agreement (given late …), Nictiz NL-CM:9.13.21191.
pub const DEVIATION: &str =
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationAdministration2.ReasonForDeviation";
/// When the verifier checked (on the verifier's performer entry).
pub const CHECKED_AT: &str = "https://kring.example/fhir/StructureDefinition/checked-at";
/// A prescriber's flag that a medication is high-risk (besides the configured list).
pub const HIGH_RISK_FLAG: &str =
    "https://kring.example/fhir/StructureDefinition/high-risk-medication";
/// The code system of performer functions.
pub const FUNCTION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/med-admin-perform-function";
/// The ATC code system.
pub const ATC_SYSTEM: &str = "http://www.whocc.no/atc";

/// A dose may be given this long before or after it was due without being late.
pub const ON_TIME_MINUTES: i64 = 60;
/// A double check counts for this long before the administration.
pub const CHECK_VALID_MINUTES: i64 = 30;

/// Which medication is high-risk: names (as they are written, any case, any part of the
/// medication's text) and ATC code prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HighRisk {
    pub names: Vec<String>,
    pub atc: Vec<String>,
}

impl Default for HighRisk {
    /// The Dutch high-risk medication of the *Veilige principes in de medicatieketen* and
    /// the care sector's double-check lists.
    fn default() -> Self {
        HighRisk {
            names: [
                "insuline",
                "insulin",
                "acenocoumarol",
                "fenprocoumon",
                "warfarine",
                "apixaban",
                "rivaroxaban",
                "dabigatran",
                "edoxaban",
                "heparine",
                "nadroparine",
                "enoxaparine",
                "dalteparine",
                "tinzaparine",
                "morfine",
                "oxycodon",
                "fentanyl",
                "methadon",
                "buprenorfine",
                "hydromorfon",
                "tapentadol",
                "valproïnezuur",
                "valproinezuur",
                "valproaat",
                "levetiracetam",
                "carbamazepine",
                "fenytoïne",
                "fenytoine",
                "lamotrigine",
                "lithium",
                "clozapine",
                "methotrexaat",
                "digoxine",
            ]
            .map(str::to_string)
            .to_vec(),
            atc: [
                "A10A", "B01A", "N02A", "N03A", "N05AN", "L01BA01", "C01AA05",
            ]
            .map(str::to_string)
            .to_vec(),
        }
    }
}

impl HighRisk {
    /// A list from the configuration: `atc:` entries are ATC prefixes, the rest names.
    pub fn from_list(list: &[String]) -> HighRisk {
        let mut out = HighRisk {
            names: vec![],
            atc: vec![],
        };
        for item in list {
            match item.strip_prefix("atc:") {
                Some(code) => out.atc.push(code.trim().to_uppercase()),
                None => out.names.push(item.trim().to_lowercase()),
            }
        }
        out
    }

    /// Whether a medication (a `medicationCodeableConcept`) is on the list.
    pub fn covers(&self, concept: &Value) -> bool {
        let text = concept["text"].as_str().unwrap_or_default().to_lowercase();
        let mut words: Vec<String> = vec![text];
        for c in concept["coding"].as_array().into_iter().flatten() {
            if let Some(d) = c["display"].as_str() {
                words.push(d.to_lowercase());
            }
            if c["system"] == ATC_SYSTEM {
                if let Some(code) = c["code"].as_str() {
                    if self.atc.iter().any(|p| code.starts_with(p.as_str())) {
                        return true;
                    }
                }
            }
        }
        words.iter().any(|w| {
            self.names
                .iter()
                .any(|n| !n.is_empty() && w.contains(n.as_str()))
        })
    }

    /// Whether a schedule is high-risk: flagged by the prescriber, or on the list.
    pub fn request_is_high_risk(&self, request: &Value) -> bool {
        let flagged = request["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["url"] == HIGH_RISK_FLAG && e["valueBoolean"] == Value::Bool(true));
        flagged || self.covers(&request["medicationCodeableConcept"])
    }
}

/// Why an administration may not be recorded as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MedicationRefusal {
    #[error("this is high-risk medication: a second professional must check medication, dose, client and time before the dose counts as given (a performer with function verifier)")]
    CheckMissing,
    #[error(
        "the double check must be done by a different professional than the one who gives the dose"
    )]
    SamePerson,
    #[error("the double check must name when it was done (extension checked-at on the verifier)")]
    CheckUntimed,
    #[error(
        "the double check was done after the dose was given; check before or at the administration"
    )]
    CheckAfter,
    #[error("the double check was done more than {CHECK_VALID_MINUTES} minutes before the administration; check again")]
    CheckTooEarly,
    #[error("a professional records a double check only in their own name")]
    CheckForSomeoneElse,
    #[error("an administration that was not given must say why (statusReason)")]
    ReasonMissing,
}

/// The practitioner behind a performer reference (`PractitionerRole/…` through `roles`).
fn practitioner_of(reference: &str, roles: &dyn Fn(&str) -> Option<String>) -> String {
    match reference.strip_prefix("PractitionerRole/") {
        Some(role) => roles(role)
            .map(|p| format!("Practitioner/{p}"))
            .unwrap_or_else(|| reference.to_string()),
        None => reference.to_string(),
    }
}

fn function_of(p: &Value) -> Option<&str> {
    p["function"]["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == FUNCTION_SYSTEM)?["code"]
        .as_str()
}

/// The verifier entries of an administration: (actor reference, checked at).
pub fn verifiers(v: &Value) -> Vec<(String, Option<i64>)> {
    v["performer"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| function_of(p) == Some("verifier"))
        .map(|p| {
            let at = p["extension"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["url"] == CHECKED_AT)
                .and_then(|e| e["valueDateTime"].as_str())
                .and_then(kring_fhir::datetime::parse_range)
                .map(|r| r.low);
            (
                p["actor"]["reference"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                at,
            )
        })
        .collect()
}

/// The performers who gave the dose (no function, or function `performer`).
pub fn givers(v: &Value) -> Vec<String> {
    v["performer"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| matches!(function_of(p), None | Some("performer")))
        .filter_map(|p| p["actor"]["reference"].as_str().map(str::to_string))
        .collect()
}

/// The rule for an administration as it would be stored. `old` is the version it replaces;
/// `caller_role` the professional's own role (`None` for a partner system, which records
/// what its staff did); `roles` tells the practitioner of a role; `high_risk` whether its
/// medication is high-risk.
pub fn check_administration(
    new: &Value,
    old: Option<&Value>,
    caller_role: Option<&str>,
    roles: &dyn Fn(&str) -> Option<String>,
    high_risk: bool,
) -> Result<(), MedicationRefusal> {
    let status = new["status"].as_str().unwrap_or_default();
    if status == "not-done" && new["statusReason"].as_array().is_none_or(|r| r.is_empty()) {
        return Err(MedicationRefusal::ReasonMissing);
    }
    // A professional adds a double check in their own name only.
    if let Some(role) = caller_role {
        let before: Vec<String> = old
            .map(verifiers)
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.0)
            .collect();
        for (actor, _) in verifiers(new) {
            if !before.contains(&actor) && actor != format!("PractitionerRole/{role}") {
                return Err(MedicationRefusal::CheckForSomeoneElse);
            }
        }
    }
    let checks = verifiers(new);
    let givers: Vec<String> = givers(new)
        .iter()
        .map(|g| practitioner_of(g, roles))
        .collect();
    for (actor, _) in &checks {
        if givers.contains(&practitioner_of(actor, roles)) {
            return Err(MedicationRefusal::SamePerson);
        }
    }
    if !(high_risk && status == "completed") {
        return Ok(());
    }
    if checks.is_empty() {
        return Err(MedicationRefusal::CheckMissing);
    }
    let times: Vec<i64> = checks.iter().filter_map(|(_, at)| *at).collect();
    if times.is_empty() {
        return Err(MedicationRefusal::CheckUntimed);
    }
    let given = new["effectiveDateTime"]
        .as_str()
        .and_then(kring_fhir::datetime::parse_range)
        .map(|r| r.low)
        .unwrap_or_else(|| times.iter().copied().max().unwrap_or_default());
    // The check that counts is the latest one done before the dose was given (a dose whose
    // first check grew too old is checked again).
    let Some(checked) = times.iter().copied().filter(|t| *t <= given + 60_000).max() else {
        return Err(MedicationRefusal::CheckAfter);
    };
    if given - checked > CHECK_VALID_MINUTES * 60_000 {
        return Err(MedicationRefusal::CheckTooEarly);
    }
    Ok(())
}

/// One dose a schedule calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dose {
    /// `MedicationRequest/…`.
    pub request: String,
    pub client: String,
    pub medication: String,
    pub dose: String,
    pub due: NaiveTime,
    pub high_risk: bool,
}

/// The times of day a schedule gives a dose (`timing.repeat.timeOfDay`), with the dose text.
pub fn doses_of(request_id: &str, client: &str, v: &Value, high: &HighRisk) -> Vec<Dose> {
    if !matches!(v["status"].as_str(), Some("active")) {
        return vec![];
    }
    let medication = v["medicationCodeableConcept"]["text"]
        .as_str()
        .or_else(|| v["medicationCodeableConcept"]["coding"][0]["display"].as_str())
        .unwrap_or_default()
        .to_string();
    let high_risk = high.request_is_high_risk(v);
    let mut out = Vec::new();
    for d in v["dosageInstruction"].as_array().into_iter().flatten() {
        let dose = d["text"].as_str().unwrap_or_default().to_string();
        for t in d["timing"]["repeat"]["timeOfDay"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(due) = t
                .as_str()
                .and_then(|s| NaiveTime::parse_from_str(s, "%H:%M:%S").ok())
            {
                out.push(Dose {
                    request: format!("MedicationRequest/{request_id}"),
                    client: client.to_string(),
                    medication: medication.clone(),
                    dose: dose.clone(),
                    due,
                    high_risk,
                });
            }
        }
    }
    out
}

/// Where a dose stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoseState {
    /// Not yet due, or due within the window: to give.
    Due,
    /// Prepared, waiting for its double check.
    AwaitingCheck,
    /// Checked, to give.
    Checked,
    Given,
    GivenLate,
    Refused,
    NotGiven,
    /// Past its window, nothing recorded.
    Missed,
}

/// The state of a dose due at `due_ms`, from the administration recorded for it (if any), at
/// `now_ms`.
pub fn dose_state(due_ms: i64, administration: Option<&Value>, now_ms: i64) -> DoseState {
    let late = ON_TIME_MINUTES * 60_000;
    match administration {
        None if now_ms > due_ms + late => DoseState::Missed,
        None => DoseState::Due,
        Some(a) => match a["status"].as_str() {
            Some("completed") => {
                let given = a["effectiveDateTime"]
                    .as_str()
                    .and_then(kring_fhir::datetime::parse_range)
                    .map(|r| r.low)
                    .unwrap_or(due_ms);
                if given > due_ms + late {
                    DoseState::GivenLate
                } else {
                    DoseState::Given
                }
            }
            Some("not-done") => {
                let refused = a["statusReason"].as_array().into_iter().flatten().any(|r| {
                    r["coding"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["code"] == "refused")
                });
                if refused {
                    DoseState::Refused
                } else {
                    DoseState::NotGiven
                }
            }
            Some("in-progress") if verifiers(a).is_empty() => DoseState::AwaitingCheck,
            Some("in-progress") => DoseState::Checked,
            _ if now_ms > due_ms + late => DoseState::Missed,
            _ => DoseState::Due,
        },
    }
}

/// The moment (ms, UTC) of a time of day on a Dutch day.
pub fn due_ms(day: NaiveDate, at: NaiveTime) -> i64 {
    let naive = day.and_time(at);
    let guess = naive.and_utc().timestamp_millis();
    // Dutch time is UTC+1 or +2: take the offset of that moment.
    let offset = kring_fhir::datetime::dutch_offset_ms(guess - 3_600_000);
    guess - offset
}

/// A moment as a FHIR dateTime (UTC, seconds).
pub fn fhir_moment(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dose_checked_again_counts_the_latest_check() {
        let check = |at: &str| {
            json!({"function": {"coding": [{"system": FUNCTION_SYSTEM, "code": "verifier"}]},
            "actor": {"reference": "PractitionerRole/kees-a"},
            "extension": [{"url": CHECKED_AT, "valueDateTime": at}]})
        };
        let adm = json!({"resourceType": "MedicationAdministration", "status": "completed",
            "effectiveDateTime": "2026-12-06T09:00:00Z",
            "performer": [{"actor": {"reference": "PractitionerRole/anna-a"}},
                check("2026-12-06T08:00:00Z"), check("2026-12-06T08:55:00Z")]});
        let roles = |r: &str| Some(r.trim_end_matches("-a").to_string());
        assert_eq!(check_administration(&adm, None, None, &roles, true), Ok(()));
        let mut only_old = adm.clone();
        only_old["performer"].as_array_mut().unwrap().pop();
        assert_eq!(
            check_administration(&only_old, None, None, &roles, true),
            Err(MedicationRefusal::CheckTooEarly)
        );
    }

    fn roles(r: &str) -> Option<String> {
        Some(match r {
            "anna-a" | "anna-b" => "anna".into(),
            other => other.trim_end_matches("-role").to_string(),
        })
    }

    fn admin(status: &str, giver: &str, verifier: Option<(&str, &str)>, at: &str) -> Value {
        let mut performers =
            vec![json!({"actor": {"reference": format!("PractitionerRole/{giver}")}})];
        if let Some((v, when)) = verifier {
            performers.push(json!({
                "function": {"coding": [{"system": FUNCTION_SYSTEM, "code": "verifier"}]},
                "actor": {"reference": format!("PractitionerRole/{v}")},
                "extension": [{"url": CHECKED_AT, "valueDateTime": when}]}));
        }
        json!({"resourceType": "MedicationAdministration", "status": status,
               "effectiveDateTime": at, "performer": performers})
    }

    #[test]
    fn high_risk_medication_needs_a_timely_check_by_someone_else() {
        let ok = admin(
            "completed",
            "piet-role",
            Some(("anna-a", "2026-12-06T07:50:00Z")),
            "2026-12-06T08:00:00Z",
        );
        assert_eq!(check_administration(&ok, None, None, &roles, true), Ok(()));
        let none = admin("completed", "piet-role", None, "2026-12-06T08:00:00Z");
        assert_eq!(
            check_administration(&none, None, None, &roles, true),
            Err(MedicationRefusal::CheckMissing)
        );
        assert_eq!(
            check_administration(&none, None, None, &roles, false),
            Ok(()),
            "not high-risk"
        );
        let same = admin(
            "completed",
            "anna-a",
            Some(("anna-b", "2026-12-06T07:50:00Z")),
            "2026-12-06T08:00:00Z",
        );
        assert_eq!(
            check_administration(&same, None, None, &roles, true),
            Err(MedicationRefusal::SamePerson),
            "two roles, one person"
        );
        let after = admin(
            "completed",
            "piet-role",
            Some(("anna-a", "2026-12-06T08:10:00Z")),
            "2026-12-06T08:00:00Z",
        );
        assert_eq!(
            check_administration(&after, None, None, &roles, true),
            Err(MedicationRefusal::CheckAfter)
        );
        let early = admin(
            "completed",
            "piet-role",
            Some(("anna-a", "2026-12-06T07:00:00Z")),
            "2026-12-06T08:00:00Z",
        );
        assert_eq!(
            check_administration(&early, None, None, &roles, true),
            Err(MedicationRefusal::CheckTooEarly)
        );
        // A professional checks in their own name only.
        let prepared = admin("in-progress", "piet-role", None, "2026-12-06T08:00:00Z");
        let checked = admin(
            "in-progress",
            "piet-role",
            Some(("anna-a", "2026-12-06T07:55:00Z")),
            "2026-12-06T08:00:00Z",
        );
        assert_eq!(
            check_administration(&checked, Some(&prepared), Some("piet-role"), &roles, true),
            Err(MedicationRefusal::CheckForSomeoneElse)
        );
        assert_eq!(
            check_administration(&checked, Some(&prepared), Some("anna-a"), &roles, true),
            Ok(())
        );
        // Not given needs a reason.
        let not_done = admin("not-done", "piet-role", None, "2026-12-06T08:00:00Z");
        assert_eq!(
            check_administration(&not_done, None, None, &roles, false),
            Err(MedicationRefusal::ReasonMissing)
        );
    }

    #[test]
    fn the_list_knows_names_and_atc_codes() {
        let h = HighRisk::default();
        assert!(h.covers(&json!({"text": "Insuline aspart 100 E/ml"})));
        assert!(h.covers(&json!({"coding": [{"system": ATC_SYSTEM, "code": "B01AA07"}]})));
        assert!(!h.covers(&json!({"text": "Paracetamol 500 mg"})));
        let custom = HighRisk::from_list(&["Paracetamol".into(), "atc:N02B".into()]);
        assert!(custom.covers(&json!({"text": "paracetamol 1000 mg"})));
        assert!(!custom.covers(&json!({"text": "Insuline"})));
    }

    #[test]
    fn a_dose_is_due_given_late_or_missed() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let due = due_ms(day, NaiveTime::from_hms_opt(8, 0, 0).unwrap());
        assert_eq!(
            fhir_moment(due),
            "2026-12-06T07:00:00Z",
            "08:00 Dutch winter time"
        );
        assert_eq!(dose_state(due, None, due + 30 * 60_000), DoseState::Due);
        assert_eq!(dose_state(due, None, due + 61 * 60_000), DoseState::Missed);
        let late =
            json!({"status": "completed", "effectiveDateTime": fhir_moment(due + 90 * 60_000)});
        assert_eq!(
            dose_state(due, Some(&late), due + 100 * 60_000),
            DoseState::GivenLate
        );
        let refused =
            json!({"status": "not-done", "statusReason": [{"coding": [{"code": "refused"}]}]});
        assert_eq!(dose_state(due, Some(&refused), due), DoseState::Refused);
    }
}

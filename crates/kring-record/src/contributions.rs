//! What a client (or a parent who represents them) writes in their own record, and the rules
//! for it — enforced on every write by a client or representative, from the portal or the
//! API alike:
//!
//! - **their own goals**: a `Goal` expressed by the writer (`Goal.expressedBy`); only its
//!   author changes it;
//! - **comments on the plan and agreeing to it**: the writer adds `CarePlan.note`s in their own
//!   name and an agreement ([`AGREED`]: who, when, which version); nothing else of the plan
//!   changes, and earlier notes stay;
//! - **requests under the AVG**: a `Task` ([`REQUEST_SYSTEM`]: correction, erasure, objection)
//!   for the client, requested by the writer, owned by the client's organisation, due by the
//!   legal deadline; the writer may only withdraw it (`cancelled`). The case director answers it
//!   (accepted, rejected or completed, with the answer in `Task.output`).
//!
//! - **consents**: a proposal waiting for the other party (12 to 15) may be refused by them —
//!   its status becomes `rejected` and nothing else changes; a withdrawn or refused consent is
//!   never brought back (a new one is recorded instead).
//!
//! Must never: decide who may touch the record at all (the decision point does that first).

use chrono::{Months, NaiveDate};
use serde_json::{json, Value};

/// The extension on a support plan recording that someone agreed to it: sub-extensions `who`
/// (a reference), `when` (a dateTime) and `version` (the plan's version agreed to).
pub const AGREED: &str = "https://kring.example/fhir/StructureDefinition/plan-agreed";
/// The code system of the client's requests under the AVG.
pub const REQUEST_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/avg-request";

/// Why a client's write breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContributionRefusal {
    #[error(
        "a goal of your own is written in your own name (Goal.expressedBy), and only you change it"
    )]
    GoalNotYours,
    #[error("in the plan you add comments (CarePlan.note) and your agreement in your own name; the rest of the plan is kept by the case director")]
    PlanNotYours,
    #[error("a request is made in your own name for your own record (Task.requester, Task.for), with one of the kinds correction, erasure or objection")]
    RequestNotYours,
    #[error("you can only withdraw a request you made (Task.status cancelled)")]
    RequestOnlyWithdrawn,
    #[error("you write goals, comments, your agreement to the plan and requests; the rest of the record is kept by the professionals")]
    NotForClients,
    #[error("only a proposal waiting for you can be refused, and refusing changes nothing else of it (Consent.status rejected)")]
    RefuseOnlyProposals,
    #[error("a withdrawn or refused consent stays so: record a new one")]
    ConsentClosed,
}

/// A kind of request under the AVG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Art. 16 AVG: correct what is wrong.
    Correction,
    /// Art. 17 AVG (and art. 7.3.10 Jeugdwet): erase.
    Erasure,
    /// Art. 21 AVG: object to a use or a sharing.
    Objection,
}

impl RequestKind {
    pub const ALL: [RequestKind; 3] = [
        RequestKind::Correction,
        RequestKind::Erasure,
        RequestKind::Objection,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RequestKind::Correction => "correction",
            RequestKind::Erasure => "erasure",
            RequestKind::Objection => "objection",
        }
    }

    pub fn from_code(code: &str) -> Option<RequestKind> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The legal deadline of an answer to a request made on `asked`: one month (art. 12
    /// AVG); the erasure of the record of a minor, who falls under the Jeugdwet, three months
    /// (art. 7.3.10 Jeugdwet).
    pub fn deadline(self, asked: NaiveDate, minor: bool) -> NaiveDate {
        let months = if self == RequestKind::Erasure && minor {
            3
        } else {
            1
        };
        asked
            .checked_add_months(Months::new(months))
            .unwrap_or(asked)
    }
}

/// The kind of a request, when `v` is one.
pub fn request_kind(v: &Value) -> Option<RequestKind> {
    v["code"]["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == REQUEST_SYSTEM)
        .and_then(|c| c["code"].as_str())
        .and_then(RequestKind::from_code)
}

/// A new request of `kind` about client `client` by `requester` (a reference), owned by
/// `organisation` (a reference, when known), due on `due`.
pub fn new_request(
    client: &str,
    requester: &str,
    organisation: Option<&str>,
    kind: RequestKind,
    text: &str,
    asked: &str,
    due: NaiveDate,
) -> Value {
    let mut t = json!({
        "resourceType": "Task", "status": "requested", "intent": "order",
        "code": {"coding": [{"system": REQUEST_SYSTEM, "code": kind.code()}]},
        "description": text,
        "for": {"reference": format!("Patient/{client}")},
        "requester": {"reference": requester},
        "authoredOn": asked,
        "restriction": {"period": {"end": due.format("%Y-%m-%d").to_string()}},
    });
    if let Some(o) = organisation {
        t["owner"] = json!({ "reference": o });
    }
    t
}

/// A request not yet answered nor withdrawn: it can still be withdrawn and answered.
pub fn is_open(v: &Value) -> bool {
    matches!(
        v["status"].as_str(),
        Some("requested" | "received" | "accepted" | "in-progress")
    )
}

/// The answer given to a request (`Task.output[0].valueString`).
pub fn answer_of(v: &Value) -> Option<&str> {
    v["output"][0]["valueString"].as_str()
}

/// Sets the answer to a request and its status (`accepted`, `rejected`, `completed`).
pub fn answer(v: &mut Value, status: &str, text: &str) {
    v["status"] = json!(status);
    v["output"] = json!([{"type": {"text": "Antwoord"}, "valueString": text}]);
}

/// An agreement to a plan, by `who`, at `when`, to its version `version`.
pub fn agreement(who: &str, when: &str, version: i64) -> Value {
    json!({"url": AGREED, "extension": [
        {"url": "who", "valueReference": {"reference": who}},
        {"url": "when", "valueDateTime": when},
        {"url": "version", "valueString": version.to_string()},
    ]})
}

/// The agreements to a plan: (who, when, version).
pub fn agreements_to(plan: &Value) -> Vec<(String, String, i64)> {
    plan["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == AGREED)
        .map(|e| {
            let part = |name: &str| {
                e["extension"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|x| x["url"] == name)
                    .cloned()
                    .unwrap_or_default()
            };
            (
                part("who")["valueReference"]["reference"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                part("when")["valueDateTime"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                part("version")["valueString"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )
        })
        .collect()
}

/// A comment on a plan by `who` at `when`.
pub fn note(who: &str, when: &str, text: &str) -> Value {
    json!({"authorReference": {"reference": who}, "time": when, "text": text})
}

/// Checks a write by a client or representative (`me`: `Patient/…` or `RelatedPerson/…`)
/// about client `client`, of `rtype` with body `new`, replacing `old` (when an update).
pub fn check(
    rtype: &str,
    client: &str,
    me: &str,
    old: Option<&Value>,
    new: &Value,
) -> Result<(), ContributionRefusal> {
    match rtype {
        "Goal" => {
            let by_me = |v: &Value| v["expressedBy"]["reference"].as_str() == Some(me);
            if !by_me(new) || old.is_some_and(|o| !by_me(o)) {
                return Err(ContributionRefusal::GoalNotYours);
            }
            Ok(())
        }
        "CarePlan" => {
            let Some(old) = old else {
                return Err(ContributionRefusal::PlanNotYours);
            };
            check_plan(old, new, me)
        }
        "Task" => {
            let mine = |v: &Value| {
                request_kind(v).is_some()
                    && v["requester"]["reference"].as_str() == Some(me)
                    && v["for"]["reference"].as_str() == Some(&format!("Patient/{client}"))
            };
            if !mine(new) || old.is_some_and(|o| !mine(o)) {
                return Err(ContributionRefusal::RequestNotYours);
            }
            match old {
                None if new["status"] == "requested"
                    && new.get("output").is_none()
                    && has_legal_deadline(new) =>
                {
                    Ok(())
                }
                None => Err(ContributionRefusal::RequestNotYours),
                Some(o) if !is_open(o) => Err(ContributionRefusal::RequestOnlyWithdrawn),
                Some(o) => {
                    let mut withdrawn = o.clone();
                    withdrawn["status"] = json!("cancelled");
                    if without_meta(new) == without_meta(&withdrawn) {
                        Ok(())
                    } else {
                        Err(ContributionRefusal::RequestOnlyWithdrawn)
                    }
                }
            }
        }
        _ => Err(ContributionRefusal::NotForClients),
    }
}

/// A new request is asked today (Dutch time, a day either way) and due by one of the legal
/// deadlines from that day.
fn has_legal_deadline(v: &Value) -> bool {
    let day = |x: &Value| {
        x.as_str()
            .and_then(|s| s.get(..10))
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    };
    let (Some(asked), Some(due), Some(kind)) = (
        day(&v["authoredOn"]),
        day(&v["restriction"]["period"]["end"]),
        request_kind(v),
    ) else {
        return false;
    };
    let today = kring_fhir::datetime::dutch_date(chrono::Utc::now());
    (asked - today).num_days().abs() <= 1
        && (due == kind.deadline(asked, false) || due == kind.deadline(asked, true))
}

fn without_meta(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("meta");
    }
    v
}

/// A plan's update by the client: only notes and agreements in their own name are added.
fn check_plan(old: &Value, new: &Value, me: &str) -> Result<(), ContributionRefusal> {
    let mine_note = |n: &Value| n["authorReference"]["reference"].as_str() == Some(me);
    // An agreement is the writer's when its one `who` is them.
    let mine_agreement = |e: &Value| {
        let whos: Vec<&Value> = e["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["url"] == "who")
            .collect();
        e["url"] == AGREED && whos.len() == 1 && whos[0]["valueReference"]["reference"] == me
    };
    // The plan with what the client adds taken out must be the plan as it was.
    let others = |v: &Value| {
        let mut v = without_meta(v);
        if let Some(o) = v.as_object_mut() {
            for (key, mine) in [
                ("note", &mine_note as &dyn Fn(&Value) -> bool),
                ("extension", &mine_agreement),
            ] {
                let kept: Vec<Value> = o
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|x| !mine(x))
                    .cloned()
                    .collect();
                if kept.is_empty() {
                    o.remove(key);
                } else {
                    o.insert(key.into(), Value::Array(kept));
                }
            }
        }
        v
    };
    if others(old) != others(new) {
        return Err(ContributionRefusal::PlanNotYours);
    }
    // Earlier comments stay as they were written.
    let notes = |v: &Value| -> Vec<Value> {
        v["note"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| mine_note(n))
            .cloned()
            .collect()
    };
    let (before, after) = (notes(old), notes(new));
    if !after.starts_with(&before) {
        return Err(ContributionRefusal::PlanNotYours);
    }
    // A new agreement is to the version it replaces (when the stored plan names it).
    if let Some(current) = old["meta"]["versionId"]
        .as_str()
        .and_then(|v| v.parse::<i64>().ok())
    {
        let count = |v: &Value| agreements_to(v).iter().filter(|a| a.0 == me).count();
        let mine: Vec<i64> = agreements_to(new)
            .into_iter()
            .filter(|a| a.0 == me)
            .map(|a| a.2)
            .collect();
        if mine.len() > count(old) && mine.last() != Some(&current) {
            return Err(ContributionRefusal::PlanNotYours);
        }
    }
    Ok(())
}

/// A consent written by a client or representative, beside the decision point's age rules: a
/// refusal is of a proposal, changing only its status; a closed consent stays closed.
pub fn check_consent(old: Option<&Value>, new: &Value) -> Result<(), ContributionRefusal> {
    let status = |v: &Value| v["status"].as_str().unwrap_or_default().to_string();
    if status(new) == "rejected" {
        let Some(old) = old.filter(|o| status(o) == "proposed") else {
            return Err(ContributionRefusal::RefuseOnlyProposals);
        };
        let mut refused = without_meta(old);
        refused["status"] = json!("rejected");
        if without_meta(new) != refused {
            return Err(ContributionRefusal::RefuseOnlyProposals);
        }
    }
    if let Some(old) = old {
        let closed = matches!(
            status(old).as_str(),
            "inactive" | "rejected" | "entered-in-error"
        );
        if closed && status(new) != status(old) {
            return Err(ContributionRefusal::ConsentClosed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "Patient/p";

    fn plan() -> Value {
        json!({"resourceType": "CarePlan", "status": "active", "title": "Plan",
               "subject": {"reference": ME},
               "activity": [{"detail": {"description": "huisbezoek", "status": "in-progress"}}]})
    }

    #[test]
    fn a_client_adds_comments_and_agrees_and_changes_nothing_else() {
        let old = plan();
        let mut new = old.clone();
        new["note"] = json!([note(
            ME,
            "2026-12-06T10:00:00+01:00",
            "Ik wil meer hulp bij school"
        )]);
        new["extension"] = json!([agreement(ME, "2026-12-06T10:00:00+01:00", 3)]);
        assert_eq!(check("CarePlan", "p", ME, Some(&old), &new), Ok(()));
        assert_eq!(agreements_to(&new)[0].2, 3);
        // Another's name, another activity, an earlier comment changed: refused.
        let mut theirs = old.clone();
        theirs["note"] = json!([note("Patient/q", "2026-12-06T10:00:00+01:00", "x")]);
        assert!(check("CarePlan", "p", ME, Some(&old), &theirs).is_err());
        let mut acts = new.clone();
        acts["activity"][0]["detail"]["status"] = json!("completed");
        assert!(check("CarePlan", "p", ME, Some(&new), &acts).is_err());
        let mut rewritten = new.clone();
        rewritten["note"][0]["text"] = json!("anders");
        assert!(check("CarePlan", "p", ME, Some(&new), &rewritten).is_err());
        assert!(
            check("CarePlan", "p", ME, None, &new).is_err(),
            "no new plans"
        );
        // Another's agreement, or one to another version, is not the client's to write.
        let mut stored = old.clone();
        stored["meta"] = json!({"versionId": "3"});
        let mut forged = stored.clone();
        forged["extension"] = json!([{"url": AGREED, "extension": [
            {"url": "who", "valueReference": {"reference": "PractitionerRole/dir"}},
            {"url": "who", "valueReference": {"reference": ME}}]}]);
        assert!(check("CarePlan", "p", ME, Some(&stored), &forged).is_err());
        let mut future = stored.clone();
        future["extension"] = json!([agreement(ME, "2026-12-06T10:00:00+01:00", 9999)]);
        assert!(check("CarePlan", "p", ME, Some(&stored), &future).is_err());
        let mut right = stored.clone();
        right["extension"] = json!([agreement(ME, "2026-12-06T10:00:00+01:00", 3)]);
        assert_eq!(check("CarePlan", "p", ME, Some(&stored), &right), Ok(()));
    }

    #[test]
    fn a_refusal_is_of_a_proposal_and_a_closed_consent_stays_closed() {
        let proposed = json!({"resourceType": "Consent", "status": "proposed",
                              "performer": [{"reference": "Patient/p"}]});
        let mut refused = proposed.clone();
        refused["status"] = json!("rejected");
        assert_eq!(check_consent(Some(&proposed), &refused), Ok(()));
        assert!(check_consent(None, &refused).is_err(), "no new refusals");
        let mut active = proposed.clone();
        active["status"] = json!("active");
        let mut killed = active.clone();
        killed["status"] = json!("rejected");
        assert!(
            check_consent(Some(&active), &killed).is_err(),
            "only proposals"
        );
        let mut forged = refused.clone();
        forged["performer"] = json!([{"reference": "RelatedPerson/x"}]);
        assert!(check_consent(Some(&proposed), &forged).is_err());
        let mut withdrawn = active.clone();
        withdrawn["status"] = json!("inactive");
        assert!(
            check_consent(Some(&withdrawn), &active).is_err(),
            "no revival"
        );
        assert_eq!(check_consent(Some(&active), &withdrawn), Ok(()));
    }

    #[test]
    fn a_client_requests_and_only_withdraws() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let due = RequestKind::Correction.deadline(day, false);
        assert_eq!(due, NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!(
            RequestKind::Erasure.deadline(day, true),
            NaiveDate::from_ymd_opt(2026, 4, 30).unwrap()
        );
        assert_eq!(RequestKind::Erasure.deadline(day, false), due);
        let today = kring_fhir::datetime::dutch_date(chrono::Utc::now());
        let asked = today.format("%Y-%m-%d").to_string();
        let due = RequestKind::Erasure.deadline(today, false);
        let t = new_request(
            "p",
            ME,
            Some("Organization/o"),
            RequestKind::Erasure,
            "Wis het verslag",
            &asked,
            due,
        );
        assert_eq!(check("Task", "p", ME, None, &t), Ok(()));
        assert_eq!(request_kind(&t), Some(RequestKind::Erasure));
        let other = new_request("q", ME, None, RequestKind::Erasure, "x", &asked, due);
        let late = new_request(
            "p",
            ME,
            None,
            RequestKind::Erasure,
            "x",
            &asked,
            due + chrono::Duration::days(200),
        );
        assert!(
            check("Task", "p", ME, None, &late).is_err(),
            "the legal deadline"
        );
        assert!(
            check("Task", "p", ME, None, &other).is_err(),
            "another's record"
        );
        let mut answered = t.clone();
        answer(&mut answered, "completed", "Gewist");
        assert!(
            check("Task", "p", ME, Some(&t), &answered).is_err(),
            "the client does not answer"
        );
        let mut withdrawn = t.clone();
        withdrawn["status"] = json!("cancelled");
        assert_eq!(check("Task", "p", ME, Some(&t), &withdrawn), Ok(()));
        let mut undone = answered.clone();
        undone["status"] = json!("cancelled");
        assert!(
            check("Task", "p", ME, Some(&answered), &undone).is_err(),
            "an answer stays"
        );
        assert!(
            check("Task", "p", ME, None, &answered).is_err(),
            "a new request is open"
        );
    }

    #[test]
    fn a_clients_own_goal_is_theirs_alone() {
        let g = json!({"resourceType": "Goal", "expressedBy": {"reference": ME}});
        assert_eq!(check("Goal", "p", ME, None, &g), Ok(()));
        let theirs =
            json!({"resourceType": "Goal", "expressedBy": {"reference": "PractitionerRole/r"}});
        assert!(check("Goal", "p", ME, None, &theirs).is_err());
        assert!(check("Goal", "p", ME, Some(&theirs), &g).is_err());
        assert!(check("Appointment", "p", ME, None, &g).is_err());
    }
}

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
                None if new["status"] == "requested" && new.get("output").is_none() => Ok(()),
                None => Err(ContributionRefusal::RequestNotYours),
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
    let mine_agreement = |e: &Value| {
        e["url"] == AGREED
            && e["extension"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x["url"] == "who" && x["valueReference"]["reference"] == me)
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
        let t = new_request(
            "p",
            ME,
            Some("Organization/o"),
            RequestKind::Erasure,
            "Wis het verslag",
            "2026-01-31",
            due,
        );
        assert_eq!(check("Task", "p", ME, None, &t), Ok(()));
        assert_eq!(request_kind(&t), Some(RequestKind::Erasure));
        let other = new_request("q", ME, None, RequestKind::Erasure, "x", "2026-01-31", due);
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

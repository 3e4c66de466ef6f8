//! Rules of daily work that need the version a write replaces, enforced on every write by a
//! professional — from a page or through the API alike:
//!
//! - **the support plan**: the case director keeps the plan — starts it, sets and evaluates
//!   its goals; every other member adds and changes only the agreements they perform
//!   themselves, and nothing else of it;
//! - **reports**: a professional writes a report in their own name, only its author corrects
//!   it, by a new version — the old one stays in the history: written reports are never
//!   deleted, by a professional or a partner system.
//!
//! Must never: decide who may touch a client's data at all (the decision point does that,
//! before these rules run).

use serde_json::Value;

/// Why a write breaks a rule of daily work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkRefusal {
    #[error("only the case director changes the support plan's goals and other members' agreements; you add and change the agreements you perform yourself")]
    OnlyOwnAgreements,
    #[error("only the case director starts a client's support plan")]
    DirectorStartsPlan,
    #[error("only the case director sets and evaluates the support plan's goals")]
    DirectorKeepsGoals,
    #[error("a report is written in your own name (Communication.sender)")]
    ReportNotInOwnName,
    #[error("only the author of a report corrects it")]
    NotTheAuthor,
    #[error("a report is never deleted: correct it with a new version, and the old one stays in its history")]
    ReportsAreKept,
    #[error("the case director answers the client's requests (correction, erasure, objection)")]
    DirectorAnswersRequests,
}

/// The references an activity is performed by.
fn performers(activity: &Value) -> Vec<&str> {
    activity["detail"]["performer"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["reference"].as_str())
        .collect()
}

/// The plan without its activities and version metadata: what only the director changes.
fn frame(plan: &Value) -> Value {
    let mut v = plan.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("activity");
        o.remove("meta");
    }
    v
}

/// A support plan's update by a member who is not the case director (`me`: their role as a
/// reference): activities performed by others stay as they were, and nothing else changes.
pub fn check_member_plan_update(old: &Value, new: &Value, me: &str) -> Result<(), WorkRefusal> {
    if frame(old) != frame(new) {
        return Err(WorkRefusal::OnlyOwnAgreements);
    }
    let others = |plan: &Value| -> Vec<String> {
        let mut v: Vec<String> = plan["activity"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| !performers(a).contains(&me))
            .map(|a| a.to_string())
            .collect();
        v.sort();
        v
    };
    if others(old) != others(new) {
        return Err(WorkRefusal::OnlyOwnAgreements);
    }
    Ok(())
}

/// A report written (or corrected) by a professional whose role is `me`.
pub fn check_report(old: Option<&Value>, new: &Value, me: &str) -> Result<(), WorkRefusal> {
    if let Some(old) = old {
        if old["sender"]["reference"].as_str() != Some(me) {
            return Err(WorkRefusal::NotTheAuthor);
        }
    }
    if new["sender"]["reference"].as_str() != Some(me) {
        return Err(WorkRefusal::ReportNotInOwnName);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(activities: Vec<Value>) -> Value {
        json!({"resourceType": "CarePlan", "title": "Ondersteuningsplan", "activity": activities})
    }
    fn act(who: &str, what: &str) -> Value {
        json!({"detail": {"description": what, "status": "in-progress", "performer": [{"reference": who}]}})
    }

    #[test]
    fn a_member_changes_only_their_own_agreements() {
        let me = "PractitionerRole/me";
        let old = plan(vec![
            act(me, "huisbezoek"),
            act("PractitionerRole/other", "budgetcoach"),
        ]);
        let mine = plan(vec![
            act(me, "huisbezoek wekelijks"),
            act("PractitionerRole/other", "budgetcoach"),
            act(me, "school bellen"),
        ]);
        assert_eq!(check_member_plan_update(&old, &mine, me), Ok(()));
        let theirs = plan(vec![
            act(me, "huisbezoek"),
            act("PractitionerRole/other", "geschrapt"),
        ]);
        assert_eq!(
            check_member_plan_update(&old, &theirs, me),
            Err(WorkRefusal::OnlyOwnAgreements)
        );
        let mut retitled = old.clone();
        retitled["title"] = json!("Mijn plan");
        assert_eq!(
            check_member_plan_update(&old, &retitled, me),
            Err(WorkRefusal::OnlyOwnAgreements)
        );
    }

    #[test]
    fn reports_are_written_and_corrected_by_their_author() {
        let me = "PractitionerRole/me";
        let mine = json!({"sender": {"reference": me}});
        let theirs = json!({"sender": {"reference": "PractitionerRole/other"}});
        assert_eq!(check_report(None, &mine, me), Ok(()));
        assert_eq!(
            check_report(None, &theirs, me),
            Err(WorkRefusal::ReportNotInOwnName)
        );
        assert_eq!(
            check_report(Some(&theirs), &mine, me),
            Err(WorkRefusal::NotTheAuthor)
        );
    }
}

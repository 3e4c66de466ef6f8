//! The support plan and the crisis plan as Kring keeps them in FHIR, for every page, the demo
//! and partner systems alike.
//!
//! - **The support plan** of a client is a `CarePlan` (not coded `crisis`): its goals are
//!   `Goal` resources it references (`CarePlan.goal`), each with its next evaluation date
//!   (`Goal.target.dueDate`), its progress (`Goal.achievementStatus`) and its evaluations
//!   (`Goal.note`: who, when, what); its agreements are `CarePlan.activity.detail` — what
//!   (`description`), who (`performer`), by when (`scheduledPeriod.end`) and how far
//!   (`status`). Only goals, agreements and evaluations: problem details stay in each
//!   organisation's own record.
//! - **One family, one plan**: every member of a family has a plan of their own (so each part
//!   is decided, shared and logged per member, by that member's circle and consent), and each
//!   carries the family plan's identifier ([`FAMILY_PLAN_SYSTEM`]). The family plan is the set
//!   of plans with that identifier that the reader may see.
//! - **The crisis plan** (signaleringsplan) is a `CarePlan` coded `crisis`; each line is an
//!   activity coded with its phase ([`Phase`]) and what the line is ([`Part`]).

use chrono::NaiveDate;
use serde_json::{json, Value};

/// The identifier system of family plans: every member's plan carries the family's plan id.
pub const FAMILY_PLAN_SYSTEM: &str = "https://kring.example/fhir/NamingSystem/family-plan";
/// The code system of the crisis plan's phases.
pub const PHASE_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/crisis-phase";
/// The code system of what a line of a phase is.
pub const PHASE_PART_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/crisis-part";
/// FHIR's code system of a goal's progress.
pub const ACHIEVEMENT_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/goal-achievement";
/// The extension on a crisis plan that says the client wrote it with the professionals
/// (`valueBoolean`), beside the client as a `CarePlan.contributor`.
pub const WRITTEN_WITH_CLIENT: &str =
    "https://kring.example/fhir/StructureDefinition/written-with-client";

/// A phase of the crisis plan, from calm to crisis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Green,
    Yellow,
    Orange,
    Red,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Green, Phase::Yellow, Phase::Orange, Phase::Red];

    pub fn code(self) -> &'static str {
        match self {
            Phase::Green => "groen",
            Phase::Yellow => "geel",
            Phase::Orange => "oranje",
            Phase::Red => "rood",
        }
    }

    pub fn from_code(code: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// What a line of a phase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The signals that show the phase.
    Signals,
    /// What the client does.
    Client,
    /// What the network does.
    Network,
    /// Whom to call: names and numbers.
    Contact,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Signals, Part::Client, Part::Network, Part::Contact];

    pub fn code(self) -> &'static str {
        match self {
            Part::Signals => "signals",
            Part::Client => "client",
            Part::Network => "network",
            Part::Contact => "contact",
        }
    }

    pub fn from_code(code: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// One line of a crisis plan as an activity.
pub fn crisis_line(phase: Phase, part: Part, text: &str) -> Value {
    json!({"detail": {
        "code": {"coding": [
            {"system": PHASE_SYSTEM, "code": phase.code()},
            {"system": PHASE_PART_SYSTEM, "code": part.code()}]},
        "status": "not-started",
        "description": text}})
}

/// The lines of a crisis plan, in their order: (phase, part, text). Lines without a phase
/// (written by a system that does not code them) count as green signals' neighbours: they are
/// returned with `None`.
pub fn crisis_lines(plan: &Value) -> Vec<(Option<Phase>, Option<Part>, String)> {
    activities(plan)
        .map(|a| {
            let coding = a["detail"]["code"]["coding"].as_array();
            let code = |system: &str| {
                coding
                    .into_iter()
                    .flatten()
                    .find(|c| c["system"] == system)
                    .and_then(|c| c["code"].as_str())
                    .map(str::to_string)
            };
            (
                code(PHASE_SYSTEM).as_deref().and_then(Phase::from_code),
                code(PHASE_PART_SYSTEM).as_deref().and_then(Part::from_code),
                a["detail"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// Whether the crisis plan says it was written with the client.
pub fn written_with_client(plan: &Value) -> bool {
    plan["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["url"] == WRITTEN_WITH_CLIENT && e["valueBoolean"] == Value::Bool(true))
}

/// The family plan a client's plan belongs to (its identifier value).
pub fn family_plan(plan: &Value) -> Option<String> {
    plan["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == FAMILY_PLAN_SYSTEM)?["value"]
        .as_str()
        .map(str::to_string)
}

fn activities(plan: &Value) -> impl Iterator<Item = &Value> {
    plan["activity"].as_array().into_iter().flatten()
}

fn date_of(v: &Value) -> Option<NaiveDate> {
    let s = v.as_str()?;
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// One agreement of a support plan: who does what by when, and how far it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// Its place in `CarePlan.activity` (how pages name it in a form).
    pub index: usize,
    pub description: String,
    /// The reference of who does it (a `PractitionerRole`, the `Patient`, a `RelatedPerson`).
    pub performer: Option<String>,
    /// `not-started`, `scheduled`, `in-progress`, `on-hold`, `completed`, `cancelled` …
    pub status: String,
    pub due: Option<NaiveDate>,
}

/// The statuses an agreement can be given on a page, in the order people go through them.
pub const AGREEMENT_STATUSES: [&str; 5] = [
    "not-started",
    "in-progress",
    "on-hold",
    "completed",
    "cancelled",
];

impl Agreement {
    /// Still to be done.
    pub fn open(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "completed" | "cancelled" | "stopped" | "entered-in-error"
        )
    }

    /// Open and past its date.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.open() && self.due.is_some_and(|d| d < today)
    }

    /// The agreement as an activity of a plan.
    pub fn to_activity(&self) -> Value {
        let mut detail = json!({"status": self.status, "description": self.description});
        if let Some(p) = &self.performer {
            detail["performer"] = json!([{ "reference": p }]);
        }
        if let Some(d) = self.due {
            detail["scheduledPeriod"] = json!({"end": d.format("%Y-%m-%d").to_string()});
        }
        json!({ "detail": detail })
    }
}

/// The agreements of a support plan.
pub fn agreements(plan: &Value) -> Vec<Agreement> {
    activities(plan)
        .enumerate()
        .map(|(index, a)| {
            let d = &a["detail"];
            Agreement {
                index,
                description: d["description"].as_str().unwrap_or_default().to_string(),
                performer: d["performer"][0]["reference"].as_str().map(str::to_string),
                status: d["status"].as_str().unwrap_or("not-started").to_string(),
                due: date_of(&d["scheduledPeriod"]["end"]),
            }
        })
        .collect()
}

/// Changes the agreement at `index` of a plan, keeping what the page does not show (its
/// start, codes, references); `None` when there is no such agreement.
pub fn change_agreement(plan: &mut Value, new: &Agreement) -> Option<()> {
    let detail = plan["activity"].get_mut(new.index)?.get_mut("detail")?;
    detail["description"] = json!(new.description);
    detail["status"] = json!(new.status);
    match new.due {
        Some(d) => detail["scheduledPeriod"]["end"] = json!(d.format("%Y-%m-%d").to_string()),
        None => {
            // Without a date the period goes, and with nothing left in it, the period too
            // (FHIR allows no empty element, nor a null).
            if let Some(d) = detail.as_object_mut() {
                let empty = match d.get_mut("scheduledPeriod").and_then(Value::as_object_mut) {
                    Some(p) => {
                        p.remove("end");
                        p.is_empty()
                    }
                    None => d.contains_key("scheduledPeriod"),
                };
                if empty {
                    d.remove("scheduledPeriod");
                }
            }
        }
    }
    if let Some(p) = &new.performer {
        detail["performer"] = json!([{ "reference": p }]);
    }
    Some(())
}

/// A goal of the support plan as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalView {
    pub description: String,
    /// `in-progress`, `improving`, `worsening`, `no-change`, `achieved` … (achievementStatus).
    pub progress: Option<String>,
    /// When it is next evaluated.
    pub evaluate: Option<NaiveDate>,
    pub active: bool,
    /// Its evaluations, newest first: (author reference, moment as written, text).
    pub evaluations: Vec<(Option<String>, Option<String>, String)>,
}

impl GoalView {
    pub fn of(goal: &Value) -> GoalView {
        let mut evaluations: Vec<(Option<String>, Option<String>, String)> = goal["note"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| {
                (
                    n["authorReference"]["reference"]
                        .as_str()
                        .map(str::to_string),
                    n["time"].as_str().map(str::to_string),
                    n["text"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        evaluations.sort_by(|a, b| b.1.cmp(&a.1));
        GoalView {
            description: goal["description"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            progress: goal["achievementStatus"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["system"] == ACHIEVEMENT_SYSTEM)
                .and_then(|c| c["code"].as_str())
                .map(str::to_string),
            evaluate: goal["target"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| date_of(&t["dueDate"]))
                .min(),
            active: matches!(
                goal["lifecycleStatus"].as_str(),
                Some("proposed" | "planned" | "accepted" | "active" | "on-hold")
            ),
            evaluations,
        }
    }

    /// Active and its evaluation date has passed.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.active && self.evaluate.is_some_and(|d| d < today)
    }
}

/// The progress codes an evaluation can give a goal.
pub const PROGRESS: [&str; 7] = [
    "in-progress",
    "improving",
    "worsening",
    "no-change",
    "achieved",
    "sustaining",
    "not-achieved",
];

/// Adds an evaluation to a goal: the note, the progress, the next evaluation date (and the
/// goal's `lifecycleStatus` `completed` when it was achieved or given up).
pub fn evaluate(
    goal: &mut Value,
    author: &str,
    at: &str,
    text: &str,
    progress: &str,
    next: Option<NaiveDate>,
) {
    let note = json!({"authorReference": {"reference": author}, "time": at, "text": text});
    match goal["note"].as_array_mut() {
        Some(notes) => notes.push(note),
        None => goal["note"] = json!([note]),
    }
    goal["achievementStatus"] =
        json!({"coding": [{"system": ACHIEVEMENT_SYSTEM, "code": progress}]});
    goal["statusDate"] = json!(at.get(..10).unwrap_or(at));
    if let Some(d) = next {
        goal["target"] = json!([{ "dueDate": d.format("%Y-%m-%d").to_string() }]);
    }
    if matches!(progress, "achieved" | "not-achieved") {
        goal["lifecycleStatus"] = json!("completed");
    }
}

/// A new goal of a client's support plan.
pub fn new_goal(client: &str, text: &str, start: NaiveDate, evaluate: Option<NaiveDate>) -> Value {
    let mut g = json!({
        "resourceType": "Goal", "lifecycleStatus": "active",
        "achievementStatus": {"coding": [{"system": ACHIEVEMENT_SYSTEM, "code": "in-progress"}]},
        "description": {"text": text}, "subject": {"reference": format!("Patient/{client}")},
        "startDate": start.format("%Y-%m-%d").to_string(),
    });
    if let Some(d) = evaluate {
        g["target"] = json!([{ "dueDate": d.format("%Y-%m-%d").to_string() }]);
    }
    g
}

/// What changed from one version of a support plan to the next, for its history: agreements
/// added, changed and removed (by description), goals added and removed, and whether anything
/// else changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanChange {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub goals_added: usize,
    pub goals_removed: usize,
    pub other: bool,
}

impl PlanChange {
    pub fn between(old: &Value, new: &Value) -> PlanChange {
        let (a, b) = (agreements(old), agreements(new));
        let mut out = PlanChange::default();
        for n in &b {
            match a.iter().find(|o| o.index == n.index) {
                None => out.added.push(n.description.clone()),
                Some(o) if o != n => out.changed.push(n.description.clone()),
                _ => {}
            }
        }
        for o in a.iter().filter(|o| o.index >= b.len()) {
            out.removed.push(o.description.clone());
        }
        let goals = |v: &Value| -> Vec<String> {
            v["goal"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g["reference"].as_str().map(str::to_string))
                .collect()
        };
        let (ga, gb) = (goals(old), goals(new));
        out.goals_added = gb.iter().filter(|g| !ga.contains(g)).count();
        out.goals_removed = ga.iter().filter(|g| !gb.contains(g)).count();
        let frame = |v: &Value| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                for k in ["activity", "goal", "meta", "text"] {
                    o.remove(k);
                }
            }
            v
        };
        out.other = frame(old) != frame(new);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agreement_without_a_date_leaves_no_empty_or_null_period() {
        let mut plan = json!({"activity": [
            {"detail": {"status": "not-started", "description": "a"}},
            {"detail": {"status": "not-started", "description": "b", "scheduledPeriod": {"end": "2027-01-01"}}},
            {"detail": {"status": "not-started", "description": "c", "scheduledPeriod": {"start": "2026-01-01", "end": "2027-01-01"}}}]});
        for index in 0..3 {
            let mut a = agreements(&plan)[index].clone();
            a.due = None;
            a.status = "in-progress".into();
            change_agreement(&mut plan, &a).unwrap();
        }
        assert!(plan["activity"][0]["detail"]
            .get("scheduledPeriod")
            .is_none());
        assert!(plan["activity"][1]["detail"]
            .get("scheduledPeriod")
            .is_none());
        assert_eq!(
            plan["activity"][2]["detail"]["scheduledPeriod"],
            json!({"start": "2026-01-01"})
        );
        assert!(agreements(&plan)
            .iter()
            .all(|a| a.status == "in-progress" && a.due.is_none()));
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn agreements_read_change_and_fall_due() {
        let mut plan = json!({"activity": [
            {"detail": {"description": "Huisbezoek", "status": "in-progress",
                        "performer": [{"reference": "PractitionerRole/a"}],
                        "scheduledPeriod": {"start": "2026-01-01", "end": "2026-11-30"}}},
            {"detail": {"description": "Budgetcoach", "status": "completed",
                        "scheduledPeriod": {"end": "2026-10-01"}}}]});
        let list = agreements(&plan);
        assert_eq!(list.len(), 2);
        assert!(list[0].overdue(day("2026-12-06")));
        assert!(!list[0].overdue(day("2026-11-30")));
        assert!(!list[1].overdue(day("2026-12-06")), "done is never overdue");
        let mut a = list[0].clone();
        a.status = "completed".into();
        a.due = Some(day("2026-12-20"));
        change_agreement(&mut plan, &a).unwrap();
        assert_eq!(
            plan["activity"][0]["detail"]["scheduledPeriod"]["start"],
            "2026-01-01"
        );
        assert_eq!(agreements(&plan)[0], a);
        let mut missing = a.clone();
        missing.index = 9;
        assert_eq!(change_agreement(&mut plan, &missing), None);
    }

    #[test]
    fn goals_are_evaluated_and_fall_due() {
        let mut g = new_goal(
            "c",
            "Goed slapen",
            day("2026-01-01"),
            Some(day("2026-06-01")),
        );
        let v = GoalView::of(&g);
        assert!(v.overdue(day("2026-12-06")));
        evaluate(
            &mut g,
            "Practitioner/p",
            "2026-12-06T10:00:00+01:00",
            "Slaapt beter",
            "improving",
            Some(day("2027-03-01")),
        );
        let v = GoalView::of(&g);
        assert!(!v.overdue(day("2026-12-06")));
        assert_eq!(v.progress.as_deref(), Some("improving"));
        assert_eq!(v.evaluations[0].2, "Slaapt beter");
        evaluate(
            &mut g,
            "Practitioner/p",
            "2027-03-01T10:00:00+01:00",
            "Gehaald",
            "achieved",
            None,
        );
        let v = GoalView::of(&g);
        assert!(!v.active && !v.overdue(day("2028-01-01")));
        assert_eq!(v.evaluations[0].2, "Gehaald", "newest first");
    }

    #[test]
    fn crisis_lines_keep_phase_and_part() {
        let plan = json!({"activity": [
            crisis_line(Phase::Orange, Part::Contact, "Regisseur: 075-1234567"),
            {"detail": {"description": "ongecodeerd"}}]});
        let lines = crisis_lines(&plan);
        assert_eq!(
            lines[0],
            (
                Some(Phase::Orange),
                Some(Part::Contact),
                "Regisseur: 075-1234567".into()
            )
        );
        assert_eq!(lines[1], (None, None, "ongecodeerd".into()));
    }

    #[test]
    fn a_change_of_the_plan_says_what_changed() {
        let old = json!({"title": "Plan", "goal": [{"reference": "Goal/1"}], "activity": [
            {"detail": {"description": "A", "status": "in-progress"}},
            {"detail": {"description": "B", "status": "in-progress"}}]});
        let new = json!({"title": "Plan", "goal": [{"reference": "Goal/1"}, {"reference": "Goal/2"}], "activity": [
            {"detail": {"description": "A", "status": "completed"}},
            {"detail": {"description": "B", "status": "in-progress"}},
            {"detail": {"description": "C", "status": "not-started"}}]});
        let c = PlanChange::between(&old, &new);
        assert_eq!(c.added, vec!["C"]);
        assert_eq!(c.changed, vec!["A"]);
        assert!(c.removed.is_empty() && !c.other);
        assert_eq!(c.goals_added, 1);
    }
}

//! The meldcode (domestic violence and child abuse) as a guided case in the record: its five
//! steps — 1 the signals, 2 consulting a colleague or Veilig Thuis, 3 the conversation with
//! the parents and the child (or why not), 4 weighing the violence, 5 deciding through the
//! *afwegingskader* — each recorded by who and when, each with a date by which it is due, and
//! a report to Veilig Thuis recorded with what was shared on which ground.
//!
//! A case is one `QuestionnaireResponse` of the questionnaire [`MELDCODE_QUESTIONNAIRE`] about
//! the client, in the category `safety` (only the professionals named for safety in the circle
//! see it), `in-progress` until it is closed. Each step is an item appended to it; what was
//! recorded stays as it was ([`check_case`]). While a case is open it is withheld from the
//! client and the parents (they are told in step 3, by a professional, not by the portal).
//!
//! The due dates are Kring's defaults after common practice (the meldcode sets no legal
//! terms): consult within 5 days of the first signals, talk within 10, decide within 28; a
//! report the day it is decided; an evaluation at the end of the term agreed for help.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use kring_access::sharing::{MAX_WITHHELD_DAYS, MELDCODE_QUESTIONNAIRE, WITHHELD_EXTENSION};
use serde_json::{json, Value};

/// One step of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseStep {
    /// Step 1: signals (more can be added at any time).
    Signals,
    /// Step 2: consulting a colleague, the designated officer or Veilig Thuis.
    Consult,
    /// Step 3: the conversation with the parents and the child, or why it did not happen.
    Conversation,
    /// Steps 4 and 5: weighing the violence and deciding through the afwegingskader.
    Decision,
    /// The report to Veilig Thuis, with what was shared on which ground.
    Report,
    /// After help: was safety reached within the term?
    Evaluation,
}

impl CaseStep {
    pub const ALL: [CaseStep; 6] = [
        CaseStep::Signals,
        CaseStep::Consult,
        CaseStep::Conversation,
        CaseStep::Decision,
        CaseStep::Report,
        CaseStep::Evaluation,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CaseStep::Signals => "signals",
            CaseStep::Consult => "consult",
            CaseStep::Conversation => "conversation",
            CaseStep::Decision => "decision",
            CaseStep::Report => "report",
            CaseStep::Evaluation => "evaluation",
        }
    }

    pub fn from_code(code: &str) -> Option<CaseStep> {
        CaseStep::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Days after the first signals by which the step is due (when it has a fixed term).
    fn due_days(self) -> Option<i64> {
        match self {
            CaseStep::Consult => Some(5),
            CaseStep::Conversation => Some(10),
            CaseStep::Decision => Some(28),
            _ => None,
        }
    }
}

/// The afwegingskader's answers (step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weighing {
    /// Is there (still) a suspicion of domestic violence or child abuse?
    pub suspicion: bool,
    /// Is there acute or structural unsafety?
    pub unsafe_now: bool,
    /// Can I offer or organise effective help?
    pub can_help: bool,
    /// Do the people concerned accept that help?
    pub help_accepted: bool,
}

/// What step 5 decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// No suspicion (any more): close and record.
    Close,
    /// Report to Veilig Thuis.
    Report,
    /// Offer or organise help, and evaluate safety at the end of the agreed term.
    Help,
}

impl Decided {
    pub fn code(self) -> &'static str {
        match self {
            Decided::Close => "close",
            Decided::Report => "report",
            Decided::Help => "help",
        }
    }

    pub fn from_code(code: &str) -> Option<Decided> {
        [Decided::Close, Decided::Report, Decided::Help]
            .into_iter()
            .find(|d| d.code() == code)
    }
}

/// The afwegingskader: suspicion? no → close; acute or structural unsafety? yes → report;
/// can I help? no → report; is help accepted? no → report; otherwise help, and evaluate.
pub fn decide(w: Weighing) -> Decided {
    if !w.suspicion {
        Decided::Close
    } else if w.unsafe_now || !w.can_help || !w.help_accepted {
        Decided::Report
    } else {
        Decided::Help
    }
}

/// The evaluation after help: safety reached within the term? yes → close with follow-up
/// agreements; no → report (again).
pub fn evaluate(safe: bool) -> Decided {
    if safe {
        Decided::Close
    } else {
        Decided::Report
    }
}

/// One recorded step.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub step: CaseStep,
    pub when: String,
    pub who: String,
    pub text: String,
    /// Step-specific answers: (linkId, code or text).
    pub details: Vec<(String, String)>,
}

impl Entry {
    pub fn detail(&self, link: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|(l, _)| l == link)
            .map(|(_, v)| v.as_str())
    }
}

/// A case, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub client: String,
    pub open: bool,
    pub started: Option<NaiveDate>,
    pub entries: Vec<Entry>,
}

impl Case {
    pub fn from_json(v: &Value) -> Option<Case> {
        if !kring_access::sharing::is_meldcode_case(v) {
            return None;
        }
        let client = v["subject"]["reference"]
            .as_str()?
            .strip_prefix("Patient/")?
            .to_string();
        let entries: Vec<Entry> = v["item"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| {
                let step = i["linkId"].as_str().and_then(CaseStep::from_code)?;
                let sub = |l: &str| {
                    i["item"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|s| s["linkId"] == l)
                        .map(|s| s["answer"][0].clone())
                        .unwrap_or(Value::Null)
                };
                let details = i["item"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| {
                        let l = s["linkId"].as_str()?;
                        if ["when", "who", "text"].contains(&l) {
                            return None;
                        }
                        let a = &s["answer"][0];
                        let v = a["valueCoding"]["code"]
                            .as_str()
                            .or_else(|| a["valueString"].as_str())
                            .or_else(|| a["valueDate"].as_str())
                            .map(str::to_string)
                            .or_else(|| a["valueBoolean"].as_bool().map(|b| b.to_string()))?;
                        Some((l.to_string(), v))
                    })
                    .collect();
                Some(Entry {
                    step,
                    when: sub("when")["valueDateTime"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    who: sub("who")["valueReference"]["reference"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    text: sub("text")["valueString"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    details,
                })
            })
            .collect();
        let started = entries
            .first()
            .and_then(|e| e.when.get(..10))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        Some(Case {
            client,
            open: v["status"] == "in-progress",
            started,
            entries,
        })
    }

    fn has(&self, step: CaseStep) -> bool {
        self.entries.iter().any(|e| e.step == step)
    }

    fn last(&self, step: CaseStep) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.step == step)
    }

    /// The step that comes next (`None` once closed), and the day it is due.
    pub fn next(&self) -> Option<(CaseStep, Option<NaiveDate>)> {
        if !self.open {
            return None;
        }
        let due = |s: CaseStep| {
            s.due_days()
                .and_then(|d| self.started.map(|start| start + Duration::days(d)))
        };
        for s in [
            CaseStep::Consult,
            CaseStep::Conversation,
            CaseStep::Decision,
        ] {
            if !self.has(s) {
                return Some((s, due(s)));
            }
        }
        let decided = self.outcome()?;
        match decided {
            Decided::Report => {
                let day = self.decided_on();
                Some((CaseStep::Report, day))
            }
            Decided::Help => {
                let term = self
                    .last(CaseStep::Decision)
                    .and_then(|e| e.detail("term"))
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                Some((CaseStep::Evaluation, term))
            }
            Decided::Close => None,
        }
    }

    /// What the latest decision (or evaluation) says.
    pub fn outcome(&self) -> Option<Decided> {
        self.entries
            .iter()
            .rev()
            .filter(|e| matches!(e.step, CaseStep::Decision | CaseStep::Evaluation))
            .find_map(|e| e.detail("outcome").and_then(Decided::from_code))
    }

    fn decided_on(&self) -> Option<NaiveDate> {
        self.entries
            .iter()
            .rev()
            .find(|e| matches!(e.step, CaseStep::Decision | CaseStep::Evaluation))
            .and_then(|e| e.when.get(..10))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    }

    /// Whether the next step is late on `today`.
    pub fn late(&self, today: NaiveDate) -> bool {
        self.next()
            .and_then(|(_, due)| due)
            .is_some_and(|d| d < today)
    }
}

/// Why a step cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseRefusal {
    #[error("a meldcode case starts with the signals, in the name of who records them")]
    StartsWithSignals,
    #[error("a step of the meldcode is recorded with a text, by who and when")]
    Incomplete,
    #[error("what a meldcode case recorded stays as it was: steps are added, never changed")]
    Kept,
    #[error("this step does not come now: the next step is {0}")]
    NotNow(&'static str),
    #[error("the decision does not follow from the afwegingskader's answers")]
    DecisionDoesNotFollow,
    #[error("a closed meldcode case stays closed: start a new one")]
    Closed,
}

/// What a step records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepInput {
    pub text: String,
    /// Step 2: with whom (colleague, designated officer, Veilig Thuis).
    pub consulted: Option<String>,
    /// Step 3: whether the conversation took place (else `text` says why not).
    pub held: Option<bool>,
    /// Steps 4–5: the afwegingskader's answers, and the term of help (a date).
    pub weighing: Option<Weighing>,
    pub term: Option<NaiveDate>,
    /// The report: the data categories shared, and the date of the report.
    pub shared: Vec<String>,
    /// The evaluation: safety reached?
    pub safe: Option<bool>,
}

fn step_item(step: CaseStep, who: &str, now: DateTime<Utc>, input: &StepInput) -> Value {
    let mut items = vec![
        json!({"linkId": "when", "answer": [{"valueDateTime": now.to_rfc3339_opts(SecondsFormat::Secs, true)}]}),
        json!({"linkId": "who", "answer": [{"valueReference": {"reference": who}}]}),
        json!({"linkId": "text", "answer": [{"valueString": input.text.trim()}]}),
    ];
    let coding = |l: &str, code: &str| json!({"linkId": l, "answer": [{"valueCoding": {"system": "https://kring.example/fhir/CodeSystem/meldcode", "code": code}}]});
    let boolean = |l: &str, b: bool| json!({"linkId": l, "answer": [{"valueBoolean": b}]});
    match step {
        CaseStep::Consult => {
            if let Some(c) = &input.consulted {
                items.push(coding("with", c));
            }
        }
        CaseStep::Conversation => {
            items.push(boolean("held", input.held.unwrap_or(false)));
        }
        CaseStep::Decision => {
            let w = input.weighing.unwrap_or_default();
            items.push(boolean("suspicion", w.suspicion));
            items.push(boolean("unsafe", w.unsafe_now));
            items.push(boolean("can-help", w.can_help));
            items.push(boolean("help-accepted", w.help_accepted));
            let decided = decide(w);
            items.push(coding("outcome", decided.code()));
            if let (Decided::Help, Some(term)) = (decided, input.term) {
                items.push(json!({"linkId": "term", "answer": [{"valueDate": term.to_string()}]}));
            }
        }
        CaseStep::Report => {
            for c in &input.shared {
                items.push(coding("shared", c));
            }
            items.push(json!({"linkId": "ground", "answer": [{"valueString": "Wmo 2015 art. 5.2.6 (meldrecht); Jeugdwet art. 7.3.11 lid 4"}]}));
        }
        CaseStep::Evaluation => {
            let safe = input.safe.unwrap_or(false);
            items.push(boolean("safe", safe));
            items.push(coding("outcome", evaluate(safe).code()));
        }
        CaseStep::Signals => {}
    }
    json!({"linkId": step.code(), "item": items})
}

fn withheld(now: DateTime<Utc>) -> Value {
    let until = now.date_naive() + Duration::days(MAX_WITHHELD_DAYS);
    json!({"url": WITHHELD_EXTENSION, "valueDate": until.to_string()})
}

/// A new case: the signals, by `who` (a `PractitionerRole/…`).
pub fn start(client: &str, who: &str, signals: &str, now: DateTime<Utc>) -> Value {
    let input = StepInput {
        text: signals.to_string(),
        ..StepInput::default()
    };
    json!({
        "resourceType": "QuestionnaireResponse",
        "extension": [withheld(now)],
        "questionnaire": MELDCODE_QUESTIONNAIRE,
        "status": "in-progress",
        "subject": {"reference": format!("Patient/{client}")},
        "authored": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "author": {"reference": who},
        "item": [step_item(CaseStep::Signals, who, now, &input)]
    })
}

/// The case with one more step; closes it when the step closes it. The case stays withheld
/// from the client and parents while it is open (the term renewed with every step).
pub fn add(
    case: &Value,
    step: CaseStep,
    who: &str,
    input: &StepInput,
    now: DateTime<Utc>,
) -> Result<Value, CaseRefusal> {
    let c = Case::from_json(case).ok_or(CaseRefusal::StartsWithSignals)?;
    if !c.open {
        return Err(CaseRefusal::Closed);
    }
    if input.text.trim().is_empty() {
        return Err(CaseRefusal::Incomplete);
    }
    // Signals can be added at any time; the other steps in their order.
    if step != CaseStep::Signals {
        let next = c.next().map(|(s, _)| s);
        if next != Some(step) {
            return Err(CaseRefusal::NotNow(
                next.map(CaseStep::code).unwrap_or("none"),
            ));
        }
    }
    let mut out = case.clone();
    if let Some(o) = out.as_object_mut() {
        o.remove("meta");
    }
    out["item"]
        .as_array_mut()
        .ok_or(CaseRefusal::StartsWithSignals)?
        .push(step_item(step, who, now, input));
    let closes = match step {
        CaseStep::Decision => input.weighing.map(decide) == Some(Decided::Close),
        CaseStep::Evaluation => input.safe == Some(true),
        CaseStep::Report => true,
        _ => false,
    };
    if closes {
        out["status"] = json!("completed");
    } else {
        out["extension"] = json!([withheld(now)]);
    }
    Ok(out)
}

/// The rules for a stored case: it starts with signals; every step has a text, who and when;
/// what was recorded stays (earlier steps unchanged, in order); a decision follows from its
/// answers; a closed case stays closed.
pub fn check_case(new: &Value, old: Option<&Value>) -> Result<(), CaseRefusal> {
    let c = Case::from_json(new).ok_or(CaseRefusal::StartsWithSignals)?;
    if c.entries.first().map(|e| e.step) != Some(CaseStep::Signals) {
        return Err(CaseRefusal::StartsWithSignals);
    }
    if c.entries
        .iter()
        .any(|e| e.text.trim().is_empty() || e.who.is_empty() || e.when.is_empty())
    {
        return Err(CaseRefusal::Incomplete);
    }
    // The steps in their order, none after the one that closed the case, and the status the
    // steps give.
    let closes = |e: &Entry| match e.step {
        CaseStep::Decision | CaseStep::Evaluation => e.detail("outcome") == Some("close"),
        CaseStep::Report => true,
        _ => false,
    };
    for i in 1..c.entries.len() {
        let before = Case {
            entries: c.entries[..i].to_vec(),
            open: true,
            ..c.clone()
        };
        if c.entries[..i].iter().any(closes) {
            return Err(CaseRefusal::Closed);
        }
        let e = &c.entries[i];
        if e.step != CaseStep::Signals {
            let next = before.next().map(|(s, _)| s);
            if next != Some(e.step) {
                return Err(CaseRefusal::NotNow(
                    next.map(CaseStep::code).unwrap_or("none"),
                ));
            }
        }
    }
    let closed = c.entries.iter().any(closes);
    if closed == c.open {
        return Err(CaseRefusal::DecisionDoesNotFollow);
    }
    for e in c.entries.iter().filter(|e| e.step == CaseStep::Evaluation) {
        let safe = e.detail("safe") == Some("true");
        if e.detail("outcome") != Some(evaluate(safe).code()) {
            return Err(CaseRefusal::DecisionDoesNotFollow);
        }
    }
    for e in c.entries.iter().filter(|e| e.step == CaseStep::Decision) {
        let yes = |l: &str| e.detail(l) == Some("true");
        let w = Weighing {
            suspicion: yes("suspicion"),
            unsafe_now: yes("unsafe"),
            can_help: yes("can-help"),
            help_accepted: yes("help-accepted"),
        };
        if e.detail("outcome") != Some(decide(w).code()) {
            return Err(CaseRefusal::DecisionDoesNotFollow);
        }
    }
    if let Some(old) = old {
        let before = old["item"].as_array().cloned().unwrap_or_default();
        let after = new["item"].as_array().cloned().unwrap_or_default();
        if after.len() < before.len() || after[..before.len()] != before[..] {
            return Err(CaseRefusal::Kept);
        }
        if old["status"] != "in-progress" {
            return Err(CaseRefusal::Closed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, 9, 0, 0).unwrap()
    }

    #[test]
    fn the_afwegingskader() {
        let w = |s, u, c, a| Weighing {
            suspicion: s,
            unsafe_now: u,
            can_help: c,
            help_accepted: a,
        };
        assert_eq!(decide(w(false, true, false, false)), Decided::Close);
        assert_eq!(decide(w(true, true, true, true)), Decided::Report);
        assert_eq!(decide(w(true, false, false, true)), Decided::Report);
        assert_eq!(decide(w(true, false, true, false)), Decided::Report);
        assert_eq!(decide(w(true, false, true, true)), Decided::Help);
        assert_eq!(evaluate(false), Decided::Report);
        assert_eq!(evaluate(true), Decided::Close);
    }

    #[test]
    fn a_case_walks_its_steps_in_order_with_due_dates() {
        let who = "PractitionerRole/r1";
        let text = |t: &str| StepInput {
            text: t.into(),
            ..StepInput::default()
        };
        let case = start("p1", who, "Blauwe plekken op de armen", at(1));
        check_case(&case, None).unwrap();
        let c = Case::from_json(&case).unwrap();
        assert_eq!(
            c.next(),
            Some((CaseStep::Consult, NaiveDate::from_ymd_opt(2026, 12, 6)))
        );
        assert!(c.late(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()));
        // Out of order is refused; signals may always be added.
        assert_eq!(
            add(&case, CaseStep::Decision, who, &text("x"), at(2)),
            Err(CaseRefusal::NotNow("consult"))
        );
        let case = add(
            &case,
            CaseStep::Signals,
            who,
            &text("Kind wil niet naar huis"),
            at(2),
        )
        .unwrap();
        let case2 = add(
            &case,
            CaseStep::Consult,
            who,
            &StepInput {
                consulted: Some("veilig-thuis".into()),
                ..text("Advies gevraagd")
            },
            at(3),
        )
        .unwrap();
        check_case(&case2, Some(&case)).unwrap();
        let case3 = add(
            &case2,
            CaseStep::Conversation,
            who,
            &StepInput {
                held: Some(false),
                ..text("Niet veilig: vader dreigde")
            },
            at(4),
        )
        .unwrap();
        let decision = StepInput {
            weighing: Some(Weighing {
                suspicion: true,
                unsafe_now: true,
                can_help: true,
                help_accepted: false,
            }),
            ..text("Structureel onveilig")
        };
        let case4 = add(&case3, CaseStep::Decision, who, &decision, at(5)).unwrap();
        let c = Case::from_json(&case4).unwrap();
        assert_eq!(c.outcome(), Some(Decided::Report));
        assert_eq!(c.next().map(|n| n.0), Some(CaseStep::Report));
        let case5 = add(
            &case4,
            CaseStep::Report,
            who,
            &StepInput {
                shared: vec!["safety".into()],
                ..text("Melding gedaan")
            },
            at(5),
        )
        .unwrap();
        assert_eq!(case5["status"], "completed");
        check_case(&case5, Some(&case4)).unwrap();
        assert_eq!(
            add(&case5, CaseStep::Signals, who, &text("x"), at(6)),
            Err(CaseRefusal::Closed)
        );
        // Changing what was recorded is refused, and so is a decision that does not follow.
        let mut changed = case4.clone();
        changed["item"][0]["item"][2]["answer"][0]["valueString"] = json!("iets anders");
        assert_eq!(check_case(&changed, Some(&case4)), Err(CaseRefusal::Kept));
        // Steps out of order, or a case closed without a closing step, are refused too.
        let mut skipped = case.clone();
        skipped["item"].as_array_mut().unwrap().push(step_item(
            CaseStep::Decision,
            who,
            at(3),
            &decision,
        ));
        assert_eq!(
            check_case(&skipped, Some(&case)),
            Err(CaseRefusal::NotNow("consult"))
        );
        let mut closed = case2.clone();
        closed["status"] = json!("completed");
        assert_eq!(
            check_case(&closed, Some(&case2)),
            Err(CaseRefusal::DecisionDoesNotFollow)
        );
        let mut forged = case4.clone();
        let last = forged["item"].as_array_mut().unwrap().last_mut().unwrap();
        let outcome = last["item"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|i| i["linkId"] == "outcome")
            .unwrap();
        outcome["answer"][0]["valueCoding"]["code"] = json!("close");
        assert_eq!(
            check_case(&forged, None),
            Err(CaseRefusal::DecisionDoesNotFollow)
        );
    }

    #[test]
    fn help_is_evaluated_at_the_end_of_its_term() {
        let who = "PractitionerRole/r1";
        let text = |t: &str| StepInput {
            text: t.into(),
            ..StepInput::default()
        };
        let mut case = start("p1", who, "Signalen", at(1));
        for (s, i) in [
            (CaseStep::Consult, text("Overleg")),
            (
                CaseStep::Conversation,
                StepInput {
                    held: Some(true),
                    ..text("Gesprek")
                },
            ),
            (
                CaseStep::Decision,
                StepInput {
                    weighing: Some(Weighing {
                        suspicion: true,
                        unsafe_now: false,
                        can_help: true,
                        help_accepted: true,
                    }),
                    term: NaiveDate::from_ymd_opt(2027, 2, 1),
                    ..text("Hulp")
                },
            ),
        ] {
            case = add(&case, s, who, &i, at(2)).unwrap();
        }
        let c = Case::from_json(&case).unwrap();
        assert_eq!(
            c.next(),
            Some((CaseStep::Evaluation, NaiveDate::from_ymd_opt(2027, 2, 1)))
        );
        let closed = add(
            &case,
            CaseStep::Evaluation,
            who,
            &StepInput {
                safe: Some(true),
                ..text("Veilig")
            },
            at(3),
        )
        .unwrap();
        assert_eq!(closed["status"], "completed");
    }
}

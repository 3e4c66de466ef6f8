//! One case: its evidence, the explanations that were tried, the officer's decision with a
//! note, and a warning to the staff member.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::super::error::PageError;
use super::super::form::CsrfForm;
use super::super::i18n::Texts;
use super::super::{render, Frame, Person};
use super::*;
use crate::AppState;

struct EvidenceRow {
    when: String,
    what: String,
    score: String,
    reasons: String,
    explanation: String,
    /// What an explanation that held rests on (emergency access, covering undone).
    grounds: Option<String>,
    emergency: bool,
}

#[derive(Template)]
#[template(path = "oversight_case.html")]
struct CasePage {
    f: Frame,
    id: i64,
    who: String,
    client: String,
    period: String,
    score: String,
    reasons: Vec<String>,
    evidence: Vec<EvidenceRow>,
    tried: Vec<String>,
    decisions: Vec<(String, String, bool)>,
    decided: String,
    note: String,
    warning: String,
    /// The emergency declarations of the case's staff member about its client: the reason as
    /// stated, when, until when.
    declarations: Vec<Declaration>,
}

/// An emergency declaration as the officer reads it from the access log.
pub struct Declaration {
    pub when: String,
    pub until: String,
    pub reason: String,
}

/// The emergency declarations `user` (`Practitioner/…`) made about `client`, read from the
/// access log as the officer (every read logged): the entry of each declaration carries the
/// reason as the professional stated it.
async fn declarations(
    state: &AppState,
    person: &Person,
    user: &str,
    client: &str,
) -> Result<Vec<Declaration>, PageError> {
    let req = kring_record::LogRequest {
        agent: Some(user.to_string()),
        purpose: Some("ETREAT".into()),
        data_type: Some("Communication".into()),
        count: 50,
        ..kring_record::LogRequest::default()
    };
    let entries = state
        .record
        .read_log(&person.caller, &req, "review-case")
        .await
        .map_err(|e| person.failed(e))?;
    Ok(entries
        .iter()
        .filter(|e| format!("Patient/{}", e.client) == client && !e.stated_reason.is_empty())
        .map(|e| {
            let at = e.recorded_ms();
            Declaration {
                when: super::super::dates::moment(at, person.lang),
                until: super::super::dates::moment(
                    at + kring_access::emergency::EMERGENCY_HOURS * 3_600_000,
                    person.lang,
                ),
                reason: e.stated_reason.clone(),
            }
        })
        .collect())
}

/// `GET /toezicht/zaken/{id}`: a case with its evidence and the decision form.
pub async fn case(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    case_page(&state, person, id, None, None).await
}

async fn case_page(
    state: &AppState,
    person: Person,
    id: i64,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let (org, review) = officer(state, &person)?;
    let c = match review.case(&org, id).await {
        Ok(c) => c,
        Err(e) => return Err(unavailable_review(&person, &e)),
    };
    log_review(
        state,
        &person,
        "R",
        "review-case",
        &[&c.client],
        &format!("case-{id}"),
    )
    .await?;
    // The staff member, and the colleagues the evidence names (covering for whom).
    let named: Vec<String> = c
        .evidence
        .accesses
        .iter()
        .filter_map(|a| a.grounds.as_deref())
        .flat_map(practitioners_in)
        .collect();
    let users: Vec<&str> = std::iter::once(c.user.as_str())
        .chain(named.iter().map(String::as_str))
        .collect();
    let names = staff_names(state, &person, &users).await;
    let (staff_member, client) = (who(&names, &c.user), client_number(&c.client));
    let t = Texts { lang: person.lang };
    let evidence = c
        .evidence
        .accesses
        .iter()
        .map(|a| EvidenceRow {
            when: super::super::dates::moment(a.at, person.lang),
            what: format!(
                "{}{}",
                if a.write {
                    t.get("did-update")
                } else {
                    t.get("did-read")
                },
                if a.emergency {
                    format!(" · {}", t.get("why-emergency"))
                } else {
                    String::new()
                }
            ),
            score: chance_text(&t, a.score),
            reasons: a
                .reasons
                .iter()
                .map(|r| reason_text(r, person.lang))
                .collect::<Vec<_>>()
                .join("; "),
            // The engine's sentence names people by id; the page by name and client number.
            explanation: a
                .explanation
                .replace(&c.user, &staff_member)
                .replace(&c.client, &client),
            grounds: a.grounds.as_ref().map(|g| {
                practitioners_in(g)
                    .iter()
                    .fold(g.replace(&c.client, &client), |text, r| {
                        text.replace(r.as_str(), &who(&names, r))
                    })
            }),
            emergency: a.emergency,
        })
        .collect();
    let declarations = declarations(state, &person, &c.user, &c.client).await?;
    let mut f = person.frame("oversight-case");
    f.message = message;
    f.error = error;
    let warning = t.get("warning-template");
    Ok(render::page(
        &CasePage {
            f,
            id,
            who: staff_member.clone(),
            client: client.clone(),
            period: period(&c, person.lang),
            score: chance_text(&t, c.score),
            reasons: c
                .reasons
                .iter()
                .map(|r| reason_text(r, person.lang))
                .collect(),
            evidence,
            tried: c.evidence.tried.clone(),
            decisions: Decision::ALL
                .iter()
                .map(|d| {
                    (
                        d.code().to_string(),
                        decision_text(*d, &t),
                        c.decision == Some(*d),
                    )
                })
                .collect(),
            decided: match (c.decision, c.decided_ms) {
                (Some(d), Some(at)) => format!(
                    "{} · {} · {}",
                    decision_text(d, &t),
                    super::super::dates::moment(at, person.lang),
                    c.decided_by
                ),
                _ => String::new(),
            },
            note: c.note.clone(),
            warning,
            declarations,
        },
        person.lang,
        person.set_lang,
    ))
}

/// Before an officer acts on a case: their organisation and the review store, the case found
/// in that organisation, and the action written to the access log (on the case's client).
async fn logged_case_action<'a>(
    state: &'a AppState,
    person: &Person,
    id: i64,
    action: &str,
    interaction: &str,
    what: String,
) -> Result<(String, &'a Review), PageError> {
    let (org, review) = officer(state, person)?;
    let case = review
        .case(&org, id)
        .await
        .map_err(|e| unavailable_review(person, &e))?;
    log_review(state, person, action, interaction, &[&case.client], &what).await?;
    Ok((org, review))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// `POST /toezicht/zaken/{id}/besluit`: the officer's decision with a note.
pub async fn decide(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<DecisionForm>,
) -> Result<Response, PageError> {
    let t = Texts { lang: person.lang };
    let Ok(decision) = form.decision.parse::<Decision>() else {
        let error = Some(t.get("choose-decision"));
        return case_page(&state, person, id, None, error).await;
    };
    // The decision goes into the access log first; without that entry it is not taken.
    let what = format!("case-{id}-{}", decision.code());
    let (org, review) =
        logged_case_action(&state, &person, id, "U", "review-decision", what).await?;
    let officer_id = person.caller.subject.log_id();
    let note: String = form.note.trim().chars().take(4000).collect();
    if let Err(e) = review
        .decide(
            &org,
            id,
            decision,
            &note,
            &officer_id,
            kring_fhir::datetime::now_ms(),
        )
        .await
    {
        return Err(unavailable_review(&person, &e));
    }
    let message = Some(format!(
        "{}: {}",
        t.get("decision-saved"),
        decision_text(decision, &t)
    ));
    case_page(&state, person, id, message, None).await
}

#[derive(Deserialize)]
pub struct WarningForm {
    #[serde(default)]
    text: String,
}

/// `POST /toezicht/zaken/{id}/waarschuwing`: a warning message to the case's user, shown to
/// them in Kring until they mark it read.
pub async fn warn(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<WarningForm>,
) -> Result<Response, PageError> {
    let t = Texts { lang: person.lang };
    let text: String = form.text.trim().chars().take(4000).collect();
    if text.is_empty() {
        let error = Some(t.get("warning-empty"));
        return case_page(&state, person, id, None, error).await;
    }
    let what = format!("case-{id}");
    let (org, review) =
        logged_case_action(&state, &person, id, "C", "review-warning", what).await?;
    let officer_id = person.caller.subject.log_id();
    if let Err(e) = review
        .warn(&org, id, &text, &officer_id, kring_fhir::datetime::now_ms())
        .await
    {
        return Err(unavailable_review(&person, &e));
    }
    case_page(&state, person, id, Some(t.get("warning-sent")), None).await
}

/// The staff references (`Practitioner/…`) a sentence of the engine names.
fn practitioners_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(' || c == ')')
        .filter(|w| w.starts_with("Practitioner/") && w.len() > "Practitioner/".len())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    // Longer ids first, so that one id that begins another is not replaced inside it.
    out.sort_by_key(|r| std::cmp::Reverse(r.len()));
    out
}

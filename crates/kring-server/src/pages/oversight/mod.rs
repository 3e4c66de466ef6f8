//! Oversight for the privacy officer: the review queue of Kring's own log grouped into cases
//! (user × client × episode), highest risk first ([`queue`]); a case with its evidence and the
//! explanations that were tried, where the officer decides with a note and can send the user a
//! warning ([`case`]); the weekly spot-check sample of what is only unexplained ([`sample`]);
//! the monthly report as a page and as a PDF ([`report`]); and the
//! warnings as the professional sees them ([`warnings`]). An officer sees the cases of staff of
//! their own organisation. Every page view, decision and warning is written to the access log
//! first.

mod breach;
mod case;
mod queue;
mod report;
mod sample;
mod warnings;

pub use breach::{assess, from_case, incident, open, register, sent};
pub use case::{case, decide, warn};
pub use queue::{queue, run_now};
pub use report::{report, report_pdf};
pub use sample::sample;
pub use warnings::{warning_read, warnings_for};

use std::collections::BTreeMap;

use kring_access::{Category, Subject, Target};
use kring_oversight::Reason;
use kring_record::logging::entry_for;
use kring_review::{CaseRow, Decision, Review};

use super::access_log::local;
use super::error::PageError;
use super::i18n::{Lang, Texts};
use super::names::names_of;
use super::Person;
use crate::AppState;

fn reason_text(code: &str, lang: Lang) -> String {
    match (Reason::from_code(code), lang) {
        (Some(r), Lang::Nl) => r.dutch().to_string(),
        (Some(r), Lang::En) => r.english().to_string(),
        (None, _) => code.to_string(),
    }
}

/// A score as the officer reads it: the chance that the access was a violation, in whole
/// per cents, never shown as certain either way (0.998 reads as 99 %, 0.001 as 1 %).
fn chance_text(t: &Texts, chance: f64) -> String {
    t.percent(chance.clamp(0.01, 0.99), 0)
}

fn decision_text(d: Decision, t: &Texts) -> String {
    t.get(&format!("decision-{}", d.code()))
}

/// The officer's organisation (`Organization/…`) and review store, or the page to show.
fn officer<'a>(state: &'a AppState, person: &Person) -> Result<(String, &'a Review), PageError> {
    let Subject::Officer { organisation, .. } = &person.caller.subject else {
        return Err(person.not_for_you());
    };
    let Some(review) = state.review.as_deref() else {
        let f = person.frame("oversight");
        let sentence = f.t.get("oversight-unavailable");
        return Err(PageError::Unavailable(Box::new(f), sentence));
    };
    Ok((format!("Organization/{organisation}"), review))
}

/// The rule by which privacy officers review the access log of their organisation.
const OFFICER_RULE: &str = "privacy-officer-reads-log";

/// Writes what the officer is about to see or do to the access log, one entry per client;
/// nothing is shown or done when that fails. `what` names the review object (`case-12`,
/// `month-2026-11`), as the entry's data id.
async fn log_review(
    state: &AppState,
    person: &Person,
    action: &str,
    interaction: &str,
    clients: &[&str],
    what: &str,
) -> Result<(), PageError> {
    let what = (!what.is_empty()).then_some(what);
    let targets: Vec<Target> = if clients.is_empty() {
        vec![Target::new("AuditEvent", what, "", Category::AccessLog)]
    } else {
        clients
            .iter()
            .map(|c| {
                Target::new(
                    "AuditEvent",
                    what,
                    c.trim_start_matches("Patient/"),
                    Category::AccessLog,
                )
            })
            .collect()
    };
    let reasons = [kring_access::Reason::Rule(OFFICER_RULE.into())];
    for target in &targets {
        let entry = entry_for(
            &person.caller,
            action,
            interaction,
            "success",
            target,
            &reasons,
        );
        state
            .record
            .log_event(entry)
            .await
            .map_err(|e| person.failed(e))?;
    }
    Ok(())
}

/// Names of staff members (`Practitioner/…`), looked up as the officer.
async fn staff_names(
    state: &AppState,
    person: &Person,
    users: &[&str],
) -> BTreeMap<String, String> {
    names_of(
        state,
        person,
        "Practitioner",
        users.iter().copied(),
        super::names::human_name,
    )
    .await
}

/// A staff member by name (their id only when the record holds no name for them).
fn who(names: &BTreeMap<String, String>, user: &str) -> String {
    match names.get(user) {
        Some(n) if !n.is_empty() => n.clone(),
        _ => user.to_string(),
    }
}

/// A client as the review shows them: by client number (the review reads no client's
/// identity; the record's pages do, decided and logged, when the officer opens them).
fn client_number(client: &str) -> String {
    client
        .strip_prefix("Patient/")
        .unwrap_or(client)
        .to_string()
}

/// The case's period in Dutch: `2 aug 2026, 10:00`, or `2 aug 2026 – 5 aug 2026`.
fn period(c: &CaseRow, lang: Lang) -> String {
    let a = super::dates::local(c.start_ms).date_naive();
    let b = super::dates::local(c.end_ms).date_naive();
    if a == b {
        super::dates::moment(c.start_ms, lang)
    } else {
        format!(
            "{} – {}",
            super::dates::day(a, lang),
            super::dates::day(b, lang)
        )
    }
}

/// The page for a review error: a case that is not there (or not the officer's) is "not
/// found"; anything else means the review store cannot be used (503).
fn unavailable_review(person: &Person, e: &kring_review::ReviewError) -> PageError {
    if let kring_review::ReviewError::NoSuchCase = e {
        return person.not_found();
    }
    tracing::error!(error = %e, "review store unavailable");
    let f = person.frame("oversight");
    let sentence = f.t.get("oversight-unavailable");
    PageError::Unavailable(Box::new(f), sentence)
}

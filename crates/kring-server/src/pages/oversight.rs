//! Oversight for the privacy officer: the review queue of Kring's own log grouped into cases
//! (user × client × episode), highest risk first; a case with its evidence and the
//! explanations that were tried, where the officer decides (justified, unjustified, warn,
//! escalate) with a note and can send the user a warning; the monthly report as a page and
//! as a PDF. An officer sees the cases of staff of their own organisation. Every page view,
//! decision and warning is itself written to the access log first.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kring_access::{Category, Subject, Target};
use kring_oversight::Reason;
use kring_record::logging::entry_for;
use kring_record::RecordError;
use kring_review::report::{bars_svg, daily_svg, month_report, pdf, MonthReport, PdfLabels};
use kring_review::{CaseRow, Decision, Review};
use serde::Deserialize;

use super::access_log::local;
use super::clients::names_of;
use super::i18n::{Lang, Texts};
use super::{render, Frame, Person};
use crate::AppState;

fn reason_text(code: &str, lang: Lang) -> String {
    match (Reason::from_code(code), lang) {
        (Some(r), Lang::Nl) => r.dutch().to_string(),
        (Some(r), Lang::En) => r.english().to_string(),
        (None, _) => code.to_string(),
    }
}

fn decision_text(d: Decision, t: &Texts) -> String {
    t.get(&format!("decision-{}", d.code()))
}

/// The officer's organisation (`Organization/…`) and review store, or the page to show.
fn officer<'a>(
    state: &'a AppState,
    person: &Person,
) -> Result<(String, &'a Review), Box<Response>> {
    let Subject::Officer { organisation, .. } = &person.caller.subject else {
        return Err(Box::new(render::error_page(
            person.frame("oversight"),
            &RecordError::Forbidden(kring_record::Refusal::silent()),
            person.lang,
        )));
    };
    let Some(review) = state.review.as_deref() else {
        let mut f = person.frame("oversight");
        f.error = Some(f.t.get("oversight-unavailable"));
        return Err(Box::new(render::page(
            &Unavailable { f },
            person.lang,
            person.set_lang,
        )));
    };
    Ok((format!("Organization/{organisation}"), review))
}

/// The rule by which privacy officers review the access log of their organisation.
const OFFICER_RULE: &str = "privacy-officer-reads-log";

#[derive(Template)]
#[template(path = "error.html")]
struct Unavailable {
    f: Frame,
}

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
) -> Result<(), Box<Response>> {
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
        if let Err(e) = state.record.log_event(entry).await {
            return Err(Box::new(render::error_page(
                person.frame("oversight"),
                &e,
                person.lang,
            )));
        }
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
        super::clients::human_name,
    )
    .await
}

fn who(names: &BTreeMap<String, String>, user: &str) -> String {
    match names.get(user) {
        Some(n) if !n.is_empty() => format!("{n} ({user})"),
        _ => user.to_string(),
    }
}

struct QueueRow {
    id: i64,
    score: f64,
    score_text: String,
    who: String,
    client: String,
    period: String,
    reasons: String,
    count: usize,
    decision: String,
}

#[derive(Template)]
#[template(path = "oversight.html")]
struct QueuePage {
    f: Frame,
    last_run: String,
    decided: bool,
    rows: Vec<QueueRow>,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    besloten: String,
}

fn period(c: &CaseRow) -> String {
    let (a, _) = local(c.start_ms);
    let (b, _) = local(c.end_ms);
    if a[..10] == b[..10] {
        a
    } else {
        format!("{} – {}", &a[..10], &b[..10])
    }
}

/// `GET /toezicht`: the review queue (open cases, or with `?besloten=1` the decided ones).
pub async fn queue(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<QueueQuery>,
) -> Response {
    queue_page(&state, person, !q.besloten.is_empty(), None).await
}

async fn queue_page(
    state: &AppState,
    person: Person,
    decided: bool,
    message: Option<String>,
) -> Response {
    let (org, review) = match officer(state, &person) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let cases = match review.cases(&org, decided, 200).await {
        Ok(c) => c,
        Err(e) => return unavailable_review(&person, &e),
    };
    let clients: Vec<&str> = cases
        .iter()
        .map(|c| c.client.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if let Err(r) = log_review(state, &person, "R", "review-queue", &clients, "").await {
        return *r;
    }
    let users: Vec<&str> = cases.iter().map(|c| c.user.as_str()).collect();
    let names = staff_names(state, &person, &users).await;
    let t = Texts { lang: person.lang };
    let last_run = match review.latest_run().await {
        Ok(Some(r)) => {
            let explained = 100.0 * r.explained as f64 / r.accesses.max(1) as f64;
            format!(
                "{}: {} · {} {} · {explained:.1}% {} · {} {}",
                t.get("last-run"),
                local(r.finished).0,
                r.accesses,
                t.get("accesses-screened"),
                t.get("explained-share"),
                r.cases,
                t.get("case-count")
            )
        }
        Ok(None) => t.get("no-run-yet"),
        Err(e) => return unavailable_review(&person, &e),
    };
    let rows = cases
        .iter()
        .map(|c| QueueRow {
            id: c.id,
            score: c.score,
            score_text: format!("{:.0}%", c.score * 100.0),
            who: who(&names, &c.user),
            client: c.client.clone(),
            period: period(c),
            reasons: c
                .reasons
                .iter()
                .map(|r| reason_text(r, person.lang))
                .collect::<Vec<_>>()
                .join("; "),
            count: c.evidence.accesses.len(),
            decision: c.decision.map(|d| decision_text(d, &t)).unwrap_or_default(),
        })
        .collect();
    let mut f = person.frame("oversight");
    f.message = message;
    render::page(
        &QueuePage {
            f,
            last_run,
            decided,
            rows,
        },
        person.lang,
        person.set_lang,
    )
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /toezicht/controleren`: screen the live log now.
pub async fn run_now(
    State(state): State<AppState>,
    person: Person,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = person.check_csrf(&form.csrf) {
        return r.into_response();
    }
    let (_, review) = match officer(&state, &person) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if let Err(r) = log_review(&state, &person, "E", "review-run", &[], "").await {
        return *r;
    }
    let t = Texts { lang: person.lang };
    let message = match kring_review::screen_live(review, &state.record, "on-demand", 31).await {
        Ok(s) => format!(
            "{} {} {} · {} {}",
            t.get("run-done"),
            s.accesses,
            t.get("accesses-screened"),
            s.cases,
            t.get("case-count")
        ),
        Err(e) => {
            tracing::error!(error = %e, "on-demand oversight run failed");
            t.get("run-failed")
        }
    };
    queue_page(&state, person, false, Some(message)).await
}

struct EvidenceRow {
    when: String,
    what: String,
    score: String,
    reasons: String,
    explanation: String,
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
}

/// `GET /toezicht/zaken/{id}`: a case with its evidence and the decision form.
pub async fn case(State(state): State<AppState>, person: Person, Path(id): Path<i64>) -> Response {
    case_page(&state, person, id, None, None).await
}

async fn case_page(
    state: &AppState,
    person: Person,
    id: i64,
    message: Option<String>,
    error: Option<String>,
) -> Response {
    let (org, review) = match officer(state, &person) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let c = match review.case(&org, id).await {
        Ok(c) => c,
        Err(e) => return unavailable_review(&person, &e),
    };
    if let Err(r) = log_review(
        state,
        &person,
        "R",
        "review-case",
        &[&c.client],
        &format!("case-{id}"),
    )
    .await
    {
        return *r;
    }
    let names = staff_names(state, &person, &[&c.user]).await;
    let t = Texts { lang: person.lang };
    let evidence = c
        .evidence
        .accesses
        .iter()
        .map(|a| EvidenceRow {
            when: local(a.at).0,
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
            score: format!("{:.0}%", a.score * 100.0),
            reasons: a
                .reasons
                .iter()
                .map(|r| reason_text(r, person.lang))
                .collect::<Vec<_>>()
                .join("; "),
            explanation: a.explanation.clone(),
            emergency: a.emergency,
        })
        .collect();
    let mut f = person.frame("oversight-case");
    f.message = message;
    f.error = error;
    let warning = t.get("warning-template");
    render::page(
        &CasePage {
            f,
            id,
            who: who(&names, &c.user),
            client: c.client.clone(),
            period: period(&c),
            score: format!("{:.0}%", c.score * 100.0),
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
                    local(at).0,
                    c.decided_by
                ),
                _ => String::new(),
            },
            note: c.note.clone(),
            warning,
        },
        person.lang,
        person.set_lang,
    )
}

/// The page for a review error: a case that is not there (or not the officer's) is "not
/// found"; anything else means the review store cannot be used (503).
fn unavailable_review(person: &Person, e: &kring_review::ReviewError) -> Response {
    if let kring_review::ReviewError::NoSuchCase = e {
        return render::error_page(
            person.frame("oversight"),
            &RecordError::NotFound("case".into()),
            person.lang,
        );
    }
    tracing::error!(error = %e, "review store unavailable");
    let mut f = person.frame("oversight");
    f.error = Some(f.t.get("oversight-unavailable"));
    let mut res = render::page(&Unavailable { f }, person.lang, false);
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    res
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
) -> Result<(String, &'a Review), Box<Response>> {
    let (org, review) = officer(state, person)?;
    let case = review
        .case(&org, id)
        .await
        .map_err(|e| Box::new(unavailable_review(person, &e)))?;
    log_review(state, person, action, interaction, &[&case.client], &what).await?;
    Ok((org, review))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
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
    Form(form): Form<DecisionForm>,
) -> Response {
    if let Err(r) = person.check_csrf(&form.csrf) {
        return r.into_response();
    }
    let t = Texts { lang: person.lang };
    let Ok(decision) = form.decision.parse::<Decision>() else {
        let error = Some(t.get("choose-decision"));
        return case_page(&state, person, id, None, error).await;
    };
    // The decision goes into the access log first; without that entry it is not taken.
    let what = format!("case-{id}-{}", decision.code());
    let (org, review) =
        match logged_case_action(&state, &person, id, "U", "review-decision", what).await {
            Ok(x) => x,
            Err(r) => return *r,
        };
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
        return unavailable_review(&person, &e);
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
    csrf: String,
    #[serde(default)]
    text: String,
}

/// `POST /toezicht/zaken/{id}/waarschuwing`: a warning message to the case's user, shown to
/// them in Kring until they mark it read.
pub async fn warn(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
    Form(form): Form<WarningForm>,
) -> Response {
    if let Err(r) = person.check_csrf(&form.csrf) {
        return r.into_response();
    }
    let t = Texts { lang: person.lang };
    let text: String = form.text.trim().chars().take(4000).collect();
    if text.is_empty() {
        let error = Some(t.get("warning-empty"));
        return case_page(&state, person, id, None, error).await;
    }
    let what = format!("case-{id}");
    let (org, review) =
        match logged_case_action(&state, &person, id, "C", "review-warning", what).await {
            Ok(x) => x,
            Err(r) => return *r,
        };
    let officer_id = person.caller.subject.log_id();
    if let Err(e) = review
        .warn(&org, id, &text, &officer_id, kring_fhir::datetime::now_ms())
        .await
    {
        return unavailable_review(&person, &e);
    }
    case_page(&state, person, id, Some(t.get("warning-sent")), None).await
}

#[derive(Deserialize, Default)]
pub struct MonthQuery {
    #[serde(default)]
    maand: String,
}

fn month_of(q: &MonthQuery) -> String {
    let m = q.maand.trim();
    let valid = m.len() == 7
        && m.as_bytes()[4] == b'-'
        && m[..4].bytes().all(|b| b.is_ascii_digit())
        && matches!(m[5..].parse::<u32>(), Ok(1..=12));
    if valid {
        m.to_string()
    } else {
        local(kring_fhir::datetime::now_ms()).1[..7].to_string()
    }
}

#[derive(Template)]
#[template(path = "oversight_report.html")]
struct ReportPage {
    f: Frame,
    month: String,
    figures: Vec<(String, String)>,
    daily: String,
    outcomes: String,
    reasons: String,
    offenders: Vec<String>,
}

fn figures(r: &MonthReport, t: &Texts) -> Vec<(String, String)> {
    vec![
        (t.get("report-accesses"), r.accesses.to_string()),
        (
            t.get("report-explained"),
            format!("{:.1}%", 100.0 * r.explained_share()),
        ),
        (t.get("report-flagged"), r.flagged.to_string()),
        (t.get("report-cases"), r.cases.to_string()),
        (
            t.get("report-reviewed"),
            format!("{} / {}", r.reviewed, r.cases),
        ),
        (t.get("report-warnings"), r.warnings_sent.to_string()),
        (t.get("report-emergency"), r.emergency.to_string()),
        (t.get("report-repeat"), r.repeat_offenders.len().to_string()),
    ]
}

async fn report_data(
    state: &AppState,
    person: &Person,
    q: &MonthQuery,
) -> Result<(MonthReport, BTreeMap<String, String>), Box<Response>> {
    let (org, review) = officer(state, person)?;
    let month = month_of(q);
    log_review(
        state,
        person,
        "R",
        "review-report",
        &[],
        &format!("month-{month}"),
    )
    .await?;
    let report = month_report(review, &org, &month)
        .await
        .map_err(|e| Box::new(unavailable_review(person, &e)))?;
    let users: Vec<&str> = report
        .repeat_offenders
        .iter()
        .map(|o| o.0.as_str())
        .collect();
    let names = staff_names(state, person, &users).await;
    Ok((report, names))
}

fn offender_lines(r: &MonthReport, names: &BTreeMap<String, String>, t: &Texts) -> Vec<String> {
    r.repeat_offenders
        .iter()
        .map(|(u, n, earlier)| {
            format!(
                "{} — {n} {}{}",
                who(names, u),
                t.get("case-count"),
                if *earlier {
                    format!(" · {}", t.get("earlier-unjustified"))
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

/// `GET /toezicht/rapport?maand=YYYY-MM`: the monthly report.
pub async fn report(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<MonthQuery>,
) -> Response {
    let (r, names) = match report_data(&state, &person, &q).await {
        Ok(x) => x,
        Err(resp) => return *resp,
    };
    let t = Texts { lang: person.lang };
    let outcomes: Vec<(String, i64)> = r
        .outcomes
        .iter()
        .map(|(d, n)| (decision_text(*d, &t), *n))
        .collect();
    let reasons: Vec<(String, i64)> = r
        .reasons
        .iter()
        .map(|(c, n)| (reason_text(c, person.lang), *n))
        .collect();
    let page = ReportPage {
        month: r.month.clone(),
        figures: figures(&r, &t),
        daily: daily_svg(&r, &t.get("chart-daily")),
        outcomes: bars_svg(&outcomes, &t.get("chart-outcomes"), "outcomes-title"),
        reasons: bars_svg(&reasons, &t.get("chart-reasons"), "reasons-title"),
        offenders: offender_lines(&r, &names, &t),
        f: person.frame("monthly-report"),
    };
    render::page(&page, person.lang, person.set_lang)
}

/// `GET /toezicht/rapport.pdf?maand=YYYY-MM`: the same as a PDF.
pub async fn report_pdf(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<MonthQuery>,
) -> Response {
    let (r, names) = match report_data(&state, &person, &q).await {
        Ok(x) => x,
        Err(resp) => return *resp,
    };
    let t = Texts { lang: person.lang };
    let labels = PdfLabels {
        title: format!("{} {}", t.get("monthly-report"), r.month),
        organisation: r.organisation.clone(),
        figures: figures(&r, &t),
        daily: t.get("chart-daily"),
        outcomes: t.get("chart-outcomes"),
        outcome_names: r
            .outcomes
            .iter()
            .map(|(d, _)| decision_text(*d, &t))
            .collect(),
        reasons: t.get("chart-reasons"),
        reason_names: r
            .reasons
            .iter()
            .map(|(c, n)| (reason_text(c, person.lang), *n))
            .collect(),
        offenders: t.get("report-repeat"),
        offender_lines: offender_lines(&r, &names, &t),
        footer: t.get("report-footer"),
    };
    let bytes = pdf(&r, &labels);
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kring-toezicht-{}.pdf\"", r.month),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// Unread warnings of a professional, for their home page: (id, text, sent).
pub async fn warnings_for(state: &AppState, practitioner: &str) -> Vec<(i64, String, String)> {
    let Some(review) = state.review.as_deref() else {
        return Vec::new();
    };
    match review
        .unread_warnings(&format!("Practitioner/{practitioner}"))
        .await
    {
        Ok(w) => w
            .into_iter()
            .map(|w| (w.id, w.text, local(w.sent_ms).0))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "warnings could not be read");
            Vec::new()
        }
    }
}

/// `POST /meldingen/{id}/gelezen`: a professional marks a warning as read.
pub async fn warning_read(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = person.check_csrf(&form.csrf) {
        return r.into_response();
    }
    if let (Subject::Professional { practitioner, .. }, Some(review)) =
        (&person.caller.subject, state.review.as_deref())
    {
        let _ = review
            .mark_read(
                &format!("Practitioner/{practitioner}"),
                id,
                kring_fhir::datetime::now_ms(),
            )
            .await;
    }
    Redirect::to("/clienten").into_response()
}

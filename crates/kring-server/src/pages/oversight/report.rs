//! The monthly report of the officer's organisation, as a page with charts and as a PDF.

use std::collections::BTreeMap;

use axum::http::header;
use kring_review::report::{bars_svg, daily_svg, month_report, pdf, MonthReport, PdfLabels};

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::super::error::PageError;
use super::super::i18n::Texts;
use super::super::{render, Frame, Person};
use super::*;
use crate::AppState;

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
    /// Score band, decided cases with their mean score, found unjustified (with the share).
    calibration: Vec<(String, String, String)>,
}

/// The report's calibration table: the officer's decisions per score band.
fn calibration_rows(r: &MonthReport, t: &Texts) -> Vec<(String, String, String)> {
    r.calibration
        .iter()
        .map(|b| {
            let band = format!("{}–{}", (b.low * 100.0).round(), t.percent(b.high, 0));
            if b.findings == 0 {
                return (band, "0".to_string(), "–".to_string());
            }
            let decided = t.arg2(
                "calibration-decided-mean",
                "count",
                &b.findings.to_string(),
                "mean",
                &chance_text(t, b.mean_score()),
            );
            let unjustified = format!("{} ({})", b.violations, t.percent(b.violation_share(), 0));
            (band, decided, unjustified)
        })
        .collect()
}

fn figures(r: &MonthReport, t: &Texts) -> Vec<(String, String)> {
    vec![
        (t.get("report-accesses"), r.accesses.to_string()),
        (t.get("report-explained"), t.percent(r.explained_share(), 1)),
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
) -> Result<(MonthReport, BTreeMap<String, String>), PageError> {
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
        .map_err(|e| unavailable_review(person, &e))?;
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
) -> Result<Response, PageError> {
    let (r, names) = report_data(&state, &person, &q).await?;
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
    let mut all = figures(&r, &t);
    all.extend(crate::pages::sharing::month_figures(&state, &person, &r.month).await);
    let page = ReportPage {
        month: r.month.clone(),
        figures: all,
        daily: daily_svg(&r, &t.get("chart-daily")),
        outcomes: bars_svg(&outcomes, &t.get("chart-outcomes"), "outcomes-title"),
        reasons: bars_svg(&reasons, &t.get("chart-reasons"), "reasons-title"),
        offenders: offender_lines(&r, &names, &t),
        calibration: calibration_rows(&r, &t),
        f: person.frame("monthly-report"),
    };
    Ok(render::page(&page, person.lang, person.set_lang))
}

/// `GET /toezicht/rapport.pdf?maand=YYYY-MM`: the same as a PDF.
pub async fn report_pdf(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let (r, names) = report_data(&state, &person, &q).await?;
    let t = Texts { lang: person.lang };
    let labels = PdfLabels {
        title: format!("{} {}", t.get("monthly-report"), r.month),
        organisation: r.organisation.clone(),
        figures: {
            let mut all = figures(&r, &t);
            all.extend(crate::pages::sharing::month_figures(&state, &person, &r.month).await);
            all
        },
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
        calibration: t.get("report-calibration"),
        calibration_intro: t.get("report-calibration-intro"),
        calibration_heads: [
            t.get("calibration-score"),
            t.get("calibration-decided"),
            t.get("calibration-unjustified"),
        ],
        calibration_rows: calibration_rows(&r, &t),
        footer: t.get("report-footer"),
    };
    let bytes = pdf(&r, &labels);
    Ok((
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
        .into_response())
}

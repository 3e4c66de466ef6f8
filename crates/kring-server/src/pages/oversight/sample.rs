//! The weekly spot-check sample (`/toezicht/steekproef`): accesses that nothing explains and
//! no risk signal marks — most often work nobody registered — are not cases in the queue; of
//! each week's, a fixed random few are shown here for the officer to check by hand (each opens
//! as a case, to decide on like any other), with how many there were in all.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;

use super::super::dates;
use super::super::error::PageError;
use super::super::{render, Frame, Person};
use super::*;
use crate::AppState;

/// How many accesses a week's sample shows.
const SAMPLE_SIZE: usize = 10;

struct SampleRow {
    id: i64,
    who: String,
    client: String,
    when: String,
    count: usize,
    decision: String,
}

#[derive(Template)]
#[template(path = "sample.html")]
struct SamplePage {
    f: Frame,
    week: String,
    summary: String,
    rows: Vec<SampleRow>,
    previous: String,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SampleQuery {
    /// A day of the week to show (`YYYY-MM-DD`); this week without it.
    #[serde(default)]
    week: String,
}

/// The Monday of `d`'s week.
fn monday(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// `GET /toezicht/steekproef`.
pub async fn sample(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<SampleQuery>,
) -> Result<Response, PageError> {
    let (org, review) = officer(&state, &person)?;
    let this_week = monday(dates::today());
    let week = NaiveDate::parse_from_str(q.week.trim(), "%Y-%m-%d")
        .map(monday)
        .unwrap_or(this_week)
        .min(this_week);
    let (cases, total) = review
        .weekly_sample(
            &org,
            kring_record::medication::due_ms(week, chrono::NaiveTime::MIN),
            SAMPLE_SIZE,
        )
        .await
        .map_err(|e| unavailable_review(&person, &e))?;
    let clients: Vec<&str> = cases.iter().map(|c| c.client.as_str()).collect();
    log_review(&state, &person, "R", "review-sample", &clients, "").await?;
    let users: Vec<&str> = cases.iter().map(|c| c.user.as_str()).collect();
    let staff = staff_names(&state, &person, &users).await;
    let t = person.texts();
    let lang = person.lang;
    let rows = cases
        .iter()
        .map(|c| SampleRow {
            id: c.id,
            who: who(&staff, &c.user),
            client: client_number(&c.client),
            when: dates::moment(c.start_ms, lang),
            count: c.evidence.accesses.len(),
            decision: c.decision.map(|d| decision_text(d, &t)).unwrap_or_default(),
        })
        .collect();
    let sunday = week + Duration::days(6);
    let summary = t.count(
        "sample-summary",
        "total",
        total as i64,
        &[("shown", &total.min(SAMPLE_SIZE).to_string())],
    );
    let mut f = person.frame("sample-title");
    f.title = t.arg("sample-title-week", "week", &dates::day(week, lang));
    Ok(render::page(
        &SamplePage {
            f,
            week: format!("{} – {}", dates::day(week, lang), dates::day(sunday, lang)),
            summary,
            rows,
            previous: (week - Duration::days(7)).to_string(),
            next: (week < this_week).then(|| (week + Duration::days(7)).to_string()),
        },
        person.lang,
        person.set_lang,
    ))
}

//! The review queue: the officer's own organisation's cases, highest risk first; "check
//! now" screens the live log on demand.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::super::error::PageError;
use super::super::form::CsrfForm;
use super::super::i18n::Texts;
use super::super::{render, Frame, Person};
use super::*;
use crate::AppState;

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
    notices: Vec<super::super::admin::Notice>,
    /// The 72 hours of the data breaches still to notify.
    breaches: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    besloten: String,
}

/// `GET /toezicht`: the review queue (open cases, or with `?besloten=1` the decided ones).
pub async fn queue(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
    queue_page(&state, person, !q.besloten.is_empty(), None).await
}

async fn queue_page(
    state: &AppState,
    person: Person,
    decided: bool,
    message: Option<String>,
) -> Result<Response, PageError> {
    let (org, review) = officer(state, &person)?;
    let cases = match review.cases(&org, decided, 200).await {
        Ok(c) => c,
        Err(e) => return Err(unavailable_review(&person, &e)),
    };
    let clients: Vec<&str> = cases
        .iter()
        .map(|c| c.client.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    log_review(state, &person, "R", "review-queue", &clients, "").await?;
    let users: Vec<&str> = cases.iter().map(|c| c.user.as_str()).collect();
    let names = staff_names(state, &person, &users).await;
    let t = Texts { lang: person.lang };
    let open = match review.open_count(&org).await {
        Ok(n) => n,
        Err(e) => return Err(unavailable_review(&person, &e)),
    };
    let last_run = match review.latest_run().await {
        Ok(Some(r)) => t.count(
            "last-run-summary",
            "open",
            open,
            &[
                (
                    "when",
                    &super::super::dates::moment(r.finished, person.lang),
                ),
                ("accesses", &r.accesses.to_string()),
                (
                    "explained",
                    &t.percent(r.explained as f64 / r.accesses.max(1) as f64, 1),
                ),
            ],
        ),
        Ok(None) => t.get("no-run-yet"),
        Err(e) => return Err(unavailable_review(&person, &e)),
    };
    let rows = cases
        .iter()
        .map(|c| QueueRow {
            id: c.id,
            score: c.score,
            score_text: chance_text(&t, c.score),
            who: who(&names, &c.user),
            client: client_number(&c.client),
            period: period(c, person.lang),
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
    let notices = super::super::admin::emergency_notices(state, &person, 7).await;
    let breaches = super::breach::countdowns(review, &org, &t).await;
    let mut f = person.frame("oversight");
    f.message = message;
    Ok(render::page(
        &QueuePage {
            f,
            last_run,
            decided,
            rows,
            notices,
            breaches,
        },
        person.lang,
        person.set_lang,
    ))
}

/// `POST /toezicht/controleren`: screen the live log now.
pub async fn run_now(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(super::super::signin::Nothing {}): CsrfForm<super::super::signin::Nothing>,
) -> Result<Response, PageError> {
    let (org, review) = officer(&state, &person)?;
    log_review(&state, &person, "E", "review-run", &[], "").await?;
    let t = Texts { lang: person.lang };
    let message = match kring_review::screen_live(review, &state.record, "on-demand", 31).await {
        Ok(s) => t.count(
            "run-done-summary",
            "open",
            review.open_count(&org).await.unwrap_or_default(),
            &[("accesses", &s.accesses.to_string())],
        ),
        Err(e) => {
            tracing::error!(error = %e, "on-demand oversight run failed");
            t.get("run-failed")
        }
    };
    queue_page(&state, person, false, Some(message)).await
}

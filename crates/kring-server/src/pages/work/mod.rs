//! The daily work around one client: the support plan ([`plan`]), reports ([`reports`]), the
//! crisis plan ([`crisis`]) and medication with its rounds and double checks
//! ([`medication`]). Every read and write goes through the record as the signed-in person, so
//! the decision point and the access log see each of them; the rules of daily work (who
//! changes which agreement, who corrects a report, the double check) are the record's own
//! (`kring_record::rules`, `kring_record::medication`), so a page cannot get round them.
//!
//! After a change a page redirects to itself with `?klaar=<what>` and says what happened; a
//! refused change shows the page again with the reason in Dutch and what was typed.

pub mod crisis;
pub mod medication;
pub mod plan;
pub mod reports;

use askama::Template;
use axum::response::Response;
use chrono::NaiveDate;
use kring_access::Action;
use serde::Deserialize;

use super::client_ctx::ClientCtx;
use super::{render, Frame, Person};
use crate::AppState;

/// What just happened, after a redirect: `?klaar=<key>`.
#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    pub klaar: String,
}

impl Done {
    /// The message for the key, when it is one of `known` (a page's own messages); the key
    /// names a Fluent message `done-<key>`.
    pub fn message(&self, person: &Person, known: &[&str]) -> Option<String> {
        known
            .contains(&self.klaar.as_str())
            .then(|| person.texts().get(&format!("done-{}", self.klaar)))
    }
}

/// A date as a form gives it (`2026-12-06`), or as people type it (`6-12-2026`).
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d-%m-%Y"))
        .ok()
}

/// A date for a date field.
pub fn field_day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Now, as a FHIR dateTime in Dutch time (`2026-12-06T09:15:00+01:00`): its date is the
/// Dutch day.
pub fn now_fhir() -> String {
    let now = crate::auth::now_ms();
    let minutes = kring_fhir::datetime::dutch_offset_ms(now) / 60_000;
    let local = super::dates::local(now).format("%Y-%m-%dT%H:%M:%S");
    format!("{local}+{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The first moment of a Dutch day, as a FHIR instant (for a search by day).
pub fn day_start(d: NaiveDate) -> String {
    kring_record::medication::fhir_moment(kring_record::medication::due_ms(
        d,
        chrono::NaiveTime::MIN,
    ))
}

/// Text typed into a form: trimmed, and refused when empty or longer than `max` characters.
pub fn text_field(s: &str, max: usize) -> Result<String, TextProblem> {
    let s = s.trim();
    match s.chars().count() {
        0 => Err(TextProblem::Empty),
        n if n > max => Err(TextProblem::TooLong(max)),
        _ => Ok(s.to_string()),
    }
}

/// What is wrong with typed text.
#[derive(Debug, Clone, Copy)]
pub enum TextProblem {
    Empty,
    TooLong(usize),
}

impl TextProblem {
    /// The sentence for the field called `what` (a Fluent key of the field's name).
    pub fn sentence(self, person: &Person, what: &str) -> String {
        let t = person.texts();
        let field = t.get(what);
        match self {
            TextProblem::Empty => t.with("field-empty", &[("field", &field)]),
            TextProblem::TooLong(max) => t.with(
                "field-too-long",
                &[("field", &field), ("max", &max.to_string())],
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "not_shared.html")]
struct NotShared {
    f: Frame,
    why: Vec<String>,
}

/// The page for a part of the record the person may not read: it says so, and why.
pub fn not_shared(
    state: &AppState,
    person: &Person,
    client: &ClientCtx,
    title_key: &str,
    rtype: &str,
    body: &[u8],
) -> Response {
    let d = state
        .record
        .explain(&person.caller, Action::Read, rtype, &client.id, body);
    let why = super::reasons::all_in_words(&state.record, &d.reasons, &person.texts());
    let mut f = client.frame(person, title_key);
    f.error = Some(f.t.get("not-shared"));
    render::page(&NotShared { f, why }, person.lang, person.set_lang)
}

/// Whether the person may write resources of `rtype` (with `body` for its category) about
/// the client.
pub fn may_write(
    state: &AppState,
    person: &Person,
    client: &str,
    rtype: &str,
    body: &[u8],
) -> bool {
    state
        .record
        .explain(&person.caller, Action::Update, rtype, client, body)
        .permit
}

/// Whether `s` is a FHIR id (`[A-Za-z0-9\-\.]{1,64}`), before it goes into a query.
pub fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A redirect to `to` saying what happened (`done`).
pub fn see(to: &str, done: &str) -> Response {
    use axum::response::IntoResponse;
    axum::response::Redirect::to(&format!("{to}?klaar={done}")).into_response()
}

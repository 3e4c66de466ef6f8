//! The circle page: the case director (or an administrator of the client's organisation) adds
//! professionals, teams or organisations with the data categories they need and an end date,
//! and ends memberships after a confirmation. Changes are CareTeam updates through the record,
//! so the decision point and the log see them. Every member is shown by name, every date in
//! Dutch, and ended memberships say when they ended.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{Duration, NaiveDate};
use kring_access::category::{Category, CATEGORY_SYSTEM};
use kring_access::circle::{Circle, Membership, CATEGORIES_EXTENSION};
use kring_access::Action;
use kring_record::Versioned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clients::category_name;
use super::error::PageError;
use super::form::CsrfForm;
use super::names::{json, role_text, search, ClientName, Names};
use super::{dates, render, Frame, Person};
use crate::AppState;

/// A membership may run at most this long from today: circles are reviewed, not forgotten.
const MAX_YEARS: i64 = 3;

pub struct MemberRow {
    pub index: usize,
    pub who: String,
    pub director: bool,
    pub categories: String,
    pub period: String,
    /// `running`, `ended` or `future`.
    pub state: &'static str,
    pub state_text: String,
}

#[derive(Template)]
#[template(path = "circle.html")]
struct CirclePage {
    f: Frame,
    id: String,
    members: Vec<MemberRow>,
    /// Who can be added, as (reference, label): people in a role, teams, organisations.
    professionals: Vec<(String, String)>,
    teams: Vec<(String, String)>,
    organisations: Vec<(String, String)>,
    category_options: Vec<(String, String, bool)>,
    /// What was typed, kept after an error.
    chosen_member: String,
    end: String,
    min_end: String,
    max_end: String,
}

#[derive(Template)]
#[template(path = "circle_end.html")]
struct EndPage {
    f: Frame,
    id: String,
    index: usize,
    question: String,
}

fn may_manage(state: &AppState, person: &Person, id: &str) -> bool {
    state
        .record
        .explain(&person.caller, Action::Update, "CareTeam", id, b"")
        .permit
}

/// The client's circle, through the record.
async fn circle_of(state: &AppState, person: &Person, id: &str) -> Option<Versioned> {
    search(
        state,
        person,
        "CareTeam",
        &format!("subject=Patient/{id}&_count=1"),
    )
    .await
    .into_iter()
    .next()
}

/// The page's title: the client by name when the person may see it.
async fn frame(state: &AppState, person: &Person, id: &str) -> Frame {
    let mut f = person.frame("circle-manage");
    if let Some(p) = search(state, person, "Patient", &format!("_id={id}"))
        .await
        .first()
    {
        let c = ClientName::of(p);
        f.title = f.t.with("circle-of", &[("client", &c.full(person.lang))]);
    }
    f
}

/// A membership's period and state in words.
pub(super) fn period_of(
    m: &Membership,
    today: NaiveDate,
    person: &Person,
) -> (String, &'static str, String) {
    let t = person.texts();
    let d = |x: Option<NaiveDate>| x.map(|x| dates::day(x, person.lang)).unwrap_or_default();
    let period = match (m.period.start, m.period.end) {
        (_, None) => t.with("period-from", &[("start", &d(m.period.start))]),
        (None, Some(_)) => t.with("period-until", &[("end", &d(m.period.end))]),
        _ => format!("{} – {}", d(m.period.start), d(m.period.end)),
    };
    if m.period.end.is_some_and(|e| e < today) {
        let text = t.with("membership-ended", &[("end", &d(m.period.end))]);
        (period, "ended", text)
    } else if m.period.start.is_some_and(|s| s > today) {
        let text = t.with("membership-future", &[("start", &d(m.period.start))]);
        (period, "future", text)
    } else {
        (period, "running", t.get("membership-running"))
    }
}

/// What the add form holds when the page is shown again.
#[derive(Default)]
struct Typed {
    member: String,
    end: String,
    categories: Vec<String>,
}

async fn render_page(
    state: &AppState,
    person: &Person,
    id: &str,
    typed: Typed,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    if !may_manage(state, person, id) {
        return Err(person.not_found());
    }
    let today = dates::today();
    let circle = circle_of(state, person, id).await;
    let memberships = circle
        .as_ref()
        .map(|c| Circle::from_json(&c.id, &json(c)).memberships)
        .unwrap_or_default();
    // Everyone who can be added, and everyone already in the circle, by name.
    let roles = search(state, person, "PractitionerRole", "_count=1000").await;
    let teams = search(state, person, "CareTeam", "subject:missing=true&_count=200").await;
    let orgs = search(state, person, "Organization", "_count=200").await;
    let mut refs: Vec<String> = memberships.iter().map(|m| m.member.clone()).collect();
    refs.extend(roles.iter().map(|r| format!("PractitionerRole/{}", r.id)));
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let members = memberships
        .iter()
        .map(|m| {
            let (period, state, state_text) = period_of(m, today, person);
            MemberRow {
                index: m.index,
                who: names.name(&m.member),
                director: m.director,
                categories: m
                    .categories
                    .iter()
                    .map(|c| category_name(*c, person.lang))
                    .collect::<Vec<_>>()
                    .join(", "),
                period,
                state,
                state_text,
            }
        })
        .collect();
    let mut professionals: Vec<(String, String)> = roles
        .iter()
        .map(|r| {
            let reference = format!("PractitionerRole/{}", r.id);
            let label = names.name(&reference);
            let label = if label.is_empty() {
                role_text(&json(r))
            } else {
                label
            };
            (reference, label)
        })
        .collect();
    professionals.sort_by(|a, b| a.1.cmp(&b.1));
    let mut teams: Vec<(String, String)> = teams
        .iter()
        .map(|t| {
            let v = json(t);
            let name = v["name"].as_str().unwrap_or_default().to_string();
            (format!("CareTeam/{}", t.id), name)
        })
        .filter(|(_, n)| !n.is_empty())
        .collect();
    teams.sort_by(|a, b| a.1.cmp(&b.1));
    let mut organisations: Vec<(String, String)> = orgs
        .iter()
        .map(|o| {
            let v = json(o);
            (
                format!("Organization/{}", o.id),
                v["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .filter(|(_, n)| !n.is_empty())
        .collect();
    organisations.sort_by(|a, b| a.1.cmp(&b.1));
    let category_options = Category::GRANTABLE
        .iter()
        .map(|c| {
            (
                c.code().to_string(),
                category_name(*c, person.lang).to_string(),
                typed.categories.iter().any(|t| t == c.code()),
            )
        })
        .collect();
    let mut f = frame(state, person, id).await;
    f.error = error;
    f.message = message;
    Ok(render::page(
        &CirclePage {
            f,
            id: id.to_string(),
            members,
            professionals,
            teams,
            organisations,
            category_options,
            chosen_member: typed.member,
            end: typed.end,
            min_end: today.to_string(),
            max_end: (today + Duration::days(365 * MAX_YEARS)).to_string(),
        },
        person.lang,
        person.set_lang,
    ))
}

pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    render_page(&state, &person, &id, Typed::default(), None, None).await
}

/// Whether a form's member is a reference a membership may name: a professional in a role, a
/// team (a CareTeam without a client) or an organisation.
fn may_be_member(reference: &str) -> bool {
    let Some((rtype, id)) = reference.split_once('/') else {
        return false;
    };
    matches!(rtype, "PractitionerRole" | "CareTeam" | "Organization")
        && kring_fhir::reference::is_valid_id(id)
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    member: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    category: Vec<String>,
}

pub async fn add(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<Response, PageError> {
    let t = person.texts();
    let today = dates::today();
    let typed = Typed {
        member: form.member.clone(),
        end: form.end.clone(),
        categories: form.category.clone(),
    };
    let cats: Vec<Category> = form
        .category
        .iter()
        .filter_map(|c| Category::from_code(c))
        .filter(|c| Category::GRANTABLE.contains(c))
        .collect();
    let end = NaiveDate::parse_from_str(form.end.trim(), "%Y-%m-%d").ok();
    let problem = if !may_be_member(&form.member) {
        Some(t.get("circle-choose-member"))
    } else if cats.is_empty() {
        Some(t.get("circle-choose-category"))
    } else if end.is_none() {
        Some(t.get("circle-choose-end"))
    } else if end.is_some_and(|e| e < today) {
        Some(t.get("circle-end-before-start"))
    } else if end.is_some_and(|e| e > today + Duration::days(365 * MAX_YEARS)) {
        Some(t.with("circle-end-too-late", &[("years", &MAX_YEARS.to_string())]))
    } else {
        None
    };
    if let Some(p) = problem {
        return render_page(&state, &person, &id, typed, None, Some(p)).await;
    }
    let end = end.expect("checked above");
    let Some(current) = circle_of(&state, &person, &id).await else {
        let e = t.get("circle-none");
        return render_page(&state, &person, &id, typed, None, Some(e)).await;
    };
    let circle = Circle::from_json(&current.id, &json(&current));
    let names = Names::of(&state, &person, [form.member.as_str()]).await;
    let who = names.name(&form.member);
    if let Some(m) = circle
        .memberships
        .iter()
        .find(|m| m.member == form.member && m.running(today))
    {
        let until = m
            .period
            .end
            .map(|e| dates::day(e, person.lang))
            .unwrap_or_else(|| t.get("no-end"));
        let e = t.with("circle-already", &[("who", &who), ("end", &until)]);
        return render_page(&state, &person, &id, typed, None, Some(e)).await;
    }
    let coding: Vec<Value> = cats
        .iter()
        .map(|c| json!({"system": CATEGORY_SYSTEM, "code": c.code()}))
        .collect();
    let participant = json!({
        "extension": [{"url": CATEGORIES_EXTENSION, "valueCodeableConcept": {"coding": coding}}],
        "member": {"reference": form.member},
        "period": {"start": today.to_string(), "end": end.to_string()},
    });
    let result = super::clients::update(&state, &person, &current, |v| {
        match v["participant"].as_array_mut() {
            Some(list) => list.push(participant),
            None => v["participant"] = json!([participant]),
        }
    })
    .await;
    match result {
        Ok(()) => {
            let m = t.with(
                "circle-added",
                &[("who", &who), ("end", &dates::day(end, person.lang))],
            );
            render_page(&state, &person, &id, Typed::default(), Some(m), None).await
        }
        Err(e) => render_page(&state, &person, &id, typed, None, Some(e)).await,
    }
}

#[derive(Deserialize)]
pub struct EndForm {
    index: usize,
    /// Set by the confirmation page's button: the membership is ended only then.
    #[serde(default)]
    confirmed: String,
}

pub async fn end(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<EndForm>,
) -> Result<Response, PageError> {
    if !may_manage(&state, &person, &id) {
        return Err(person.not_found());
    }
    let t = person.texts();
    let Some(current) = circle_of(&state, &person, &id).await else {
        return Err(person.not_found());
    };
    let circle = Circle::from_json(&current.id, &json(&current));
    let Some(m) = circle.memberships.iter().find(|m| m.index == form.index) else {
        let e = t.get("circle-no-such-member");
        return render_page(&state, &person, &id, Typed::default(), None, Some(e)).await;
    };
    let names = Names::of(&state, &person, [m.member.as_str()]).await;
    let who = names.name(&m.member);
    if form.confirmed != "ja" {
        let mut f = frame(&state, &person, &id).await;
        f.title = t.get("circle-end-title");
        return Ok(render::page(
            &EndPage {
                f,
                id,
                index: form.index,
                question: t.with("circle-end-confirm", &[("who", &who)]),
            },
            person.lang,
            person.set_lang,
        ));
    }
    // Ended yesterday: from today on it grants nothing.
    let yesterday = (dates::today() - Duration::days(1)).to_string();
    let index = form.index;
    let result = super::clients::update(&state, &person, &current, |v| {
        if let Some(p) = v["participant"].get_mut(index) {
            p["period"]["end"] = json!(yesterday);
        }
    })
    .await;
    match result {
        Ok(()) => {
            let m = t.with("circle-ended", &[("who", &who)]);
            render_page(&state, &person, &id, Typed::default(), Some(m), None).await
        }
        Err(e) => render_page(&state, &person, &id, Typed::default(), None, Some(e)).await,
    }
}

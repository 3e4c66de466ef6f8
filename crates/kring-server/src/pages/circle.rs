//! The circle page: the case director (or an administrator of the client's organisation) adds
//! professionals with a role's data categories and an end date, and ends memberships. Changes
//! are CareTeam updates through the record, so the decision point and the log see them.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kring_access::category::{Category, CATEGORY_SYSTEM};
use kring_access::circle::{Circle, CATEGORIES_EXTENSION};
use kring_access::Action;
use serde_json::{json, Value};

use super::clients::{category_name, human_name, json, search, update};
use super::{render, Frame, Person};
use crate::AppState;

pub struct MemberRow {
    pub index: usize,
    pub who: String,
    pub categories: String,
    pub period: String,
    pub running: bool,
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
    category_options: Vec<(String, String)>,
}

fn may_manage(state: &AppState, person: &Person, id: &str) -> bool {
    state
        .record
        .explain(&person.caller, Action::Update, "CareTeam", id, b"")
        .permit
}

/// The client's circle, through the record.
async fn circle_of(state: &AppState, person: &Person, id: &str) -> Option<kring_record::Versioned> {
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

pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
) -> Response {
    render_page(&state, &person, &id, None).await
}

async fn render_page(
    state: &AppState,
    person: &Person,
    id: &str,
    error: Option<String>,
) -> Response {
    if !may_manage(state, person, id) {
        return (
            StatusCode::FORBIDDEN,
            "only the case director manages this circle",
        )
            .into_response();
    }
    let today = chrono::Utc::now().date_naive();
    let mut members = Vec::new();
    if let Some(c) = circle_of(state, person, id).await {
        let circle = Circle::from_json(&c.id, &json(&c));
        for m in &circle.memberships {
            members.push(MemberRow {
                index: m.index,
                who: format!(
                    "{}{}",
                    m.member,
                    m.organisation
                        .as_ref()
                        .map(|o| format!(" ({o})"))
                        .unwrap_or_default()
                ),
                categories: m
                    .categories
                    .iter()
                    .map(|c| category_name(*c, person.lang))
                    .collect::<Vec<_>>()
                    .join(", "),
                period: format!(
                    "{} – {}",
                    m.period.start.map(|d| d.to_string()).unwrap_or_default(),
                    m.period.end.map(|d| d.to_string()).unwrap_or_default()
                ),
                running: m.running(today),
            });
        }
    }
    let mut professionals = Vec::new();
    let roles = state
        .record
        .search(
            &person.caller,
            &kring_record::SearchRequest::from_query(
                "PractitionerRole",
                "_count=500&_include=PractitionerRole:practitioner",
            ),
            kring_record::Handling::Strict,
        )
        .await;
    if let Ok(out) = roles {
        for r in &out.matches {
            let v = json(r);
            let practitioner = v["practitioner"]["reference"].as_str().unwrap_or("");
            let name = out
                .included
                .iter()
                .find(|p| format!("Practitioner/{}", p.id) == practitioner)
                .map(|p| human_name(&json(p)))
                .unwrap_or_else(|| practitioner.to_string());
            let org = v["organization"]["reference"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("Organization/");
            let code = v["code"][0]["coding"][0]["code"].as_str().unwrap_or("");
            professionals.push((
                format!("PractitionerRole/{}", r.id),
                format!("{name} — {org} ({code})"),
            ));
        }
    }
    professionals.sort_by(|a, b| a.1.cmp(&b.1));
    let mut teams: Vec<(String, String)> =
        search(state, person, "CareTeam", "subject:missing=true&_count=200")
            .await
            .iter()
            .map(|t| {
                let v = json(t);
                let org = v["managingOrganization"][0]["reference"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches("Organization/")
                    .to_string();
                let name = v["name"].as_str().unwrap_or(&t.id).to_string();
                (format!("CareTeam/{}", t.id), format!("{name} — {org}"))
            })
            .collect();
    teams.sort_by(|a, b| a.1.cmp(&b.1));
    let mut organisations: Vec<(String, String)> =
        search(state, person, "Organization", "_count=200")
            .await
            .iter()
            .map(|o| {
                let v = json(o);
                let name = v["name"].as_str().unwrap_or(&o.id).to_string();
                (format!("Organization/{}", o.id), name)
            })
            .collect();
    organisations.sort_by(|a, b| a.1.cmp(&b.1));
    let category_options = Category::GRANTABLE
        .iter()
        .map(|c| {
            (
                c.code().to_string(),
                category_name(*c, person.lang).to_string(),
            )
        })
        .collect();
    let mut f = person.frame("circle-manage");
    f.error = error;
    render::page(
        &CirclePage {
            f,
            id: id.to_string(),
            members,
            professionals,
            teams,
            organisations,
            category_options,
        },
        person.lang,
        person.set_lang,
    )
}

/// Whether a form's member is a reference a membership may name: a professional in a role, a
/// team (a CareTeam without a client) or an organisation.
fn may_be_member(reference: &str) -> bool {
    let Some((rtype, id)) = reference.split_once('/') else {
        return false;
    };
    matches!(rtype, "PractitionerRole" | "CareTeam" | "Organization")
        && !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Form fields, with repeated keys (`category=a&category=b`).
fn fields(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field(fields: &[(String, String)], key: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

async fn update_circle(
    state: &AppState,
    person: &Person,
    id: &str,
    change: impl FnOnce(&mut Value),
) -> Result<(), String> {
    let Some(c) = circle_of(state, person, id).await else {
        return Err("this client has no circle yet".into());
    };
    update(state, person, &c, change).await
}

pub async fn add(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = fields(&body);
    if let Err(r) = person.check_csrf(&field(&f, "csrf")) {
        return r.into_response();
    }
    let member = field(&f, "member");
    let end = field(&f, "end");
    let cats: Vec<Value> = f
        .iter()
        .filter(|(k, _)| k == "category")
        .filter_map(|(_, v)| Category::from_code(v))
        .map(|c| json!({"system": CATEGORY_SYSTEM, "code": c.code()}))
        .collect();
    if !may_be_member(&member)
        || cats.is_empty()
        || chrono::NaiveDate::parse_from_str(&end, "%Y-%m-%d").is_err()
    {
        return render_page(
            &state,
            &person,
            &id,
            Some(match person.lang {
                super::i18n::Lang::Nl => {
                    "Kies een professional, team of organisatie, ten minste één soort gegevens en een einddatum.".into()
                }
                super::i18n::Lang::En => {
                    "Choose a professional, team or organisation, at least one kind of data and an end date.".into()
                }
            }),
        )
        .await;
    }
    let today = chrono::Utc::now().date_naive().to_string();
    let result = update_circle(&state, &person, &id, |v| {
        let participant = json!({
            "extension": [{"url": CATEGORIES_EXTENSION, "valueCodeableConcept": {"coding": cats}}],
            "member": {"reference": member},
            "period": {"start": today, "end": end},
        });
        match v["participant"].as_array_mut() {
            Some(list) => list.push(participant),
            None => v["participant"] = json!([participant]),
        }
    })
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/clienten/{id}/kring")).into_response(),
        Err(e) => render_page(&state, &person, &id, Some(e)).await,
    }
}

pub async fn end(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = fields(&body);
    if let Err(r) = person.check_csrf(&field(&f, "csrf")) {
        return r.into_response();
    }
    let Ok(index) = field(&f, "index").parse::<usize>() else {
        return (StatusCode::BAD_REQUEST, "which membership?").into_response();
    };
    // Ended yesterday: from today on it grants nothing.
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    let result = update_circle(&state, &person, &id, |v| {
        if let Some(p) = v["participant"].get_mut(index) {
            p["period"]["end"] = json!(yesterday);
        }
    })
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/clienten/{id}/kring")).into_response(),
        Err(e) => render_page(&state, &person, &id, Some(e)).await,
    }
}

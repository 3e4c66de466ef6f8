//! `GET /mijn/kring`: the client's circle in words — who is in it (name, role, organisation),
//! since when and until when, what each may see, and why: the case director, the data the
//! circle gives them, and where the client's own consent says no.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kring_access::category::Category;
use kring_access::circle::Circle;
use kring_access::consent::{check_givers, resolve, ConsentRecord, Resolution};

use super::Own;
use crate::pages::clients::category_name;
use crate::pages::error::PageError;
use crate::pages::names::{json, search, Names};
use crate::pages::{dates, render, Frame, Person};
use crate::AppState;

pub struct MemberCard {
    pub who: String,
    pub director: bool,
    pub period: String,
    /// `running`, `ended` or `future`.
    pub state: &'static str,
    pub state_text: String,
    /// What the member may see, in words.
    pub sees: String,
    /// What the client's consent keeps from them, in words (empty when nothing).
    pub denied: String,
}

#[derive(Template)]
#[template(path = "portal_circle.html")]
struct CirclePage {
    f: Frame,
    members: Vec<MemberCard>,
    ended: Vec<MemberCard>,
    /// What professionals shared under a decision of the sharing aid (not withheld).
    grants: Vec<crate::pages::sharing::GrantRow>,
}

/// `GET /mijn/kring`.
pub async fn page(State(state): State<AppState>, person: Person) -> Result<Response, PageError> {
    let own = Own::of(&state, &person).await?;
    let id = &own.client;
    let today = dates::today();
    let circles = search(
        &state,
        &person,
        "CareTeam",
        &format!("subject=Patient/{id}&_count=20"),
    )
    .await;
    let consents: Vec<ConsentRecord> = search(
        &state,
        &person,
        "Consent",
        &format!("patient=Patient/{id}&_count=200"),
    )
    .await
    .iter()
    .filter(|c| !kring_access::sharing::is_grant(&json(c)))
    .map(|c| ConsentRecord::from_json(&c.id, &json(c)))
    // Only choices given by whom the age rules ask for today count.
    .filter(|c| {
        own.name.as_ref().and_then(|n| n.birth).is_some_and(|b| {
            check_givers(id, dates::age(b, today), &c.given_by, |g| {
                g.starts_with("RelatedPerson/")
            })
            .is_ok()
        })
    })
    .collect();
    let memberships: Vec<_> = circles
        .iter()
        .flat_map(|c| Circle::from_json(&c.id, &json(c)).memberships)
        .collect();
    let names = Names::of(
        &state,
        &person,
        memberships.iter().map(|m| m.member.as_str()),
    )
    .await;
    let t = person.texts();
    let list = |cats: &[Category]| {
        cats.iter()
            .map(|c| category_name(*c, person.lang))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut members = Vec::new();
    let mut ended = Vec::new();
    for m in &memberships {
        let (period, state_key, state_text) = crate::pages::circle::period_of(m, today, &person);
        // The organisation the member works for: its consent answers apply to them.
        let organisation = m
            .organisation
            .clone()
            .or_else(|| {
                names
                    .organisation_of(&m.member)
                    .map(|o| o.trim_start_matches("Organization/").to_string())
            })
            .or_else(|| m.member.strip_prefix("Organization/").map(str::to_string));
        let denied: Vec<Category> = organisation
            .as_deref()
            .map(|o| {
                m.categories
                    .iter()
                    .copied()
                    .filter(|c| matches!(resolve(&consents, o, *c, today), Resolution::Deny { .. }))
                    .collect()
            })
            .unwrap_or_default();
        let sees = if m.categories.is_empty() {
            t.get("portal-sees-nothing")
        } else {
            t.arg("portal-sees", "what", &list(&m.categories))
        };
        let card = MemberCard {
            who: names.name(&m.member),
            director: m.director,
            period,
            state: state_key,
            state_text,
            sees,
            denied: if denied.is_empty() {
                String::new()
            } else {
                t.arg("portal-sees-not", "what", &list(&denied))
            },
        };
        if state_key == "ended" {
            ended.push(card);
        } else {
            members.push(card);
        }
    }
    // The case director first, then by name.
    members.sort_by(|a, b| b.director.cmp(&a.director).then(a.who.cmp(&b.who)));
    let grants = crate::pages::sharing::for_portal(&state, &person, id).await;
    let f = own.frame(&person, "portal-circle-title", "/mijn/kring");
    Ok(render::page(
        &CirclePage {
            f,
            members,
            ended,
            grants,
        },
        person.lang,
        person.set_lang,
    ))
}

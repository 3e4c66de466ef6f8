//! The administrator's start page: their organisation's clients (to manage each circle), its
//! staff, its partner systems, and the notices of emergency access to its clients. Client data
//! comes through the record as the administrator — who sees a client's name, date of birth and
//! circle, nothing more — so every look is decided and logged.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kring_access::emergency::{EMERGENCY_CATEGORY, EMERGENCY_HOURS, EMERGENCY_SYSTEM};
use kring_access::Subject;

use super::error::PageError;
use super::names::{first_page, json, role_text, search, ClientName, Names};
use super::{dates, render, Frame, Person};
use crate::AppState;

/// How many clients the page lists (a larger organisation searches).
const CLIENTS_SHOWN: usize = 500;

pub struct ClientRow {
    pub id: String,
    pub name: String,
}

pub struct StaffRow {
    pub name: String,
    pub role: String,
}

pub struct PartnerRow {
    pub client_id: String,
    pub scopes: String,
    pub since: String,
    pub how: String,
}

/// A notice of emergency access, for the people who must know.
pub struct Notice {
    pub client: String,
    pub who: String,
    pub when: String,
    pub until: String,
    pub reason: String,
    pub running: bool,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    f: Frame,
    organisation: String,
    clients: Vec<ClientRow>,
    more_clients: bool,
    staff: Vec<StaffRow>,
    partners: Vec<PartnerRow>,
    notices: Vec<Notice>,
    /// What the installation's backups and drills need now (a failed drill at once).
    continuity: Vec<String>,
}

/// The notices of emergency access (declarations) this person may read, newest first, of the
/// last `days` days.
pub async fn emergency_notices(state: &AppState, person: &Person, days: i64) -> Vec<Notice> {
    notices(state, person, days, None).await
}

/// The notices of emergency access to one client of the last `days` days.
pub async fn emergency_notices_about(
    state: &AppState,
    person: &Person,
    days: i64,
    client: &str,
) -> Vec<Notice> {
    notices(state, person, days, Some(&[client])).await
}

/// The notices of emergency access to these clients of the last `days` days (a
/// professional's own clients: searched by them, not across the region).
pub async fn emergency_notices_among(
    state: &AppState,
    person: &Person,
    days: i64,
    clients: &[&str],
) -> Vec<Notice> {
    if clients.is_empty() {
        return Vec::new();
    }
    notices(state, person, days, Some(clients)).await
}

async fn notices(
    state: &AppState,
    person: &Person,
    days: i64,
    clients: Option<&[&str]>,
) -> Vec<Notice> {
    let since = dates::today() - chrono::Duration::days(days);
    let about = clients
        .map(|cs| {
            let subjects: Vec<String> = cs.iter().map(|c| format!("Patient/{c}")).collect();
            format!("&subject={}", subjects.join(","))
        })
        .unwrap_or_default();
    // The category alone (declarations are rare), the period and the order applied here: a
    // date condition and a sort beside it make the database walk every report of the region.
    let found = search(
        state,
        person,
        "Communication",
        &format!("category={EMERGENCY_SYSTEM}|{EMERGENCY_CATEGORY}{about}&_count=1000"),
    )
    .await;
    let since_ms = super::work::day_start(since);
    let since_ms = dates::fhir_ms(&since_ms).unwrap_or(0);
    let mut values: Vec<serde_json::Value> = found
        .iter()
        .map(json)
        .filter(|v| {
            v["sent"]
                .as_str()
                .and_then(dates::fhir_ms)
                .is_some_and(|t| t >= since_ms)
        })
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v["sent"].as_str().and_then(dates::fhir_ms)));
    values.truncate(50);
    let refs: Vec<String> = values
        .iter()
        .flat_map(|v| {
            [
                v["sender"]["reference"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                v["subject"]["reference"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ]
        })
        .collect();
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let now = kring_fhir::datetime::now_ms();
    values
        .iter()
        .map(|v| {
            let sent = v["sent"].as_str().and_then(dates::fhir_ms).unwrap_or(0);
            let until = sent + EMERGENCY_HOURS * 3_600_000;
            let client_ref = v["subject"]["reference"].as_str().unwrap_or_default();
            Notice {
                client: names.name(client_ref),
                who: names.name(v["sender"]["reference"].as_str().unwrap_or_default()),
                when: dates::moment(sent, person.lang),
                until: dates::moment(until, person.lang),
                reason: v["reasonCode"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                running: now < until,
            }
        })
        .collect()
}

/// `GET /beheer`.
pub async fn home(State(state): State<AppState>, person: Person) -> Result<Response, PageError> {
    let Subject::Administrator { organisation, .. } = &person.caller.subject else {
        return Err(person.not_for_you());
    };
    let org_ref = format!("Organization/{organisation}");
    let names = Names::of(&state, &person, [org_ref.as_str()]).await;
    // One page: the page shows the first so many and says there are more.
    let patients = first_page(
        &state,
        &person,
        "Patient",
        &format!("organization={org_ref}&_count={}", CLIENTS_SHOWN + 1),
    )
    .await;
    let more_clients = patients.len() > CLIENTS_SHOWN;
    let mut clients: Vec<ClientRow> = patients
        .iter()
        .take(CLIENTS_SHOWN)
        .map(|p| {
            let c = ClientName::of(p);
            ClientRow {
                id: c.id.clone(),
                name: c.full(person.lang),
            }
        })
        .collect();
    clients.sort_by(|a, b| a.name.cmp(&b.name));
    let roles = search(
        &state,
        &person,
        "PractitionerRole",
        &format!("organization={org_ref}&_count=500"),
    )
    .await;
    let staff_names = Names::of(
        &state,
        &person,
        roles
            .iter()
            .map(|r| {
                json(r)["practitioner"]["reference"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    )
    .await;
    let mut staff: Vec<StaffRow> = roles
        .iter()
        .map(|r| {
            let v = json(r);
            StaffRow {
                name: staff_names.name(v["practitioner"]["reference"].as_str().unwrap_or_default()),
                role: role_text(&v),
            }
        })
        .collect();
    staff.sort_by(|a, b| a.name.cmp(&b.name));
    let t = person.texts();
    let partners = state
        .accounts
        .partners_of(organisation)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| PartnerRow {
            client_id: p.client_id,
            scopes: p.scopes,
            since: dates::moment(p.created, person.lang),
            how: t.get(if p.jwks.is_some() {
                "partner-key"
            } else {
                "partner-secret"
            }),
        })
        .collect();
    let notices = emergency_notices(&state, &person, 7).await;
    Ok(render::page(
        &AdminPage {
            f: person.frame("admin-title"),
            organisation: names.name(&org_ref),
            clients,
            more_clients,
            staff,
            partners,
            notices,
            continuity: super::continuity::alarms(&state, &t),
        },
        person.lang,
        person.set_lang,
    ))
}

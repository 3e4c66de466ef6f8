//! The data-breach register for privacy officers (`/privacy/datalekken`): open an incident
//! (what happened, discovered when, whose account or which partner system, the window), which
//! Kring scopes at once from the access log — as the officer, decided and logged — into the
//! clients, categories, records and organisations concerned; the 72 hours to notify the
//! Autoriteit Persoonsgegevens count down here and on the review queue; the assessment (risk,
//! notify or not and why), the notification and the letter to the clients (both prefilled, the
//! letter in plain Dutch), the measures; when the notification and the letters went out. A
//! case of the review queue becomes an incident with one action. Every step is written to the
//! access log before it is taken.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use kring_record::LogRequest;
use kring_review::breach::{Assessment, Incident, NewIncident, Risk, Scope};
use serde::Deserialize;

use super::super::dates;
use super::super::error::PageError;
use super::super::form::CsrfForm;
use super::super::i18n::Texts;
use super::super::{render, Frame, Person};
use super::*;
use crate::AppState;

/// An incident as a row of the register.
pub struct IncidentRow {
    pub id: i64,
    pub what: String,
    pub discovered: String,
    pub clients: usize,
    pub state: String,
    pub urgent: bool,
}

#[derive(Template)]
#[template(path = "breaches.html")]
struct RegisterPage {
    f: Frame,
    rows: Vec<IncidentRow>,
    countdown: Vec<String>,
    /// The organisation's locations: (id, name), by name.
    locations: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "breach.html")]
struct IncidentPage {
    f: Frame,
    id: i64,
    what: String,
    who: String,
    discovered: String,
    window: String,
    deadline: String,
    countdown: String,
    clients: usize,
    records: u64,
    accesses: u64,
    categories: Vec<(String, u64)>,
    organisations: Vec<String>,
    /// (code, label, chosen).
    risks: Vec<(&'static str, String, bool)>,
    notify: String,
    reason: String,
    notification: String,
    letter: String,
    measures: String,
    assessed: String,
    notified: String,
    informed: String,
}

/// The officer's organisation, review store and incident `id` of that organisation.
async fn officer_incident<'a>(
    state: &'a AppState,
    person: &Person,
    id: i64,
) -> Result<(String, &'a kring_review::Review, Incident), PageError> {
    let (org, review) = officer(state, person)?;
    let i = review
        .incident(&org, id)
        .await
        .map_err(|e| unavailable_review(person, &e))?;
    Ok((org, review, i))
}

/// The 72 hours in words: "nog 41 uur" or "te laat sinds …".
fn countdown(i: &Incident, now: i64, t: &Texts) -> String {
    let left = i.deadline_ms() - now;
    if left >= 0 {
        t.count(
            "breach-hours-left",
            "count",
            left / 3_600_000,
            &[("id", &i.id.to_string())],
        )
    } else {
        t.with(
            "breach-overdue",
            &[
                ("id", &i.id.to_string()),
                ("since", &dates::moment(i.deadline_ms(), t.lang)),
            ],
        )
    }
}

/// The countdowns of the organisation's incidents still counting (also on the review queue).
pub async fn countdowns(review: &kring_review::Review, org: &str, t: &Texts) -> Vec<String> {
    let now = kring_fhir::datetime::now_ms();
    review
        .incidents(org)
        .await
        .unwrap_or_default()
        .iter()
        .filter(|i| i.counting())
        .map(|i| countdown(i, now, t))
        .collect()
}

/// `GET /privacy/datalekken`.
pub async fn register(
    State(state): State<AppState>,
    person: Person,
) -> Result<Response, PageError> {
    let (org, review) = officer(&state, &person)?;
    log_review(&state, &person, "R", "breach-register", &[], "breaches").await?;
    register_page(&state, person, &org, review, None).await
}

/// The officer's organisation's locations, (id, name) by name, read as the officer.
async fn locations_of(state: &AppState, person: &Person, org_id: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = super::super::names::search(
        state,
        person,
        "Location",
        &format!("organization=Organization/{org_id}&_count=500"),
    )
    .await
    .iter()
    .map(|v| {
        let name = super::super::names::json(v)["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (v.id.clone(), name)
    })
    .filter(|(_, name)| !name.is_empty())
    .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

async fn register_page(
    state: &AppState,
    person: Person,
    org: &str,
    review: &kring_review::Review,
    error: Option<String>,
) -> Result<Response, PageError> {
    let t = person.texts();
    let now = kring_fhir::datetime::now_ms();
    let incidents = review
        .incidents(org)
        .await
        .map_err(|e| unavailable_review(&person, &e))?;
    let rows = incidents
        .iter()
        .map(|i| IncidentRow {
            id: i.id,
            what: i.what.chars().take(120).collect(),
            discovered: dates::moment(i.discovered_ms, person.lang),
            clients: i.scope.clients.len(),
            state: state_of(i, &t),
            urgent: i.counting(),
        })
        .collect();
    let countdown = incidents
        .iter()
        .filter(|i| i.counting())
        .map(|i| countdown(i, now, &t))
        .collect();
    let locations = locations_of(state, &person, org.trim_start_matches("Organization/")).await;
    let mut f = person.frame("breach-title");
    f.error = error;
    let status = if f.error.is_some() { 422 } else { 200 };
    let mut res = render::page(
        &RegisterPage {
            f,
            rows,
            countdown,
            locations,
        },
        person.lang,
        person.set_lang,
    );
    *res.status_mut() = axum::http::StatusCode::from_u16(status).expect("status");
    Ok(res)
}

fn state_of(i: &Incident, t: &Texts) -> String {
    t.get(match (i.notified_ms, i.notify, i.risk) {
        (Some(_), _, _) => "breach-state-notified",
        (None, Some(false), _) => "breach-state-not-notifiable",
        (None, Some(true), _) => "breach-state-to-notify",
        (None, None, _) => "breach-state-open",
    })
}

#[derive(Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    what: String,
    /// `YYYY-MM-DDTHH:MM` (Dutch time).
    #[serde(default)]
    discovered: String,
    /// `account`, `partner`, `location` or `address`.
    #[serde(default)]
    kind: String,
    /// The username, client id or network address.
    #[serde(default)]
    name: String,
    /// The location's id (with `location`).
    #[serde(default)]
    location: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// Dutch local `YYYY-MM-DDTHH:MM` (or a date) as ms.
fn local_ms(s: &str, end_of_day: bool) -> Option<i64> {
    let s = s.trim();
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| {
                    if end_of_day {
                        d.and_hms_opt(23, 59, 59).expect("valid")
                    } else {
                        d.and_hms_opt(0, 0, 0).expect("valid")
                    }
                })
        })?;
    Some(kring_record::medication::due_ms(naive.date(), naive.time()))
}

/// What an incident is about: whose access, or where it was used.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Breached {
    /// A professional's account (`account/…`).
    Account(String),
    /// A partner system (`client/…`).
    Partner(String),
    /// A professional as a person (`Practitioner/…`): an oversight case's staff member,
    /// whatever account they used.
    Person(String),
    /// A location: what its staff did, and the downtime kits written for it.
    Location(String),
    /// A network address the requests came from (a stolen laptop, a compromised network).
    Address(std::net::IpAddr),
}

impl Breached {
    /// As kept in the register's `who`.
    fn key(&self) -> String {
        match self {
            Breached::Account(a) | Breached::Partner(a) | Breached::Person(a) => a.clone(),
            Breached::Location(id) => format!("Location/{id}"),
            Breached::Address(ip) => format!("address/{ip}"),
        }
    }

    /// From the register's `who` (an oversight case's user, or what the form gave).
    fn from_key(who: &str) -> Breached {
        if let Some(id) = who.strip_prefix("Location/") {
            Breached::Location(id.to_string())
        } else if let Some(ip) = who.strip_prefix("address/").and_then(|a| a.parse().ok()) {
            Breached::Address(ip)
        } else if who.starts_with("client/") {
            Breached::Partner(who.to_string())
        } else if who.starts_with("account/") {
            Breached::Account(who.to_string())
        } else {
            Breached::Person(who.to_string())
        }
    }
}

/// Reads what was done in the window from the access log, as the officer (decided, logged):
/// by the account or partner system (acting for the officer's organisation); by the staff of
/// the location (their roles) and in the location's downtime kits; or from the address — the
/// last two within what the officer may see of the log (their organisation's users and
/// clients).
async fn scope_of(
    state: &AppState,
    person: &Person,
    org_id: &str,
    who: &Breached,
    from_ms: i64,
    to_ms: i64,
) -> Result<Scope, PageError> {
    let window = LogRequest {
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        count: 200_000,
        ..LogRequest::default()
    };
    let mut requests = Vec::new();
    match who {
        Breached::Account(a) => requests.push(LogRequest {
            user: Some((a.clone(), org_id.to_string())),
            ..window
        }),
        Breached::Partner(p) | Breached::Person(p) => requests.push(LogRequest {
            agent: Some(p.clone()),
            ..window
        }),
        Breached::Address(ip) => requests.push(LogRequest {
            address: Some(ip.to_string()),
            ..window
        }),
        Breached::Location(id) => {
            let roles: Vec<String> = super::super::names::search(
                state,
                person,
                "PractitionerRole",
                &format!("location=Location/{id}&_count=1000"),
            )
            .await
            .iter()
            .map(|r| format!("PractitionerRole/{}", r.id))
            .collect();
            if !roles.is_empty() {
                requests.push(LogRequest {
                    roles: Some(roles),
                    ..window.clone()
                });
            }
            requests.push(LogRequest {
                data_type: Some("Location".into()),
                data_id: Some(id.clone()),
                ..window
            });
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    for req in &requests {
        for e in state
            .record
            .read_log(&person.caller, req, "breach-scope")
            .await
            .map_err(|e| person.failed(e))?
        {
            if seen.insert(e.id) {
                entries.push(e);
            }
        }
    }
    let mut clients = std::collections::BTreeSet::new();
    let mut categories: BTreeMap<String, u64> = BTreeMap::new();
    let mut records = std::collections::BTreeSet::new();
    let mut organisations = std::collections::BTreeSet::new();
    let mut accesses = 0;
    for e in entries.iter().filter(|e| e.outcome == "success") {
        accesses += 1;
        if !e.client.is_empty() {
            clients.insert(e.client.clone());
        }
        if !e.data.category.is_empty() {
            *categories.entry(e.data.category.clone()).or_default() += 1;
        }
        if !e.data.id.is_empty() {
            records.insert(format!("{}/{}", e.data.resource_type, e.data.id));
        }
        if !e.user.organisation.is_empty() {
            organisations.insert(e.user.organisation.clone());
        }
    }
    Ok(Scope {
        clients: clients.into_iter().collect(),
        categories: categories.into_iter().collect(),
        records: records.len() as u64,
        accesses,
        organisations: organisations.into_iter().collect(),
    })
}

/// An incident about to be opened.
struct Opening<'a> {
    what: &'a str,
    discovered_ms: i64,
    who: Breached,
    from_ms: i64,
    to_ms: i64,
    case_id: Option<i64>,
}

async fn open_incident(
    state: &AppState,
    person: &Person,
    o: Opening<'_>,
) -> Result<i64, PageError> {
    let Opening {
        what,
        discovered_ms,
        who,
        from_ms,
        to_ms,
        case_id,
    } = o;
    let (org, review) = officer(state, person)?;
    let org_id = org.trim_start_matches("Organization/").to_string();
    let scope = scope_of(state, person, &org_id, &who, from_ms, to_ms).await?;
    let clients: Vec<&str> = scope.clients.iter().map(String::as_str).collect();
    log_review(state, person, "C", "breach-open", &clients, "breach").await?;
    review
        .open_incident(&NewIncident {
            organisation: &org,
            opened_by: &person.caller.subject.log_id(),
            opened_ms: kring_fhir::datetime::now_ms(),
            discovered_ms,
            what,
            who: &who.key(),
            from_ms,
            to_ms,
            case_id,
            scope: &scope,
        })
        .await
        .map_err(|e| unavailable_review(person, &e))
}

/// `POST /privacy/datalekken`: open an incident, scoped at once.
pub async fn open(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<OpenForm>,
) -> Result<Response, PageError> {
    let (org, review) = officer(&state, &person)?;
    let t = person.texts();
    let what = form.what.trim();
    let name = form.name.trim();
    let discovered = local_ms(&form.discovered, false);
    let (from, to) = (local_ms(&form.from, false), local_ms(&form.to, true));
    let who = match form.kind.as_str() {
        "account" if !name.is_empty() => Some(Breached::Account(format!("account/{name}"))),
        "partner" if !name.is_empty() => Some(Breached::Partner(format!("client/{name}"))),
        "location" if !form.location.trim().is_empty() => {
            Some(Breached::Location(form.location.trim().to_string()))
        }
        "address" => name.parse().ok().map(Breached::Address),
        _ => None,
    };
    let error = if what.is_empty() {
        Some("breach-need-what")
    } else if discovered.is_none() {
        Some("breach-need-discovered")
    } else if form.kind == "address" && who.is_none() {
        Some("breach-need-address")
    } else if who.is_none() {
        Some("breach-need-who")
    } else if from.zip(to).is_none_or(|(f, t)| f > t) {
        Some("breach-need-window")
    } else {
        None
    };
    let (Some(who), None) = (who, error) else {
        let key = error.unwrap_or("breach-need-who");
        return register_page(&state, person, &org, review, Some(t.get(key))).await;
    };
    let what: String = what.chars().take(4000).collect();
    let id = open_incident(
        &state,
        &person,
        Opening {
            what: &what,
            discovered_ms: discovered.expect("checked"),
            who,
            from_ms: from.expect("checked"),
            to_ms: to.expect("checked"),
            case_id: None,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/privacy/datalekken/{id}?klaar=geopend")).into_response())
}

/// `POST /toezicht/zaken/{id}/datalek`: a case of the queue becomes an incident.
pub async fn from_case(
    State(state): State<AppState>,
    person: Person,
    Path(case_id): Path<i64>,
    CsrfForm(super::super::signin::Nothing {}): CsrfForm<super::super::signin::Nothing>,
) -> Result<Response, PageError> {
    let (org, review) = officer(&state, &person)?;
    let case = review
        .case(&org, case_id)
        .await
        .map_err(|e| unavailable_review(&person, &e))?;
    let t = person.texts();
    let what = t.with("breach-from-case", &[("case", &case_id.to_string())]);
    let id = open_incident(
        &state,
        &person,
        Opening {
            what: &what,
            discovered_ms: kring_fhir::datetime::now_ms(),
            who: Breached::from_key(&case.user),
            from_ms: case.start_ms,
            to_ms: case.end_ms,
            case_id: Some(case_id),
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/privacy/datalekken/{id}?klaar=geopend")).into_response())
}

/// `GET /privacy/datalekken/{id}`.
pub async fn incident(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<Done>,
) -> Result<Response, PageError> {
    let (_, _, i) = officer_incident(&state, &person, id).await?;
    let clients: Vec<&str> = i.scope.clients.iter().map(String::as_str).collect();
    log_review(
        &state,
        &person,
        "R",
        "breach-view",
        &clients,
        &format!("breach-{id}"),
    )
    .await?;
    incident_page(&state, person, i, q.klaar.as_deref(), None).await
}

#[derive(Deserialize, Default)]
pub struct Done {
    klaar: Option<String>,
}

async fn incident_page(
    state: &AppState,
    person: Person,
    i: Incident,
    done: Option<&str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    // A professional or location by name, and the organisations concerned, in one lookup as
    // the officer; an account, partner or address as it is called.
    let names = super::super::names::Names::of(
        state,
        &person,
        std::iter::once(i.who.as_str()).chain(i.scope.organisations.iter().map(String::as_str)),
    )
    .await;
    let who_name = match Breached::from_key(&i.who) {
        Breached::Person(p) => names.known(&p).map(str::to_string).unwrap_or(p),
        Breached::Location(_) => person
            .texts()
            .with("breach-who-location", &[("name", &names.name(&i.who))]),
        Breached::Address(ip) => person
            .texts()
            .with("breach-who-address", &[("address", &ip.to_string())]),
        Breached::Account(a) | Breached::Partner(a) => a,
    };
    let organisations: Vec<String> = i
        .scope
        .organisations
        .iter()
        .map(|o| names.name(o))
        .collect();
    let t = person.texts();
    let lang = person.lang;
    let now = kring_fhir::datetime::now_ms();
    let categories: Vec<(String, u64)> = i
        .scope
        .categories
        .iter()
        .map(|(c, n)| {
            let name = kring_access::Category::from_code(c)
                .map(|k| super::super::clients::category_name(k, lang).to_string())
                .unwrap_or_else(|| c.clone());
            (name, *n)
        })
        .collect();
    let category_list = categories
        .iter()
        .map(|(c, _)| c.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let discovered = dates::moment(i.discovered_ms, lang);
    let window = format!(
        "{} – {}",
        dates::moment(i.from_ms, lang),
        dates::moment(i.to_ms, lang)
    );
    let n = i.scope.clients.len().to_string();
    let notification = if i.notification.is_empty() {
        t.with(
            "breach-notification-text",
            &[
                ("what", i.what.as_str()),
                ("discovered", discovered.as_str()),
                ("window", window.as_str()),
                ("clients", n.as_str()),
                ("categories", category_list.as_str()),
            ],
        )
    } else {
        i.notification.clone()
    };
    let letter = if i.letter.is_empty() {
        t.with(
            "breach-letter-text",
            &[
                ("categories", category_list.as_str()),
                ("discovered", discovered.as_str()),
            ],
        )
    } else {
        i.letter.clone()
    };
    let mut f = person.frame("breach-title");
    f.title = t.with("breach-incident", &[("id", &i.id.to_string())]);
    f.error = error;
    f.message = done.map(|d| t.get(&format!("breach-done-{d}")));
    let when = |ms: Option<i64>| ms.map(|m| dates::moment(m, lang)).unwrap_or_default();
    Ok(render::page(
        &IncidentPage {
            f,
            id: i.id,
            what: i.what.clone(),
            who: who_name,
            discovered,
            window,
            deadline: dates::moment(i.deadline_ms(), lang),
            countdown: if i.counting() {
                countdown(&i, now, &t)
            } else {
                String::new()
            },
            clients: i.scope.clients.len(),
            records: i.scope.records,
            accesses: i.scope.accesses,
            categories,
            organisations,
            risks: [Risk::Unlikely, Risk::Risk, Risk::High]
                .into_iter()
                .map(|r| {
                    (
                        r.code(),
                        t.get(&format!("breach-risk-{}", r.code())),
                        i.risk == Some(r),
                    )
                })
                .collect(),
            notify: match i.notify {
                Some(true) => "ja".into(),
                Some(false) => "nee".into(),
                None => String::new(),
            },
            reason: i.reason.clone(),
            notification,
            letter,
            measures: i.measures.clone(),
            assessed: when(i.assessed_ms),
            notified: when(i.notified_ms),
            informed: when(i.informed_ms),
        },
        person.lang,
        person.set_lang,
    ))
}

#[derive(Deserialize)]
pub struct AssessForm {
    #[serde(default)]
    risk: String,
    #[serde(default)]
    notify: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    notification: String,
    #[serde(default)]
    letter: String,
    #[serde(default)]
    measures: String,
}

/// `POST /privacy/datalekken/{id}/beoordeling`.
pub async fn assess(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<AssessForm>,
) -> Result<Response, PageError> {
    let (org, review, i) = officer_incident(&state, &person, id).await?;
    let t = person.texts();
    let risk = Risk::from_code(&form.risk);
    let notify = match form.notify.as_str() {
        "ja" => Some(true),
        "nee" => Some(false),
        _ => None,
    };
    let error = match (risk, notify) {
        (None, _) => Some("breach-need-risk"),
        (_, None) => Some("breach-need-notify"),
        (Some(Risk::Unlikely), Some(false)) | (Some(_), Some(true))
            if form.reason.trim().is_empty() =>
        {
            Some("breach-need-reason")
        }
        (Some(Risk::Risk | Risk::High), Some(false)) => Some("breach-must-notify"),
        _ => None,
    };
    if let Some(key) = error {
        return incident_page(&state, person, i, None, Some(t.get(key))).await;
    }
    let clients: Vec<&str> = i.scope.clients.iter().map(String::as_str).collect();
    log_review(
        &state,
        &person,
        "U",
        "breach-assess",
        &clients,
        &format!("breach-{id}"),
    )
    .await?;
    let cut = |s: &str| s.trim().chars().take(20_000).collect::<String>();
    review
        .assess_incident(
            &org,
            id,
            &Assessment {
                risk: risk.expect("checked"),
                notify: notify.expect("checked"),
                reason: &cut(&form.reason),
                notification: &cut(&form.notification),
                letter: &cut(&form.letter),
                measures: &cut(&form.measures),
                by: &person.caller.subject.log_id(),
                at_ms: kring_fhir::datetime::now_ms(),
            },
        )
        .await
        .map_err(|e| unavailable_review(&person, &e))?;
    Ok(Redirect::to(&format!("/privacy/datalekken/{id}?klaar=beoordeeld")).into_response())
}

#[derive(Deserialize)]
pub struct SentForm {
    #[serde(default)]
    what: String,
}

/// `POST /privacy/datalekken/{id}/verzonden`: the notification went to the DPA (`notified`),
/// or the letters to the clients (`informed`).
pub async fn sent(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<SentForm>,
) -> Result<Response, PageError> {
    let (org, review, i) = officer_incident(&state, &person, id).await?;
    if !matches!(form.what.as_str(), "notified" | "informed") {
        return Err(person.not_found());
    }
    let clients: Vec<&str> = i.scope.clients.iter().map(String::as_str).collect();
    log_review(
        &state,
        &person,
        "U",
        &format!("breach-{}", form.what),
        &clients,
        &format!("breach-{id}"),
    )
    .await?;
    if let Err(e) = review
        .incident_sent(&org, id, &form.what, kring_fhir::datetime::now_ms())
        .await
    {
        let t = person.texts();
        return match e {
            kring_review::ReviewError::NoSuchCase => {
                incident_page(&state, person, i, None, Some(t.get("breach-already-sent"))).await
            }
            e => Err(unavailable_review(&person, &e)),
        };
    }
    Ok(Redirect::to(&format!("/privacy/datalekken/{id}?klaar={}", form.what)).into_response())
}

#[cfg(test)]
mod tests {
    use super::Breached;

    #[test]
    fn what_was_breached_reads_back_from_the_register() {
        for b in [
            Breached::Account("account/ans.dekker".into()),
            Breached::Partner("client/zorgapp".into()),
            Breached::Person("Practitioner/ria".into()),
            Breached::Location("oost".into()),
            Breached::Address("192.0.2.10".parse().unwrap()),
        ] {
            assert_eq!(Breached::from_key(&b.key()), b);
        }
        // An oversight case names the staff member as a person: found by person, not account.
        assert_eq!(
            Breached::from_key("Practitioner/ria"),
            Breached::Person("Practitioner/ria".into())
        );
    }
}

//! Medication in daily work: a client's schedules with what was given lately
//! (`/clienten/{id}/medicatie`), the round at a location (`/medicatie`: every dose due that
//! day for the clients staying there, signed off one by one — prepared, checked by a second
//! professional for high-risk medication, given, refused, or not given with the reason), and
//! the report of the double checks per location and period (`/medicatie/controles`).
//!
//! The double-check rule is the record's (`kring_record::medication::check_administration`):
//! a refused sign-off stores nothing and shows the rule in Dutch. A dose is matched to its
//! administration by the schedule (`MedicationAdministration.request`) and the moment it was
//! due (the Nictiz `AgreedDateTime` extension).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{Duration, NaiveDate, NaiveTime};
use kring_record::medication::{
    dose_state, doses_of, due_ms, fhir_moment, givers, verifiers, Dose, DoseState, AGREED_AT,
    CHECKED_AT, FUNCTION_SYSTEM,
};
use kring_record::Versioned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{field_day, not_shared, parse_day, Done};
use crate::auth::now_ms;
use crate::pages::client_ctx;
use crate::pages::error::PageError;
use crate::pages::form::CsrfForm;
use crate::pages::names::{json, search, Names};
use crate::pages::{dates, render, Frame, Person};
use crate::AppState;

/// The code system of why a dose was not given.
const NOT_GIVEN_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/not-given";
/// How many days of administrations a client's page shows.
const RECENT_DAYS: i64 = 7;
/// The longest period of the double-check report.
const MAX_REPORT_DAYS: i64 = 92;

/// One dose on a page.
pub struct DoseRow {
    pub client_id: String,
    pub client: String,
    pub request: String,
    pub medication: String,
    pub dose: String,
    pub due: String,
    pub due_ms: i64,
    pub high_risk: bool,
    pub state: &'static str,
    pub state_label: String,
    /// The badge's look: `success`, `warning`, `danger` or `neutral`.
    pub badge: &'static str,
    /// The administration recorded for it: (id, version).
    pub administration: Option<(String, i64)>,
    pub given_by: String,
    pub checked_by: String,
    /// What may be done now: prepare, check, give, refuse, not-given.
    pub actions: Vec<&'static str>,
}

fn state_code(s: DoseState) -> &'static str {
    match s {
        DoseState::Due => "due",
        DoseState::AwaitingCheck => "awaiting-check",
        DoseState::Checked => "checked",
        DoseState::Given => "given",
        DoseState::GivenLate => "given-late",
        DoseState::Refused => "refused",
        DoseState::NotGiven => "not-given",
        DoseState::Missed => "missed",
    }
}

/// The moment an administration says its dose was due.
fn agreed_ms(a: &Value) -> Option<i64> {
    a["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == AGREED_AT)?["valueDateTime"]
        .as_str()
        .and_then(dates::fhir_ms)
}

/// The administrations by (request reference, due moment).
fn by_dose(adms: &[Versioned]) -> BTreeMap<(String, i64), &Versioned> {
    let mut out = BTreeMap::new();
    for a in adms {
        let v = json(a);
        if let (Some(r), Some(at)) = (v["request"]["reference"].as_str(), agreed_ms(&v)) {
            // The newest write for a dose counts.
            let key = (r.to_string(), at);
            let newer = out
                .get(&key)
                .is_none_or(|o: &&Versioned| o.last_updated <= a.last_updated);
            if newer {
                out.insert(key, a);
            }
        }
    }
    out
}

/// Names of who gave and who checked, with the time of the check.
fn who_of(v: &Value, names: &Names) -> (String, String) {
    let given = givers(v)
        .iter()
        .map(|g| names.name(g))
        .collect::<Vec<_>>()
        .join(", ");
    let checked = verifiers(v)
        .iter()
        .map(|(who, at)| match at {
            Some(at) => format!("{} ({})", names.name(who), dates::clock(*at)),
            None => names.name(who),
        })
        .collect::<Vec<_>>()
        .join(", ");
    (given, checked)
}

/// Who signs off on a round: their role, and the clients whose medication they may record.
pub struct Signer {
    pub role: String,
    pub clients: std::collections::BTreeSet<String>,
}

/// What `me` can do with a dose in `state` — only what can succeed for them: a high-risk dose
/// is prepared, checked by someone other than who prepared it, and given by someone other
/// than who checked it; a check grown too old is done again.
fn actions_for(
    me: &Signer,
    high_risk: bool,
    state: DoseState,
    administration: Option<&Value>,
    now: i64,
) -> Vec<&'static str> {
    let gave = administration.is_some_and(|a| givers(a).contains(&me.role));
    let checks = administration.map(verifiers).unwrap_or_default();
    let checked = checks.iter().any(|(who, _)| *who == me.role);
    let stale = checks
        .iter()
        .filter_map(|(_, at)| *at)
        .max()
        .is_none_or(|at| now - at > kring_record::medication::CHECK_VALID_MINUTES * 60_000);
    let mut out = Vec::new();
    match state {
        DoseState::Due | DoseState::Missed if high_risk => out.push("prepare"),
        DoseState::Due | DoseState::Missed => out.push("give"),
        DoseState::AwaitingCheck if !high_risk => out.push("give"),
        DoseState::AwaitingCheck if !gave => out.push("check"),
        DoseState::AwaitingCheck => {}
        DoseState::Checked => {
            if !checked {
                out.push("give");
            }
            if stale && !gave {
                out.push("check");
            }
        }
        _ => return vec![],
    }
    out.extend(["refuse", "not-given"]);
    out
}

/// The rows of `doses` on `day`, with their administrations and what may be done.
fn rows(
    person: &Person,
    doses: &[(Dose, String, Option<NaiveDate>)],
    day: NaiveDate,
    adms: &BTreeMap<(String, i64), &Versioned>,
    names: &Names,
    signer: Option<&Signer>,
) -> Vec<DoseRow> {
    let now = now_ms();
    let t = person.texts();
    let mut out: Vec<DoseRow> = doses
        .iter()
        .filter(|(_, _, start)| start.is_none_or(|s| s <= day))
        .map(|(d, client_name, _)| {
            let at = due_ms(day, d.due);
            let adm = adms.get(&(d.request.clone(), at));
            let v = adm.map(|a| json(a));
            let state = dose_state(at, v.as_ref(), now);
            let (given_by, checked_by) = v.as_ref().map(|v| who_of(v, names)).unwrap_or_default();
            let actions = match signer {
                Some(me) if me.clients.contains(&d.client) && day <= dates::today() => {
                    actions_for(me, d.high_risk, state, v.as_ref(), now)
                }
                _ => vec![],
            };
            DoseRow {
                client_id: d.client.trim_start_matches("Patient/").to_string(),
                client: client_name.clone(),
                request: d
                    .request
                    .trim_start_matches("MedicationRequest/")
                    .to_string(),
                medication: d.medication.clone(),
                dose: d.dose.clone(),
                due: d.due.format("%H:%M").to_string(),
                due_ms: at,
                high_risk: d.high_risk,
                state: state_code(state),
                badge: match state {
                    DoseState::Given => "success",
                    DoseState::GivenLate | DoseState::Refused | DoseState::NotGiven => "warning",
                    DoseState::Missed => "danger",
                    _ => "neutral",
                },
                state_label: t.get(&format!("dose-{}", state_code(state))),
                administration: adm.map(|a| (a.id.clone(), a.version)),
                given_by,
                checked_by,
                actions,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.due_ms, &a.client).cmp(&(b.due_ms, &b.client)));
    out
}

/// The active schedules of `clients`, through the record, in one search.
async fn schedules(state: &AppState, person: &Person, clients: &[String]) -> Vec<Versioned> {
    if clients.is_empty() {
        return vec![];
    }
    let subjects: Vec<String> = clients.iter().map(|c| format!("Patient/{c}")).collect();
    search(
        state,
        person,
        "MedicationRequest",
        // The clients alone (a status beside a list of clients makes the database walk every
        // active schedule of the region); `doses_of` skips what is not active.
        &format!("subject={}&_count=1000", subjects.join(",")),
    )
    .await
}

/// The administrations of `clients` from `from` on, through the record, in one search.
async fn administrations(
    state: &AppState,
    person: &Person,
    clients: &[String],
    from: NaiveDate,
) -> Vec<Versioned> {
    if clients.is_empty() {
        return vec![];
    }
    let subjects: Vec<String> = clients.iter().map(|c| format!("Patient/{c}")).collect();
    // The clients alone, the period filtered here: a date condition beside a list of clients
    // makes the database walk every administration of the region since that date.
    let since = due_ms(from - Duration::days(1), NaiveTime::MIN);
    search(
        state,
        person,
        "MedicationAdministration",
        &format!("subject={}&_count=1000", subjects.join(",")),
    )
    .await
    .into_iter()
    .filter(|a| {
        let v = json(a);
        v["effectiveDateTime"]
            .as_str()
            .and_then(dates::fhir_ms)
            .is_some_and(|t| t >= since)
            || agreed_ms(&v).is_some_and(|t| t >= since)
    })
    .collect()
}

/// The doses of the schedules, each with its client's name and the day the schedule starts
/// (`authoredOn`, when given: no dose is due before it).
fn doses(
    state: &AppState,
    requests: &[Versioned],
    names: &Names,
) -> Vec<(Dose, String, Option<NaiveDate>)> {
    requests
        .iter()
        .flat_map(|r| {
            let v = json(r);
            let client = v["subject"]["reference"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let name = names.name(&client);
            let start = v["authoredOn"]
                .as_str()
                .and_then(|a| a.get(..10))
                .and_then(|a| NaiveDate::parse_from_str(a, "%Y-%m-%d").ok());
            doses_of(&r.id, &client, &v, state.record.high_risk())
                .into_iter()
                .map(move |d| (d, name.clone(), start))
        })
        .collect()
}

// ---------------------------------------------------------------- a client's medication

pub struct ScheduleRow {
    pub medication: String,
    pub dose: String,
    pub times: String,
    pub high_risk: bool,
    pub prescriber: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "medication.html")]
struct ClientMedication {
    f: Frame,
    schedules: Vec<ScheduleRow>,
    recent: Vec<(String, Vec<DoseRow>)>,
}

/// `GET /clienten/{id}/medicatie`.
pub async fn client_page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let client = client_ctx::open(&state, &person, &id, "page-view", "/medicatie").await?;
    if !client.may_open("/medicatie") {
        return Ok(not_shared(
            &state,
            &person,
            &client,
            "medication-title",
            "MedicationRequest",
            b"{}",
        ));
    }
    let today = dates::today();
    let from = today - Duration::days(RECENT_DAYS - 1);
    let clients = vec![id.clone()];
    let requests = schedules(&state, &person, &clients).await;
    let adms = administrations(&state, &person, &clients, from).await;
    let mut refs: Vec<String> = vec![format!("Patient/{id}")];
    for r in &requests {
        refs.extend(
            json(r)["requester"]["reference"]
                .as_str()
                .map(str::to_string),
        );
    }
    for a in &adms {
        let v = json(a);
        refs.extend(givers(&v));
        refs.extend(verifiers(&v).into_iter().map(|v| v.0));
    }
    let names = Names::of(&state, &person, refs.iter().map(String::as_str)).await;
    let high = state.record.high_risk();
    let schedules = requests
        .iter()
        .map(|r| {
            let v = json(r);
            let d = &v["dosageInstruction"][0];
            let times: Vec<String> = d["timing"]["repeat"]["timeOfDay"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(|t| t.get(..5).unwrap_or(t).to_string()))
                .collect();
            ScheduleRow {
                medication: v["medicationCodeableConcept"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                dose: d["text"].as_str().unwrap_or_default().to_string(),
                times: if times.is_empty() {
                    person.texts().get("as-needed")
                } else {
                    times.join(", ")
                },
                high_risk: high.request_is_high_risk(&v),
                prescriber: v["requester"]["reference"]
                    .as_str()
                    .map(|r| names.name(r))
                    .unwrap_or_default(),
                since: v["authoredOn"]
                    .as_str()
                    .map(|a| dates::fhir(a, person.lang))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let all = doses(&state, &requests, &names);
    let matched = by_dose(&adms);
    let mut recent = Vec::new();
    for back in 0..RECENT_DAYS {
        let day = today - Duration::days(back);
        let mut r = rows(&person, &all, day, &matched, &names, None);
        // Today's doses still to come are not history yet.
        r.retain(|d| d.state != "due" || d.administration.is_some());
        if !r.is_empty() {
            recent.push((dates::day(day, person.lang), r));
        }
    }
    let page = ClientMedication {
        f: client.frame(&person, "medication-title"),
        schedules,
        recent,
    };
    Ok(render::page(&page, person.lang, person.set_lang))
}

// ---------------------------------------------------------------- the round

#[derive(Debug, Deserialize, Default)]
pub struct RoundQuery {
    #[serde(default)]
    locatie: String,
    #[serde(default)]
    dag: String,
    /// One time slot (`08:00`), or all of the day.
    #[serde(default)]
    tijd: String,
    #[serde(default)]
    klaar: String,
}

#[derive(Template)]
#[template(path = "round.html")]
struct RoundPage {
    f: Frame,
    locations: Vec<(String, String)>,
    location: String,
    day: String,
    day_label: String,
    /// The time slots of the day, and the one chosen (empty: all).
    times: Vec<String>,
    time: String,
    /// The doses by time slot.
    slots: Vec<(String, Vec<DoseRow>)>,
    clients: usize,
    /// (code, label) of each action.
    labels: BTreeMap<&'static str, String>,
}

/// The locations a professional can do a round at: those their organisation manages (by
/// name), else every location in the directory.
async fn locations(state: &AppState, person: &Person, organisation: &str) -> Vec<(String, String)> {
    let mut found = search(
        state,
        person,
        "Location",
        &format!("organization={organisation}&_count=200"),
    )
    .await;
    if found.is_empty() {
        found = search(state, person, "Location", "_count=200").await;
    }
    let mut all: Vec<(String, String)> = found
        .iter()
        .map(|l| {
            let v = json(l);
            (
                v["name"].as_str().unwrap_or(&l.id).to_string(),
                l.id.clone(),
            )
        })
        .collect();
    all.sort();
    all.into_iter().map(|(name, id)| (id, name)).collect()
}

/// The clients staying at `location` now (an Encounter in progress there), as the person may
/// see them.
async fn clients_at(state: &AppState, person: &Person, location: &str) -> Vec<String> {
    clients_staying_at(&state.record, &person.caller, location).await
}

/// The clients staying at `location` now (an Encounter in progress there), as `caller` may see
/// them: the round's clients, and the downtime kit's.
pub(crate) async fn clients_staying_at(
    record: &kring_record::Record,
    caller: &kring_record::Caller,
    location: &str,
) -> Vec<String> {
    subjects_of(
        &super::super::names::search_as(
            record,
            caller,
            "Encounter",
            &format!("location=Location/{location}&status=in-progress&_count=1000"),
        )
        .await,
    )
}

/// The clients (Patient ids) the resources' `subject` names, sorted, each once.
pub(crate) fn subjects_of(found: &[Versioned]) -> Vec<String> {
    let mut out: Vec<String> = found
        .iter()
        .filter_map(|e| {
            json(e)["subject"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Patient/"))
                .map(str::to_string)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The location asked for, or else the first where the person has clients staying (else the
/// first of their organisation's), with the clients staying there that the person may see.
async fn chosen(
    state: &AppState,
    person: &Person,
    locations: &[(String, String)],
    asked: &str,
) -> (String, Vec<String>) {
    if !asked.is_empty() {
        return (asked.to_string(), clients_at(state, person, asked).await);
    }
    for (id, _) in locations {
        let clients = clients_at(state, person, id).await;
        if !clients.is_empty() {
            return (id.clone(), clients);
        }
    }
    (
        locations.first().map(|l| l.0.clone()).unwrap_or_default(),
        vec![],
    )
}

fn action_labels(person: &Person) -> BTreeMap<&'static str, String> {
    let t = person.texts();
    ["prepare", "check", "give", "refuse", "not-given"]
        .into_iter()
        .map(|a| (a, t.get(&format!("dose-action-{a}"))))
        .collect()
}

const DONE: &[&str] = &["prepare", "check", "give", "refuse", "not-given"];

/// `GET /medicatie?locatie=…&dag=…`: the round.
pub async fn round(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<RoundQuery>,
) -> Result<Response, PageError> {
    let done = Done {
        klaar: q.klaar.clone(),
    }
    .message(&person, DONE);
    round_page(&state, &person, &q, done, None).await
}

async fn round_page(
    state: &AppState,
    person: &Person,
    q: &RoundQuery,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let locations = locations(state, person, &me.organisation).await;
    let (location, clients) = chosen(state, person, &locations, &q.locatie).await;
    let day = parse_day(&q.dag).unwrap_or_else(dates::today);
    let requests = schedules(state, person, &clients).await;
    let adms = administrations(state, person, &clients, day).await;
    let mut refs: Vec<String> = clients.iter().map(|c| format!("Patient/{c}")).collect();
    for a in &adms {
        let v = json(a);
        refs.extend(givers(&v));
        refs.extend(verifiers(&v).into_iter().map(|v| v.0));
    }
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let all = doses(state, &requests, &names);
    let signer = Signer {
        role: me.role.clone(),
        clients: clients
            .iter()
            .filter(|c| super::may_write(state, person, c, "MedicationAdministration", b"{}"))
            .map(|c| format!("Patient/{c}"))
            .collect(),
    };
    let doses = rows(person, &all, day, &by_dose(&adms), &names, Some(&signer));
    let mut times: Vec<String> = doses.iter().map(|d| d.due.clone()).collect();
    times.dedup();
    let mut slots: Vec<(String, Vec<DoseRow>)> = Vec::new();
    for d in doses {
        if !q.tijd.is_empty() && d.due != q.tijd {
            continue;
        }
        match slots.last_mut() {
            Some((t, list)) if *t == d.due => list.push(d),
            _ => slots.push((d.due.clone(), vec![d])),
        }
    }
    let mut f = person.frame("round-title");
    f.message = message;
    f.error = error;
    let page = RoundPage {
        f,
        locations,
        location,
        day: field_day(day),
        day_label: dates::day(day, person.lang),
        clients: clients.len(),
        times,
        time: q.tijd.clone(),
        slots,
        labels: action_labels(person),
    };
    let mut res = render::page(&page, person.lang, person.set_lang);
    if page_refused(&page) {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

fn page_refused(p: &RoundPage) -> bool {
    p.f.error.is_some()
}

#[derive(Debug, Deserialize)]
pub struct SignOff {
    locatie: String,
    dag: String,
    #[serde(default)]
    tijd: String,
    /// The schedule (`MedicationRequest` id).
    request: String,
    /// When the dose was due (ms since the epoch).
    due: i64,
    action: String,
    /// The administration already recorded for the dose, at its version.
    #[serde(default)]
    administration: String,
    #[serde(default)]
    version: Option<i64>,
    /// When it was given (`HH:MM`), if not now.
    #[serde(default)]
    time: String,
    /// Why it was not given.
    #[serde(default)]
    reason: String,
}

/// `POST /medicatie/aftekenen`: one step of one dose. Stored through the record, so the
/// double-check rule and the access log see it; a refusal stores nothing.
pub async fn sign_off(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<SignOff>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let q = RoundQuery {
        locatie: form.locatie.clone(),
        dag: form.dag.clone(),
        tijd: form.tijd.clone(),
        klaar: String::new(),
    };
    let refused = |e: String| round_page(&state, &person, &q, None, Some(e));
    if !DONE.contains(&form.action.as_str()) {
        return refused(person.texts().get("request-unreadable")).await;
    }
    // The schedule, through the record (its client is the one the dose is for).
    if !super::is_fhir_id(&form.request)
        || !(form.administration.is_empty() || super::is_fhir_id(&form.administration))
    {
        return Err(person.not_found());
    }
    let Some(request) = search(
        &state,
        &person,
        "MedicationRequest",
        &format!("_id={}", form.request),
    )
    .await
    .into_iter()
    .next() else {
        return Err(person.not_found());
    };
    let rv = json(&request);
    let Some(client) = rv["subject"]["reference"].as_str().map(str::to_string) else {
        return Err(person.not_found());
    };
    let request_ref = format!("MedicationRequest/{}", request.id);
    // What is recorded for this dose already, as the record has it now (the form may be an
    // old page: a colleague may have signed the dose off meanwhile).
    let recorded: Vec<Versioned> = search(
        &state,
        &person,
        "MedicationAdministration",
        &format!("request={request_ref}&_count=200"),
    )
    .await
    .into_iter()
    .filter(|a| agreed_ms(&json(a)) == Some(form.due))
    .collect();
    let existing = recorded.iter().max_by_key(|a| a.last_updated).cloned();
    let same = match (&existing, form.administration.as_str(), form.version) {
        (None, "", _) => true,
        (Some(a), id, Some(version)) => a.id == id && a.version == version,
        _ => false,
    };
    if !same {
        return refused(person.texts().get("dose-changed-meanwhile")).await;
    }
    let now = now_ms();
    let given_at = match form.time.trim() {
        "" => now,
        t => match NaiveTime::parse_from_str(t, "%H:%M") {
            Ok(t) => {
                let day = parse_day(&form.dag).unwrap_or_else(dates::today);
                due_ms(day, t)
            }
            Err(_) => return refused(person.texts().get("time-invalid")).await,
        },
    };
    let mut v = match &existing {
        Some(a) => json(a),
        None => json!({
            "resourceType": "MedicationAdministration",
            "extension": [{"url": AGREED_AT, "valueDateTime": fhir_moment(form.due)}],
            "status": "in-progress",
            "subject": {"reference": client},
            "effectiveDateTime": fhir_moment(now),
            "performer": [{"actor": {"reference": me.role}}],
            "request": {"reference": request_ref},
        }),
    };
    // The medication as the schedule names it (a code or a reference).
    if existing.is_none() {
        for field in ["medicationCodeableConcept", "medicationReference"] {
            if rv[field].is_object() {
                v[field] = rv[field].clone();
            }
        }
    }
    match form.action.as_str() {
        "prepare" => {
            v["status"] = json!("in-progress");
        }
        "check" => {
            let mut performers = v["performer"].as_array().cloned().unwrap_or_default();
            performers.retain(|p| {
                !(p["actor"]["reference"] == me.role.as_str()
                    && p["function"]["coding"][0]["code"] == "verifier")
            });
            performers.push(json!({
                "function": {"coding": [{"system": FUNCTION_SYSTEM, "code": "verifier", "display": "Dubbele controle"}]},
                "actor": {"reference": me.role},
                "extension": [{"url": CHECKED_AT, "valueDateTime": fhir_moment(now)}],
            }));
            v["performer"] = Value::Array(performers);
        }
        "give" => {
            v["status"] = json!("completed");
            v["effectiveDateTime"] = json!(fhir_moment(given_at));
            // Who gives it signs for it: the giver becomes the one signing now.
            let mut performers: Vec<Value> = v["performer"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p["function"]["coding"][0]["code"] == "verifier")
                .collect();
            performers.insert(0, json!({"actor": {"reference": me.role}}));
            v["performer"] = Value::Array(performers);
        }
        "refuse" => {
            v["status"] = json!("not-done");
            v["effectiveDateTime"] = json!(fhir_moment(now));
            v["statusReason"] = json!([{"coding": [{"system": NOT_GIVEN_SYSTEM, "code": "refused", "display": "Geweigerd door cliënt"}]}]);
        }
        _ => {
            v["status"] = json!("not-done");
            v["effectiveDateTime"] = json!(fhir_moment(now));
            let reason = form.reason.trim();
            // Without a reason the record refuses it, and says why.
            match (reason.is_empty(), v.as_object_mut()) {
                (true, Some(o)) => {
                    o.remove("statusReason");
                }
                _ => {
                    v["statusReason"] = json!([{"coding": [{"system": NOT_GIVEN_SYSTEM, "code": "other", "display": "Anders"}], "text": reason}]);
                }
            }
        }
    }
    let result = match &existing {
        Some(a) => {
            state
                .record
                .update(
                    &person.caller,
                    "MedicationAdministration",
                    &a.id,
                    v,
                    Some(a.version),
                )
                .await
        }
        None => {
            state
                .record
                .create(&person.caller, "MedicationAdministration", v, None)
                .await
        }
    };
    match result {
        Ok(_) => {
            use axum::response::IntoResponse;
            Ok(axum::response::Redirect::to(&format!(
                "/medicatie?locatie={}&dag={}&tijd={}&klaar={}#dosis-{}-{}",
                urlencode(&form.locatie),
                urlencode(&form.dag),
                urlencode(&form.tijd),
                form.action,
                request.id,
                form.due
            ))
            .into_response())
        }
        Err(e) => refused(render::sentence(&e, person.lang)).await,
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------- the double-check report

#[derive(Debug, Deserialize, Default)]
pub struct ReportQuery {
    #[serde(default)]
    locatie: String,
    #[serde(default)]
    van: String,
    #[serde(default)]
    tot: String,
}

/// The figures of the double checks.
#[derive(Default)]
pub struct Figures {
    pub high_risk_given: usize,
    pub checked: usize,
    pub unchecked: usize,
    pub refused: usize,
    pub not_given: usize,
    pub missed: usize,
}

#[derive(Template)]
#[template(path = "checks.html")]
struct ChecksPage {
    f: Frame,
    locations: Vec<(String, String)>,
    location: String,
    from: String,
    to: String,
    figures: Figures,
    doses: Vec<DoseRow>,
}

/// `GET /medicatie/controles?locatie=…&van=…&tot=…`: every high-risk dose at a location in
/// a period, with who gave it and who checked it.
pub async fn checks(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<ReportQuery>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let locations = locations(&state, &person, &me.organisation).await;
    let (location, clients) = chosen(&state, &person, &locations, &q.locatie).await;
    let today = dates::today();
    let to = parse_day(&q.tot).unwrap_or(today).min(today);
    let mut from = parse_day(&q.van).unwrap_or(to - Duration::days(6));
    let mut f = person.frame("checks-title");
    if from > to || (to - from).num_days() >= MAX_REPORT_DAYS {
        f.error = Some(f.t.get("checks-period"));
        from = to - Duration::days(6);
    }
    let requests = schedules(&state, &person, &clients).await;
    let adms = administrations(&state, &person, &clients, from).await;
    let mut refs: Vec<String> = clients.iter().map(|c| format!("Patient/{c}")).collect();
    for a in &adms {
        let v = json(a);
        refs.extend(givers(&v));
        refs.extend(verifiers(&v).into_iter().map(|v| v.0));
    }
    let names = Names::of(&state, &person, refs.iter().map(String::as_str)).await;
    let high: Vec<(Dose, String, Option<NaiveDate>)> = doses(&state, &requests, &names)
        .into_iter()
        .filter(|(d, _, _)| d.high_risk)
        .collect();
    let matched = by_dose(&adms);
    let mut all = Vec::new();
    let mut day = from;
    while day <= to {
        let mut r = rows(&person, &high, day, &matched, &names, None);
        r.retain(|d| d.state != "due" || d.administration.is_some());
        for d in &mut r {
            d.due = format!("{}, {}", dates::day(day, person.lang), d.due);
        }
        all.extend(r);
        day += Duration::days(1);
    }
    let mut figures = Figures::default();
    for d in &all {
        match d.state {
            "given" | "given-late" => {
                figures.high_risk_given += 1;
                if d.checked_by.is_empty() {
                    figures.unchecked += 1;
                } else {
                    figures.checked += 1;
                }
            }
            "refused" => figures.refused += 1,
            "not-given" => figures.not_given += 1,
            "missed" => figures.missed += 1,
            _ => {}
        }
    }
    all.reverse();
    let page = ChecksPage {
        f,
        locations,
        location,
        from: field_day(from),
        to: field_day(to),
        figures,
        doses: all,
    };
    Ok(render::page(&page, person.lang, person.set_lang))
}

//! "My clients" and the client page with "why can I see this?" on each part. Every piece of
//! data comes through the record: decided and logged. A client one may not see gives exactly
//! the page of an id that names no client — and the attempt is logged on that client.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use kring_access::category::Category;
use kring_access::circle::Circle;
use kring_access::{Action, Decision, Subject};
use kring_record::Versioned;
use serde::Deserialize;
use serde_json::Value;

use super::admin::{emergency_notices_about, Notice};
use super::error::PageError;
use super::form::CsrfForm;
use super::i18n::Lang;
use super::names::{human_name, json, search, ClientName, Names};
use super::{dates, render, Frame, Person};
use crate::auth::accounts::Kind;
use crate::AppState;

/// A category's name for people.
pub(super) fn category_name(c: Category, lang: Lang) -> &'static str {
    match lang {
        Lang::Nl => c.dutch(),
        Lang::En => c.english(),
    }
}

/// Changes a version the person read and writes it back through the record (with If-Match,
/// so a change made in between is not overwritten); errors as a sentence for the page.
pub(super) async fn update(
    state: &AppState,
    person: &Person,
    current: &Versioned,
    change: impl FnOnce(&mut Value),
) -> Result<(), String> {
    let mut v = json(current);
    change(&mut v);
    state
        .record
        .update(
            &person.caller,
            &current.rtype,
            &current.id,
            v,
            Some(current.version),
        )
        .await
        .map(|_| ())
        .map_err(|e| render::sentence(&e, person.lang))
}

/// `GET /`: each kind of account to its own start page.
pub async fn home(person: Result<Person, PageError>) -> Response {
    let to = match person.map(|p| p.account.kind) {
        Ok(Kind::Professional) => "/clienten",
        Ok(Kind::Officer) => "/toezicht",
        Ok(Kind::Administrator) => "/beheer",
        Ok(Kind::Client | Kind::Representative | Kind::Supporter) => "/mijn",
        Err(e) => return e.into_response(),
    };
    Redirect::to(to).into_response()
}

pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub categories: String,
    pub until: String,
    pub director: bool,
    /// What needs attention: the next appointment, agreements, evaluations, new reports.
    pub attention: Vec<String>,
    /// Something is overdue.
    pub overdue: bool,
}

pub struct EmergencyRow {
    pub id: String,
    pub name: String,
    pub until: String,
}

/// A client shared with the professional under a sharing decision.
pub struct SharedRow {
    pub id: String,
    pub name: String,
    pub what: String,
    pub until: String,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    f: Frame,
    rows: Vec<ClientRow>,
    emergencies: Vec<EmergencyRow>,
    shared: Vec<SharedRow>,
    meldcode: Vec<super::meldcode::DueCase>,
    notices: Vec<Notice>,
    /// Warnings from the privacy officer not yet read: (id, text, sent).
    warnings: Vec<(i64, String, String)>,
    query: String,
    searched: bool,
}

#[derive(Deserialize, Default)]
pub struct ClientSearch {
    #[serde(default)]
    zoek: String,
}

/// `GET /clienten`.
pub async fn my_clients(
    State(state): State<AppState>,
    person: Person,
) -> Result<Response, PageError> {
    clients_page(&state, &person, ClientSearch::default()).await
}

/// `POST /clienten`: the same, narrowed to a name, date of birth or BSN (in the body: a BSN
/// never goes into a URL).
pub async fn search_clients(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<ClientSearch>,
) -> Result<Response, PageError> {
    clients_page(&state, &person, form).await
}

/// Whether a client matches what was typed: part of the name, a date of birth (`2010-03-12`
/// or `12-03-2010`), or the BSN exactly.
fn matches(query: &str, name: &ClientName, bsn: Option<&str>) -> bool {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    if q.len() == 9 && q.bytes().all(|b| b.is_ascii_digit()) {
        return bsn == Some(q.as_str());
    }
    let as_date = chrono::NaiveDate::parse_from_str(&q, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(&q, "%d-%m-%Y"))
        .ok();
    if let Some(d) = as_date {
        return name.birth == Some(d);
    }
    name.name.to_lowercase().contains(&q)
}

async fn clients_page(
    state: &AppState,
    person: &Person,
    form: ClientSearch,
) -> Result<Response, PageError> {
    let Subject::Professional {
        role, practitioner, ..
    } = &person.caller.subject
    else {
        return Err(person.not_for_you());
    };
    let today = dates::today();
    let mine = [
        format!("PractitionerRole/{role}"),
        format!("Practitioner/{practitioner}"),
    ];
    // The clients the decision point lets this person see, from its memory (their circles,
    // emergency accesses and sharing grants): every search of the page asks about them at
    // once, each decided and logged, instead of waiting for the circles to be read first.
    let emergencies = state.record.running_emergencies(&person.caller);
    let grants = state.record.running_grants(&person.caller);
    let in_view = state
        .record
        .clients_in_view(&person.caller)
        .unwrap_or_default();
    let ids: Vec<&str> = in_view.iter().map(String::as_str).collect();
    let circles_query = format!("participant={}&_count=1000", mine[0]);
    let (circles, patients, attention, (meldcode, notices, warnings)) = tokio::join!(
        search(state, person, "CareTeam", &circles_query),
        patients_of(state, person, &ids),
        attention(state, person, &mine[0], &ids),
        async {
            tokio::join!(
                super::meldcode::due_cases(state, person, &ids),
                super::admin::emergency_notices_among(state, person, 7, &ids),
                super::oversight::warnings_for(state, practitioner, person.lang),
            )
        },
    );
    let mut memberships = Vec::new();
    for c in &circles {
        let circle = Circle::from_json(&c.id, &json(c));
        let Some(client) = circle.client.clone() else {
            continue;
        };
        for m in circle
            .memberships
            .into_iter()
            .filter(|m| mine.contains(&m.member) && m.running(today))
        {
            memberships.push((client.clone(), m));
        }
    }
    let shown = |id: &str| -> Option<String> {
        let (name, bsn) = patients.get(id)?;
        matches(&form.zoek, name, bsn.as_deref()).then(|| name.full(person.lang))
    };
    let mut rows: Vec<ClientRow> = memberships
        .iter()
        .filter_map(|(client, m)| {
            Some(ClientRow {
                id: client.clone(),
                name: shown(client)?,
                categories: m
                    .categories
                    .iter()
                    .map(|c| category_name(*c, person.lang))
                    .collect::<Vec<_>>()
                    .join(", "),
                until: m
                    .period
                    .end
                    .map(|d| dates::day(d, person.lang))
                    .unwrap_or_else(|| person.texts().get("no-end")),
                director: m.director,
                attention: Vec::new(),
                overdue: false,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let t = person.texts();
    for row in rows.iter_mut() {
        if let Some(a) = attention.get(&row.id) {
            (row.attention, row.overdue) = a.shown(row.director, &t);
        }
    }
    let emergencies = emergencies
        .iter()
        .filter_map(|(client, _, until)| {
            Some(EmergencyRow {
                id: client.clone(),
                name: shown(client)?,
                until: dates::moment(*until, person.lang),
            })
        })
        .collect();
    let shared = grants
        .iter()
        .filter_map(|g| {
            Some(SharedRow {
                id: g.client.clone(),
                name: shown(&g.client)?,
                what: g
                    .categories
                    .iter()
                    .map(|c| category_name(*c, person.lang))
                    .collect::<Vec<_>>()
                    .join(", "),
                until: g
                    .end
                    .map(|d| dates::day(d, person.lang))
                    .unwrap_or_default(),
            })
        })
        .collect();
    let mut f = person.frame("my-clients");
    let searched = !form.zoek.trim().is_empty();
    if searched {
        f.message = Some(
            person
                .texts()
                .count("clients-found", "count", rows.len() as i64, &[]),
        );
    }
    Ok(render::page(
        &ClientsPage {
            f,
            rows,
            emergencies,
            shared,
            meldcode,
            notices,
            warnings,
            query: form.zoek,
            searched,
        },
        person.lang,
        person.set_lang,
    ))
}

pub struct Section {
    pub key: &'static str,
    pub title: String,
    pub allowed: bool,
    pub items: Vec<String>,
    pub why: Vec<String>,
    /// The part's own page, when there is one and the person may open it.
    pub page: Option<String>,
}

/// The page of a part, after `/clienten/{id}`.
fn page_of(key: &str) -> Option<&'static str> {
    match key {
        "support-plan" => Some("/plan"),
        "crisis-plan" => Some("/crisisplan"),
        "reports" => Some("/rapportages"),
        "medication" => Some("/medicatie"),
        "circle" => Some("/kring"),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    f: Frame,
    id: String,
    sections: Vec<Section>,
    emergency: bool,
    director: bool,
    notices: Vec<Notice>,
}

/// The parts of a client page: (key, category, type).
const PARTS: &[(&str, Category, &str)] = &[
    ("identity", Category::Identity, "Patient"),
    ("crisis-plan", Category::CrisisPlan, "CarePlan"),
    ("support-plan", Category::SupportPlan, "CarePlan"),
    ("reports", Category::Reports, "Communication"),
    ("medication", Category::Medication, "MedicationRequest"),
    ("treatment-notes", Category::TreatmentNotes, "Condition"),
    ("documents", Category::Documents, "DocumentReference"),
    ("safety", Category::Safety, "RiskAssessment"),
    ("circle", Category::Circle, "CareTeam"),
];

/// "Why": each rule in plain words, then the grounds (membership, consent, emergency).
fn why(state: &AppState, d: &Decision, lang: Lang) -> Vec<String> {
    super::reasons::all_in_words(&state.record, &d.reasons, &super::i18n::Texts { lang })
}

/// One line about a resource of a part, with names and Dutch dates.
pub(super) fn summary(key: &str, v: &Value, names: &Names, lang: Lang) -> String {
    let s = |p: &Value| p.as_str().unwrap_or("").to_string();
    match key {
        "identity" => {
            let addr = &v["address"][0];
            [
                human_name(v),
                v["birthDate"]
                    .as_str()
                    .map(|b| dates::fhir(b, lang))
                    .unwrap_or_default(),
                format!(
                    "{} {}",
                    addr["line"][0].as_str().unwrap_or(""),
                    s(&addr["city"])
                )
                .trim()
                .to_string(),
                s(&v["telecom"][0]["value"]),
            ]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(" · ")
        }
        "crisis-plan" | "support-plan" => {
            let acts: Vec<String> = v["activity"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| s(&a["detail"]["description"]))
                .collect();
            format!(
                "{} — {} {}",
                s(&v["title"]),
                s(&v["description"]),
                acts.join("; ")
            )
            .trim()
            .to_string()
        }
        "reports" => format!(
            "{} · {} · {}",
            dates::fhir(&s(&v["sent"]), lang),
            names.name(&s(&v["sender"]["reference"])),
            s(&v["payload"][0]["contentString"])
        ),
        "medication" => format!(
            "{} · {}",
            s(&v["medicationCodeableConcept"]["text"]),
            s(&v["dosageInstruction"][0]["text"])
        ),
        "circle" => v["participant"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| names.name(&s(&p["member"]["reference"])))
            .collect::<Vec<_>>()
            .join(", "),
        _ => s(&v["code"]["text"]).to_string() + &s(&v["description"]),
    }
}

/// The references a resource of a part mentions by name.
pub(super) fn mentioned(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = v["sender"]["reference"].as_str() {
        out.push(r.to_string());
    }
    for p in v["participant"].as_array().into_iter().flatten() {
        if let Some(r) = p["member"]["reference"].as_str() {
            out.push(r.to_string());
        }
    }
    out
}

/// `GET /clienten/{id}`.
pub async fn client_page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    // A client one may not see gives the page of an unknown id; emergency access is offered.
    let client = super::client_ctx::open(&state, &person, &id, "page-view", "").await?;
    // The client's own overview is the portal's start page.
    if client.in_portal() {
        return Ok(axum::response::Redirect::to("/mijn").into_response());
    }
    // Each part decided; each type searched once (the support and the crisis plan are both
    // CarePlans); the names of every part looked up together.
    let mut emergency = false;
    let mut title = None;
    let mut found: BTreeMap<&str, Vec<Versioned>> = BTreeMap::new();
    let mut parts = Vec::new();
    for (key, category, rtype) in PARTS {
        let body: &[u8] = if *category == Category::CrisisPlan {
            super::client_ctx::CRISIS_PLAN_PROBE
        } else {
            b"{}"
        };
        let d = state
            .record
            .explain(&person.caller, Action::Read, rtype, &id, body);
        emergency |= d.permit && d.is_emergency();
        let mut rows: Vec<Versioned> = Vec::new();
        if d.permit {
            if !found.contains_key(rtype) {
                let query = if *rtype == "Patient" {
                    format!("_id={id}")
                } else {
                    format!("subject=Patient/{id}&_count=50")
                };
                found.insert(rtype, search(&state, &person, rtype, &query).await);
            }
            rows = found[rtype].clone();
            rows.retain(|r| match *rtype {
                "CarePlan" => {
                    kring_access::category::is_crisis_plan(&r.body)
                        == (*category == Category::CrisisPlan)
                }
                // Notices of emergency access are shown as notices, not as reports.
                "Communication" => !kring_access::category::is_emergency_notice(&r.body),
                _ => true,
            });
            if *rtype == "Communication" {
                rows.sort_by_key(|r| {
                    std::cmp::Reverse(json(r)["sent"].as_str().and_then(dates::fhir_ms))
                });
            }
        }
        if *rtype == "Patient" {
            title = rows.first().map(|p| ClientName::of(p).full(person.lang));
        }
        let values: Vec<Value> = rows.iter().map(json).collect();
        parts.push((key, category, d, values));
    }
    let refs: Vec<String> = parts
        .iter()
        .flat_map(|(_, _, _, values)| values.iter().flat_map(mentioned))
        .collect();
    let names = Names::of(&state, &person, refs.iter().map(String::as_str)).await;
    let sections: Vec<Section> = parts
        .into_iter()
        .map(|(key, category, d, values)| Section {
            key,
            title: capitalised(category_name(*category, person.lang)),
            allowed: d.permit,
            items: values
                .iter()
                .map(|v| summary(key, v, &names, person.lang))
                .collect(),
            why: why(&state, &d, person.lang),
            page: page_of(key)
                .filter(|p| client.may_open(p))
                .map(|p| format!("/clienten/{id}{p}")),
        })
        .collect();
    let circle_manager = state
        .record
        .explain(&person.caller, Action::Update, "CareTeam", &id, b"")
        .permit;
    let notices: Vec<Notice> = emergency_notices_about(&state, &person, 30, &id).await;
    let mut f = client.frame(&person, "client");
    f.whose = None;
    if let Some(t) = title {
        f.title = t;
    }
    if emergency && query.is_some_and(|q| q.contains("noodtoegang")) {
        f.message = Some(f.t.get("emergency-opened"));
    }
    Ok(render::page(
        &ClientPage {
            f,
            id,
            sections,
            emergency,
            director: circle_manager,
            notices,
        },
        person.lang,
        person.set_lang,
    ))
}

/// The name and BSN of each of these clients the person may see, by id.
async fn patients_of(
    state: &AppState,
    person: &Person,
    ids: &[&str],
) -> BTreeMap<String, (ClientName, Option<String>)> {
    let mut patients = BTreeMap::new();
    if ids.is_empty() {
        return patients;
    }
    let query = format!("_id={}&_count={}", ids.join(","), ids.len());
    for p in search(state, person, "Patient", &query).await {
        let bsn = json(&p)["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["system"] == kring_fhir::bsn::BSN_SYSTEM)
            .and_then(|i| i["value"].as_str())
            .map(str::to_string);
        patients.insert(p.id.clone(), (ClientName::of(&p), bsn));
    }
    patients
}

/// What needs attention for one client of "my clients", as found.
#[derive(Default)]
struct Attention {
    /// The next appointment: when (ms) and what.
    next: Option<(i64, String)>,
    /// The agreements the professional performs: open, of which overdue.
    agreements: Option<(usize, usize)>,
    /// Goals whose evaluation is overdue (shown to the case director).
    evaluations: usize,
    /// Reports by others since the professional's last visit, counted up to
    /// [`NEW_REPORTS_COUNTED`].
    reports: usize,
    /// There may be more of them than `reports` (the search stopped at its page).
    more_reports: bool,
}

/// How many of a client's new reports "my clients" reads: it says "9 or more" beyond, so
/// that a client with hundreds of reports this month does not slow the page of everyone in
/// their circle (the store stops after the first page of the client's recent reports).
const NEW_REPORTS_COUNTED: usize = 9;

impl Attention {
    /// The lines "my clients" shows for the client, and whether something is overdue;
    /// `director`: the professional is the client's case director.
    fn shown(&self, director: bool, t: &super::i18n::Texts) -> (Vec<String>, bool) {
        let (mut items, mut overdue) = (Vec::new(), false);
        if let Some((start, what)) = &self.next {
            let when = dates::moment(*start, t.lang);
            items.push(t.with(
                "attention-appointment",
                &[("when", when.as_str()), ("what", what.as_str())],
            ));
        }
        if let Some((open, late)) = self.agreements {
            let key = if late > 0 {
                "attention-agreements-overdue"
            } else {
                "attention-agreements"
            };
            items.push(t.count(key, "count", open as i64, &[("overdue", &late.to_string())]));
            overdue |= late > 0;
        }
        if director && self.evaluations > 0 {
            items.push(t.count(
                "attention-evaluations",
                "count",
                self.evaluations as i64,
                &[],
            ));
            overdue = true;
        }
        if self.reports > 0 {
            let key = if self.more_reports {
                "attention-reports-or-more"
            } else {
                "attention-reports"
            };
            items.push(t.count(key, "count", self.reports as i64, &[]));
        }
        (items, overdue)
    }
}

/// What needs attention for each of `clients` in "my clients": the next appointment, the
/// agreements the professional performs (open, overdue), the goals whose evaluation is overdue
/// (shown to the case director), and the reports written since the professional last read
/// them (the last 7 days when never). One search per kind for all clients, and one per client
/// for its new reports (each since its own last visit, the first few only), each through the
/// record: only what the person may see counts.
async fn attention(
    state: &AppState,
    person: &Person,
    role: &str,
    clients: &[&str],
) -> BTreeMap<String, Attention> {
    use kring_record::plan::{agreements, GoalView};
    let mut out: BTreeMap<String, Attention> = BTreeMap::new();
    if clients.is_empty() {
        return out;
    }
    let today = dates::today();
    let now = crate::auth::now_ms();
    let subjects: Vec<String> = clients.iter().map(|c| format!("Patient/{c}")).collect();
    let subjects = subjects.join(",");
    let subject_of = |v: &Value, field: &str| {
        v[field]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("Patient/"))
            .map(str::to_string)
    };
    let (by_actor, by_subject) = (
        format!("actor={subjects}&_count=1000"),
        format!("subject={subjects}&_count=1000"),
    );
    // Reports since my last visit (never: the last week; at most a month back).
    let (week_ago, month_ago) = (now - 7 * 86_400_000, now - 30 * 86_400_000);
    let since = |c: &str| {
        super::visits::last_visit(person, c)
            .unwrap_or(week_ago)
            .max(month_ago)
    };
    // Each client's reports sent since my last visit to that client, the first page only: the
    // store finds the client's messages in id order, checks each one's date and category, and
    // stops when the page is full. One more than is counted, to know there are more.
    let recent = clients.iter().map(|c| {
        let query = format!(
            "subject=Patient/{c}&sent=gt{}&category={}|reports&_count={}",
            kring_fhir::datetime::format_instant(since(c)),
            kring_access::category::CATEGORY_SYSTEM,
            NEW_REPORTS_COUNTED + 1
        );
        async move {
            let found = super::names::first_page(state, person, "Communication", &query).await;
            (c.to_string(), found)
        }
    });
    // The searches at once: each waits for the database and the log on its own.
    let (appointments, plans, goals_found, reports) = tokio::join!(
        // The clients' appointments; which are still to come is read here.
        search(state, person, "Appointment", &by_actor),
        search(state, person, "CarePlan", &by_subject),
        search(state, person, "Goal", &by_subject),
        futures::future::join_all(recent),
    );
    // The next appointment of each client.
    for a in appointments {
        let v = json(&a);
        let Some(start) = v["start"].as_str().and_then(dates::fhir_ms) else {
            continue;
        };
        if start < now || v["status"] == "cancelled" {
            continue;
        }
        for p in v["participant"].as_array().into_iter().flatten() {
            if let Some(c) = subject_of(p, "actor") {
                let what = v["description"].as_str().unwrap_or_default().to_string();
                let next = &mut out.entry(c).or_default().next;
                if next.as_ref().is_none_or(|(s, _)| start < *s) {
                    *next = Some((start, what));
                }
            }
        }
    }
    // Agreements I perform.
    for p in plans
        .iter()
        .filter(|p| !kring_access::category::is_crisis_plan(&p.body))
        .filter(|p| json(p)["status"] == "active")
    {
        let v = json(p);
        let Some(c) = subject_of(&v, "subject") else {
            continue;
        };
        for a in agreements(&v) {
            if a.open() && a.performer.as_deref() == Some(role) {
                let e = out
                    .entry(c.clone())
                    .or_default()
                    .agreements
                    .get_or_insert((0, 0));
                e.0 += 1;
                if a.overdue(today) {
                    e.1 += 1;
                }
            }
        }
    }
    // Goals overdue for evaluation.
    for g in goals_found {
        let v = json(&g);
        if GoalView::of(&v).overdue(today) {
            if let Some(c) = subject_of(&v, "subject") {
                out.entry(c).or_default().evaluations += 1;
            }
        }
    }
    // Reports by others since my last visit.
    for (c, found) in reports {
        let by_others = found
            .iter()
            .take(NEW_REPORTS_COUNTED)
            .filter(|r| {
                let v = json(r);
                kring_record::reports::is_report(&v) && v["sender"]["reference"] != role
            })
            .count();
        if by_others > 0 {
            let e = out.entry(c).or_default();
            e.reports = by_others;
            e.more_reports = found.len() > NEW_REPORTS_COUNTED;
        }
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

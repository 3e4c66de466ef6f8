//! The support plan (ondersteuningsplan, for a family: gezinsplan) of one client: goals with
//! their evaluations, agreements (who does what by when, with status), the other family
//! members' parts that the reader may see, and every version with who changed what, when.
//! The case director keeps the plan (goals, evaluations, everyone's agreements); every other
//! member adds and changes their own agreements — the record enforces both
//! (`kring_record::rules`). See `kring_record::plan` for the FHIR shape.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Duration;
use kring_access::circle::Circle;
use kring_access::Action;
use kring_record::contributions;
use kring_record::plan::{
    agreements, change_agreement, evaluate, family_plan, new_goal, Agreement, GoalView, PlanChange,
    AGREEMENT_STATUSES, FAMILY_PLAN_SYSTEM, PROGRESS,
};
use kring_record::{HistoryRequest, Preference, Versioned};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{field_day, not_shared, now_fhir, parse_day, see, text_field, Done};
use crate::pages::client_ctx::{self, ClientCtx};
use crate::pages::error::PageError;
use crate::pages::form::CsrfForm;
use crate::pages::names::{json, search, Names};
use crate::pages::{dates, render, Frame, Person};
use crate::AppState;

/// The longest agreement, goal or evaluation text.
const MAX_TEXT: usize = 1000;
/// How many versions the page lists.
const VERSIONS: usize = 25;

pub struct GoalRow {
    pub id: String,
    pub version: i64,
    pub description: String,
    pub progress: String,
    pub evaluate: String,
    pub overdue: bool,
    pub active: bool,
    /// (who, when, text), newest first.
    pub evaluations: Vec<(String, String, String)>,
}

pub struct AgreementRow {
    pub index: usize,
    pub description: String,
    pub who: String,
    pub status: String,
    pub status_label: String,
    pub due: String,
    pub due_field: String,
    pub overdue: bool,
    pub open: bool,
    /// The reader may change it.
    pub mine: bool,
}

/// Another family member's part of the family plan.
pub struct FamilyPart {
    pub client_id: String,
    pub client: String,
    pub agreements: Vec<AgreementRow>,
}

pub struct VersionRow {
    pub version: i64,
    pub when: String,
    pub who: String,
    pub what: String,
}

/// What was typed into the page's forms, shown again after a refusal.
#[derive(Default)]
pub struct Typed {
    pub description: String,
    pub due: String,
    pub performer: String,
    pub goal: String,
    pub goal_evaluate: String,
}

/// A comment on the plan (by the client or a parent).
pub struct NoteRow {
    pub who: String,
    pub when: String,
    pub text: String,
}

/// A request of the client under the AVG, as the case director answers it.
pub struct RequestRow {
    pub id: String,
    pub version: i64,
    pub kind: String,
    pub text: String,
    pub who: String,
    pub asked: String,
    pub due: String,
    pub overdue: bool,
    pub open: bool,
    pub status: String,
    pub answer: String,
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    f: Frame,
    id: String,
    /// The client (or a parent) reads their own plan in the portal.
    in_portal: bool,
    notes: Vec<NoteRow>,
    /// Who agreed to the plan, in words.
    agreed: Vec<String>,
    /// The portal reader agreed to the plan as it is now.
    agreed_now: bool,
    /// The client's requests, for the case director.
    requests: Vec<RequestRow>,
    /// (id, version, title), when the client has a plan.
    plan: Option<(String, i64, String)>,
    family: Option<String>,
    goals: Vec<GoalRow>,
    agreements: Vec<AgreementRow>,
    others: Vec<FamilyPart>,
    versions: Vec<VersionRow>,
    director: bool,
    may_add: bool,
    performers: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    progress: Vec<(String, String)>,
    overdue_agreements: usize,
    overdue_goals: usize,
    typed: Typed,
    today: String,
}

/// The client's support plan (the newest active one), through the record.
pub(crate) async fn plan_of(state: &AppState, person: &Person, id: &str) -> Option<Versioned> {
    let mut plans: Vec<Versioned> = search(
        state,
        person,
        "CarePlan",
        &format!("subject=Patient/{id}&_count=50"),
    )
    .await
    .into_iter()
    .filter(|p| !kring_access::category::is_crisis_plan(&p.body))
    .filter(|p| {
        matches!(
            json(p)["status"].as_str(),
            Some("active" | "draft" | "on-hold")
        )
    })
    .collect();
    plans.sort_by_key(|p| std::cmp::Reverse(p.last_updated));
    plans.into_iter().next()
}

fn status_label(person: &Person, status: &str) -> String {
    person.texts().get(&format!("agreement-{status}"))
}

fn progress_label(person: &Person, code: Option<&str>) -> String {
    code.map(|c| person.texts().get(&format!("progress-{c}")))
        .unwrap_or_default()
}

fn agreement_row(
    person: &Person,
    a: &Agreement,
    names: &Names,
    mine: bool,
    today: chrono::NaiveDate,
) -> AgreementRow {
    AgreementRow {
        index: a.index,
        description: a.description.clone(),
        who: a
            .performer
            .as_deref()
            .map(|p| names.name(p))
            .unwrap_or_else(|| person.texts().get("nobody-yet")),
        status: a.status.clone(),
        status_label: status_label(person, &a.status),
        due: a
            .due
            .map(|d| dates::day(d, person.lang))
            .unwrap_or_default(),
        due_field: a.due.map(field_day).unwrap_or_default(),
        overdue: a.overdue(today),
        open: a.open(),
        mine,
    }
}

/// The circle's running members who can take on an agreement, and the client.
fn performers_of(circle: Option<&Versioned>, client: &str) -> Vec<String> {
    let today = dates::today();
    let mut out: Vec<String> = circle
        .map(|c| Circle::from_json(&c.id, &json(c)).memberships)
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.running(today) && m.member.starts_with("PractitionerRole/"))
        .map(|m| m.member)
        .collect();
    out.sort();
    out.dedup();
    out.push(format!("Patient/{client}"));
    out
}

#[allow(clippy::too_many_arguments)]
async fn render_page(
    state: &AppState,
    person: &Person,
    client: ClientCtx,
    typed: Typed,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let me = person.professional().ok().map(|m| m.role);
    let id = client.id.clone();
    if !client.may_open("/plan") {
        return Ok(not_shared(
            state,
            person,
            &client,
            "plan-title",
            "CarePlan",
            b"{}",
        ));
    }
    let today = dates::today();
    let plan = plan_of(state, person, &id).await;
    let plan_json = plan.as_ref().map(json);
    let goals: Vec<Versioned> = search(
        state,
        person,
        "Goal",
        &format!("subject=Patient/{id}&_count=100"),
    )
    .await;
    let director = state
        .record
        .explain(&person.caller, Action::Update, "CareTeam", &id, b"")
        .permit;
    // Agreements are added by the circle's professionals (a client writes comments instead).
    let may_add = !client.in_portal() && super::may_write(state, person, &id, "CarePlan", b"{}");
    let circle = search(
        state,
        person,
        "CareTeam",
        &format!("subject=Patient/{id}&_count=1"),
    )
    .await;
    let performers = if director {
        performers_of(circle.first(), &id)
    } else {
        me.iter().cloned().collect()
    };
    // The other members' parts of the family plan: only the plans this reader may see.
    let family = plan_json.as_ref().and_then(family_plan);
    let others: Vec<Versioned> = match &family {
        Some(f) => search(
            state,
            person,
            "CarePlan",
            &format!("identifier={FAMILY_PLAN_SYSTEM}|{f}&_count=20"),
        )
        .await
        .into_iter()
        .filter(|p| Some(&p.id) != plan.as_ref().map(|p| &p.id))
        .collect(),
        None => vec![],
    };
    let history = match &plan {
        Some(p) => state
            .record
            .history(
                &person.caller,
                &HistoryRequest {
                    rtype: Some("CarePlan".into()),
                    id: Some(p.id.clone()),
                    params: vec![("_count".into(), VERSIONS.to_string())],
                },
            )
            .await
            .map(|h| h.entries)
            .unwrap_or_default(),
        None => vec![],
    };
    // Every name the page shows, in one look-up per type.
    let mut refs: Vec<String> = performers.clone();
    let others_json: Vec<Value> = others.iter().map(json).collect();
    for p in plan_json.iter().chain(others_json.iter()) {
        refs.extend(agreements(p).into_iter().filter_map(|a| a.performer));
        refs.extend(p["subject"]["reference"].as_str().map(str::to_string));
    }
    for g in &goals {
        refs.extend(
            GoalView::of(&json(g))
                .evaluations
                .into_iter()
                .filter_map(|e| e.0),
        );
    }
    let history_json: Vec<Value> = history.iter().map(|h| json(&h.version)).collect();
    refs.extend(
        history_json
            .iter()
            .filter_map(|v| kring_record::meta::changed_by(v).map(str::to_string)),
    );
    // The client's requests under the AVG, which the case director answers here.
    let requests: Vec<(Versioned, Value)> = if director {
        search(
            state,
            person,
            "Task",
            &format!("subject=Patient/{id}&_count=200"),
        )
        .await
        .into_iter()
        .map(|t| {
            let v = json(&t);
            (t, v)
        })
        .filter(|(_, v)| contributions::request_kind(v).is_some())
        .collect()
    } else {
        vec![]
    };
    for p in plan_json.iter() {
        for n in p["note"].as_array().into_iter().flatten() {
            refs.extend(
                n["authorReference"]["reference"]
                    .as_str()
                    .map(str::to_string),
            );
        }
        refs.extend(contributions::agreements_to(p).into_iter().map(|a| a.0));
    }
    for (_, r) in &requests {
        refs.extend(r["requester"]["reference"].as_str().map(str::to_string));
    }
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;

    let mut goal_rows: Vec<GoalRow> = goals
        .iter()
        .map(|g| {
            let v = GoalView::of(&json(g));
            GoalRow {
                id: g.id.clone(),
                version: g.version,
                description: v.description.clone(),
                progress: progress_label(person, v.progress.as_deref()),
                evaluate: v
                    .evaluate
                    .map(|d| dates::day(d, person.lang))
                    .unwrap_or_default(),
                overdue: v.overdue(today),
                active: v.active,
                evaluations: v
                    .evaluations
                    .iter()
                    .map(|(who, at, text)| {
                        (
                            who.as_deref().map(|w| names.name(w)).unwrap_or_default(),
                            at.as_deref()
                                .map(|a| dates::fhir(a, person.lang))
                                .unwrap_or_default(),
                            text.clone(),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    goal_rows.sort_by_key(|g| (!g.active, !g.overdue, g.description.clone()));
    let agreement_rows: Vec<AgreementRow> = plan_json
        .as_ref()
        .map(agreements)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let mine = director || (me.is_some() && a.performer == me);
            agreement_row(person, a, &names, mine, today)
        })
        .collect();
    let others: Vec<FamilyPart> = others_json
        .iter()
        .map(|v| {
            let client_ref = v["subject"]["reference"].as_str().unwrap_or_default();
            FamilyPart {
                client_id: client_ref
                    .strip_prefix("Patient/")
                    .unwrap_or_default()
                    .to_string(),
                client: names.name(client_ref),
                agreements: agreements(v)
                    .iter()
                    .map(|a| agreement_row(person, a, &names, false, today))
                    .collect(),
            }
        })
        .collect();
    let versions: Vec<VersionRow> = history_json
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let t = person.texts();
            let what = match history_json.get(i + 1) {
                None => t.get("version-first"),
                Some(older) => describe(person, &PlanChange::between(older, v)),
            };
            VersionRow {
                version: history[i].version.version,
                when: dates::moment(history[i].version.last_updated, person.lang),
                who: kring_record::meta::changed_by(v)
                    .map(|r| names.name(r))
                    .unwrap_or_else(|| t.get("someone")),
                what,
            }
        })
        .collect();
    let overdue_agreements = agreement_rows.iter().filter(|a| a.overdue).count();
    let overdue_goals = goal_rows.iter().filter(|g| g.overdue).count();
    let mut f = client.frame(person, "plan-title");
    if let Some(p) = &plan_json {
        if let Some(title) = p["title"].as_str() {
            f.title = title.to_string();
        }
    }
    f.message = message;
    f.error = error;
    let performers = performers
        .iter()
        .map(|r| {
            let label = if r.starts_with("Patient/") {
                f.t.with("the-client-self", &[("name", &names.name(r))])
            } else {
                names.name(r)
            };
            (r.clone(), label)
        })
        .collect();
    let statuses = AGREEMENT_STATUSES
        .iter()
        .map(|s| (s.to_string(), status_label(person, s)))
        .collect();
    let progress = PROGRESS
        .iter()
        .map(|p| (p.to_string(), progress_label(person, Some(p))))
        .collect();
    let t = person.texts();
    let notes = plan_json
        .iter()
        .flat_map(|p| p["note"].as_array().cloned().unwrap_or_default())
        .map(|n| NoteRow {
            who: n["authorReference"]["reference"]
                .as_str()
                .map(|r| names.name(r))
                .unwrap_or_else(|| t.get("someone")),
            when: n["time"]
                .as_str()
                .map(|w| dates::fhir(w, person.lang))
                .unwrap_or_default(),
            text: n["text"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    let portal_me = super::super::portal::whose(person).ok().map(|w| w.1);
    let plan_version = plan.as_ref().map(|p| p.version).unwrap_or(0);
    let agreements_to = plan_json
        .as_ref()
        .map(contributions::agreements_to)
        .unwrap_or_default();
    // The version of the plan's last change by a professional: a client's or parent's comment
    // or agreement since then does not ask for agreement again.
    let last_professional_change = history
        .iter()
        .zip(&history_json)
        .find(|(_, v)| {
            !kring_record::meta::changed_by(v)
                .is_some_and(|r| r.starts_with("Patient/") || r.starts_with("RelatedPerson/"))
        })
        .map(|(h, _)| h.version.version)
        .unwrap_or(plan_version);
    let agreed_now = portal_me.as_ref().is_some_and(|me| {
        agreements_to
            .iter()
            .any(|(who, _, v)| who == me && *v >= last_professional_change)
    });
    let agreed = agreements_to
        .iter()
        .map(|(who, when, version)| {
            t.with(
                "plan-agreed-by",
                &[
                    ("who", &names.name(who)),
                    ("when", &dates::fhir(when, person.lang)),
                    ("version", &version.to_string()),
                ],
            )
        })
        .collect();
    let requests = requests
        .iter()
        .map(|(task, v)| {
            let due = v["restriction"]["period"]["end"]
                .as_str()
                .and_then(parse_day);
            let open = contributions::is_open(v);
            RequestRow {
                id: task.id.clone(),
                version: task.version,
                kind: contributions::request_kind(v)
                    .map(|k| t.get(&format!("request-kind-{}", k.code())))
                    .unwrap_or_default(),
                text: v["description"].as_str().unwrap_or_default().to_string(),
                who: v["requester"]["reference"]
                    .as_str()
                    .map(|r| names.name(r))
                    .unwrap_or_default(),
                asked: v["authoredOn"]
                    .as_str()
                    .map(|a| dates::fhir(a, person.lang))
                    .unwrap_or_default(),
                due: due.map(|d| dates::day(d, person.lang)).unwrap_or_default(),
                overdue: open && due.is_some_and(|d| d < today),
                open,
                status: t.get(&format!(
                    "request-status-{}",
                    v["status"].as_str().unwrap_or("requested")
                )),
                answer: contributions::answer_of(v).unwrap_or_default().to_string(),
            }
        })
        .collect();
    // A supporter reads the plan; the client's own writing and requests are not theirs.
    let supporter = matches!(
        person.caller.subject,
        kring_access::Subject::Supporter { .. }
    );
    let requests = if supporter { Vec::new() } else { requests };
    let page = PlanPage {
        f,
        id,
        in_portal: client.in_portal() && !supporter,
        notes,
        agreed,
        agreed_now,
        requests,
        plan: plan.as_ref().map(|p| {
            (
                p.id.clone(),
                p.version,
                plan_json
                    .as_ref()
                    .and_then(|v| v["title"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            )
        }),
        family,
        goals: goal_rows,
        agreements: agreement_rows,
        others,
        versions,
        director,
        may_add,
        performers,
        statuses,
        progress,
        overdue_agreements,
        overdue_goals,
        typed,
        today: field_day(today),
    };
    Ok(render::page(&page, person.lang, person.set_lang))
}

/// A version's change in words.
fn describe(person: &Person, c: &PlanChange) -> String {
    let t = person.texts();
    let mut parts = Vec::new();
    for a in &c.added {
        parts.push(t.with("change-added", &[("what", a)]));
    }
    for a in &c.changed {
        parts.push(t.with("change-changed", &[("what", a)]));
    }
    for a in &c.removed {
        parts.push(t.with("change-removed", &[("what", a)]));
    }
    if c.goals_added > 0 {
        parts.push(t.count("change-goals-added", "count", c.goals_added as i64, &[]));
    }
    if c.goals_removed > 0 {
        parts.push(t.count("change-goals-removed", "count", c.goals_removed as i64, &[]));
    }
    if c.other || parts.is_empty() {
        parts.push(t.get("change-other"));
    }
    parts.join("; ")
}

const DONE: &[&str] = &[
    "agreement-added",
    "agreement-changed",
    "goal-added",
    "goal-evaluated",
    "plan-made",
    "own-goal-added",
    "comment-added",
    "plan-agreed",
    "request-answered",
];

/// `GET /clienten/{id}/plan`.
pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let client = client_ctx::open(&state, &person, &id, "page-view", "/plan").await?;
    let message = done.message(&person, DONE);
    render_page(&state, &person, client, Typed::default(), message, None).await
}

/// Shows the page again with what went wrong and what was typed.
async fn refused(
    state: &AppState,
    person: &Person,
    id: &str,
    typed: Typed,
    error: String,
) -> Result<Response, PageError> {
    let client = client_ctx::open(state, person, id, "page-view", "/plan").await?;
    let mut res = render_page(state, person, client, typed, None, Some(error)).await?;
    *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

/// The plan the form was made from, at the version it was made from; the record refuses the
/// write when someone changed it in between (If-Match).
async fn plan_at(state: &AppState, person: &Person, id: &str) -> Result<Versioned, PageError> {
    plan_of(state, person, id)
        .await
        .ok_or_else(|| person.not_found())
}

async fn write_plan(
    state: &AppState,
    person: &Person,
    plan: &Versioned,
    version: i64,
    value: Value,
) -> Result<(), String> {
    state
        .record
        .update(&person.caller, "CarePlan", &plan.id, value, Some(version))
        .await
        .map(|_| ())
        .map_err(|e| render::sentence(&e, person.lang))
}

#[derive(Deserialize)]
pub struct AddAgreement {
    version: i64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    performer: String,
}

/// `POST /clienten/{id}/plan/afspraken`: a new agreement.
pub async fn add_agreement(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AddAgreement>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let typed = Typed {
        description: form.description.clone(),
        due: form.due.clone(),
        performer: form.performer.clone(),
        ..Typed::default()
    };
    let description = match text_field(&form.description, MAX_TEXT) {
        Ok(d) => d,
        Err(p) => {
            let e = p.sentence(&person, "agreement-what");
            return refused(&state, &person, &id, typed, e).await;
        }
    };
    let due = match form.due.trim() {
        "" => None,
        d => match parse_day(d) {
            Some(d) => Some(d),
            None => {
                let e = person.texts().get("date-invalid");
                return refused(&state, &person, &id, typed, e).await;
            }
        },
    };
    let performer = if form.performer.is_empty() {
        me.role.clone()
    } else {
        form.performer.clone()
    };
    // Only someone the page offered: a running member of the circle, or the client.
    let circle = search(
        &state,
        &person,
        "CareTeam",
        &format!("subject=Patient/{id}&_count=1"),
    )
    .await;
    if performer != me.role && !performers_of(circle.first(), &id).contains(&performer) {
        let e = person.texts().get("request-unreadable");
        return refused(&state, &person, &id, typed, e).await;
    }
    let plan = plan_at(&state, &person, &id).await?;
    let mut v = json(&plan);
    let a = Agreement {
        index: agreements(&v).len(),
        description,
        performer: Some(performer),
        status: "not-started".into(),
        due,
    };
    match v["activity"].as_array_mut() {
        Some(list) => list.push(a.to_activity()),
        None => v["activity"] = json!([a.to_activity()]),
    }
    match write_plan(&state, &person, &plan, form.version, v).await {
        Ok(()) => Ok(see(&format!("/clienten/{id}/plan"), "agreement-added")),
        Err(e) => refused(&state, &person, &id, typed, e).await,
    }
}

#[derive(Deserialize)]
pub struct ChangeAgreement {
    version: i64,
    index: usize,
    #[serde(default)]
    description: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    due: String,
}

/// `POST /clienten/{id}/plan/afspraken/wijzigen`: an agreement's text, status or date.
pub async fn change(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<ChangeAgreement>,
) -> Result<Response, PageError> {
    person.professional()?;
    let typed = Typed::default();
    let description = match text_field(&form.description, MAX_TEXT) {
        Ok(d) => d,
        Err(p) => {
            let e = p.sentence(&person, "agreement-what");
            return refused(&state, &person, &id, typed, e).await;
        }
    };
    if !AGREEMENT_STATUSES.contains(&form.status.as_str()) {
        let e = person.texts().get("request-unreadable");
        return refused(&state, &person, &id, typed, e).await;
    }
    let due = match form.due.trim() {
        "" => None,
        d => match parse_day(d) {
            Some(d) => Some(d),
            None => {
                let e = person.texts().get("date-invalid");
                return refused(&state, &person, &id, typed, e).await;
            }
        },
    };
    let plan = plan_at(&state, &person, &id).await?;
    let mut v = json(&plan);
    let Some(old) = agreements(&v).into_iter().find(|a| a.index == form.index) else {
        let e = person.texts().get("changed-meanwhile");
        return refused(&state, &person, &id, typed, e).await;
    };
    let new = Agreement {
        description,
        status: form.status.clone(),
        due,
        ..old
    };
    change_agreement(&mut v, &new);
    match write_plan(&state, &person, &plan, form.version, v).await {
        Ok(()) => Ok(see(&format!("/clienten/{id}/plan"), "agreement-changed")),
        Err(e) => refused(&state, &person, &id, typed, e).await,
    }
}

#[derive(Deserialize)]
pub struct AddGoal {
    version: i64,
    #[serde(default)]
    goal: String,
    #[serde(default)]
    evaluate: String,
}

/// `POST /clienten/{id}/plan/doelen`: the case director adds a goal — the Goal and the plan
/// that names it in one transaction.
pub async fn add_goal(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AddGoal>,
) -> Result<Response, PageError> {
    person.professional()?;
    let typed = Typed {
        goal: form.goal.clone(),
        goal_evaluate: form.evaluate.clone(),
        ..Typed::default()
    };
    let text = match text_field(&form.goal, MAX_TEXT) {
        Ok(d) => d,
        Err(p) => {
            let e = p.sentence(&person, "goal-what");
            return refused(&state, &person, &id, typed, e).await;
        }
    };
    let today = dates::today();
    let evaluate_on = match form.evaluate.trim() {
        "" => Some(today + Duration::days(90)),
        d => match parse_day(d) {
            Some(d) if d >= today => Some(d),
            _ => {
                let e = person.texts().get("date-not-past");
                return refused(&state, &person, &id, typed, e).await;
            }
        },
    };
    let plan = plan_at(&state, &person, &id).await?;
    let goal_url = format!("urn:uuid:{}", new_uuid());
    let mut v = json(&plan);
    let goal_ref = json!({ "reference": goal_url });
    match v["goal"].as_array_mut() {
        Some(g) => g.push(goal_ref),
        None => v["goal"] = json!([goal_ref]),
    }
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": goal_url, "resource": new_goal(&id, &text, today, evaluate_on),
             "request": {"method": "POST", "url": "Goal"}},
            {"fullUrl": format!("CarePlan/{}", plan.id), "resource": v,
             "request": {"method": "PUT", "url": format!("CarePlan/{}", plan.id),
                         "ifMatch": format!("W/\"{}\"", form.version)}},
        ]
    });
    match state
        .record
        .process_bundle(&person.caller, bundle, "", Preference::Minimal)
        .await
    {
        Ok(_) => Ok(see(&format!("/clienten/{id}/plan"), "goal-added")),
        Err(e) => {
            let e = render::sentence(&e, person.lang);
            refused(&state, &person, &id, typed, e).await
        }
    }
}

/// A random UUID (version 4) for a transaction's placeholder reference.
fn new_uuid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[derive(Deserialize)]
pub struct Evaluation {
    goal: String,
    version: i64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    progress: String,
    #[serde(default)]
    next: String,
}

/// `POST /clienten/{id}/plan/doelen/evalueren`: the case director evaluates a goal.
pub async fn evaluate_goal(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Evaluation>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let typed = Typed::default();
    let text = match text_field(&form.text, MAX_TEXT) {
        Ok(d) => d,
        Err(p) => {
            let e = p.sentence(&person, "evaluation-what");
            return refused(&state, &person, &id, typed, e).await;
        }
    };
    if !PROGRESS.contains(&form.progress.as_str()) {
        let e = person.texts().get("request-unreadable");
        return refused(&state, &person, &id, typed, e).await;
    }
    let today = dates::today();
    let next = match form.next.trim() {
        "" => None,
        d => match parse_day(d) {
            Some(d) if d >= today => Some(d),
            _ => {
                let e = person.texts().get("date-not-past");
                return refused(&state, &person, &id, typed, e).await;
            }
        },
    };
    if !super::is_fhir_id(&form.goal) {
        return Err(person.not_found());
    }
    let goal = search(
        &state,
        &person,
        "Goal",
        &format!("_id={}&subject=Patient/{id}", form.goal),
    )
    .await
    .into_iter()
    .next()
    .ok_or_else(|| person.not_found())?;
    let mut v = json(&goal);
    evaluate(
        &mut v,
        &me.practitioner,
        &now_fhir(),
        &text,
        &form.progress,
        next,
    );
    match state
        .record
        .update(&person.caller, "Goal", &goal.id, v, Some(form.version))
        .await
    {
        Ok(_) => Ok(see(&format!("/clienten/{id}/plan"), "goal-evaluated")),
        Err(e) => {
            let e = render::sentence(&e, person.lang);
            refused(&state, &person, &id, typed, e).await
        }
    }
}

#[derive(Deserialize)]
pub struct MakePlan {}

/// `POST /clienten/{id}/plan/aanmaken`: the case director starts a client's support plan.
pub async fn make(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<MakePlan>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    if plan_of(&state, &person, &id).await.is_some() {
        return Ok(see(&format!("/clienten/{id}/plan"), "plan-made"));
    }
    let plan = json!({
        "resourceType": "CarePlan", "status": "active", "intent": "plan",
        "title": "Ondersteuningsplan", "subject": {"reference": format!("Patient/{id}")},
        "period": {"start": field_day(dates::today())},
        "author": {"reference": me.role},
    });
    match state
        .record
        .create(&person.caller, "CarePlan", plan, None)
        .await
    {
        Ok(_) => Ok(see(&format!("/clienten/{id}/plan"), "plan-made")),
        Err(e) => {
            let e = render::sentence(&e, person.lang);
            refused(&state, &person, &id, Typed::default(), e).await
        }
    }
}

// ------------------------------------------------------------ the client writes in the plan

#[derive(Deserialize)]
pub struct OwnGoal {
    #[serde(default)]
    goal: String,
}

/// `POST /mijn/plan/doel`: the client (or a parent) adds a goal of their own, in their own
/// name (`Goal.expressedBy`).
pub async fn own_goal(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<OwnGoal>,
) -> Result<Response, PageError> {
    let (id, me, _) = crate::pages::portal::whose(&person)?;
    let text = match text_field(&form.goal, MAX_TEXT) {
        Ok(t) => t,
        Err(p) => {
            let e = p.sentence(&person, "own-goal-label");
            return refused(&state, &person, &id, Typed::default(), e).await;
        }
    };
    let mut goal = new_goal(&id, &text, dates::today(), None);
    goal["expressedBy"] = json!({ "reference": me });
    match state
        .record
        .create(&person.caller, "Goal", goal, None)
        .await
    {
        Ok(_) => Ok(see(&format!("/clienten/{id}/plan"), "own-goal-added")),
        Err(e) => {
            let e = render::sentence(&e, person.lang);
            refused(&state, &person, &id, Typed::default(), e).await
        }
    }
}

#[derive(Deserialize)]
pub struct Comment {
    version: i64,
    #[serde(default)]
    text: String,
}

/// `POST /mijn/plan/reactie`: a comment on the plan in the client's (or parent's) own name.
pub async fn comment(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<Comment>,
) -> Result<Response, PageError> {
    let (id, me, _) = crate::pages::portal::whose(&person)?;
    let text = match text_field(&form.text, MAX_TEXT) {
        Ok(t) => t,
        Err(p) => {
            let e = p.sentence(&person, "plan-note-label");
            return refused(&state, &person, &id, Typed::default(), e).await;
        }
    };
    let plan = plan_at(&state, &person, &id).await?;
    let mut v = json(&plan);
    let note = contributions::note(&me, &now_fhir(), &text);
    match v["note"].as_array_mut() {
        Some(n) => n.push(note),
        None => v["note"] = json!([note]),
    }
    match write_plan(&state, &person, &plan, form.version, v).await {
        Ok(()) => Ok(see(&format!("/clienten/{id}/plan"), "comment-added")),
        Err(e) => refused(&state, &person, &id, Typed::default(), e).await,
    }
}

#[derive(Deserialize)]
pub struct Agree {
    version: i64,
}

/// `POST /mijn/plan/akkoord`: the client (or a parent) agrees to the plan as it is now.
pub async fn agree(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<Agree>,
) -> Result<Response, PageError> {
    let (id, me, _) = crate::pages::portal::whose(&person)?;
    let plan = plan_at(&state, &person, &id).await?;
    let mut v = json(&plan);
    let agreed = contributions::agreement(&me, &now_fhir(), form.version);
    match v["extension"].as_array_mut() {
        Some(e) => e.push(agreed),
        None => v["extension"] = json!([agreed]),
    }
    match write_plan(&state, &person, &plan, form.version, v).await {
        Ok(()) => Ok(see(&format!("/clienten/{id}/plan"), "plan-agreed")),
        Err(e) => refused(&state, &person, &id, Typed::default(), e).await,
    }
}

#[derive(Deserialize)]
pub struct Answer {
    #[serde(default)]
    task: String,
    version: i64,
    #[serde(default)]
    status: String,
    #[serde(default)]
    answer: String,
}

/// `POST /clienten/{id}/plan/verzoeken`: the case director answers a client's request.
pub async fn answer_request(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Answer>,
) -> Result<Response, PageError> {
    person.professional()?;
    let text = match text_field(&form.answer, MAX_TEXT) {
        Ok(t) => t,
        Err(p) => {
            let e = p.sentence(&person, "request-answer");
            return refused(&state, &person, &id, Typed::default(), e).await;
        }
    };
    if !matches!(
        form.status.as_str(),
        "completed" | "rejected" | "in-progress"
    ) || !super::is_fhir_id(&form.task)
    {
        let e = person.texts().get("request-unreadable");
        return refused(&state, &person, &id, Typed::default(), e).await;
    }
    let task = state
        .record
        .read(&person.caller, "Task", &form.task)
        .await
        .map_err(|e| person.failed(e))?;
    let mut v = json(&task);
    if v["for"]["reference"].as_str() != Some(&format!("Patient/{id}")) {
        return Err(person.not_found());
    }
    contributions::answer(&mut v, &form.status, &text);
    match state
        .record
        .update(&person.caller, "Task", &task.id, v, Some(form.version))
        .await
    {
        Ok(_) => Ok(see(&format!("/clienten/{id}/plan"), "request-answered")),
        Err(e) => {
            let e = render::sentence(&e, person.lang);
            refused(&state, &person, &id, Typed::default(), e).await
        }
    }
}

//! The crisis plan (signaleringsplan) of one client: four phases from green to red, each with
//! its signals, what the client does, what the network does and whom to call; whether the
//! client wrote it with the professionals; who changed it last and every earlier version. It
//! prints cleanly (the page's print style, or a PDF with the phases' colours) because in a
//! crisis it is read on paper at the door as often as on a screen. See `kring_record::plan`
//! for the FHIR shape.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kring_record::plan::{
    crisis_line, crisis_lines, written_with_client, Part, Phase, WRITTEN_WITH_CLIENT,
};
use kring_record::{HistoryRequest, Versioned};
use serde_json::{json, Value};

use super::{field_day, not_shared, see, Done};
use crate::pages::client_ctx::{self, ClientCtx, CRISIS_PLAN_PROBE};
use crate::pages::error::PageError;
use crate::pages::form::CsrfForm;
use crate::pages::names::{json, search, Names};
use crate::pages::{dates, render, Frame, Person};
use crate::AppState;

/// The longest line of a crisis plan.
const MAX_LINE: usize = 500;
/// The most lines one part of one phase may have.
const MAX_LINES: usize = 30;
/// How many versions the page lists.
const VERSIONS: usize = 25;
/// The category of a crisis plan.
const CRISIS_CATEGORY: &str = "https://kring.example/fhir/CodeSystem/plan-category";

/// One phase of the plan as shown.
pub struct PhaseView {
    pub code: &'static str,
    pub label: String,
    /// (part label, lines, form field name, lines as typed into the form).
    pub parts: Vec<PartView>,
}

pub struct PartView {
    pub label: String,
    pub lines: Vec<String>,
    pub field: String,
    pub text: String,
}

pub struct VersionRow {
    pub version: i64,
    pub when: String,
    pub who: String,
}

#[derive(Template)]
#[template(path = "crisis.html")]
struct CrisisPage {
    f: Frame,
    id: String,
    exists: bool,
    phases: Vec<PhaseView>,
    /// Lines without a phase, written by a system that does not code them.
    other: Vec<String>,
    with_client: bool,
    last_change: Option<String>,
    versions: Vec<VersionRow>,
    may_edit: bool,
}

#[derive(Template)]
#[template(path = "crisis_edit.html")]
struct EditPage {
    f: Frame,
    id: String,
    version: i64,
    phases: Vec<PhaseView>,
    with_client: bool,
}

/// The client's crisis plan (the newest that is in use), through the record.
async fn plan_of(state: &AppState, person: &Person, id: &str) -> Option<Versioned> {
    let mut plans: Vec<Versioned> = search(
        state,
        person,
        "CarePlan",
        &format!("subject=Patient/{id}&_count=50"),
    )
    .await
    .into_iter()
    .filter(|p| kring_access::category::is_crisis_plan(&p.body))
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

fn field_name(phase: Phase, part: Part) -> String {
    format!("{}_{}", phase.code(), part.code())
}

/// The phases of `plan` (all four, each with its four parts).
fn phases_of(person: &Person, plan: Option<&Value>) -> Vec<PhaseView> {
    let t = person.texts();
    let lines = plan.map(crisis_lines).unwrap_or_default();
    Phase::ALL
        .iter()
        .map(|&phase| PhaseView {
            code: phase.code(),
            label: t.get(&format!("phase-{}", phase.code())),
            parts: Part::ALL
                .iter()
                .map(|&part| {
                    let mine: Vec<String> = lines
                        .iter()
                        .filter(|(ph, pa, _)| {
                            *ph == Some(phase) && pa.unwrap_or(Part::Signals) == part
                        })
                        .map(|(_, _, text)| text.clone())
                        .collect();
                    PartView {
                        label: t.get(&format!("part-{}", part.code())),
                        field: field_name(phase, part),
                        text: mine.join("\n"),
                        lines: mine,
                    }
                })
                .collect(),
        })
        .collect()
}

fn may_edit(state: &AppState, person: &Person, id: &str) -> bool {
    super::may_write(state, person, id, "CarePlan", CRISIS_PLAN_PROBE)
}

/// `GET /clienten/{id}/crisisplan`.
pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let client = client_ctx::open(&state, &person, &id, "page-view", "/crisisplan").await?;
    if !client.may_open("/crisisplan") {
        return Ok(not_shared(
            &state,
            &person,
            &client,
            "crisis-title",
            "CarePlan",
            CRISIS_PLAN_PROBE,
        ));
    }
    let plan = plan_of(&state, &person, &id).await;
    let value = plan.as_ref().map(json);
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
    let history_json: Vec<Value> = history.iter().map(|h| json(&h.version)).collect();
    let names = Names::of(
        &state,
        &person,
        history_json
            .iter()
            .filter_map(|v| kring_record::meta::changed_by(v)),
    )
    .await;
    let t = person.texts();
    let who = |v: &Value| {
        kring_record::meta::changed_by(v)
            .map(|r| names.name(r))
            .unwrap_or_else(|| t.get("someone"))
    };
    let versions: Vec<VersionRow> = history
        .iter()
        .zip(&history_json)
        .map(|(h, v)| VersionRow {
            version: h.version.version,
            when: dates::moment(h.version.last_updated, person.lang),
            who: who(v),
        })
        .collect();
    let last_change = versions.first().map(|v| {
        t.with(
            "crisis-last-change",
            &[("when", v.when.as_str()), ("who", v.who.as_str())],
        )
    });
    let other = value
        .as_ref()
        .map(crisis_lines)
        .unwrap_or_default()
        .into_iter()
        .filter(|(phase, _, _)| phase.is_none())
        .map(|(_, _, text)| text)
        .collect();
    let mut f = client.frame(&person, "crisis-title");
    f.message = done.message(&person, &["crisis-saved"]);
    let page = CrisisPage {
        f,
        exists: plan.is_some(),
        phases: phases_of(&person, value.as_ref()),
        other,
        with_client: value.as_ref().is_some_and(written_with_client),
        last_change,
        versions,
        may_edit: may_edit(&state, &person, &id),
        id,
    };
    Ok(render::page(&page, person.lang, person.set_lang))
}

/// The edit page, with `error` and what was typed when a save was refused.
async fn edit_page(
    state: &AppState,
    person: &Person,
    client: &ClientCtx,
    typed: Option<(&HashMap<String, String>, i64)>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let plan = plan_of(state, person, &client.id).await;
    let value = plan.as_ref().map(json);
    let mut phases = phases_of(person, value.as_ref());
    let mut with_client = value.as_ref().is_some_and(written_with_client);
    let mut version = plan.as_ref().map(|p| p.version).unwrap_or(0);
    if let Some((form, v)) = typed {
        for part in phases.iter_mut().flat_map(|p| p.parts.iter_mut()) {
            part.text = form.get(&part.field).cloned().unwrap_or_default();
        }
        with_client = form.contains_key("with_client");
        version = v;
    }
    let mut f = client.frame(person, "crisis-edit-title");
    f.error = error.clone();
    let page = EditPage {
        f,
        id: client.id.clone(),
        version,
        phases,
        with_client,
    };
    let mut res = render::page(&page, person.lang, person.set_lang);
    if error.is_some() {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

/// `GET /clienten/{id}/crisisplan/bewerken`.
pub async fn edit(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    person.professional()?;
    let client = client_ctx::open(&state, &person, &id, "page-view", "/crisisplan").await?;
    if !may_edit(&state, &person, &id) {
        return Err(person.not_found());
    }
    edit_page(&state, &person, &client, None, None).await
}

/// `POST /clienten/{id}/crisisplan/bewerken`: the whole plan as the form has it — a new
/// version of the plan (If-Match: the version the form was made from), or the first.
pub async fn save(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let client = client_ctx::open(&state, &person, &id, "page-view", "/crisisplan").await?;
    let version: i64 = form
        .get("version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let refuse = |key: &str| person.texts().get(key);
    // Every phase and part, in order, one line per item.
    let mut lines = Vec::new();
    for phase in Phase::ALL {
        for part in Part::ALL {
            let text = form
                .get(&field_name(phase, part))
                .cloned()
                .unwrap_or_default();
            let items: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let t = person.texts();
            let (phase_name, part_name) = (
                t.get(&format!("phase-{}", phase.code())),
                t.get(&format!("part-{}", part.code())),
            );
            let problem = if items.len() > MAX_LINES {
                Some(t.with(
                    "crisis-too-many-lines",
                    &[
                        ("phase", &phase_name),
                        ("part", &part_name),
                        ("max", &MAX_LINES.to_string()),
                    ],
                ))
            } else if items.iter().any(|l| l.chars().count() > MAX_LINE) {
                Some(t.with(
                    "field-too-long",
                    &[
                        ("field", &format!("{phase_name}, {part_name}")),
                        ("max", &MAX_LINE.to_string()),
                    ],
                ))
            } else {
                None
            };
            if let Some(e) = problem {
                return edit_page(&state, &person, &client, Some((&form, version)), Some(e)).await;
            }
            lines.extend(items.into_iter().map(|l| crisis_line(phase, part, l)));
        }
    }
    if lines.is_empty() {
        let e = refuse("crisis-empty");
        return edit_page(&state, &person, &client, Some((&form, version)), Some(e)).await;
    }
    let with_client = form.contains_key("with_client");
    let plan = plan_of(&state, &person, &id).await;
    let client_ref = format!("Patient/{id}");
    let mut value = match &plan {
        Some(p) => json(p),
        None => json!({
            "resourceType": "CarePlan", "status": "active", "intent": "plan",
            "title": "Crisisplan",
            "category": [{"coding": [{"system": CRISIS_CATEGORY, "code": "crisis"}]}],
            "subject": {"reference": client_ref},
            "period": {"start": field_day(dates::today())},
            "author": {"reference": me.role},
        }),
    };
    // Lines without a phase this page knows (from another system) are kept as they are.
    let kept: Vec<Value> = value["activity"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| {
            !a["detail"]["code"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| {
                    c["system"] == kring_record::plan::PHASE_SYSTEM
                        && c["code"].as_str().and_then(Phase::from_code).is_some()
                })
        })
        .cloned()
        .collect();
    value["activity"] = Value::Array(lines.into_iter().chain(kept).collect());
    set_with_client(&mut value, &client_ref, &me.role, with_client);
    let result = match &plan {
        Some(p) => {
            state
                .record
                .update(&person.caller, "CarePlan", &p.id, value, Some(version))
                .await
        }
        None => {
            state
                .record
                .create(&person.caller, "CarePlan", value, None)
                .await
        }
    };
    match result {
        Ok(_) => Ok(see(&format!("/clienten/{id}/crisisplan"), "crisis-saved")),
        Err(e) => {
            let e = render::sentence(&e, person.lang);
            edit_page(&state, &person, &client, Some((&form, version)), Some(e)).await
        }
    }
}

/// Says on the plan whether the client wrote it with the professionals: the extension, and
/// the client and the writer as contributors.
fn set_with_client(plan: &mut Value, client: &str, writer: &str, yes: bool) {
    let mut ext: Vec<Value> = plan["extension"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["url"] != WRITTEN_WITH_CLIENT)
        .collect();
    ext.push(json!({"url": WRITTEN_WITH_CLIENT, "valueBoolean": yes}));
    plan["extension"] = Value::Array(ext);
    let mut contributors: Vec<Value> = plan["contributor"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| yes || c["reference"] != client)
        .collect();
    for who in [writer, client] {
        if (who != client || yes) && !contributors.iter().any(|c| c["reference"] == who) {
            contributors.push(json!({"reference": who}));
        }
    }
    plan["contributor"] = Value::Array(contributors);
}

/// `GET /clienten/{id}/crisisplan/crisisplan.pdf`: the plan on paper, each phase with its
/// colour.
pub async fn pdf(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let id = id.as_str();
    let client = client_ctx::open(&state, &person, id, "page-view", "/crisisplan").await?;
    if !client.may_open("/crisisplan") {
        return Err(person.not_found());
    }
    let plan = plan_of(&state, &person, id)
        .await
        .ok_or_else(|| person.not_found())?;
    let value = json(&plan);
    let t = person.texts();
    let who = client
        .name
        .clone()
        .unwrap_or_else(|| t.get("someone-client"));
    let now = dates::moment(crate::auth::now_ms(), person.lang);
    let mut doc = kring_pdf::Document::new(&t.with(
        "crisis-pdf-footer",
        &[("client", who.as_str()), ("when", now.as_str())],
    ));
    doc.title(&format!("{} — {}", t.get("crisis-title"), who));
    doc.paragraph(&t.get(if written_with_client(&value) {
        "crisis-with-client"
    } else {
        "crisis-without-client"
    }));
    for phase in phases_of(&person, Some(&value)) {
        doc.heading(&phase.label, Some(colour(phase.code)));
        for part in &phase.parts {
            doc.label(&part.label);
            if part.lines.is_empty() {
                doc.bullet(&t.get("crisis-empty-part"));
            }
            for l in &part.lines {
                doc.bullet(l);
            }
        }
        doc.space(6.0);
    }
    let other: Vec<String> = crisis_lines(&value)
        .into_iter()
        .filter(|(phase, _, _)| phase.is_none())
        .map(|(_, _, text)| text)
        .collect();
    if !other.is_empty() {
        doc.heading(&t.get("phase-other"), None);
        for l in &other {
            doc.bullet(l);
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"crisisplan.pdf\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        doc.finish(),
    )
        .into_response())
}

/// A phase's colour on paper (the page's colours).
fn colour(phase: &str) -> kring_pdf::Rgb {
    match phase {
        "groen" => (0.12, 0.49, 0.20),
        "geel" => (0.88, 0.69, 0.0),
        "oranje" => (0.88, 0.42, 0.0),
        _ => (0.69, 0.0, 0.13),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_a_contributor_exactly_when_the_plan_says_so() {
        let mut plan = json!({"contributor": [{"reference": "PractitionerRole/a"}]});
        set_with_client(&mut plan, "Patient/p", "PractitionerRole/b", true);
        assert!(written_with_client(&plan));
        let refs: Vec<&str> = plan["contributor"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["reference"].as_str().unwrap())
            .collect();
        assert_eq!(
            refs,
            ["PractitionerRole/a", "PractitionerRole/b", "Patient/p"]
        );
        set_with_client(&mut plan, "Patient/p", "PractitionerRole/b", false);
        assert!(!written_with_client(&plan));
        assert!(!plan["contributor"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["reference"] == "Patient/p"));
        assert_eq!(plan["extension"].as_array().unwrap().len(), 1);
    }
}

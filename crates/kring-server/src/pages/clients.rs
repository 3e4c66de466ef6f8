//! "My clients", the client page with "why can I see this?" on each part, and emergency
//! access. Every piece of data comes through the record: decided and logged.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kring_access::category::Category;
use kring_access::circle::Circle;
use kring_access::{Action, Decision, Subject};
use kring_record::{Handling, SearchRequest, Versioned};
use serde::Deserialize;
use serde_json::Value;

use super::i18n::Lang;
use super::{render, Frame, Person};
use crate::AppState;

pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub categories: String,
    pub until: String,
    pub director: bool,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    f: Frame,
    rows: Vec<ClientRow>,
    notifications: Vec<String>,
    /// Warnings from the privacy officer not yet read: (id, text, sent).
    warnings: Vec<(i64, String, String)>,
}

pub struct Section {
    pub key: &'static str,
    pub title: String,
    pub allowed: bool,
    pub items: Vec<String>,
    pub why: Vec<String>,
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    f: Frame,
    id: String,
    sections: Vec<Section>,
    emergency: bool,
    director: bool,
}

#[derive(Template)]
#[template(path = "emergency.html")]
struct EmergencyPage {
    f: Frame,
}

pub async fn home(person: Result<Person, Response>) -> Response {
    match person {
        Ok(p) if p.account.kind == crate::auth::accounts::Kind::Professional => {
            Redirect::to("/clienten").into_response()
        }
        Ok(p) if p.account.kind == crate::auth::accounts::Kind::Officer => {
            Redirect::to("/toegangslog").into_response()
        }
        Ok(_) => Redirect::to("/toestemming").into_response(),
        Err(r) => r,
    }
}

pub(super) fn category_name(c: Category, lang: Lang) -> &'static str {
    match lang {
        Lang::Nl => c.dutch(),
        Lang::En => c.english(),
    }
}

/// A search through the record as this person (decided inside the query, logged per client).
pub(super) async fn search(
    state: &AppState,
    person: &Person,
    rtype: &str,
    query: &str,
) -> Vec<Versioned> {
    match state
        .record
        .search(
            &person.caller,
            &SearchRequest::from_query(rtype, query),
            Handling::Strict,
        )
        .await
    {
        Ok(out) => out.matches,
        Err(e) => {
            tracing::warn!(error = %e, "page search failed");
            vec![]
        }
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

/// Display names of resources of one type, by reference (`Type/id`), looked up as this
/// person (so the lookup is decided and logged like any other); references of other types,
/// and resources without a name, are left out.
pub(super) async fn names_of<'a>(
    state: &AppState,
    person: &Person,
    rtype: &str,
    references: impl IntoIterator<Item = &'a str>,
    name: fn(&Value) -> String,
) -> std::collections::BTreeMap<String, String> {
    let prefix = format!("{rtype}/");
    let ids: std::collections::BTreeSet<&str> = references
        .into_iter()
        .filter_map(|r| r.strip_prefix(prefix.as_str()))
        .collect();
    if ids.is_empty() {
        return Default::default();
    }
    let query = format!(
        "_id={}&_count={}",
        ids.iter().copied().collect::<Vec<_>>().join(","),
        ids.len()
    );
    search(state, person, rtype, &query)
        .await
        .iter()
        .map(|v| (format!("{prefix}{}", v.id), name(&json(v))))
        .filter(|(_, n)| !n.is_empty())
        .collect()
}

pub(super) fn json(v: &Versioned) -> Value {
    serde_json::from_slice(&v.body).unwrap_or_default()
}

pub(super) fn human_name(v: &Value) -> String {
    let n = &v["name"][0];
    if let Some(t) = n["text"].as_str() {
        return t.to_string();
    }
    let given: Vec<&str> = n["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    format!("{} {}", given.join(" "), n["family"].as_str().unwrap_or(""))
        .trim()
        .to_string()
}

pub async fn my_clients(State(state): State<AppState>, person: Person) -> Response {
    let Subject::Professional {
        role, practitioner, ..
    } = &person.caller.subject
    else {
        return Redirect::to("/toestemming").into_response();
    };
    let today = chrono::Utc::now().date_naive();
    let mut rows = Vec::new();
    let mine = [
        format!("PractitionerRole/{role}"),
        format!("Practitioner/{practitioner}"),
    ];
    let circles = search(
        &state,
        &person,
        "CareTeam",
        &format!("participant={}&_count=500", mine[0]),
    )
    .await;
    let mut ids = Vec::new();
    for c in &circles {
        let circle = Circle::from_json(&c.id, &json(c));
        let Some(client) = circle.client.clone() else {
            continue;
        };
        for m in circle
            .memberships
            .iter()
            .filter(|m| mine.contains(&m.member) && m.running(today))
        {
            ids.push(client.clone());
            rows.push(ClientRow {
                id: client.clone(),
                name: client.clone(),
                categories: m
                    .categories
                    .iter()
                    .map(|c| category_name(*c, person.lang))
                    .collect::<Vec<_>>()
                    .join(", "),
                until: m
                    .period
                    .end
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "—".into()),
                director: m.director,
            });
        }
    }
    if !ids.is_empty() {
        for p in search(
            &state,
            &person,
            "Patient",
            &format!("_id={}&_count=500", ids.join(",")),
        )
        .await
        {
            let name = human_name(&json(&p));
            for r in rows.iter_mut().filter(|r| r.id == p.id) {
                r.name = name.clone();
            }
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let notifications = search(
        &state,
        &person,
        "Communication",
        &format!("recipient={}&_count=50&_sort=-sent", mine[0]),
    )
    .await
    .iter()
    .map(json)
    .filter(kring_access::facts::is_emergency_declaration)
    .map(|v| {
        format!(
            "{} · {} · {}",
            v["sent"].as_str().unwrap_or(""),
            v["subject"]["reference"].as_str().unwrap_or(""),
            v["payload"][0]["contentString"].as_str().unwrap_or("")
        )
    })
    .collect();
    let warnings = super::oversight::warnings_for(&state, practitioner).await;
    render::page(
        &ClientsPage {
            f: person.frame("my-clients"),
            rows,
            notifications,
            warnings,
        },
        person.lang,
        person.set_lang,
    )
}

/// The parts of a client page: (key, category, type, query, crisis plan?).
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

fn summary(key: &str, v: &Value) -> String {
    let s = |p: &Value| p.as_str().unwrap_or("").to_string();
    match key {
        "identity" => {
            let addr = &v["address"][0];
            format!(
                "{} · {} · {} {} · {}",
                human_name(v),
                s(&v["birthDate"]),
                addr["line"][0].as_str().unwrap_or(""),
                s(&addr["city"]),
                s(&v["telecom"][0]["value"])
            )
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
            "{} · {}",
            s(&v["sent"]),
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
            .map(|p| s(&p["member"]["reference"]))
            .collect::<Vec<_>>()
            .join(", "),
        _ => s(&v["code"]["text"]).to_string() + &s(&v["description"]),
    }
}

pub async fn client_page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
) -> Response {
    let crisis_marker = br#"{"category":[{"coding":[{"system":"https://kring.example/fhir/CodeSystem/plan-category","code":"crisis"}]}]}"#;
    let mut sections = Vec::new();
    let mut emergency = false;
    for (key, category, rtype) in PARTS {
        let body: &[u8] = if *category == Category::CrisisPlan {
            crisis_marker
        } else {
            b"{}"
        };
        let d = state
            .record
            .explain(&person.caller, Action::Read, rtype, &id, body);
        emergency |= d.permit && d.is_emergency();
        let mut items = Vec::new();
        if d.permit {
            let rows = if *rtype == "Patient" {
                search(&state, &person, "Patient", &format!("_id={id}")).await
            } else {
                search(
                    &state,
                    &person,
                    rtype,
                    &format!("subject=Patient/{id}&_count=50"),
                )
                .await
            };
            for r in rows {
                let is_crisis = kring_access::category::is_crisis_plan(&r.body);
                if *rtype == "CarePlan" && is_crisis != (*category == Category::CrisisPlan) {
                    continue;
                }
                items.push(summary(key, &json(&r)));
            }
        }
        sections.push(Section {
            key,
            title: capitalised(category_name(*category, person.lang)),
            allowed: d.permit,
            items,
            why: why(&state, &d, person.lang),
        });
    }
    let circle_manager = state
        .record
        .explain(&person.caller, Action::Update, "CareTeam", &id, b"")
        .permit;
    // Nothing may be seen? Then the page is the same whether or not the client exists.
    let mut f = person.frame("client");
    f.title = format!("{} {id}", f.title);
    render::page(
        &ClientPage {
            f,
            id,
            sections,
            emergency,
            director: circle_manager,
        },
        person.lang,
        person.set_lang,
    )
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub async fn emergency_form(person: Person) -> Response {
    render::page(
        &EmergencyPage {
            f: person.frame("emergency"),
        },
        person.lang,
        person.set_lang,
    )
}

#[derive(Deserialize)]
pub struct EmergencyForm {
    csrf: String,
    bsn: String,
    reason: String,
}

pub async fn emergency(
    State(state): State<AppState>,
    person: Person,
    Form(form): Form<EmergencyForm>,
) -> Response {
    if let Err(r) = person.check_csrf(&form.csrf) {
        return r.into_response();
    }
    match state
        .record
        .declare_emergency(&person.caller, &form.bsn, &form.reason)
        .await
    {
        Ok(client) => Redirect::to(&format!("/clienten/{client}")).into_response(),
        Err(e) => {
            let mut f = person.frame("emergency");
            f.error = Some(render::sentence(&e, person.lang));
            let mut res = render::page(&EmergencyPage { f }, person.lang, false);
            *res.status_mut() = axum::http::StatusCode::from_u16(e.status())
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
            res
        }
    }
}

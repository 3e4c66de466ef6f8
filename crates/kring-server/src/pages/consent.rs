//! The consent page for clients and representatives: record permit or deny per organisation
//! and kind of data, withdraw it, and — between 12 and 15, where child and parent decide
//! together — co-sign the other's proposal. Consents are FHIR Consent resources written
//! through the record, which refuses one given by someone who may not give it.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use kring_access::category::{Category, CATEGORY_SYSTEM};
use kring_access::Subject;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clients::{category_name, update};
use super::form::CsrfForm;
use super::i18n::Lang;
use super::names::{json, search};
use super::{render, Frame, Person};
use crate::AppState;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    f: Frame,
    current: Vec<(String, String)>,
    proposals: Vec<(String, String)>,
    organisations: Vec<(String, String)>,
    category_options: Vec<(String, String)>,
}

/// (the client, the reference of the person giving consent).
fn giver(person: &Person) -> Option<(String, String)> {
    match &person.caller.subject {
        Subject::Client { patient, .. } => Some((patient.clone(), format!("Patient/{patient}"))),
        Subject::Representative {
            patient,
            related_person,
            ..
        } => Some((patient.clone(), format!("RelatedPerson/{related_person}"))),
        _ => None,
    }
}

fn describe(v: &Value, lang: Lang) -> String {
    let p = &v["provision"];
    let orgs: Vec<&str> = p["actor"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["reference"]["reference"].as_str())
        .map(|r| r.trim_start_matches("Organization/"))
        .collect();
    let cats: Vec<&str> = p["class"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["code"].as_str())
        .filter_map(Category::from_code)
        .map(|c| category_name(c, lang))
        .collect();
    // The page's own texts, in sentence position: "Alle organisaties mag niet zien: medicatie".
    let t = super::i18n::Texts { lang };
    let who = if orgs.is_empty() {
        t.get("all-organisations")
    } else {
        orgs.join(", ")
    };
    let what = if cats.is_empty() {
        t.get("all-categories").to_lowercase()
    } else {
        cats.join(", ")
    };
    let verb = t
        .get(if p["type"] == "permit" {
            "permit"
        } else {
            "deny"
        })
        .to_lowercase();
    format!(
        "{who} {verb}: {what} ({})",
        v["dateTime"].as_str().unwrap_or("")
    )
}

async fn render_page(
    state: &AppState,
    person: &Person,
    message: Option<String>,
    error: Option<String>,
) -> Response {
    let Some((client, me)) = giver(person) else {
        return Redirect::to("/").into_response();
    };
    let consents = search(
        state,
        person,
        "Consent",
        &format!("patient=Patient/{client}&_count=100"),
    )
    .await;
    let mut current = Vec::new();
    let mut proposals = Vec::new();
    for c in &consents {
        let v = json(c);
        let givers: Vec<&str> = v["performer"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["reference"].as_str())
            .collect();
        match v["status"].as_str() {
            Some("active") => current.push((c.id.clone(), describe(&v, person.lang))),
            Some("proposed") if !givers.contains(&me.as_str()) => {
                proposals.push((c.id.clone(), describe(&v, person.lang)))
            }
            _ => {}
        }
    }
    let mut organisations = Vec::new();
    for c in search(
        state,
        person,
        "CareTeam",
        &format!("subject=Patient/{client}"),
    )
    .await
    {
        let circle = kring_access::circle::Circle::from_json(&c.id, &json(&c));
        for m in circle.memberships {
            if let Some(o) = m
                .organisation
                .or_else(|| m.member.strip_prefix("Organization/").map(str::to_string))
            {
                if !organisations.iter().any(|(id, _)| *id == o) {
                    organisations.push((o.clone(), o));
                }
            }
        }
    }
    let category_options = Category::GRANTABLE
        .iter()
        .map(|c| {
            (
                c.code().to_string(),
                category_name(*c, person.lang).to_string(),
            )
        })
        .collect();
    let mut f = person.frame("consent-title");
    f.message = message;
    f.error = error;
    render::page(
        &ConsentPage {
            f,
            current,
            proposals,
            organisations,
            category_options,
        },
        person.lang,
        person.set_lang,
    )
}

pub async fn page(State(state): State<AppState>, person: Person) -> Response {
    render_page(&state, &person, None, None).await
}

#[derive(Deserialize)]
pub struct ConsentForm {
    organisation: String,
    category: String,
    choice: String,
}

pub async fn record(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<ConsentForm>,
) -> Response {
    let Some((client, me)) = giver(&person) else {
        return Redirect::to("/").into_response();
    };
    // Between 12 and 15 the child and a parent decide together: the first one proposes.
    let age = search(&state, &person, "Patient", &format!("_id={client}"))
        .await
        .first()
        .and_then(|p| {
            json(p)["birthDate"]
                .as_str()
                .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
        })
        .and_then(|b| chrono::Utc::now().date_naive().years_since(b));
    let together = age.is_some_and(|a| (12..16).contains(&a));
    let mut provision = json!({"type": if form.choice == "deny" { "deny" } else { "permit" },
                               "period": {"start": chrono::Utc::now().date_naive().to_string()}});
    if !form.organisation.is_empty() {
        provision["actor"] = json!([{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                                     "reference": {"reference": format!("Organization/{}", form.organisation)}}]);
    }
    if let Some(c) = Category::from_code(&form.category) {
        provision["class"] = json!([{"system": CATEGORY_SYSTEM, "code": c.code()}]);
    }
    let consent = json!({
        "resourceType": "Consent",
        "status": if together { "proposed" } else { "active" },
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{client}")},
        "dateTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "performer": [{"reference": me}],
        "policyRule": {"text": "Kring: toestemming via het cliëntportaal"},
        "provision": provision,
    });
    let t = super::i18n::Texts { lang: person.lang };
    match state
        .record
        .create(&person.caller, "Consent", consent, None)
        .await
    {
        Ok(_) => {
            render_page(
                &state,
                &person,
                Some(t.get(if together {
                    "consent-needs-other"
                } else {
                    "consent-given"
                })),
                None,
            )
            .await
        }
        Err(e) => {
            render_page(
                &state,
                &person,
                None,
                Some(super::render::sentence(&e, person.lang)),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct IdForm {
    id: String,
}

async fn change(
    state: &AppState,
    person: &Person,
    id: &str,
    f: impl FnOnce(&mut Value, &str),
) -> Result<(), String> {
    let Some((_, me)) = giver(person) else {
        return Err("only clients and representatives record consent".into());
    };
    let current = state
        .record
        .read(&person.caller, "Consent", id)
        .await
        .map_err(|e| super::render::sentence(&e, person.lang))?;
    update(state, person, &current, |v| f(v, &me)).await
}

pub async fn cosign(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<IdForm>,
) -> Response {
    let result = change(&state, &person, &form.id, |v, me| {
        if let Some(list) = v["performer"].as_array_mut() {
            list.push(json!({"reference": me}));
        }
        v["status"] = json!("active");
    })
    .await;
    let t = super::i18n::Texts { lang: person.lang };
    match result {
        Ok(()) => render_page(&state, &person, Some(t.get("consent-given")), None).await,
        Err(e) => render_page(&state, &person, None, Some(e)).await,
    }
}

pub async fn withdraw(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<IdForm>,
) -> Response {
    let result = change(&state, &person, &form.id, |v, _| {
        v["status"] = json!("inactive")
    })
    .await;
    let t = super::i18n::Texts { lang: person.lang };
    match result {
        Ok(()) => render_page(&state, &person, Some(t.get("consent-given")), None).await,
        Err(e) => render_page(&state, &person, None, Some(e)).await,
    }
}

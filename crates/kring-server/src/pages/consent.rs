//! The consent page of the portal: per organisation of the circle and kind of data one
//! answer — "mag zien" or "mag niet zien" — and the choice that makes it so; what each choice
//! means, in plain words; a new choice; withdrawing one after a confirmation; and between 12
//! and 15, where child and parent decide together, proposals: the proposer sees theirs as
//! waiting, the other sees it and agrees or refuses (a refusal is kept, as `rejected`).
//! Nothing is called "in force" before it is. Consents are FHIR Consent resources written
//! through the record, which refuses one given by someone who may not give it.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kring_access::category::{Category, CATEGORY_SYSTEM};
use kring_access::circle::Circle;
use kring_access::consent::{check_givers, resolve, ConsentRecord, Decider, Resolution};
use kring_record::Versioned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clients::{category_name, update};
use super::error::PageError;
use super::form::CsrfForm;
use super::names::{json, search, Names};
use super::portal::Own;
use super::{dates, render, Frame, Person};
use crate::AppState;

/// A choice recorded, in words.
pub struct ChoiceRow {
    pub id: String,
    pub text: String,
    /// Who gave it, and when.
    pub given: String,
}

/// One kind of data for one organisation: its answer and why.
pub struct AnswerRow {
    pub category: String,
    pub permit: bool,
    pub answer: String,
    pub why: String,
}

/// One organisation of the circle and its answers.
pub struct OrganisationAnswers {
    pub name: String,
    pub answers: Vec<AnswerRow>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    f: Frame,
    help: String,
    together: bool,
    organisations: Vec<OrganisationAnswers>,
    current: Vec<ChoiceRow>,
    /// Proposals of the other party, waiting for this person.
    waiting_for_me: Vec<ChoiceRow>,
    /// This person's own proposals, waiting for the other.
    waiting_for_other: Vec<ChoiceRow>,
    organisation_options: Vec<(String, String)>,
    category_options: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "consent_withdraw.html")]
struct WithdrawPage {
    f: Frame,
    id: String,
    choice: String,
    consequence: String,
}

/// The client's age today, from the record.
async fn age_of(state: &AppState, person: &Person, client: &str) -> Option<u32> {
    search(state, person, "Patient", &format!("_id={client}"))
        .await
        .first()
        .and_then(|p| {
            json(p)["birthDate"]
                .as_str()
                .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
        })
        .map(|b| dates::age(b, dates::today()))
}

/// A consent's choice in words: "Zorg Noord mag niet zien: medicatie".
fn choice_text(v: &Value, names: &Names, person: &Person) -> String {
    let t = person.texts();
    let p = &v["provision"];
    let orgs: Vec<String> = p["actor"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["reference"]["reference"].as_str())
        .map(|r| names.name(r))
        .collect();
    let cats: Vec<&str> = p["class"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["code"].as_str())
        .filter_map(Category::from_code)
        .map(|c| category_name(c, person.lang))
        .collect();
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
    t.with(
        if p["type"] == "permit" {
            "consent-choice-permit"
        } else {
            "consent-choice-deny"
        },
        &[("who", &who), ("what", &what)],
    )
}

/// Who gave a consent and when, in words.
fn given_text(v: &Value, names: &Names, person: &Person, own: &Own) -> String {
    let t = person.texts();
    let givers: Vec<String> = v["performer"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["reference"].as_str())
        .map(|r| {
            if r == own.me {
                t.get("consent-by-you")
            } else {
                names.name(r)
            }
        })
        .collect();
    let when = v["dateTime"]
        .as_str()
        .map(|d| dates::fhir(d, person.lang))
        .unwrap_or_default();
    t.with(
        "consent-given-by",
        &[("who", &givers.join(", ")), ("when", &when)],
    )
}

async fn render_page(
    state: &AppState,
    person: &Person,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let own = Own::of(state, person).await?;
    let client = own.client.clone();
    let t = person.texts();
    let today = dates::today();
    let consents: Vec<Versioned> = search(
        state,
        person,
        "Consent",
        &format!("patient=Patient/{client}&_count=200"),
    )
    .await
    .into_iter()
    // Sharing grants are professionals' decisions, not the client's consents (they are
    // shown on the circle page).
    .filter(|c| !kring_access::sharing::is_grant(&json(c)))
    .collect();
    let values: Vec<Value> = consents.iter().map(json).collect();
    let circles = search(
        state,
        person,
        "CareTeam",
        &format!("subject=Patient/{client}&_count=20"),
    )
    .await;
    // The organisations of the circle's running members.
    let memberships: Vec<_> = circles
        .iter()
        .flat_map(|c| Circle::from_json(&c.id, &json(c)).memberships)
        .filter(|m| m.running(today))
        .collect();
    let mut refs: Vec<String> = memberships.iter().map(|m| m.member.clone()).collect();
    for v in &values {
        for a in v["provision"]["actor"].as_array().into_iter().flatten() {
            refs.extend(a["reference"]["reference"].as_str().map(str::to_string));
        }
        for p in v["performer"].as_array().into_iter().flatten() {
            refs.extend(p["reference"].as_str().map(str::to_string));
        }
    }
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let mut organisation_ids: Vec<String> = Vec::new();
    for m in &memberships {
        let org = m
            .organisation
            .clone()
            .map(|o| format!("Organization/{o}"))
            .or_else(|| names.organisation_of(&m.member).map(str::to_string))
            .or_else(|| {
                m.member
                    .starts_with("Organization/")
                    .then(|| m.member.clone())
            });
        if let Some(o) = org {
            if !organisation_ids.contains(&o) {
                organisation_ids.push(o);
            }
        }
    }
    let mut organisation_options: Vec<(String, String)> = organisation_ids
        .iter()
        .map(|o| {
            (
                o.trim_start_matches("Organization/").to_string(),
                names.name(o),
            )
        })
        .collect();
    organisation_options.sort_by(|a, b| a.1.cmp(&b.1));

    // The choices that count: given by whom the age rules ask for today (a parent's choice no
    // longer counts from 16), as the decision point applies them.
    let age = age_of(state, person, &client).await;
    let records: Vec<ConsentRecord> = consents
        .iter()
        .zip(&values)
        .map(|(c, v)| ConsentRecord::from_json(&c.id, v))
        .filter(|c| {
            age.is_some_and(|a| {
                check_givers(&client, a, &c.given_by, |g| g.starts_with("RelatedPerson/")).is_ok()
            })
        })
        .collect();
    let by_id: BTreeMap<&str, (&Versioned, &Value)> = consents
        .iter()
        .zip(&values)
        .map(|(c, v)| (c.id.as_str(), (c, v)))
        .collect();
    let row = |c: &Versioned, v: &Value| ChoiceRow {
        id: c.id.clone(),
        text: choice_text(v, &names, person),
        given: given_text(v, &names, person, &own),
    };
    let mut current = Vec::new();
    let mut waiting_for_me = Vec::new();
    let mut waiting_for_other = Vec::new();
    for (c, v) in consents.iter().zip(&values) {
        let mine = v["performer"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["reference"].as_str() == Some(own.me.as_str()));
        match v["status"].as_str() {
            Some("active") if records.iter().any(|r| r.id == c.id) => current.push(row(c, v)),
            Some("proposed") if mine => waiting_for_other.push(row(c, v)),
            Some("proposed") => waiting_for_me.push(row(c, v)),
            _ => {}
        }
    }
    // One answer per organisation and kind of data, and the choice that makes it so.
    let organisations = organisation_options
        .iter()
        .map(|(org, name)| OrganisationAnswers {
            name: name.clone(),
            answers: Category::GRANTABLE
                .iter()
                .map(|cat| {
                    // The choice that decides, in words; none: the circle alone decides.
                    let because = |consent: &str| {
                        by_id
                            .get(consent)
                            .map(|(_, v)| {
                                t.arg("consent-because", "choice", &choice_text(v, &names, person))
                            })
                            .unwrap_or_default()
                    };
                    let (permit, answer, why) = match resolve(&records, org, *cat, today) {
                        // Treatment notes leave their organisation only when named themselves.
                        Resolution::Permit {
                            explicit: false, ..
                        } if *cat == Category::TreatmentNotes => {
                            (false, t.get("deny"), t.get("consent-treatment-explicit"))
                        }
                        Resolution::Permit { consent, .. } => {
                            (true, t.get("permit"), because(&consent))
                        }
                        Resolution::Deny { consent } => (false, t.get("deny"), because(&consent)),
                        Resolution::None => (
                            false,
                            t.get("consent-answer-circle"),
                            t.get("consent-no-choice"),
                        ),
                    };
                    AnswerRow {
                        category: category_name(*cat, person.lang).to_string(),
                        permit,
                        answer,
                        why,
                    }
                })
                .collect(),
        })
        .collect();
    let together = age.is_some_and(|a| Decider::for_age(a) == Decider::ChildAndParents);
    let help = t.get(if together {
        "consent-help-together"
    } else {
        "consent-help"
    });
    let category_options = Category::GRANTABLE
        .iter()
        .map(|c| {
            (
                c.code().to_string(),
                category_name(*c, person.lang).to_string(),
            )
        })
        .collect();
    let mut f = own.frame(person, "consent-title", "/toestemming");
    f.message = message;
    f.error = error;
    Ok(render::page(
        &ConsentPage {
            f,
            help,
            together,
            organisations,
            current,
            waiting_for_me,
            waiting_for_other,
            organisation_options,
            category_options,
        },
        person.lang,
        person.set_lang,
    ))
}

/// `GET /toestemming`.
pub async fn page(State(state): State<AppState>, person: Person) -> Result<Response, PageError> {
    render_page(&state, &person, None, None).await
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    choice: String,
}

/// `POST /toestemming`: a new choice — in force at once, or between 12 and 15 a proposal for
/// the other party.
pub async fn record(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<ConsentForm>,
) -> Result<Response, PageError> {
    let (client, me, _) = super::portal::whose(&person)?;
    let t = person.texts();
    if !matches!(form.choice.as_str(), "permit" | "deny") {
        return render_page(&state, &person, None, Some(t.get("consent-choose"))).await;
    }
    if !form.organisation.is_empty() && !super::work::is_fhir_id(&form.organisation) {
        return render_page(&state, &person, None, Some(t.get("consent-choose"))).await;
    }
    let together = age_of(&state, &person, &client)
        .await
        .is_some_and(|a| Decider::for_age(a) == Decider::ChildAndParents);
    let today = dates::today().to_string();
    let mut provision = json!({"type": form.choice, "period": {"start": today}});
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
        "dateTime": super::work::now_fhir(),
        "performer": [{"reference": me}],
        "policyRule": {"text": "Kring: toestemming via het cliëntportaal"},
        "provision": provision,
    });
    match state
        .record
        .create(&person.caller, "Consent", consent, None)
        .await
    {
        Ok(_) => {
            let done = t.get(if together {
                "consent-proposed"
            } else {
                "consent-given"
            });
            render_page(&state, &person, Some(done), None).await
        }
        Err(e) => {
            render_page(
                &state,
                &person,
                None,
                Some(render::sentence(&e, person.lang)),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct IdForm {
    #[serde(default)]
    id: String,
    /// `ja` once the person confirmed (withdrawing).
    #[serde(default)]
    bevestigd: String,
}

/// Changes consent `id` as this person; the sentence of the refusal on failure.
/// Changes consent `id` as this person, when its status is `from` (a proposal is agreed to or
/// refused, a consent in force withdrawn); the sentence of the refusal on failure.
async fn change(
    state: &AppState,
    person: &Person,
    id: &str,
    from: &str,
    f: impl FnOnce(&mut Value, &str),
) -> Result<(), String> {
    let (_, me, _) = super::portal::whose(person).map_err(|_| String::new())?;
    if !super::work::is_fhir_id(id) {
        return Err(person.texts().get("not-found"));
    }
    let current = state
        .record
        .read(&person.caller, "Consent", id)
        .await
        .map_err(|e| render::sentence(&e, person.lang))?;
    if json(&current)["status"] != from {
        return Err(person.texts().get("changed-meanwhile"));
    }
    update(state, person, &current, |v| f(v, &me)).await
}

async fn after(
    state: &AppState,
    person: &Person,
    result: Result<(), String>,
    done: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => render_page(state, person, Some(person.texts().get(done)), None).await,
        Err(e) => render_page(state, person, None, Some(e)).await,
    }
}

/// `POST /toestemming/mee`: agree to the other party's proposal; it is in force from now.
pub async fn cosign(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<IdForm>,
) -> Result<Response, PageError> {
    let result = change(&state, &person, &form.id, "proposed", |v, me| {
        if let Some(list) = v["performer"].as_array_mut() {
            if !list.iter().any(|p| p["reference"] == me) {
                list.push(json!({"reference": me}));
            }
        }
        v["status"] = json!("active");
    })
    .await;
    after(&state, &person, result, "consent-given").await
}

/// `POST /toestemming/weigeren`: refuse the other party's proposal; the refusal is kept.
pub async fn refuse(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<IdForm>,
) -> Result<Response, PageError> {
    let result = change(&state, &person, &form.id, "proposed", |v, _| {
        v["status"] = json!("rejected")
    })
    .await;
    after(&state, &person, result, "consent-refused").await
}

/// `POST /toestemming/intrekken`: first a question — what withdrawing means — then, confirmed,
/// the choice ends (`inactive`, kept in the history).
pub async fn withdraw(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<IdForm>,
) -> Result<Response, PageError> {
    if form.bevestigd != "ja" {
        let own = Own::of(&state, &person).await?;
        if !super::work::is_fhir_id(&form.id) {
            return Err(person.not_found());
        }
        let current = state
            .record
            .read(&person.caller, "Consent", &form.id)
            .await
            .map_err(|e| person.failed(e))?;
        let v = json(&current);
        if v["status"] != "active" {
            let e = person.texts().get("changed-meanwhile");
            return render_page(&state, &person, None, Some(e)).await;
        }
        let refs: Vec<String> = v["provision"]["actor"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["reference"]["reference"].as_str().map(str::to_string))
            .collect();
        let names = Names::of(&state, &person, refs.iter().map(String::as_str)).await;
        let t = person.texts();
        let consequence = t.get(if v["provision"]["type"] == "permit" {
            "consent-withdraw-permit"
        } else {
            "consent-withdraw-deny"
        });
        let f = own.frame(&person, "consent-withdraw-title", "/toestemming");
        return Ok(render::page(
            &WithdrawPage {
                f,
                id: form.id,
                choice: choice_text(&v, &names, &person),
                consequence,
            },
            person.lang,
            person.set_lang,
        ));
    }
    let result = change(&state, &person, &form.id, "active", |v, _| {
        v["status"] = json!("inactive")
    })
    .await;
    after(&state, &person, result, "consent-withdrawn").await
}

//! The meldcode case in the client's record (domestic violence and child abuse): the five
//! steps one after the other, each recorded with who and when, the next step with the day it
//! is due, the afwegingskader's questions at step 5, and the report to Veilig Thuis with what
//! was shared. Only the professionals named for safety in the circle see it; while it is open
//! the client and the parents do not (the record decides both). Open cases and what is due
//! are on the professional's client list ([`due_cases`]).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use kring_access::category::Category;
use kring_access::sharing::MELDCODE_QUESTIONNAIRE;
use kring_record::sharing::meldcode::{self, Case, CaseStep, Decided, StepInput, Weighing};
use serde::Deserialize;
use serde_json::Value;

use super::client_ctx;
use super::dates;
use super::error::PageError;
use super::form::CsrfForm;
use super::i18n::Texts;
use super::names::{json, search, Names};
use super::{render, Frame, Person};
use crate::AppState;

/// One recorded step, in words.
pub struct EntryView {
    pub step: String,
    pub when: String,
    pub who: String,
    pub text: String,
    pub details: Vec<String>,
}

/// A case, in words.
pub struct CaseView {
    pub id: String,
    pub open: bool,
    pub started: String,
    pub entries: Vec<EntryView>,
    /// The next step's code, its name and when it is due.
    pub next: Option<(String, String, String)>,
    pub late: bool,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "meldcode.html")]
struct MeldcodePage {
    f: Frame,
    client: String,
    cases: Vec<CaseView>,
    open: bool,
    categories: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    klaar: Option<String>,
}

/// `GET /clienten/{id}/meldcode`.
pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    person.professional()?;
    let ctx = client_ctx::open_tab(&state, &person, &id, "meldcode", "/meldcode").await?;
    let mut f = ctx.frame(&person, "meldcode-title");
    f.message = done
        .klaar
        .as_deref()
        .and_then(CaseStep::from_code)
        .map(|s| {
            f.t.arg(
                "meldcode-recorded",
                "step",
                &f.t.get(&format!("meldcode-step-{}", s.code())),
            )
        });
    render_page(&state, &person, &id, f).await
}

async fn render_page(
    state: &AppState,
    person: &Person,
    id: &str,
    f: Frame,
) -> Result<Response, PageError> {
    let t = person.texts();
    let stored = search(
        state,
        person,
        "QuestionnaireResponse",
        &format!("questionnaire={MELDCODE_QUESTIONNAIRE}&patient=Patient/{id}&_count=50"),
    )
    .await;
    let cases: Vec<(String, Case)> = stored
        .iter()
        .filter_map(|v| Case::from_json(&json(v)).map(|c| (v.id.clone(), c)))
        .collect();
    let refs: Vec<String> = cases
        .iter()
        .flat_map(|(_, c)| c.entries.iter().map(|e| e.who.clone()))
        .collect();
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let today = dates::today();
    let mut views: Vec<CaseView> = cases
        .iter()
        .map(|(cid, c)| view(&t, &names, cid, c, today, person))
        .collect();
    views.sort_by(|a, b| b.open.cmp(&a.open).then(b.started.cmp(&a.started)));
    let open = views.iter().any(|c| c.open);
    let categories = Category::GRANTABLE
        .into_iter()
        .map(|c| {
            (
                c.code().to_string(),
                match t.lang {
                    super::i18n::Lang::En => c.english().to_string(),
                    super::i18n::Lang::Nl => c.dutch().to_string(),
                },
            )
        })
        .collect();
    Ok(render::page(
        &MeldcodePage {
            f,
            client: id.to_string(),
            cases: views,
            open,
            categories,
        },
        person.lang,
        person.set_lang,
    ))
}

fn view(
    t: &Texts,
    names: &Names,
    id: &str,
    c: &Case,
    today: NaiveDate,
    person: &Person,
) -> CaseView {
    let yes_no = |b: &str| {
        t.get(if b == "true" {
            "sharing-answer-yes"
        } else {
            "sharing-answer-no"
        })
    };
    let entries = c
        .entries
        .iter()
        .map(|e| EntryView {
            step: t.get(&format!("meldcode-step-{}", e.step.code())),
            when: dates::fhir(&e.when, person.lang),
            who: names.name(&e.who),
            text: e.text.clone(),
            details: e
                .details
                .iter()
                .map(|(l, v)| match l.as_str() {
                    "with" => t.arg(
                        "meldcode-consulted",
                        "who",
                        &t.get(&format!("meldcode-with-{v}")),
                    ),
                    "held" => t.get(if v == "true" {
                        "meldcode-held"
                    } else {
                        "meldcode-not-held"
                    }),
                    "outcome" => t.get(&format!("meldcode-outcome-{v}")),
                    "term" => t.arg("meldcode-term", "date", &dates::fhir(v, person.lang)),
                    "shared" => t.arg(
                        "meldcode-shared",
                        "what",
                        Category::from_code(v)
                            .map(|c| match t.lang {
                                super::i18n::Lang::En => c.english(),
                                super::i18n::Lang::Nl => c.dutch(),
                            })
                            .unwrap_or_default(),
                    ),
                    "ground" => t.arg("meldcode-ground", "ground", v),
                    q => format!("{} {}", t.get(&format!("meldcode-q-{q}")), yes_no(v)),
                })
                .collect(),
        })
        .collect();
    let next = c.next().map(|(s, due)| {
        (
            s.code().to_string(),
            t.get(&format!("meldcode-step-{}", s.code())),
            due.map(|d| dates::day(d, person.lang)).unwrap_or_default(),
        )
    });
    CaseView {
        id: id.to_string(),
        open: c.open,
        started: c
            .started
            .map(|d| dates::day(d, person.lang))
            .unwrap_or_default(),
        entries,
        next,
        late: c.late(today),
        outcome: c
            .outcome()
            .map(|o| t.get(&format!("meldcode-outcome-{}", o.code())))
            .unwrap_or_default(),
    }
}

/// A step's fields.
#[derive(Deserialize, Default)]
pub struct StepForm {
    #[serde(default)]
    case: String,
    step: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    consulted: Option<String>,
    #[serde(default)]
    held: Option<String>,
    #[serde(default)]
    suspicion: Option<String>,
    #[serde(default)]
    unsafe_now: Option<String>,
    #[serde(default)]
    can_help: Option<String>,
    #[serde(default)]
    help_accepted: Option<String>,
    #[serde(default)]
    term: String,
    #[serde(default)]
    shared: Vec<String>,
    #[serde(default)]
    safe: Option<String>,
}

/// `POST /clienten/{id}/meldcode`: starts a case with its signals, or records its next step.
pub async fn record(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<StepForm>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let ctx = client_ctx::open_tab(&state, &person, &id, "meldcode", "/meldcode").await?;
    let t = person.texts();
    let Some(step) = CaseStep::from_code(&form.step) else {
        return Err(person.not_found());
    };
    let yes = |v: &Option<String>| v.as_deref() == Some("yes");
    let input = StepInput {
        text: form.text.chars().take(4000).collect(),
        consulted: form
            .consulted
            .clone()
            .filter(|c| ["colleague", "officer", "veilig-thuis"].contains(&c.as_str())),
        held: form.held.as_ref().map(|h| h == "yes"),
        weighing: (step == CaseStep::Decision).then(|| Weighing {
            suspicion: yes(&form.suspicion),
            unsafe_now: yes(&form.unsafe_now),
            can_help: yes(&form.can_help),
            help_accepted: yes(&form.help_accepted),
        }),
        term: NaiveDate::parse_from_str(&form.term, "%Y-%m-%d").ok(),
        shared: form
            .shared
            .iter()
            .filter(|c| Category::from_code(c).is_some_and(|c| Category::GRANTABLE.contains(&c)))
            .cloned()
            .collect(),
        safe: form.safe.as_ref().map(|s| s == "yes"),
    };
    let fail = |sentence: String| async {
        let mut f = ctx.frame(&person, "meldcode-title");
        f.error = Some(sentence);
        render_page(&state, &person, &id, f).await
    };
    if input.text.trim().is_empty() {
        return fail(t.get("meldcode-text-missing")).await;
    }
    if step == CaseStep::Decision
        && meldcode::decide(input.weighing.unwrap_or_default()) == Decided::Help
        && input.term.is_none()
    {
        return fail(t.get("meldcode-term-missing")).await;
    }
    let now = chrono::Utc::now();
    let written = if form.case.is_empty() {
        if step != CaseStep::Signals {
            return Err(person.not_found());
        }
        let case = meldcode::start(&id, &me.role, &input.text, now);
        state
            .record
            .create(&person.caller, "QuestionnaireResponse", case, None)
            .await
    } else {
        if !super::work::is_fhir_id(&form.case) {
            return Err(person.not_found());
        }
        let current = state
            .record
            .read(&person.caller, "QuestionnaireResponse", &form.case)
            .await
            .map_err(|e| person.failed(e))?;
        let v: Value = serde_json::from_slice(&current.body).map_err(|_| person.not_found())?;
        match meldcode::add(&v, step, &me.role, &input, now) {
            Ok(next) => {
                state
                    .record
                    .update(
                        &person.caller,
                        "QuestionnaireResponse",
                        &form.case,
                        next,
                        Some(current.version),
                    )
                    .await
            }
            Err(e) => {
                return fail(render::sentence(
                    &kring_record::RecordError::Meldcode(e),
                    person.lang,
                ))
                .await
            }
        }
    };
    match written {
        Ok(_) => Ok(
            Redirect::to(&format!("/clienten/{id}/meldcode?klaar={}", step.code())).into_response(),
        ),
        Err(e) => fail(render::sentence(&e, person.lang)).await,
    }
}

/// An open case of one of the person's clients, for their client list.
pub struct DueCase {
    pub client: String,
    pub name: String,
    pub step: String,
    pub due: String,
    pub late: bool,
}

/// The open meldcode cases the person may see, with the next step and when it is due,
/// most urgent first.
pub async fn due_cases(state: &AppState, person: &Person, clients: &[&str]) -> Vec<DueCase> {
    let t = person.texts();
    if clients.is_empty() {
        return Vec::new();
    }
    // By the person's own clients: without them the database would walk every open case of
    // the region and the decision drop all but a few.
    let subjects: Vec<String> = clients.iter().map(|c| format!("Patient/{c}")).collect();
    let open = search(
        state,
        person,
        "QuestionnaireResponse",
        &format!(
            "subject={}&questionnaire={MELDCODE_QUESTIONNAIRE}&status=in-progress&_count=100",
            subjects.join(",")
        ),
    )
    .await;
    let cases: Vec<Case> = open
        .iter()
        .filter_map(|v| Case::from_json(&json(v)))
        .collect();
    let refs: Vec<String> = cases
        .iter()
        .map(|c| format!("Patient/{}", c.client))
        .collect();
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let today = dates::today();
    let mut out: Vec<(Option<NaiveDate>, DueCase)> = cases
        .iter()
        .filter_map(|c| {
            let (step, due) = c.next()?;
            Some((
                due,
                DueCase {
                    client: c.client.clone(),
                    name: names.name(&format!("Patient/{}", c.client)),
                    step: t.get(&format!("meldcode-step-{}", step.code())),
                    due: due.map(|d| dates::day(d, person.lang)).unwrap_or_default(),
                    late: c.late(today),
                },
            ))
        })
        .collect();
    out.sort_by_key(|d| d.0);
    out.into_iter().map(|(_, d)| d).collect()
}

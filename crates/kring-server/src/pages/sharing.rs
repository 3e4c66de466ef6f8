//! "Mag ik dit delen?": the sharing aid in the client's record, for professionals in the
//! circle — what to share, with whom and why; the questions one at a time (the record's own
//! answers skipped and shown); the outcome with its ground; the answer stored in the file and,
//! for a share, the grant that lets the recipient see it — and the decisions and grants about
//! the client, each grant withdrawable. Privacy officers review every decision and grant of
//! their organisation's clients at `/privacy/delen`.
//!
//! The tree is `kring_record::sharing::aid`; the words of its questions come from the stored
//! questionnaire; every answer and grant is written through the record (decided and logged).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use kring_access::category::Category;
use kring_access::sharing::{Grant, Ground, AID_QUESTIONNAIRE, GRANT_CODE, GRANT_SYSTEM};
use kring_record::sharing::aid::{self, Answer, Answers, Known, Outcome, Step};
use kring_record::sharing::questionnaire::Texts as QuestionTexts;
use kring_record::sharing::{answer_resource, grant_resource, Request, StoredAnswer};
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

/// One choice in a list.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// A question answered so far (by the record or the professional), as shown.
pub struct Answered {
    pub question: String,
    pub answer: String,
    pub from_record: bool,
}

/// A stored sharing decision, as listed.
pub struct DecisionRow {
    pub when: String,
    pub client: String,
    pub author: String,
    pub recipient: String,
    pub categories: String,
    pub outcome: String,
    pub share: bool,
    pub withheld: Option<String>,
    pub answers: Vec<Answered>,
    pub purpose: String,
}

/// A grant, as listed.
pub struct GrantRow {
    pub id: String,
    pub client: String,
    pub custodian: String,
    pub recipient: String,
    pub categories: String,
    pub ground: String,
    pub anchor: String,
    pub period: String,
    pub status: String,
    pub running: bool,
    pub withheld: Option<String>,
}

#[derive(Template)]
#[template(path = "sharing.html")]
struct SharingPage {
    f: Frame,
    /// The privacy officer's view (client names, back to the overview): false here.
    officer: bool,
    client: String,
    /// The specific items asked about (`Type/id`, label).
    items: Vec<(String, String)>,
    organisations: Vec<Choice>,
    professionals: Vec<Choice>,
    categories: Vec<Choice>,
    purpose: String,
    decisions: Vec<DecisionRow>,
    grants: Vec<GrantRow>,
}

#[derive(Template)]
#[template(path = "sharing_step.html")]
struct StepPage {
    f: Frame,
    client: String,
    items: Vec<(String, String)>,
    recipient: String,
    recipient_name: String,
    categories: Vec<Choice>,
    purpose: String,
    /// The answers carried to the next step (`linkId:code`).
    carried: Vec<String>,
    answered: Vec<Answered>,
    question: Option<QuestionView>,
    outcome: Option<OutcomeView>,
}

pub struct QuestionView {
    pub link_id: String,
    pub text: String,
    pub explanation: String,
    pub anchor: String,
    pub answers: Vec<Choice>,
}

pub struct OutcomeView {
    pub title: String,
    pub explanation: String,
    pub anchor: String,
    pub share: bool,
    pub minimum: bool,
    pub withhold: bool,
    pub days: i64,
    pub max_days: i64,
    pub max_text: String,
}

/// The fields of every step: the request, the answers so far, the answer to the current
/// question, and (at the end) what to grant for how long.
#[derive(Deserialize, Default)]
pub struct AidForm {
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    category: Vec<String>,
    #[serde(default)]
    item: Vec<String>,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    carried: Vec<String>,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    grant: Vec<String>,
    #[serde(default)]
    days: Option<i64>,
}

impl AidForm {
    fn request(&self) -> Option<Request> {
        let recipient = self.recipient.trim();
        let typed = ["Organization/", "Practitioner/", "PractitionerRole/"]
            .iter()
            .any(|t| {
                recipient
                    .strip_prefix(t)
                    .is_some_and(super::work::is_fhir_id)
            });
        let categories: Vec<Category> = Category::GRANTABLE
            .into_iter()
            .filter(|c| self.category.iter().any(|x| x == c.code()))
            .collect();
        let items: Vec<String> = self
            .item
            .iter()
            .filter(|i| {
                i.split_once('/').is_some_and(|(t, id)| {
                    t.chars().all(|c| c.is_ascii_alphabetic()) && super::work::is_fhir_id(id)
                })
            })
            .take(20)
            .cloned()
            .collect();
        (typed && !categories.is_empty() && !self.purpose.trim().is_empty()).then(|| Request {
            recipient: recipient.to_string(),
            categories,
            items,
            purpose: self.purpose.trim().chars().take(500).collect(),
        })
    }

    /// The professional's answers: those carried, and the one just given.
    fn answers(&self) -> Answers {
        aid_answers(
            self.carried
                .iter()
                .chain(std::iter::once(&self.answer))
                .filter_map(|a| a.split_once(':')),
        )
    }
}

fn aid_answers<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Answers {
    kring_record::sharing::answers_from(pairs)
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    klaar: Option<String>,
    /// One item to share (`Type/id`), when the aid is opened from it.
    #[serde(default)]
    stuk: Option<String>,
}

/// `GET /clienten/{id}/delen`: the aid's first step, and the decisions and grants so far.
pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    person.professional()?;
    let ctx = client_ctx::open_tab(&state, &person, &id, "sharing-aid", "/delen").await?;
    let mut f = ctx.frame(&person, "sharing-title");
    f.message = done.klaar.as_deref().and_then(|k| match k {
        "gedeeld" => Some(f.t.get("sharing-done-shared")),
        "vastgelegd" => Some(f.t.get("sharing-done-recorded")),
        "ingetrokken" => Some(f.t.get("sharing-done-withdrawn")),
        _ => None,
    });
    // Opened from one item (a report …): that item, in its category.
    let mut form = AidForm::default();
    if let Some((rtype, rid)) = done.stuk.as_deref().and_then(|s| s.split_once('/')) {
        if super::work::is_fhir_id(rid) && state.record.definitions().is_resource_type(rtype) {
            let item = state
                .record
                .read(&person.caller, rtype, rid)
                .await
                .map_err(|e| person.failed(e))?;
            let category = kring_access::category::category_of(rtype, true, &item.body);
            form.item = vec![format!("{rtype}/{rid}")];
            form.category = vec![category.code().to_string()];
        }
    }
    start_page(&state, &person, &id, f, &form).await
}

async fn start_page(
    state: &AppState,
    person: &Person,
    id: &str,
    f: Frame,
    form: &AidForm,
) -> Result<Response, PageError> {
    let (organisations, professionals) = directory(state, person, &form.recipient).await;
    let (decisions, grants) = history(state, person, Some(id), None).await;
    let items = item_labels(state, person, &form.item).await;
    Ok(render::page(
        &SharingPage {
            officer: false,
            client: id.to_string(),
            items,
            organisations,
            professionals,
            categories: category_choices(&f.t, &form.category),
            purpose: form.purpose.clone(),
            decisions,
            grants,
            f,
        },
        person.lang,
        person.set_lang,
    ))
}

/// The aid's first step again, saying what the request lacks.
async fn incomplete(
    state: &AppState,
    person: &Person,
    ctx: &client_ctx::ClientCtx,
    form: &AidForm,
) -> Result<Response, PageError> {
    let mut f = ctx.frame(person, "sharing-title");
    f.error = Some(f.t.get("sharing-request-incomplete"));
    start_page(state, person, &ctx.id, f, form).await
}

/// `POST /clienten/{id}/delen`: the next question, or the outcome.
pub async fn step(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AidForm>,
) -> Result<Response, PageError> {
    person.professional()?;
    let ctx = client_ctx::open_tab(&state, &person, &id, "sharing-aid", "/delen").await?;
    let request = match form.request() {
        Some(r) => r,
        None => return incomplete(&state, &person, &ctx, &form).await,
    };
    let known = known(&state, &person, &id, &request).await?;
    let given = form.answers();
    let t = person.texts();
    let texts = state.record.sharing_texts(&person.caller).await;
    let f = ctx.frame(&person, "sharing-title");
    let names = Names::of(&state, &person, [request.recipient.as_str()]).await;
    let WalkView {
        answered,
        carried,
        question,
        outcome,
    } = walk_view(&t, &texts, &known, &given);
    let outcome = outcome.map(|o| outcome_view(&t, o, &known));
    let selected: Vec<String> = request
        .categories
        .iter()
        .map(|c| c.code().to_string())
        .collect();
    let items = item_labels(&state, &person, &request.items).await;
    Ok(render::page(
        &StepPage {
            client: id.clone(),
            items,
            recipient_name: names.name(&request.recipient),
            recipient: request.recipient.clone(),
            categories: category_choices(&t, &selected)
                .into_iter()
                .filter(|c| c.checked)
                .collect(),
            purpose: request.purpose.clone(),
            carried,
            answered,
            question,
            outcome,
            f,
        },
        person.lang,
        person.set_lang,
    ))
}

/// `POST /clienten/{id}/delen/vastleggen`: stores the answer and, for a share, the grant.
pub async fn record(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AidForm>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let ctx = client_ctx::open_tab(&state, &person, &id, "sharing-aid", "/delen").await?;
    let request = match form.request() {
        Some(r) => r,
        None => return incomplete(&state, &person, &ctx, &form).await,
    };
    let known = known(&state, &person, &id, &request).await?;
    let given = form.answers();
    let Step::Done(outcome) = aid::walk(&known, &given) else {
        let mut f = ctx.frame(&person, "sharing-title");
        f.error = Some(f.t.get("sharing-not-finished"));
        return start_page(&state, &person, &id, f, &form).await;
    };
    let texts = state.record.sharing_texts(&person.caller).await;
    let now = chrono::Utc::now();
    let answer = answer_resource(
        &id, &me.role, &request, &texts, &known, &given, outcome, now,
    );
    let stored = state
        .record
        .create(&person.caller, "QuestionnaireResponse", answer, None)
        .await
        .map_err(|e| person.failed(e))?;
    let Some(stored) = stored.resource else {
        return Err(person.not_found());
    };
    let to_grant: Vec<Category> = request
        .categories
        .iter()
        .copied()
        .filter(|c| form.grant.iter().any(|g| g == c.code()))
        .collect();
    if outcome.ground().is_none() || to_grant.is_empty() {
        return Ok(Redirect::to(&format!("/clienten/{id}/delen?klaar=vastgelegd")).into_response());
    }
    let read = serde_json::from_slice::<Value>(&stored.body)
        .ok()
        .and_then(|v| StoredAnswer::from_json(&v));
    let custodian = me.organisation.trim_start_matches("Organization/");
    let days = form
        .days
        .unwrap_or_else(|| outcome.ground().map(Ground::default_days).unwrap_or(30));
    let grant = read.ok_or_else(|| person.not_found()).and_then(|a| {
        grant_resource(&stored.id, &a, custodian, &me.role, &to_grant, days, now)
            .map_err(|e| person.failed(kring_record::RecordError::Sharing(e)))
    });
    match grant {
        Ok(g) => {
            state
                .record
                .create(&person.caller, "Consent", g, None)
                .await
                .map_err(|e| person.failed(e))?;
            Ok(Redirect::to(&format!("/clienten/{id}/delen?klaar=gedeeld")).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    grant: String,
    #[serde(default)]
    back: String,
}

/// `POST /delen/intrekken` (from the client's Delen page and the privacy officer's overview): withdraws
/// a grant; the record decides whether this person may.
pub async fn withdraw(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<WithdrawForm>,
) -> Result<Response, PageError> {
    if !super::work::is_fhir_id(&form.grant) {
        return Err(person.not_found());
    }
    let current = state
        .record
        .read(&person.caller, "Consent", &form.grant)
        .await
        .map_err(|e| person.failed(e))?;
    let v: Value = serde_json::from_slice(&current.body).map_err(|_| person.not_found())?;
    if !kring_access::sharing::is_grant(&v) {
        return Err(person.not_found());
    }
    state
        .record
        .update(
            &person.caller,
            "Consent",
            &form.grant,
            kring_record::sharing::withdrawn(&v),
            Some(current.version),
        )
        .await
        .map_err(|e| person.failed(e))?;
    let back = match form.back.as_str() {
        "privacy" => "/privacy/delen?klaar=ingetrokken".to_string(),
        _ => {
            let client = v["patient"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Patient/"))
                .unwrap_or_default();
            format!("/clienten/{client}/delen?klaar=ingetrokken")
        }
    };
    Ok(Redirect::to(&back).into_response())
}

#[derive(Template)]
#[template(path = "sharing_officer.html")]
struct OfficerPage {
    f: Frame,
    officer: bool,
    months: Vec<Choice>,
    organisations: Vec<Choice>,
    totals: Vec<(String, usize)>,
    decisions: Vec<DecisionRow>,
    grants: Vec<GrantRow>,
}

#[derive(Deserialize, Default)]
pub struct OfficerQuery {
    #[serde(default)]
    maand: String,
    #[serde(default)]
    organisatie: String,
    #[serde(default)]
    klaar: Option<String>,
}

/// `GET /privacy/delen`: every sharing decision and every grant in force about the clients of
/// the officer's organisation, by month and organisation, with the ground.
pub async fn officer(
    State(state): State<AppState>,
    person: Person,
    Query(q): Query<OfficerQuery>,
) -> Result<Response, PageError> {
    let mut f = officer_frame(&person, "sharing-officer-title")?;
    if q.klaar.as_deref() == Some("ingetrokken") {
        f.message = Some(f.t.get("sharing-done-withdrawn"));
    }
    let month = Some(q.maand.clone()).filter(|m| is_month(m));
    let (decisions, grants) = history(&state, &person, None, month.as_deref()).await;
    let (decisions, grants): (Vec<_>, Vec<_>) = if q.organisatie.is_empty() {
        (decisions, grants)
    } else {
        (
            decisions,
            grants
                .into_iter()
                .filter(|g| g.custodian == q.organisatie)
                .collect(),
        )
    };
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    for d in &decisions {
        *totals.entry(d.outcome.clone()).or_default() += 1;
    }
    let today = dates::today();
    let months = (0..12)
        .map(|back| {
            let d = today - chrono::Months::new(back);
            let value = d.format("%Y-%m").to_string();
            Choice {
                label: dates::month_of(d, person.lang),
                checked: month.as_deref() == Some(value.as_str()),
                value,
            }
        })
        .collect();
    let mut custodians: Vec<String> = grants.iter().map(|g| g.custodian.clone()).collect();
    custodians.sort();
    custodians.dedup();
    let organisations = custodians
        .into_iter()
        .map(|c| Choice {
            checked: c == q.organisatie,
            label: c.clone(),
            value: c,
        })
        .collect();
    Ok(render::page(
        &OfficerPage {
            f,
            officer: true,
            months,
            organisations,
            totals: totals.into_iter().collect(),
            decisions,
            grants,
        },
        person.lang,
        person.set_lang,
    ))
}

fn is_month(m: &str) -> bool {
    chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_ok()
}

/// What the record answers, plus a child protection order on file (a `Flag` coded
/// `child-protection-order` whose author is the recipient's organisation), when the person
/// may see it.
async fn known(
    state: &AppState,
    person: &Person,
    id: &str,
    request: &Request,
) -> Result<Known, PageError> {
    let mut known = state
        .record
        .sharing_known(&person.caller, id, request)
        .map_err(|e| person.failed(e))?;
    // What kind of organisation the recipient is (Veilig Thuis, a certified institution):
    // the directory says, through the organisation or the role's organisation.
    let names = Names::of(state, person, [request.recipient.as_str()]).await;
    let organisation = match request.recipient.split_once('/') {
        Some(("Organization", _)) => Some(request.recipient.clone()),
        Some(("PractitionerRole", _)) => names
            .organisation_of(&request.recipient)
            .map(str::to_string),
        _ => None,
    };
    if let Some(o) = organisation
        .as_deref()
        .and_then(|o| o.strip_prefix("Organization/"))
    {
        if let Some(v) = search(state, person, "Organization", &format!("_id={o}"))
            .await
            .first()
        {
            known.recipient_kind = Some(kring_access::sharing::RecipientKind::of_organisation(
                &json(v),
            ));
        }
    }
    if known.age.is_none_or(|a| a < 18) {
        let flags = search(
            state,
            person,
            "Flag",
            &format!(
                "patient=Patient/{id}&status=active&code={}|child-protection-order",
                PROTECTION_SYSTEM
            ),
        )
        .await;
        if flags
            .iter()
            .any(|f| json(f)["author"]["reference"].as_str() == organisation.as_deref())
        {
            known.protection_order = Some(true);
        }
    }
    Ok(known)
}

/// The code system whose `child-protection-order` code marks a `Flag` as a child protection
/// measure on file (OTS, voogdij), its author the certified institution carrying it out.
pub const PROTECTION_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/child-protection";

fn answer_words(t: &Texts, a: Answer) -> String {
    t.get(&format!("sharing-answer-{}", a.code()))
}

fn outcome_view(t: &Texts, o: Outcome, known: &Known) -> OutcomeView {
    let (title, explanation, anchor) = match o {
        Outcome::Share { ground, .. } => (
            t.with(
                "sharing-outcome-share",
                &[(
                    "ground",
                    &t.get(&format!("sharing-ground-{}", ground.code())),
                )],
            ),
            t.get(&format!("sharing-ground-{}-help", ground.code())),
            ground.anchor().to_string(),
        ),
        other => (
            t.get(&format!("sharing-outcome-{}", other.code())),
            t.get(&format!("sharing-detail-{}", other.detail())),
            String::new(),
        ),
    };
    let _ = known;
    let (share, minimum, withhold, days, max_days) = match o {
        Outcome::Share {
            ground,
            minimum,
            withhold,
        } => (
            true,
            minimum,
            withhold,
            ground.default_days(),
            ground.max_days(),
        ),
        _ => (false, false, false, 0, 0),
    };
    OutcomeView {
        title,
        explanation,
        anchor,
        share,
        minimum,
        withhold,
        days,
        max_days,
        max_text: max_days.to_string(),
    }
}

fn category_choices(t: &Texts, selected: &[String]) -> Vec<Choice> {
    Category::GRANTABLE
        .into_iter()
        .map(|c| Choice {
            value: c.code().to_string(),
            label: category_words(t, c),
            checked: selected.iter().any(|s| s == c.code()),
        })
        .collect()
}

fn category_words(t: &Texts, c: Category) -> String {
    match t.lang {
        super::i18n::Lang::En => c.english().to_string(),
        super::i18n::Lang::Nl => c.dutch().to_string(),
    }
}

/// The organisations and professionals one may share with: the shared directory, by name.
async fn directory(state: &AppState, person: &Person, chosen: &str) -> (Vec<Choice>, Vec<Choice>) {
    let mut organisations: Vec<Choice> = search(state, person, "Organization", "_count=500")
        .await
        .iter()
        .map(|o| {
            let value = format!("Organization/{}", o.id);
            Choice {
                label: json(o)["name"].as_str().unwrap_or_default().to_string(),
                checked: value == chosen,
                value,
            }
        })
        .filter(|c| !c.label.is_empty())
        .collect();
    organisations.sort_by(|a, b| a.label.cmp(&b.label));
    let roles = search(state, person, "PractitionerRole", "_count=500").await;
    let refs: Vec<String> = roles
        .iter()
        .map(|r| format!("PractitionerRole/{}", r.id))
        .collect();
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let mut professionals: Vec<Choice> = refs
        .into_iter()
        .map(|value| Choice {
            label: names.name(&value),
            checked: value == chosen,
            value,
        })
        .collect();
    professionals.sort_by(|a, b| a.label.cmp(&b.label));
    (organisations, professionals)
}

/// The decisions and grants the person may see: about one client, or (for the privacy
/// officer) about every client of their organisation, optionally in one month (`YYYY-MM`).
async fn history(
    state: &AppState,
    person: &Person,
    client: Option<&str>,
    month: Option<&str>,
) -> (Vec<DecisionRow>, Vec<GrantRow>) {
    let t = person.texts();
    let about = client
        .map(|c| format!("&patient=Patient/{c}"))
        .unwrap_or_default();
    let answers = search(
        state,
        person,
        "QuestionnaireResponse",
        &format!("questionnaire={AID_QUESTIONNAIRE}&_count=500{about}"),
    )
    .await;
    let grants = search(
        state,
        person,
        "Consent",
        &format!("category={GRANT_SYSTEM}|{GRANT_CODE}&_count=500{about}"),
    )
    .await;
    let answers: Vec<(StoredAnswer, Value)> = answers
        .iter()
        .filter_map(|v| {
            let j = json(v);
            StoredAnswer::from_json(&j).map(|a| (a, j))
        })
        .filter(|(a, _)| {
            month.is_none_or(|m| a.authored.as_deref().is_some_and(|d| d.starts_with(m)))
        })
        .collect();
    let grants: Vec<(Grant, Value)> = grants
        .iter()
        .filter_map(|v| {
            let j = json(v);
            Grant::from_json(&v.id, &j).map(|g| (g, j))
        })
        .filter(|(_, j)| {
            month.is_none_or(|m| j["dateTime"].as_str().is_some_and(|d| d.starts_with(m)))
        })
        .collect();
    let mut refs: Vec<String> = Vec::new();
    for (a, _) in &answers {
        refs.push(a.request.recipient.clone());
        refs.extend(a.author.clone());
        refs.push(format!("Patient/{}", a.client));
    }
    for (g, _) in &grants {
        refs.push(g.recipient.clone());
        refs.push(format!("Patient/{}", g.client));
        refs.extend(g.custodian.as_ref().map(|c| format!("Organization/{c}")));
    }
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let list = |cats: &[Category]| {
        cats.iter()
            .map(|c| category_words(&t, *c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A privacy officer does not read who a client is: they see the client number, as in
    // the access log.
    let client_label = |id: &str| {
        names
            .known(&format!("Patient/{id}"))
            .map(str::to_string)
            .unwrap_or_else(|| t.arg("client-number", "id", id))
    };
    let today = dates::today();
    let mut decisions: Vec<(String, DecisionRow)> = answers
        .iter()
        .map(|(a, j)| {
            let authored = a.authored.clone().unwrap_or_default();
            let outcome = match a.ground() {
                Some(g) => t.with(
                    "sharing-outcome-share",
                    &[("ground", &t.get(&format!("sharing-ground-{}", g.code())))],
                ),
                None => t.get(&format!("sharing-outcome-{}", a.outcome)),
            };
            (
                authored.clone(),
                DecisionRow {
                    when: dates::fhir(&authored, person.lang),
                    client: client_label(&a.client),
                    author: a
                        .author
                        .as_deref()
                        .map(|r| names.name(r))
                        .unwrap_or_default(),
                    recipient: names.name(&a.request.recipient),
                    categories: list(&a.request.categories),
                    outcome,
                    share: a.ground().is_some(),
                    withheld: kring_access::sharing::withheld_until(j)
                        .filter(|d| *d >= today)
                        .map(|d| dates::day(d, person.lang)),
                    answers: a
                        .answers
                        .iter()
                        .map(|(_, text, ans, rec)| Answered {
                            question: text.clone(),
                            answer: answer_words(&t, *ans),
                            from_record: *rec,
                        })
                        .collect(),
                    purpose: a.request.purpose.clone(),
                },
            )
        })
        .collect();
    decisions.sort_by(|a, b| b.0.cmp(&a.0));
    let mut grant_rows: Vec<(bool, String, GrantRow)> = grants
        .iter()
        .map(|(g, j)| {
            let running = g.running(today);
            let status = if !g.active {
                t.get("sharing-grant-withdrawn")
            } else if running {
                t.get("sharing-grant-running")
            } else {
                t.get("sharing-grant-ended")
            };
            let period = match (g.start, g.end) {
                (Some(s), Some(e)) => t.with(
                    "sharing-period",
                    &[
                        ("from", &dates::day(s, person.lang)),
                        ("until", &dates::day(e, person.lang)),
                    ],
                ),
                _ => String::new(),
            };
            (
                running,
                j["dateTime"].as_str().unwrap_or_default().to_string(),
                GrantRow {
                    id: g.id.clone(),
                    client: client_label(&g.client),
                    custodian: g
                        .custodian
                        .as_ref()
                        .map(|c| names.name(&format!("Organization/{c}")))
                        .unwrap_or_default(),
                    recipient: names.name(&g.recipient),
                    categories: list(&g.categories),
                    ground: t.get(&format!("sharing-ground-{}", g.ground.code())),
                    anchor: g.ground.anchor().to_string(),
                    period,
                    status,
                    running,
                    withheld: g
                        .withheld_until
                        .filter(|d| *d >= today)
                        .map(|d| dates::day(d, person.lang)),
                },
            )
        })
        .collect();
    grant_rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    (
        decisions.into_iter().map(|(_, d)| d).collect(),
        grant_rows.into_iter().map(|(_, _, g)| g).collect(),
    )
}

/// The grants about the client that the client (or their parent) may see, for the portal:
/// with whom, what, on which ground, until when.
pub async fn for_portal(state: &AppState, person: &Person, client: &str) -> Vec<GrantRow> {
    history(state, person, Some(client), None).await.1
}

/// One question as the privacy officer edits it.
pub struct QuestionEdit {
    pub link_id: String,
    pub text: String,
    pub explanation: String,
    pub anchor: String,
}

#[derive(Template)]
#[template(path = "sharing_questions.html")]
struct QuestionsPage {
    f: Frame,
    version: String,
    questions: Vec<QuestionEdit>,
}

/// `GET /privacy/vragen`: the aid's questions, their explanation and legal anchor, for the
/// privacy officer to read and change.
pub async fn questions(
    State(state): State<AppState>,
    person: Person,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let mut f = officer_frame(&person, "sharing-questions-title")?;
    if done.klaar.is_some() {
        f.message = Some(f.t.get("sharing-questions-saved"));
    }
    let texts = state.record.sharing_texts(&person.caller).await;
    Ok(render::page(
        &QuestionsPage {
            f,
            version: texts.version.clone(),
            questions: aid::Question::ALL
                .into_iter()
                .map(|q| {
                    let w = texts.question(q);
                    QuestionEdit {
                        link_id: q.link_id().to_string(),
                        text: w.text.clone(),
                        explanation: w.explanation.clone(),
                        anchor: w.anchor.clone(),
                    }
                })
                .collect(),
        },
        person.lang,
        person.set_lang,
    ))
}

/// `POST /privacy/vragen`: the changed words, as a new version of the questionnaire (fields
/// `{linkId}.text`, `{linkId}.uitleg`, `{linkId}.anker`).
pub async fn save_questions(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    use kring_record::sharing::questionnaire::{self, QuestionText};
    officer_frame(&person, "sharing-questions-title")?;
    let field = |q: aid::Question, part: &str| {
        form.get(&format!("{}.{part}", q.link_id()))
            .map(|v| v.trim().chars().take(2000).collect::<String>())
            .filter(|v| !v.is_empty())
    };
    let mut words = Vec::new();
    for q in aid::Question::ALL {
        let (Some(text), Some(explanation), Some(anchor)) =
            (field(q, "text"), field(q, "uitleg"), field(q, "anker"))
        else {
            let mut f = person.frame("sharing-questions-title");
            f.error = Some(f.t.get("sharing-questions-empty"));
            return Ok(render::page(
                &QuestionsPage {
                    f,
                    version: String::new(),
                    questions: Vec::new(),
                },
                person.lang,
                person.set_lang,
            ));
        };
        words.push((
            q,
            QuestionText {
                text,
                explanation,
                anchor,
            },
        ));
    }
    let current = state
        .record
        .read(
            &person.caller,
            "Questionnaire",
            questionnaire::QUESTIONNAIRE_ID,
        )
        .await
        .map_err(|e| person.failed(e))?;
    let stored: Value = serde_json::from_slice(&current.body).map_err(|_| person.not_found())?;
    let next = questionnaire::with_words(&stored, &words, &(current.version + 1).to_string());
    state
        .record
        .update(
            &person.caller,
            "Questionnaire",
            questionnaire::QUESTIONNAIRE_ID,
            next,
            Some(current.version),
        )
        .await
        .map_err(|e| person.failed(e))?;
    Ok(Redirect::to("/privacy/vragen?klaar=opgeslagen").into_response())
}

/// A worked example, as listed.
pub struct CaseLink {
    pub id: String,
    pub role: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "sharing_training.html")]
struct TrainingPage {
    f: Frame,
    cases: Vec<CaseLink>,
    case: Option<CaseLink>,
    story: String,
    carried: Vec<String>,
    answered: Vec<Answered>,
    question: Option<QuestionView>,
    outcome: Option<OutcomeView>,
    advice: Option<OutcomeView>,
    why: String,
    same: bool,
}

fn case_link(t: &Texts, c: &kring_record::sharing::cases::TrainingCase) -> CaseLink {
    CaseLink {
        id: c.id.to_string(),
        role: t.get(&format!("training-role-{}", c.role)),
        title: c.title.to_string(),
    }
}

/// `GET /delen/oefenen`: the worked examples per role.
pub async fn training(person: Person) -> Result<Response, PageError> {
    person.professional()?;
    let t = person.texts();
    let f = person.frame("training-title");
    Ok(render::page(
        &TrainingPage {
            cases: kring_record::sharing::cases::all()
                .iter()
                .map(|c| case_link(&t, c))
                .collect(),
            f,
            case: None,
            story: String::new(),
            carried: vec![],
            answered: vec![],
            question: None,
            outcome: None,
            advice: None,
            why: String::new(),
            same: false,
        },
        person.lang,
        person.set_lang,
    ))
}

#[derive(Deserialize, Default)]
pub struct TrainingForm {
    #[serde(default)]
    carried: Vec<String>,
    #[serde(default)]
    answer: String,
}

/// `GET /delen/oefenen/{id}`: one example, from its first question.
pub async fn training_case(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    training_step(&state, &person, &id, &TrainingForm::default()).await
}

/// `POST /delen/oefenen/{id}`: the next question of the example, or its outcome beside the
/// example's advice. Nothing is stored: the example is about nobody.
pub async fn training_answer(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<TrainingForm>,
) -> Result<Response, PageError> {
    training_step(&state, &person, &id, &form).await
}

async fn training_step(
    state: &AppState,
    person: &Person,
    id: &str,
    form: &TrainingForm,
) -> Result<Response, PageError> {
    person.professional()?;
    let t = person.texts();
    let cases = kring_record::sharing::cases::all();
    let Some(case) = cases.iter().find(|c| c.id == id) else {
        return Err(person.not_found());
    };
    let texts = state.record.sharing_texts(&person.caller).await;
    let given = aid_answers(
        form.carried
            .iter()
            .chain(std::iter::once(&form.answer))
            .filter_map(|a| a.split_once(':')),
    );
    let WalkView {
        answered,
        carried,
        question,
        outcome,
    } = walk_view(&t, &texts, &case.known, &given);
    let (outcome, advice, same) = match outcome {
        Some(o) => (
            Some(outcome_view(&t, o, &case.known)),
            Some(outcome_view(&t, case.outcome, &case.known)),
            o == case.outcome,
        ),
        None => (None, None, false),
    };
    let f = person.frame("training-title");
    Ok(render::page(
        &TrainingPage {
            f,
            cases: vec![],
            case: Some(case_link(&t, case)),
            story: case.story.to_string(),
            carried,
            answered,
            question,
            outcome,
            advice,
            why: case.why.to_string(),
            same,
        },
        person.lang,
        person.set_lang,
    ))
}

/// The sharing figures of one month (`YYYY-MM`) for the privacy officer's monthly report:
/// decisions recorded, of which to share, grants made, grants withheld from the client.
pub async fn month_figures(
    state: &AppState,
    person: &Person,
    month: &str,
) -> Vec<(String, String)> {
    let t = person.texts();
    let (decisions, grants) = history(state, person, None, Some(month)).await;
    let shares = decisions.iter().filter(|d| d.share).count();
    let withheld = grants.iter().filter(|g| g.withheld.is_some()).count();
    vec![
        (
            t.get("report-sharing-decisions"),
            decisions.len().to_string(),
        ),
        (t.get("report-sharing-shares"), shares.to_string()),
        (t.get("report-sharing-grants"), grants.len().to_string()),
        (t.get("report-sharing-withheld"), withheld.to_string()),
    ]
}

/// The items asked about, each with a label people read: what it is and when it was written.
async fn item_labels(state: &AppState, person: &Person, items: &[String]) -> Vec<(String, String)> {
    let t = person.texts();
    let mut out = Vec::new();
    for i in items {
        let Some((rtype, rid)) = i.split_once('/') else {
            continue;
        };
        let Ok(v) = state.record.read(&person.caller, rtype, rid).await else {
            continue;
        };
        let category = kring_access::category::category_of(rtype, true, &v.body);
        out.push((
            i.clone(),
            t.with(
                "sharing-item",
                &[
                    ("what", &category_words(&t, category)),
                    ("when", &dates::moment(v.last_updated, person.lang)),
                ],
            ),
        ));
    }
    out
}

/// Where a walk of the aid stands, as the pages show it: the answers so far (the record's
/// marked), the professional's answers to carry to the next step, and the next question or
/// the outcome.
struct WalkView {
    answered: Vec<Answered>,
    carried: Vec<String>,
    question: Option<QuestionView>,
    outcome: Option<Outcome>,
}

fn walk_view(t: &Texts, texts: &QuestionTexts, known: &Known, given: &Answers) -> WalkView {
    let path = aid::path(known, given);
    let answered = path
        .iter()
        .map(|(q, a, from_record)| Answered {
            question: texts.question(*q).text.clone(),
            answer: answer_words(t, *a),
            from_record: *from_record,
        })
        .collect();
    let carried = path
        .iter()
        .filter(|(_, _, r)| !r)
        .map(|(q, a, _)| format!("{}:{}", q.link_id(), a.code()))
        .collect();
    let (question, outcome) = match aid::walk(known, given) {
        Step::Ask(q) => {
            let words = texts.question(q);
            let view = QuestionView {
                link_id: q.link_id().to_string(),
                text: words.text.clone(),
                explanation: words.explanation.clone(),
                anchor: words.anchor.clone(),
                answers: q
                    .answers()
                    .iter()
                    .map(|a| Choice {
                        value: format!("{}:{}", q.link_id(), a.code()),
                        label: answer_words(t, *a),
                        checked: false,
                    })
                    .collect(),
            };
            (Some(view), None)
        }
        Step::Done(o) => (None, Some(o)),
    };
    WalkView {
        answered,
        carried,
        question,
        outcome,
    }
}

/// The frame of a page for privacy officers; anyone else gets "not for you".
fn officer_frame(person: &Person, title_key: &str) -> Result<Frame, PageError> {
    let f = person.frame(title_key);
    if f.officer {
        Ok(f)
    } else {
        Err(person.not_for_you())
    }
}

//! The client's rights under the AVG: `GET /mijn/gegevens` explains them, and the whole
//! record can be taken along — as FHIR (a Bundle, and NDJSON with each resource exactly as
//! stored, so it imports into another Kring byte for byte) and as a readable PDF. The record
//! is read through `Patient/$everything` as the signed-in person: decided and logged like any
//! access. The client asks here for a correction, an erasure or objects (a `Task` to their
//! organisation and case director, with the legal deadline), sees the answer, and may withdraw
//! an open request.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use kring_record::contributions::{self, RequestKind};
use kring_record::Versioned;
use serde::Deserialize;
use serde_json::Value;

use super::Own;
use crate::pages::error::PageError;
use crate::pages::form::CsrfForm;
use crate::pages::names::{json, search, Names};
use crate::pages::work::{is_fhir_id, now_fhir, see, text_field, Done};
use crate::pages::{dates, render, Frame, Person};
use crate::AppState;

/// Resources read from the record per call of `$everything`.
const PAGE: usize = 1000;
/// The most resources one download holds (a record larger than this is rare; the API pages).
const MAX_RESOURCES: usize = 200_000;

/// One of the client's requests, as they see it.
pub struct RequestRow {
    pub id: String,
    pub version: i64,
    pub kind: String,
    pub text: String,
    pub asked: String,
    pub due: String,
    pub status: String,
    pub answer: String,
    /// Still open: it can be withdrawn.
    pub open: bool,
}

#[derive(Template)]
#[template(path = "portal_data.html")]
struct DataPage {
    f: Frame,
    requests: Vec<RequestRow>,
    kinds: Vec<(String, String)>,
    typed_kind: String,
    typed_text: String,
}

/// What the page says after a request was sent or withdrawn.
const DONE: &[&str] = &["request-sent", "request-withdrawn"];

async fn render_page(
    state: &AppState,
    person: &Person,
    message: Option<String>,
    error: Option<(String, String, String)>,
) -> Result<Response, PageError> {
    let own = Own::of(state, person).await?;
    let t = person.texts();
    let mut requests: Vec<(i64, RequestRow)> = search(
        state,
        person,
        "Task",
        &format!("subject=Patient/{}&_count=200", own.client),
    )
    .await
    .iter()
    .filter_map(|task| {
        let v = json(task);
        let kind = contributions::request_kind(&v)?;
        let status = v["status"].as_str().unwrap_or("requested").to_string();
        Some((
            task.last_updated,
            RequestRow {
                id: task.id.clone(),
                version: task.version,
                kind: t.get(&format!("request-kind-{}", kind.code())),
                text: v["description"].as_str().unwrap_or_default().to_string(),
                asked: v["authoredOn"]
                    .as_str()
                    .map(|a| dates::fhir(a, person.lang))
                    .unwrap_or_default(),
                due: v["restriction"]["period"]["end"]
                    .as_str()
                    .map(|d| dates::fhir(d, person.lang))
                    .unwrap_or_default(),
                open: contributions::is_open(&v),
                status: t.get(&format!("request-status-{status}")),
                answer: contributions::answer_of(&v).unwrap_or_default().to_string(),
            },
        ))
    })
    .collect();
    requests.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut f = own.frame(person, "portal-data-title", "/mijn/gegevens");
    f.message = message;
    let (typed_kind, typed_text) = match error {
        Some((e, kind, text)) => {
            f.error = Some(e);
            (kind, text)
        }
        None => Default::default(),
    };
    let kinds = RequestKind::ALL
        .iter()
        .map(|k| {
            (
                k.code().to_string(),
                t.get(&format!("request-kind-{}", k.code())),
            )
        })
        .collect();
    Ok(render::page(
        &DataPage {
            f,
            requests: requests.into_iter().map(|(_, r)| r).collect(),
            kinds,
            typed_kind,
            typed_text,
        },
        person.lang,
        person.set_lang,
    ))
}

/// `GET /mijn/gegevens`.
pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let message = done.message(&person, DONE);
    render_page(&state, &person, message, None).await
}

#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
}

/// `POST /mijn/gegevens/verzoek`: a request to correct, erase or object, to the client's
/// organisation and case director, due by the legal deadline.
pub async fn request(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<RequestForm>,
) -> Result<Response, PageError> {
    let own = Own::of(&state, &person).await?;
    let t = person.texts();
    let typed = |e: String| Some((e, form.kind.clone(), form.text.clone()));
    let Some(kind) = RequestKind::from_code(&form.kind) else {
        return render_page(&state, &person, None, typed(t.get("request-choose-kind"))).await;
    };
    let text = match text_field(&form.text, 2000) {
        Ok(text) => text,
        Err(p) => {
            let e = p.sentence(&person, "request-text");
            return render_page(&state, &person, None, typed(e)).await;
        }
    };
    let patient = search(&state, &person, "Patient", &format!("_id={}", own.client)).await;
    let patient = patient.first().map(json).unwrap_or_default();
    let organisation = patient["managingOrganization"]["reference"].as_str();
    let today = dates::today();
    let minor = own
        .name
        .as_ref()
        .and_then(|n| n.birth)
        .is_some_and(|b| dates::age(b, today) < 18);
    let task = contributions::new_request(
        &own.client,
        &own.me,
        organisation,
        kind,
        &text,
        &now_fhir(),
        kind.deadline(today, minor),
    );
    match state
        .record
        .create(&person.caller, "Task", task, None)
        .await
    {
        Ok(_) => Ok(see("/mijn/gegevens", "request-sent")),
        Err(e) => {
            render_page(
                &state,
                &person,
                None,
                typed(render::sentence(&e, person.lang)),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    id: String,
    version: i64,
}

/// `POST /mijn/gegevens/verzoek/intrekken`: the client withdraws an open request.
pub async fn withdraw(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<WithdrawForm>,
) -> Result<Response, PageError> {
    if !is_fhir_id(&form.id) {
        return Err(person.not_found());
    }
    let task = state
        .record
        .read(&person.caller, "Task", &form.id)
        .await
        .map_err(|e| person.failed(e))?;
    let mut v = json(&task);
    v["status"] = serde_json::json!("cancelled");
    match state
        .record
        .update(&person.caller, "Task", &task.id, v, Some(form.version))
        .await
    {
        Ok(_) => Ok(see("/mijn/gegevens", "request-withdrawn")),
        Err(e) => {
            let e = render::sentence(&e, person.lang);
            render_page(
                &state,
                &person,
                None,
                Some((e, String::new(), String::new())),
            )
            .await
        }
    }
}

/// The whole record as the person may read it: the client's resources, then the shared
/// resources they refer to (organisations, professionals …), each once.
async fn whole_record(
    state: &AppState,
    person: &Person,
    client: &str,
) -> Result<(Vec<Versioned>, Vec<Versioned>), PageError> {
    let mut own = Vec::new();
    let mut shared: Vec<Versioned> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut offset = 0usize;
    loop {
        let params = vec![
            ("_count".to_string(), PAGE.to_string()),
            ("_offset".to_string(), offset.to_string()),
        ];
        let out = state
            .record
            .everything(&person.caller, client, &params)
            .await
            .map_err(|e| person.failed(e))?;
        // The record filters each page after reading it: the next page starts after the rows
        // read, not after those returned.
        offset += out.count;
        own.extend(out.matches);
        for s in out.included {
            if seen.insert((s.rtype.clone(), s.id.clone())) {
                shared.push(s);
            }
        }
        if !out.more || offset >= MAX_RESOURCES {
            break;
        }
    }
    Ok((own, shared))
}

fn download(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

/// The base of the FHIR API, for the Bundle's `fullUrl`s.
fn base(state: &AppState, headers: &HeaderMap) -> String {
    match &state.http.base_url {
        Some(b) => b.trim_end_matches('/').to_string(),
        None => format!(
            "http://{}/fhir",
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost")
        ),
    }
}

/// `GET /mijn/gegevens/dossier.json`: a FHIR Bundle (`collection`) of the whole record, each
/// resource its stored bytes.
pub async fn bundle(
    State(state): State<AppState>,
    person: Person,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (client, _, _) = super::whose(&person)?;
    let (own, shared) = whole_record(&state, &person, &client).await?;
    let base = base(&state, &headers);
    let mut out = Vec::with_capacity(own.iter().map(|r| r.body.len() + 80).sum::<usize>());
    out.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"timestamp\":");
    out.extend_from_slice(
        serde_json::to_string(&crate::pages::work::now_fhir())
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(b",\"entry\":[");
    for (i, r) in own.iter().chain(&shared).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let url =
            serde_json::to_string(&format!("{base}/{}/{}", r.rtype, r.id)).unwrap_or_default();
        out.extend_from_slice(b"{\"fullUrl\":");
        out.extend_from_slice(url.as_bytes());
        out.extend_from_slice(b",\"resource\":");
        out.extend_from_slice(&r.body);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(download("application/fhir+json", "dossier.json", out))
}

/// `GET /mijn/gegevens/dossier.ndjson`: one resource per line, exactly as stored.
pub async fn ndjson(State(state): State<AppState>, person: Person) -> Result<Response, PageError> {
    let (client, _, _) = super::whose(&person)?;
    let (own, shared) = whole_record(&state, &person, &client).await?;
    let mut out = Vec::with_capacity(own.iter().map(|r| r.body.len() + 1).sum::<usize>());
    for r in own.iter().chain(&shared) {
        out.extend_from_slice(&r.body);
        out.push(b'\n');
    }
    Ok(download("application/fhir+ndjson", "dossier.ndjson", out))
}

/// The part of the record a resource belongs to: its category's code (the access log and
/// shared data, which no client record holds as its own, are "other").
fn part_of(r: &Versioned) -> &'static str {
    use kring_access::category::{category_of, Category};
    match category_of(&r.rtype, true, &r.body) {
        Category::Shared | Category::AccessLog => "other",
        c => c.code(),
    }
}

/// `GET /mijn/gegevens/dossier.pdf`: the record to read, part by part, with names and Dutch
/// dates.
pub async fn pdf(State(state): State<AppState>, person: Person) -> Result<Response, PageError> {
    let own_person = Own::of(&state, &person).await?;
    let (own, _) = whole_record(&state, &person, &own_person.client).await?;
    let t = person.texts();
    let values: Vec<Value> = own.iter().map(json).collect();
    let refs: Vec<String> = values
        .iter()
        .flat_map(crate::pages::clients::mentioned)
        .collect();
    let names = Names::of(&state, &person, refs.iter().map(String::as_str)).await;
    let who = own_person
        .name
        .as_ref()
        .map(|n| n.full(person.lang))
        .unwrap_or_else(|| t.get("someone-client"));
    let now = dates::moment(crate::auth::now_ms(), person.lang);
    let mut doc = kring_pdf::Document::new(&t.with(
        "portal-pdf-footer",
        &[("client", who.as_str()), ("when", now.as_str())],
    ));
    doc.title(&t.arg("portal-pdf-title", "client", &who));
    doc.paragraph(&t.arg("portal-pdf-intro", "count", &own.len().to_string()));
    const PARTS: [&str; 14] = [
        "identity",
        "support-plan",
        "crisis-plan",
        "reports",
        "medication",
        "treatment-notes",
        "documents",
        "safety",
        "circle",
        "consent",
        "emergency",
        "sharing",
        "messages",
        "other",
    ];
    for part in PARTS {
        let mut items: Vec<(i64, String)> = own
            .iter()
            .zip(&values)
            .filter(|(r, _)| part_of(r) == part)
            .map(|(r, v)| {
                let line = match r.rtype.as_str() {
                    "Goal" => v["description"]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    "Task" | "Appointment" => {
                        v["description"].as_str().unwrap_or_default().to_string()
                    }
                    _ => crate::pages::clients::summary(part, v, &names, person.lang),
                };
                let line = if line.trim().is_empty() {
                    t.arg("portal-pdf-item", "type", &r.rtype)
                } else {
                    line
                };
                (r.last_updated, line)
            })
            .collect();
        if items.is_empty() {
            continue;
        }
        items.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        doc.heading(&t.get(&format!("portal-part-{part}")), None);
        for (at, line) in items {
            doc.bullet(&format!("{line} ({})", dates::moment(at, person.lang)));
        }
        doc.space(6.0);
    }
    Ok(download("application/pdf", "dossier.pdf", doc.finish()))
}

//! A client's reports (rapportages): read them newest first, filtered by period, the author's
//! organisation and kind; write one (marked for the client when the client may read it in
//! the portal); correct one's own report by a new version — the page of a report shows every
//! earlier version. See `kring_record::reports` for the FHIR shape and `kring_record::rules`
//! for who may write and correct.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use kring_record::reports::{self, for_client, kind_of, new_report, text_of, ReportKind};
use kring_record::{HistoryRequest, Versioned};
use serde::Deserialize;
use serde_json::Value;

use super::{not_shared, now_fhir, parse_day, see, text_field, Done};
use crate::pages::client_ctx::{self, ClientCtx};
use crate::pages::error::PageError;
use crate::pages::form::CsrfForm;
use crate::pages::names::{json, search, Names};
use crate::pages::{dates, render, Frame, Person};
use crate::AppState;

/// The longest report.
const MAX_TEXT: usize = 5000;
/// The most reports one page lists.
const MAX_LISTED: usize = 200;

pub struct ReportRow {
    pub id: String,
    pub when: String,
    pub who: String,
    pub kind: String,
    pub for_client: bool,
    pub text: String,
    pub corrected: bool,
    pub mine: bool,
}

/// The filters of the list, as the form sends them.
#[derive(Debug, Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    van: String,
    #[serde(default)]
    tot: String,
    #[serde(default)]
    organisatie: String,
    #[serde(default)]
    soort: String,
    #[serde(default)]
    klaar: String,
}

/// What was typed into the write form, shown again after a refusal.
#[derive(Default)]
pub struct Typed {
    pub kind: String,
    pub text: String,
    pub for_client: bool,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    f: Frame,
    id: String,
    rows: Vec<ReportRow>,
    kinds: Vec<(String, String)>,
    organisations: Vec<(String, String)>,
    filter: Filter,
    filtered: bool,
    may_write: bool,
    typed: Typed,
}

fn kind_label(person: &Person, kind: Option<ReportKind>) -> String {
    kind.map(|k| person.texts().get(&format!("report-kind-{}", k.code())))
        .unwrap_or_default()
}

fn kinds(person: &Person) -> Vec<(String, String)> {
    ReportKind::ALL
        .iter()
        .map(|k| (k.code().to_string(), kind_label(person, Some(*k))))
        .collect()
}

/// The client's reports (not emergency declarations), newest first, through the record.
async fn reports_of(
    state: &AppState,
    person: &Person,
    id: &str,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> Vec<Versioned> {
    // The client's messages of the chosen Dutch days (the store finds the client's messages
    // and checks each one's date); which of them are reports is read here.
    let bound = |d: chrono::NaiveDate| dates::fhir_ms(&super::day_start(d));
    let from = from.and_then(bound);
    let to = to.and_then(|d| bound(d + chrono::Duration::days(1)));
    let mut query = format!("subject=Patient/{id}&_count=1000");
    for (prefix, at) in [("ge", from), ("lt", to)] {
        if let Some(at) = at {
            query.push_str(&format!(
                "&sent={prefix}{}",
                kring_fhir::datetime::format_instant(at)
            ));
        }
    }
    let sent = |r: &Versioned| json(r)["sent"].as_str().and_then(dates::fhir_ms);
    let mut out: Vec<Versioned> = search(state, person, "Communication", &query)
        .await
        .into_iter()
        .filter(|r| reports::is_report(&json(r)))
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(sent(r)));
    out.truncate(MAX_LISTED);
    out
}

async fn render_list(
    state: &AppState,
    person: &Person,
    client: ClientCtx,
    filter: Filter,
    typed: Typed,
    error: Option<String>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let me = person.professional().ok().map(|m| m.role);
    if !client.may_open("/rapportages") {
        return Ok(not_shared(
            state,
            person,
            &client,
            "reports-title",
            "Communication",
            b"{}",
        ));
    }
    let id = client.id.clone();
    let from = parse_day(&filter.van);
    let to = parse_day(&filter.tot);
    let mut found = reports_of(state, person, &id, from, to).await;
    // In the portal, the client reads the reports written for them.
    if client.in_portal() {
        found.retain(|r| for_client(&json(r)));
    }
    let values: Vec<Value> = found.iter().map(json).collect();
    let senders: Vec<&str> = values
        .iter()
        .filter_map(|v| v["sender"]["reference"].as_str())
        .collect();
    let names = Names::of(state, person, senders.iter().copied()).await;
    // The organisations that wrote reports, to filter on.
    let mut organisations: BTreeMap<String, String> = BTreeMap::new();
    for s in &senders {
        if let Some(o) = names.organisation_of(s) {
            organisations.insert(o.to_string(), names.name(o));
        }
    }
    let kind_filter = ReportKind::from_code(&filter.soort);
    let rows: Vec<ReportRow> = found
        .iter()
        .zip(&values)
        .filter(|(_, v)| kind_filter.is_none() || kind_of(v) == kind_filter)
        .filter(|(_, v)| {
            filter.organisatie.is_empty()
                || v["sender"]["reference"]
                    .as_str()
                    .and_then(|s| names.organisation_of(s))
                    == Some(filter.organisatie.as_str())
        })
        .map(|(r, v)| {
            let sender = v["sender"]["reference"].as_str().unwrap_or_default();
            ReportRow {
                id: r.id.clone(),
                when: v["sent"]
                    .as_str()
                    .map(|s| dates::fhir(s, person.lang))
                    .unwrap_or_default(),
                who: names.name(sender),
                kind: kind_label(person, kind_of(v)),
                for_client: for_client(v),
                text: text_of(v),
                corrected: r.version > 1,
                mine: me.as_deref() == Some(sender),
            }
        })
        .collect();
    let filtered =
        from.is_some() || to.is_some() || kind_filter.is_some() || !filter.organisatie.is_empty();
    let mut f = client.frame(person, "reports-title");
    f.message = Done {
        klaar: filter.klaar.clone(),
    }
    .message(person, &["report-written"])
    .or_else(|| {
        filtered.then(|| {
            person
                .texts()
                .count("reports-found", "count", rows.len() as i64, &[])
        })
    });
    f.error = error;
    let may_write = super::may_write(state, person, &id, "Communication", b"{}");
    let page = ReportsPage {
        f,
        id,
        rows,
        kinds: kinds(person),
        organisations: organisations.into_iter().collect(),
        filter,
        filtered,
        may_write,
        typed,
    };
    Ok(render::page(&page, person.lang, person.set_lang))
}

/// `GET /clienten/{id}/rapportages`.
pub async fn list(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let client = client_ctx::open(&state, &person, &id, "page-view", "/rapportages").await?;
    if client.may_open("/rapportages") {
        crate::pages::visits::record_visit(&state, &person, &id).await;
    }
    render_list(&state, &person, client, filter, Typed::default(), None).await
}

#[derive(Deserialize)]
pub struct Write {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    for_client: Option<String>,
}

/// `POST /clienten/{id}/rapportages`: a new report in the writer's own name.
pub async fn write(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Write>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let typed = Typed {
        kind: form.kind.clone(),
        text: form.text.clone(),
        for_client: form.for_client.is_some(),
    };
    let problem = match (
        ReportKind::from_code(&form.kind),
        text_field(&form.text, MAX_TEXT),
    ) {
        (None, _) => Some(person.texts().get("report-kind-missing")),
        (_, Err(p)) => Some(p.sentence(&person, "report-text")),
        (Some(kind), Ok(text)) => {
            let report = new_report(
                &id,
                &me.role,
                kind,
                &text,
                form.for_client.is_some(),
                &now_fhir(),
            );
            match state
                .record
                .create(&person.caller, "Communication", report, None)
                .await
            {
                Ok(_) => {
                    return Ok(see(
                        &format!("/clienten/{id}/rapportages"),
                        "report-written",
                    ))
                }
                Err(e) => Some(render::sentence(&e, person.lang)),
            }
        }
    };
    let client = client_ctx::open(&state, &person, &id, "page-view", "/rapportages").await?;
    let mut res = render_list(&state, &person, client, Filter::default(), typed, problem).await?;
    *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

pub struct VersionRow {
    pub version: i64,
    pub when: String,
    pub who: String,
    pub kind: String,
    pub for_client: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    f: Frame,
    id: String,
    report_id: String,
    /// The reader may ask "Mag ik dit delen?" about this report.
    may_share: bool,
    report: ReportRow,
    version: i64,
    kind_code: String,
    versions: Vec<VersionRow>,
    kinds: Vec<(String, String)>,
}

/// The report `rid` of client `id`, through the record.
async fn report_of(state: &AppState, person: &Person, id: &str, rid: &str) -> Option<Versioned> {
    if !super::is_fhir_id(rid) {
        return None;
    }
    search(
        state,
        person,
        "Communication",
        &format!("_id={rid}&subject=Patient/{id}"),
    )
    .await
    .into_iter()
    .find(|r| reports::is_report(&json(r)))
}

async fn render_report(
    state: &AppState,
    person: &Person,
    client: ClientCtx,
    rid: &str,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let me = person.professional()?;
    let id = client.id.clone();
    let r = report_of(state, person, &id, rid)
        .await
        .ok_or_else(|| person.not_found())?;
    let history = state
        .record
        .history(
            &person.caller,
            &HistoryRequest {
                rtype: Some("Communication".into()),
                id: Some(r.id.clone()),
                params: vec![("_count".into(), "50".into())],
            },
        )
        .await
        .map_err(|e| person.failed(e))?;
    let values: Vec<Value> = history.entries.iter().map(|h| json(&h.version)).collect();
    let refs: Vec<String> = values
        .iter()
        .flat_map(|v| {
            [
                v["sender"]["reference"].as_str().map(str::to_string),
                kring_record::meta::changed_by(v).map(str::to_string),
            ]
        })
        .flatten()
        .collect();
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let v = json(&r);
    let sender = v["sender"]["reference"].as_str().unwrap_or_default();
    let report = ReportRow {
        id: r.id.clone(),
        when: v["sent"]
            .as_str()
            .map(|s| dates::fhir(s, person.lang))
            .unwrap_or_default(),
        who: names.name(sender),
        kind: kind_label(person, kind_of(&v)),
        for_client: for_client(&v),
        text: text_of(&v),
        corrected: r.version > 1,
        mine: sender == me.role,
    };
    let versions = history
        .entries
        .iter()
        .zip(&values)
        .skip(1)
        .map(|(h, v)| VersionRow {
            version: h.version.version,
            when: dates::moment(h.version.last_updated, person.lang),
            who: kring_record::meta::changed_by(v)
                .or(v["sender"]["reference"].as_str())
                .map(|w| names.name(w))
                .unwrap_or_default(),
            kind: kind_label(person, kind_of(v)),
            for_client: for_client(v),
            text: text_of(v),
        })
        .collect();
    let mut f = client.frame(person, "report-title");
    f.message = message;
    f.error = error;
    let may_share = client.may_open("/delen");
    let page = ReportPage {
        f,
        id,
        report_id: rid.to_string(),
        may_share,
        report,
        version: r.version,
        kind_code: kind_of(&v)
            .map(|k| k.code().to_string())
            .unwrap_or_default(),
        versions,
        kinds: kinds(person),
    };
    Ok(render::page(&page, person.lang, person.set_lang))
}

/// `GET /clienten/{id}/rapportages/{rid}`: one report with its history.
pub async fn one(
    State(state): State<AppState>,
    person: Person,
    Path((id, rid)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    person.professional()?;
    let client = client_ctx::open(&state, &person, &id, "page-view", "/rapportages").await?;
    let message = done.message(&person, &["report-corrected"]);
    render_report(&state, &person, client, &rid, message, None).await
}

#[derive(Deserialize)]
pub struct Correct {
    version: i64,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    for_client: Option<String>,
}

/// `POST /clienten/{id}/rapportages/{rid}`: the author corrects a report by a new version.
pub async fn correct(
    State(state): State<AppState>,
    person: Person,
    Path((id, rid)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<Correct>,
) -> Result<Response, PageError> {
    person.professional()?;
    let client = client_ctx::open(&state, &person, &id, "page-view", "/rapportages").await?;
    let r = report_of(&state, &person, &id, &rid)
        .await
        .ok_or_else(|| person.not_found())?;
    let problem = match (
        ReportKind::from_code(&form.kind),
        text_field(&form.text, MAX_TEXT),
    ) {
        (None, _) => person.texts().get("report-kind-missing"),
        (_, Err(p)) => p.sentence(&person, "report-text"),
        (Some(kind), Ok(text)) => {
            let mut v = json(&r);
            reports::correct(&mut v, kind, &text);
            reports::set_for_client(&mut v, form.for_client.is_some());
            match state
                .record
                .update(
                    &person.caller,
                    "Communication",
                    &r.id,
                    v,
                    Some(form.version),
                )
                .await
            {
                Ok(_) => {
                    return Ok(see(
                        &format!("/clienten/{id}/rapportages/{rid}"),
                        "report-corrected",
                    ))
                }
                Err(e) => render::sentence(&e, person.lang),
            }
        }
    };
    let mut res = render_report(&state, &person, client, &rid, None, Some(problem)).await?;
    *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

//! Messages between the client and their circle, on the client's page (`/clienten/{id}/berichten`)
//! for professionals of the circle and in the portal for the client and a parent: the messages
//! the person sent or received, newest first, and a form to write to chosen people of the
//! circle. Who sees a message is the decision point's (its parties only); what may be written is
//! the record's (`kring_record::messages`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use kring_access::circle::Circle;
use kring_access::Subject;
use serde::Deserialize;

use super::client_ctx;
use super::dates;
use super::error::PageError;
use super::form::CsrfForm;
use super::names::{json, search, Names};
use super::{render, Frame, Person};
use crate::AppState;

/// One message, as shown.
pub struct MessageView {
    pub from: String,
    pub to: String,
    pub when: String,
    pub text: String,
    pub mine: bool,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    f: Frame,
    client: String,
    messages: Vec<MessageView>,
    /// Whom the person can write to: (reference, name).
    recipients: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    klaar: Option<String>,
}

/// `GET /clienten/{id}/berichten`.
pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let ctx = client_ctx::open_tab(&state, &person, &id, "messages", "/berichten").await?;
    let mut f = ctx.frame(&person, "messages-title");
    if done.klaar.is_some() {
        f.message = Some(f.t.get("messages-sent"));
    }
    render_page(&state, &person, &id, f).await
}

async fn render_page(
    state: &AppState,
    person: &Person,
    id: &str,
    f: Frame,
) -> Result<Response, PageError> {
    let mine = person.caller.subject.references();
    let found = search(
        state,
        person,
        "Communication",
        &format!(
            "subject=Patient/{id}&category={}|messages&_count=200",
            kring_access::category::CATEGORY_SYSTEM
        ),
    )
    .await;
    let mut values: Vec<serde_json::Value> = found
        .iter()
        .map(json)
        .filter(kring_access::category::is_message_json)
        .collect();
    values.sort_by(|a, b| b["sent"].as_str().cmp(&a["sent"].as_str()));
    let recipients = recipients(state, person, id, &mine).await;
    let mut refs: Vec<String> = recipients.iter().map(|(r, _)| r.clone()).collect();
    for v in &values {
        refs.extend(kring_access::category::message_parties(
            &serde_json::to_vec(v).unwrap_or_default(),
        ));
    }
    let names = Names::of(state, person, refs.iter().map(String::as_str)).await;
    let name = |r: &str| {
        if mine.iter().any(|m| m == r) {
            f.t.get("messages-you")
        } else {
            names.name(r)
        }
    };
    let messages = values
        .iter()
        .map(|v| {
            let sender = v["sender"]["reference"].as_str().unwrap_or_default();
            MessageView {
                from: name(sender),
                to: v["recipient"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["reference"].as_str())
                    .map(name)
                    .collect::<Vec<_>>()
                    .join(", "),
                when: dates::fhir(v["sent"].as_str().unwrap_or_default(), person.lang),
                text: kring_record::messages::text_of(v),
                mine: mine.iter().any(|m| m == sender),
            }
        })
        .collect();
    let recipients = recipients
        .into_iter()
        .map(|(r, _)| {
            let n = names.name(&r);
            (r, n)
        })
        .collect();
    Ok(render::page(
        &MessagesPage {
            f,
            client: id.to_string(),
            messages,
            recipients,
        },
        person.lang,
        person.set_lang,
    ))
}

/// Whom the person may write to about client `id`: the professionals with a running
/// membership in the circle (in person or by role), and — for a professional — the client,
/// the client's parents with authority and the supporters the client chose; for a supporter,
/// the professionals who wrote to them. Never oneself.
async fn recipients(
    state: &AppState,
    person: &Person,
    id: &str,
    mine: &[String],
) -> Vec<(String, String)> {
    let today = dates::today();
    let mut out: Vec<String> = Vec::new();
    // A supporter does not see the circle: they answer those who wrote to them.
    if matches!(person.caller.subject, Subject::Supporter { .. }) {
        for m in search(
            state,
            person,
            "Communication",
            &format!(
                "subject=Patient/{id}&category={}|messages&_count=200",
                kring_access::category::CATEGORY_SYSTEM
            ),
        )
        .await
        {
            out.extend(kring_access::category::message_parties(&m.body));
        }
        out.retain(|r| !mine.contains(r) && r.starts_with("PractitionerRole/"));
        out.sort();
        out.dedup();
        return out.into_iter().map(|r| (r, String::new())).collect();
    }
    for c in search(
        state,
        person,
        "CareTeam",
        &format!("subject=Patient/{id}&_count=20"),
    )
    .await
    {
        let circle = Circle::from_json(&c.id, &json(&c));
        if !circle.active {
            continue;
        }
        for m in circle.memberships.iter().filter(|m| m.running(today)) {
            if m.member.starts_with("PractitionerRole/") || m.member.starts_with("Practitioner/") {
                out.push(m.member.clone());
            }
        }
    }
    if matches!(person.caller.subject, Subject::Professional { .. }) {
        out.push(format!("Patient/{id}"));
        for rp in search(
            state,
            person,
            "RelatedPerson",
            &format!("patient=Patient/{id}&_count=20"),
        )
        .await
        {
            let v = json(&rp);
            // Parents with authority, and supporters the client chose.
            let coded = v["relationship"].as_array().is_some_and(|rs| {
                rs.iter().any(|r| {
                    r["coding"].as_array().is_some_and(|cs| {
                        cs.iter().any(|c| {
                            (c["system"] == kring_access::facts::AUTHORITY_SYSTEM
                                && c["code"] == "gezag")
                                || (c["system"] == kring_access::facts::SUPPORTER_SYSTEM
                                    && c["code"] == "supporter")
                        })
                    })
                })
            });
            if coded && v["active"] != false {
                out.push(format!("RelatedPerson/{}", rp.id));
            }
        }
    }
    out.retain(|r| !mine.contains(r));
    out.sort();
    out.dedup();
    out.into_iter().map(|r| (r, String::new())).collect()
}

#[derive(Deserialize, Default)]
pub struct SendForm {
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    text: String,
}

/// `POST /clienten/{id}/berichten`: sends a message to the chosen people.
pub async fn send(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<SendForm>,
) -> Result<Response, PageError> {
    person.reads_client_pages()?;
    let ctx = client_ctx::open_tab(&state, &person, &id, "messages", "/berichten").await?;
    let mine = person.caller.subject.references();
    let allowed: Vec<String> = recipients(&state, &person, &id, &mine)
        .await
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let to: Vec<String> = form
        .to
        .iter()
        .filter(|r| allowed.contains(r))
        .cloned()
        .collect();
    let text: String = form.text.trim().chars().take(4000).collect();
    if to.is_empty() || text.is_empty() {
        let mut f = ctx.frame(&person, "messages-title");
        f.error = Some(f.t.get("messages-incomplete"));
        return render_page(&state, &person, &id, f).await;
    }
    let Some(sender) = mine.first() else {
        return Err(person.not_for_you());
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let message = kring_record::messages::message(&id, sender, &to, &text, &now);
    match state
        .record
        .create(&person.caller, "Communication", message, None)
        .await
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("/clienten/{id}/berichten?klaar=verzonden")).into_response())
        }
        Err(e) => {
            let mut f = ctx.frame(&person, "messages-title");
            f.error = Some(render::sentence(&e, person.lang));
            render_page(&state, &person, &id, f).await
        }
    }
}

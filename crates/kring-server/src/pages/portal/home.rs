//! `GET /mijn`: the portal's start page. Whose record it is; what is new since the last visit
//! (reports written for the client, changes to the plan and the crisis plan, new people in
//! the circle, emergency access); the next agreements and appointments. The last visit is
//! kept in the person's own account, like a professional's visits.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use kring_access::circle::Circle;
use kring_access::Subject;
use kring_record::plan::agreements;
use kring_record::reports::{for_client, is_report, text_of};
use kring_record::{Caller, Handling, SearchRequest};
use serde::Deserialize;
use serde_json::Value;

use super::Own;
use crate::auth::accounts;
use crate::pages::admin::{emergency_notices_about, Notice};
use crate::pages::error::PageError;
use crate::pages::form::CsrfForm;
use crate::pages::names::{json, search, ClientName, Names};
use crate::pages::work::{see, Done};
use crate::pages::{dates, render, Frame, Person};
use crate::AppState;

/// The key under which the person's last visit of the start page is kept, per child (a parent
/// of several children visits each).
fn visit_key(client: &str) -> String {
    format!("portal-start-{client}")
}
/// Without an earlier visit, "new" is what happened in this many days.
const NEW_DAYS: i64 = 30;
/// How many of each kind of thing the page lists.
const LISTED: usize = 5;

/// One new thing.
pub struct NewRow {
    pub when: String,
    pub text: String,
    pub href: String,
}

/// One agreement or appointment ahead.
pub struct AheadRow {
    pub when: String,
    pub what: String,
    pub who: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    f: Frame,
    id: String,
    since: String,
    news: Vec<NewRow>,
    notices: Vec<Notice>,
    agreements: Vec<AheadRow>,
    appointments: Vec<AheadRow>,
    /// The record could not be read (a parent whose child turned 16 …).
    closed: bool,
    /// A parent of several children: (patient id, the child by name, the one shown).
    children: Vec<(String, String, bool)>,
}

/// The children a parent's account acts for, by name (each read as the parent of that
/// child: the decision point decides, and logs it); empty for one child.
async fn children(state: &AppState, person: &Person) -> Vec<(String, String, bool)> {
    let Subject::Representative { account, .. } = &person.caller.subject else {
        return vec![];
    };
    if person.account.children.len() < 2 {
        return vec![];
    }
    let mut out = Vec::new();
    for link in &person.account.children {
        let caller = Caller {
            subject: Subject::Representative {
                account: account.clone(),
                related_person: link.related_person.clone(),
                patient: link.patient.clone(),
            },
            ..person.caller.clone()
        };
        let name = state
            .record
            .search(
                &caller,
                &SearchRequest::from_query("Patient", &format!("_id={}", link.patient)),
                Handling::Strict,
            )
            .await
            .ok()
            .and_then(|o| {
                o.matches
                    .first()
                    .map(|p| ClientName::of(p).full(person.lang))
            })
            .unwrap_or_else(|| person.texts().get("portal-child-closed"));
        let current = person.account.patient.as_deref() == Some(link.patient.as_str());
        out.push((link.patient.clone(), name, current));
    }
    out
}

#[derive(Deserialize)]
pub struct ChooseChild {
    #[serde(default)]
    kind: String,
}

/// `POST /mijn/kind`: a parent of several children chooses whose record the portal shows.
pub async fn choose_child(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<ChooseChild>,
) -> Result<Response, PageError> {
    let Some(link) = person
        .account
        .children
        .iter()
        .find(|c| c.patient == form.kind)
        .cloned()
    else {
        return Err(person.not_found());
    };
    // Re-read the account just before saving, so a change made meanwhile is kept.
    let mut account = accounts::load(&*state.accounts, &person.account.username)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| person.not_found())?;
    account.patient = Some(link.patient);
    account.related_person = Some(link.related_person);
    accounts::save(&*state.accounts, &account)
        .await
        .map_err(|_| {
            PageError::Unavailable(
                Box::new(person.frame("error-title")),
                person.texts().get("account-unavailable"),
            )
        })?;
    Ok(see("/mijn", "child-chosen"))
}

/// `GET /mijn`.
pub async fn page(
    State(state): State<AppState>,
    person: Person,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    // A supporter starts at the plan of the one they support.
    if super::is_supporter(&person) {
        let (client, _, _) = super::whose(&person)?;
        let to = format!("/clienten/{client}/plan");
        return Ok(axum::response::IntoResponse::into_response(
            axum::response::Redirect::to(&to),
        ));
    }
    let own = Own::of(&state, &person).await?;
    let t = person.texts();
    let now = crate::auth::now_ms();
    let since_ms = crate::pages::visits::last_visit(&person, &visit_key(&own.client))
        .unwrap_or(now - NEW_DAYS * 86_400_000);
    let id = own.client.clone();
    let mut f = own.frame(&person, "portal-home-title", "/mijn");
    f.message = done.message(&person, &["child-chosen"]);
    let Some(_) = &own.name else {
        // Nothing of the record can be read: say so plainly, and why it may be.
        f.error = Some(t.get(if own.representative {
            "portal-closed-parent"
        } else {
            "portal-closed"
        }));
        return Ok(render::page(
            &HomePage {
                f,
                id,
                since: String::new(),
                news: vec![],
                notices: vec![],
                agreements: vec![],
                appointments: vec![],
                closed: true,
                children: children(&state, &person).await,
            },
            person.lang,
            person.set_lang,
        ));
    };
    let subject = format!("subject=Patient/{id}&_count=1000");
    let plans = search(&state, &person, "CarePlan", &subject).await;
    let communications = search(&state, &person, "Communication", &subject).await;
    let circles = search(&state, &person, "CareTeam", &subject).await;
    let appointments = search(
        &state,
        &person,
        "Appointment",
        &format!("actor=Patient/{id}&_count=1000"),
    )
    .await;
    let sent = |v: &Value| v["sent"].as_str().and_then(dates::fhir_ms);

    // What is new.
    let mut news: Vec<(i64, NewRow)> = Vec::new();
    let mut reports: Vec<Value> = communications
        .iter()
        .map(json)
        .filter(|v| is_report(v) && for_client(v))
        .filter(|v| sent(v).is_some_and(|s| s > since_ms))
        .collect();
    reports.sort_by_key(|v| std::cmp::Reverse(sent(v)));
    for v in reports.iter().take(LISTED) {
        let at = sent(v).unwrap_or(0);
        let mut text = text_of(v);
        if text.chars().count() > 120 {
            text = text.chars().take(117).collect::<String>() + "…";
        }
        news.push((
            at,
            NewRow {
                when: dates::moment(at, person.lang),
                text: t.arg("portal-new-report", "text", &text),
                href: format!("/clienten/{id}/rapportages"),
            },
        ));
    }
    // Changes to the plans since the last visit, except the person's own (a comment …).
    for p in plans
        .iter()
        .filter(|p| p.last_updated > since_ms)
        .filter(|p| kring_record::meta::changed_by(&json(p)) != Some(own.me.as_str()))
    {
        let crisis = kring_access::category::is_crisis_plan(&p.body);
        news.push((
            p.last_updated,
            NewRow {
                when: dates::moment(p.last_updated, person.lang),
                text: t.get(if crisis {
                    "portal-new-crisis-plan"
                } else {
                    "portal-new-plan"
                }),
                href: format!(
                    "/clienten/{id}/{}",
                    if crisis { "crisisplan" } else { "plan" }
                ),
            },
        ));
    }
    let since_day = dates::local(since_ms).date_naive();
    let mut joined: Vec<(chrono::NaiveDate, String)> = Vec::new();
    for c in &circles {
        for m in Circle::from_json(&c.id, &json(c)).memberships {
            if let Some(start) = m.period.start.filter(|s| *s >= since_day) {
                joined.push((start, m.member.clone()));
            }
        }
    }
    // Plans of which the client's own part is shown, agreements by whom: all names at once.
    let support = plans
        .iter()
        .filter(|p| !kring_access::category::is_crisis_plan(&p.body))
        .filter(|p| json(p)["status"] == "active")
        .max_by_key(|p| p.last_updated)
        .map(json);
    let open: Vec<kring_record::plan::Agreement> = support
        .as_ref()
        .map(agreements)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.open())
        .collect();
    let refs: Vec<String> = joined
        .iter()
        .map(|(_, m)| m.clone())
        .chain(open.iter().filter_map(|a| a.performer.clone()))
        .collect();
    let names = Names::of(&state, &person, refs.iter().map(String::as_str)).await;
    for (start, member) in joined {
        let at = kring_record::medication::due_ms(start, chrono::NaiveTime::MIN);
        news.push((
            at,
            NewRow {
                when: dates::day(start, person.lang),
                text: t.arg("portal-new-member", "who", &names.name(&member)),
                href: "/mijn/kring".into(),
            },
        ));
    }
    // Accesses by an organisation outside the circle since the last visit (emergency access
    // is among the notices below).
    let log = state
        .record
        .read_log(
            &person.caller,
            &kring_record::LogRequest {
                client: Some(id.clone()),
                from_ms: Some(since_ms),
                count: 500,
                ..kring_record::LogRequest::default()
            },
            "page-view",
        )
        .await
        .unwrap_or_default();
    let circle_orgs = crate::pages::access_log::circle_organisations(&circles);
    let outsiders: Vec<_> = log
        .iter()
        .filter(|e| !e.is_emergency() && crate::pages::access_log::by_outsider(e, &circle_orgs))
        .collect();
    if let Some(latest) = outsiders.iter().map(|e| e.recorded_ms()).max() {
        news.push((
            latest,
            NewRow {
                when: dates::moment(latest, person.lang),
                text: t.count("portal-new-outsiders", "count", outsiders.len() as i64, &[]),
                href: "/wie-keek".into(),
            },
        ));
    }
    news.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let news = news.into_iter().map(|(_, row)| row).collect();

    // What is ahead.
    let today = dates::today();
    let mut open = open;
    open.sort_by_key(|a| (a.due.is_none(), a.due));
    let agreements = open
        .iter()
        .take(LISTED)
        .map(|a| AheadRow {
            when: a
                .due
                .map(|d| dates::day(d, person.lang))
                .unwrap_or_default(),
            what: a.description.clone(),
            who: a
                .performer
                .as_deref()
                .map(|p| {
                    if p == own.me || p == format!("Patient/{id}") {
                        t.get(if own.representative {
                            "portal-who-child"
                        } else {
                            "portal-who-you"
                        })
                    } else {
                        names.name(p)
                    }
                })
                .unwrap_or_default(),
            overdue: a.overdue(today),
        })
        .collect();
    let mut ahead: Vec<(i64, Value)> = appointments
        .iter()
        .map(json)
        .filter(|v| v["status"] != "cancelled")
        .filter_map(|v| {
            v["start"]
                .as_str()
                .and_then(dates::fhir_ms)
                .filter(|s| *s >= now)
                .map(|s| (s, v))
        })
        .collect();
    ahead.sort_by_key(|(s, _)| *s);
    let appointments = ahead
        .iter()
        .take(LISTED)
        .map(|(s, v)| AheadRow {
            when: dates::moment(*s, person.lang),
            what: v["description"]
                .as_str()
                .or_else(|| v["serviceType"][0]["text"].as_str())
                .unwrap_or_default()
                .to_string(),
            who: String::new(),
            overdue: false,
        })
        .collect();
    let notices = emergency_notices_about(&state, &person, NEW_DAYS, &id).await;
    let since = dates::moment(since_ms, person.lang);
    crate::pages::visits::record_visit(&state, &person, &visit_key(&id)).await;
    Ok(render::page(
        &HomePage {
            f,
            id,
            since,
            news,
            notices,
            agreements,
            appointments,
            closed: false,
            children: children(&state, &person).await,
        },
        person.lang,
        person.set_lang,
    ))
}

//! The access log for people: "who looked at my file?" for clients and their representatives
//! — in plain words, with emergency access marked and a chart per day — and the privacy
//! officer's view per client and per staff member with filters. Both read the log through the
//! record, which decides and logs the reading itself.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kring_access::category::Category;
use kring_access::Reason;
use kring_access::Subject;
use kring_audit::AccessEntry;
use kring_fhir::datetime::dutch_offset_ms;
use kring_record::LogRequest;
use serde::Deserialize;

use super::clients::category_name;
use super::error::PageError;
use super::form::CsrfForm;
use super::i18n::{Lang, Texts};
use super::names::names_of;
use super::{render, Frame, Person};
use crate::AppState;

/// One line of "who looked".
struct Row {
    when: String,
    who: String,
    what: String,
    why: String,
    emergency: bool,
    /// The reason stated for emergency access (empty otherwise).
    reason: String,
    /// Someone of an organisation that is not in the client's circle.
    outside: bool,
}

#[derive(Template)]
#[template(path = "who_looked.html")]
struct WhoLookedPage {
    f: Frame,
    from: String,
    to: String,
    rows: Vec<Row>,
    chart: String,
    /// The client's own views and their representatives' are shown.
    with_own: bool,
    /// How many of those were left out, in words (empty when none).
    own_left_out: String,
}

/// One line of the officer's view.
struct OfficerRow {
    id: u64,
    when: String,
    who: String,
    client: String,
    what: String,
    outcome: String,
    grounds: String,
    reasons: String,
    emergency: bool,
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct OfficerPage {
    f: Frame,
    client: String,
    user: String,
    from: String,
    to: String,
    only: String,
    rows: Vec<OfficerRow>,
}

#[derive(Deserialize, Default)]
pub struct Period {
    #[serde(default)]
    van: String,
    #[serde(default)]
    tot: String,
    /// `ja`: show the client's own views and their representatives' too.
    #[serde(default)]
    eigen: String,
}

/// Start of the day `date` (YYYY-MM-DD) in Dutch time, as ms; the end of that day when `end`.
fn day_ms(date: &str, end: bool) -> Option<i64> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let d = if end { d.succ_opt()? } else { d };
    let midnight = Utc
        .from_utc_datetime(&d.and_hms_opt(0, 0, 0)?)
        .timestamp_millis();
    Some(midnight - dutch_offset_ms(midnight) - i64::from(end))
}

/// `dd-mm-jjjj uu:mm` in Dutch time.
pub(super) fn local(ms: i64) -> (String, String) {
    let t = DateTime::<Utc>::from_timestamp_millis(ms + dutch_offset_ms(ms)).unwrap_or_default();
    (
        t.format("%d-%m-%Y %H:%M").to_string(),
        t.format("%Y-%m-%d").to_string(),
    )
}

/// Names of the organisations the entries mention, looked up as this person.
async fn organisation_names(
    state: &AppState,
    person: &Person,
    entries: &[AccessEntry],
) -> BTreeMap<String, String> {
    let orgs = entries.iter().map(|e| e.user.organisation.as_str());
    names_of(state, person, "Organization", orgs, |v| {
        v["name"].as_str().unwrap_or_default().to_string()
    })
    .await
}

/// Who, in the client's words.
fn who(e: &AccessEntry, t: &Texts, orgs: &BTreeMap<String, String>, me: &str) -> String {
    let org = orgs.get(&e.user.organisation).cloned().unwrap_or_else(|| {
        e.user
            .organisation
            .trim_start_matches("Organization/")
            .to_string()
    });
    match e.user.role.as_str() {
        r if r.starts_with("PractitionerRole/") => {
            let name = if e.user.name.is_empty() {
                t.get("who-professional")
            } else {
                format!("{} ({})", e.user.name, t.get("who-professional"))
            };
            format!("{name}, {org}")
        }
        "partner-system" => format!("{} {org}", t.get("who-system")),
        "client" if e.user.person == me => t.get("who-you"),
        "representative" => t.get("who-representative"),
        "privacy-officer" => format!("{} {org}", t.get("who-officer")),
        "administrator" => format!("{} {org}", t.get("who-administrator")),
        _ => t.get("who-operator"),
    }
}

/// What, in plain words: "bekeek: crisisplan".
fn what(e: &AccessEntry, t: &Texts, lang: Lang) -> String {
    let verb = match (e.action.as_str(), e.interaction.as_str()) {
        ("R", i) if i.starts_with("search") => "did-search",
        ("R", _) => "did-read",
        ("C", _) => "did-create",
        ("U", _) => "did-update",
        ("D", _) => "did-delete",
        _ => "did-export",
    };
    let data = Category::from_code(&e.data.category)
        .map(|c| category_name(c, lang).to_string())
        .unwrap_or_else(|| e.data.resource_type.clone());
    format!("{}: {data}", t.get(verb))
}

/// Why, in plain words.
fn why(e: &AccessEntry, t: &Texts) -> String {
    if e.outcome != "success" {
        return t.get("why-denied");
    }
    if e.is_emergency() {
        return t.get("why-emergency");
    }
    let mut reasons: Vec<String> = Vec::new();
    for r in e.reasons.iter().filter_map(|r| r.parse::<Reason>().ok()) {
        let key = match r {
            Reason::Membership { .. } => "why-circle",
            Reason::Consent(_) => "why-consent",
            Reason::Authority(_) => "why-authority",
            Reason::Grant(_) => "why-grant",
            _ => continue,
        };
        let text = t.get(key);
        if !reasons.contains(&text) {
            reasons.push(text);
        }
    }
    if reasons.is_empty() {
        reasons.push(t.get(match e.purpose.as_str() {
            "PATRQT" => "why-own",
            "HOPERAT" => "why-oversight",
            "HSYSADMIN" => "why-admin",
            _ => "why-other",
        }));
    }
    reasons.join(", ")
}

/// A bar chart of accesses per day, as inline SVG with a text alternative.
fn chart(per_day: &BTreeMap<String, usize>, title: &str) -> String {
    let Some(max) = per_day.values().copied().max() else {
        return String::new();
    };
    let days: Vec<(&String, &usize)> = per_day.iter().rev().take(31).collect::<Vec<_>>();
    let days: Vec<_> = days.into_iter().rev().collect();
    let (w, h, bar) = (days.len() * 22 + 10, 140usize, 18usize);
    let mut svg = format!(
        "<svg role=\"img\" aria-labelledby=\"chart-title\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\"><title id=\"chart-title\">{title}: {}</title>",
        days.iter()
            .map(|(d, n)| format!("{d} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, (day, n)) in days.iter().enumerate() {
        let height = (**n * 100) / max.max(1);
        let x = 5 + i * 22;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{height}\" fill=\"#12355b\"><title>{day}: {n}</title></rect><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{n}</text><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            110 - height,
            x + bar / 2,
            105 - height,
            x + bar / 2,
            125,
            &day[8..10],
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// The organisations of a client's circles (`Organization/…`): of members on behalf of one,
/// and organisations that are members themselves.
pub(super) fn circle_organisations(circles: &[kring_record::Versioned]) -> BTreeSet<String> {
    circles
        .iter()
        .flat_map(|c| {
            kring_access::circle::Circle::from_json(&c.id, &super::names::json(c)).memberships
        })
        .flat_map(|m| {
            [
                m.organisation.map(|o| format!("Organization/{o}")),
                m.member
                    .starts_with("Organization/")
                    .then(|| m.member.clone()),
            ]
        })
        .flatten()
        .collect()
}

/// A successful access by a professional or partner system of an organisation outside the
/// client's circle (`circle`: [`circle_organisations`]) — emergency access, or a ground the
/// client may want to know of.
pub(super) fn by_outsider(e: &AccessEntry, circle: &BTreeSet<String>) -> bool {
    let org = &e.user.organisation;
    e.outcome == "success"
        && !org.is_empty()
        && (e.user.role.starts_with("PractitionerRole/") || e.user.role == "partner-system")
        && !circle.contains(org)
        && !circle.contains(&format!("Organization/{org}"))
}

/// `GET /wie-keek`: who looked at my (or my child's) file.
pub async fn who_looked(
    State(state): State<AppState>,
    person: Person,
    Query(period): Query<Period>,
) -> Result<Response, PageError> {
    let (patient, me) = match &person.caller.subject {
        Subject::Client { patient, .. } => (patient.clone(), format!("Patient/{patient}")),
        Subject::Representative {
            patient,
            related_person,
            ..
        } => (patient.clone(), format!("RelatedPerson/{related_person}")),
        _ => return Err(person.not_for_you()),
    };
    let req = LogRequest {
        client: Some(patient.clone()),
        from_ms: day_ms(&period.van, false),
        to_ms: day_ms(&period.tot, true),
        count: 500,
        ..LogRequest::default()
    };
    let entries = state
        .record
        .read_log(&person.caller, &req, "page-view")
        .await
        .map_err(|e| person.failed(e))?;
    let t = Texts { lang: person.lang };
    let orgs = organisation_names(&state, &person, &entries).await;
    let mut per_day: BTreeMap<String, usize> = BTreeMap::new();
    // The client's own views and their representatives' say nothing new: left out unless asked.
    let with_own = period.eigen == "ja";
    let own = |e: &&AccessEntry| matches!(e.user.role.as_str(), "client" | "representative");
    let left_out = if with_own {
        0
    } else {
        entries.iter().filter(own).count()
    };
    let own_left_out = if left_out == 0 {
        String::new()
    } else {
        t.count("who-looked-own-left-out", "count", left_out as i64, &[])
    };
    // The organisations of the client's circle: an access by anyone else is marked.
    let circles = super::names::search(
        &state,
        &person,
        "CareTeam",
        &format!("subject=Patient/{patient}&_count=20"),
    )
    .await;
    let circle_orgs = circle_organisations(&circles);
    let outside = |e: &AccessEntry| by_outsider(e, &circle_orgs);
    // The reasons stated when the glass was broken, by the declaration they ground.
    let stated: BTreeMap<String, String> = entries
        .iter()
        .filter(|e| !e.stated_reason.is_empty())
        .map(|e| {
            (
                format!("{}/{}", e.data.resource_type, e.data.id),
                e.stated_reason.clone(),
            )
        })
        .collect();
    let reason_of = |e: &AccessEntry| {
        if !e.stated_reason.is_empty() {
            return e.stated_reason.clone();
        }
        e.grounds
            .iter()
            .find_map(|g| stated.get(g).cloned())
            .unwrap_or_default()
    };
    let rows = entries
        .iter()
        .filter(|e| !e.recorded.is_empty())
        .filter(|e| with_own || !own(e))
        .map(|e| {
            let (_, day) = local(e.recorded_ms());
            *per_day.entry(day).or_default() += 1;
            Row {
                when: super::dates::moment(e.recorded_ms(), person.lang),
                who: who(e, &t, &orgs, &me),
                what: what(e, &t, person.lang),
                why: why(e, &t),
                emergency: e.is_emergency(),
                reason: if e.is_emergency() {
                    reason_of(e)
                } else {
                    String::new()
                },
                outside: outside(e),
            }
        })
        .collect();
    let f =
        super::portal::Own::of(&state, &person)
            .await?
            .frame(&person, "who-looked", "/wie-keek");
    let chart = chart(&per_day, &t.get("accesses-per-day"));
    Ok(render::page(
        &WhoLookedPage {
            f,
            from: period.van,
            to: period.tot,
            rows,
            chart,
            with_own,
            own_left_out,
        },
        person.lang,
        person.set_lang,
    ))
}

#[derive(Deserialize, Default)]
pub struct OfficerFilter {
    #[serde(default)]
    client: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    van: String,
    #[serde(default)]
    tot: String,
    #[serde(default)]
    only: String,
}

/// `GET /toegangslog`: the privacy officer's view, latest first.
pub async fn officer_page(
    State(state): State<AppState>,
    person: Person,
) -> Result<Response, PageError> {
    officer(&state, person, OfficerFilter::default()).await
}

/// `POST /toegangslog`: the same with filters (in the body: staff account names stay out of
/// URLs and server logs).
pub async fn officer_search(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(filter): CsrfForm<OfficerFilter>,
) -> Result<Response, PageError> {
    officer(&state, person, filter).await
}

async fn officer(
    state: &AppState,
    person: Person,
    filter: OfficerFilter,
) -> Result<Response, PageError> {
    let Subject::Officer { organisation, .. } = &person.caller.subject else {
        return Err(person.not_for_you());
    };
    let mut req = LogRequest {
        from_ms: day_ms(&filter.van, false),
        to_ms: day_ms(&filter.tot, true),
        count: 200,
        ..LogRequest::default()
    };
    match filter.only.as_str() {
        "denied" => req.outcome = vec!["denied".into()],
        "emergency" => req.purpose = Some("ETREAT".into()),
        _ => {}
    }
    let client = filter
        .client
        .trim()
        .trim_start_matches("Patient/")
        .to_string();
    let user = filter.user.trim().to_string();
    if !client.is_empty() {
        req.client = Some(client.clone());
    }
    if !user.is_empty() {
        let id = if user.contains('/') {
            user.clone()
        } else {
            format!("account/{user}")
        };
        if client.is_empty() {
            req.user = Some((id, organisation.clone()));
        } else {
            req.agent = Some(id);
        }
    }
    let entries = state
        .record
        .read_log(&person.caller, &req, "page-view")
        .await
        .map_err(|e| person.failed(e))?;
    let t = Texts { lang: person.lang };
    let orgs = organisation_names(state, &person, &entries).await;
    let rows = entries
        .iter()
        .map(|e| {
            let mut who_text = format!("{} · {}", e.user.id, who(e, &t, &orgs, ""));
            if !e.on_behalf_of.is_empty() {
                who_text.push_str(&format!(" ({})", e.on_behalf_of));
            }
            OfficerRow {
                id: e.id,
                when: super::dates::moment(e.recorded_ms(), person.lang),
                who: who_text,
                client: e.client.clone(),
                what: if e.data.id.is_empty() || e.data.id.contains('/') {
                    format!("{} · {}", what(e, &t, person.lang), e.data.id)
                } else {
                    format!(
                        "{} · {}/{}",
                        what(e, &t, person.lang),
                        e.data.resource_type,
                        e.data.id
                    )
                },
                outcome: if e.is_emergency() {
                    format!("{} · {}", t.get("why-emergency"), e.outcome)
                } else {
                    e.outcome.clone()
                },
                grounds: e.grounds.join(", "),
                reasons: e.reasons.join(", "),
                emergency: e.is_emergency(),
            }
        })
        .collect();
    let f = person.frame("access-log");
    Ok(render::page(
        &OfficerPage {
            f,
            client,
            user,
            from: filter.van,
            to: filter.tot,
            only: filter.only,
            rows,
        },
        person.lang,
        person.set_lang,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_time_follows_summer_and_winter_time() {
        // 2026-07-01 10:00 UTC is 12:00 in Amsterdam; 2026-12-01 10:00 UTC is 11:00.
        let summer = Utc
            .with_ymd_and_hms(2026, 7, 1, 10, 0, 0)
            .unwrap()
            .timestamp_millis();
        let winter = Utc
            .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(local(summer).0, "01-07-2026 12:00");
        assert_eq!(local(winter).0, "01-12-2026 11:00");
        // A day's range in Dutch time.
        assert_eq!(
            day_ms("2026-12-01", false),
            Some(
                Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0)
                    .unwrap()
                    .timestamp_millis()
            )
        );
    }
}

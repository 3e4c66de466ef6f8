//! What pages show instead of ids: the names of the professionals, roles, organisations,
//! teams, clients and relatives a page mentions, looked up through the record as the person
//! reading the page (so every look-up is decided and logged like any other), and clients
//! shown with name, date of birth and age. A reference whose name the person may not see is
//! shown by what it is ("een professional"), never as `Type/id`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use kring_record::{Handling, SearchRequest, Versioned};
use serde_json::Value;

use super::dates;
use super::i18n::{Lang, Texts};
use super::Person;
use crate::AppState;

/// The JSON of a stored version.
pub fn json(v: &Versioned) -> Value {
    serde_json::from_slice(&v.body).unwrap_or_default()
}

/// A person's name as written (`text`, else given and family names).
pub fn human_name(v: &Value) -> String {
    let n = v["name"]
        .as_array()
        .and_then(|names| {
            names
                .iter()
                .find(|n| n["use"] == "official")
                .or_else(|| names.first())
        })
        .cloned()
        .unwrap_or_default();
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

/// A client as people tell clients apart: name, date of birth and age.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientName {
    pub id: String,
    pub name: String,
    pub birth: Option<NaiveDate>,
}

impl ClientName {
    pub fn of(p: &Versioned) -> ClientName {
        let v = json(p);
        ClientName {
            id: p.id.clone(),
            name: human_name(&v),
            birth: v["birthDate"]
                .as_str()
                .and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok()),
        }
    }

    /// `Jan de Vries (12 mrt 2010, 16 jaar)`.
    pub fn full(&self, lang: Lang) -> String {
        match self.birth {
            Some(b) => Texts { lang }.with(
                "client-with-birth",
                &[
                    ("name", &self.name),
                    ("birth", &dates::day(b, lang)),
                    ("age", &dates::age(b, dates::today()).to_string()),
                ],
            ),
            None => self.name.clone(),
        }
    }
}

/// A search through the record as this person: every match (see [`search_as`]); a failed
/// search is logged and shows nothing.
pub async fn search(state: &AppState, person: &Person, rtype: &str, query: &str) -> Vec<Versioned> {
    search_as(&state.record, &person.caller, rtype, query).await
}

/// One page of a search as this person, `_count` as asked: for a page that shows at most so
/// many (and says when there are more), so that it neither reads nor logs the rest.
pub async fn first_page(
    state: &AppState,
    person: &Person,
    rtype: &str,
    query: &str,
) -> Vec<Versioned> {
    searched(&state.record, &person.caller, rtype, query, Pages::First).await
}

/// How much of a search a page reads.
#[derive(Clone, Copy, PartialEq)]
enum Pages {
    First,
    All,
}

/// The most resources one page's search reads: beyond this a page would be too slow to use
/// anyway, and the cut is logged (a warning with the search's shape).
const MAX_PAGE_SEARCH: usize = 20_000;

/// A search through the record as `caller` (a page's person, or the system writing the
/// downtime kits): every match, not only the first page of `_count` — a client's 1,001st
/// report or an appointment past the first thousand is still found. Each further page is a
/// search of its own through the record (`_offset`), decided and logged like the first. A
/// failed search is logged and shows nothing.
pub(crate) async fn search_as(
    record: &kring_record::Record,
    caller: &kring_record::Caller,
    rtype: &str,
    query: &str,
) -> Vec<Versioned> {
    searched(record, caller, rtype, query, Pages::All).await
}

async fn searched(
    record: &kring_record::Record,
    caller: &kring_record::Caller,
    rtype: &str,
    query: &str,
    pages: Pages,
) -> Vec<Versioned> {
    let started = std::time::Instant::now();
    // The type and the parameter names, never their values (client ids, names): what the log
    // may say about a page's search.
    let shape = || {
        query
            .split('&')
            .filter_map(|p| p.split('=').next())
            .collect::<Vec<&str>>()
            .join("&")
    };
    let mut matches: Vec<Versioned> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut request = SearchRequest::from_query(rtype, query);
    loop {
        let found = match record.search(caller, &request, Handling::Strict).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, rtype, "search failed");
                return vec![];
            }
        };
        if found.offset == 0 {
            matches.extend(found.matches);
        } else {
            // A resource written between two pages can shift the next one: none is shown
            // twice.
            if seen.is_empty() {
                seen.extend(matches.iter().map(|m| m.id.clone()));
            }
            for m in found.matches {
                if seen.insert(m.id.clone()) {
                    matches.push(m);
                }
            }
        }
        // (`_count=0` asks for no page at all: nothing to follow.)
        if pages == Pages::First || !found.more || found.count == 0 {
            break;
        }
        let next = found.offset + found.count;
        if next >= MAX_PAGE_SEARCH {
            tracing::warn!(
                rtype,
                shape = %shape(),
                matches = matches.len(),
                "page search cut off: more matches than a page reads"
            );
            break;
        }
        request.params.retain(|(name, _)| name != "_offset");
        request.params.push(("_offset".into(), next.to_string()));
    }
    // A page's slow search by its shape: what to look at when a page is slow.
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if ms >= 500.0 {
        tracing::warn!(rtype, shape = %shape(), matches = matches.len(), ms, "slow page search");
    } else if ms >= 5.0 {
        tracing::debug!(rtype, shape = %shape(), matches = matches.len(), ms, "page search");
    }
    matches
}

/// Names of the references a page shows.
#[derive(Debug, Default, Clone)]
pub struct Names {
    by_ref: BTreeMap<String, String>,
    /// The organisation of each role looked up (`PractitionerRole/…` → `Organization/…`).
    org_of: BTreeMap<String, String>,
    lang: Option<Lang>,
}

impl Names {
    /// Looks up the names of `references` (of any type) as `person`: practitioners, roles
    /// (with their practitioner, role and organisation), organisations, teams, clients and
    /// relatives. Each type is one search.
    pub async fn of<'a>(
        state: &AppState,
        person: &Person,
        references: impl IntoIterator<Item = &'a str>,
    ) -> Names {
        let mut wanted: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for r in references {
            let r = r.split('#').next().unwrap_or(r);
            if let Some((t, id)) = r.rsplit_once('/') {
                let t = t.rsplit('/').next().unwrap_or(t);
                if !id.is_empty() {
                    wanted.entry(t).or_default().insert(id.to_string());
                }
            }
        }
        let mut names = Names {
            by_ref: BTreeMap::new(),
            org_of: BTreeMap::new(),
            lang: Some(person.lang),
        };
        let ids = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(",");
        if let Some(roles) = wanted.get("PractitionerRole") {
            let out = state
                .record
                .search(
                    &person.caller,
                    &SearchRequest::from_query(
                        "PractitionerRole",
                        &format!(
                            "_id={}&_count={}&_include=PractitionerRole:practitioner&_include=PractitionerRole:organization",
                            ids(roles),
                            roles.len()
                        ),
                    ),
                    Handling::Strict,
                )
                .await;
            if let Ok(out) = out {
                let included: BTreeMap<String, Value> = out
                    .included
                    .iter()
                    .map(|v| (format!("{}/{}", v.rtype, v.id), json(v)))
                    .collect();
                for r in &out.matches {
                    let v = json(r);
                    let who = v["practitioner"]["reference"]
                        .as_str()
                        .and_then(|p| included.get(p))
                        .map(human_name)
                        .unwrap_or_default();
                    let role = role_text(&v);
                    let org = v["organization"]["reference"]
                        .as_str()
                        .and_then(|o| included.get(o))
                        .and_then(|o| o["name"].as_str())
                        .unwrap_or_default()
                        .to_string();
                    for (k, n) in [
                        (
                            v["practitioner"]["reference"].as_str().unwrap_or_default(),
                            who.clone(),
                        ),
                        (
                            v["organization"]["reference"].as_str().unwrap_or_default(),
                            org.clone(),
                        ),
                    ] {
                        if !k.is_empty() && !n.is_empty() {
                            names.by_ref.insert(k.to_string(), n);
                        }
                    }
                    let label = [who, role, org]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ");
                    names
                        .by_ref
                        .insert(format!("PractitionerRole/{}", r.id), label);
                    if let Some(o) = v["organization"]["reference"].as_str() {
                        names
                            .org_of
                            .insert(format!("PractitionerRole/{}", r.id), o.to_string());
                    }
                }
            }
        }
        for (rtype, name) in [
            ("Practitioner", human_name as fn(&Value) -> String),
            ("Organization", |v: &Value| {
                v["name"].as_str().unwrap_or_default().to_string()
            }),
            ("CareTeam", |v: &Value| {
                v["name"].as_str().unwrap_or_default().to_string()
            }),
            ("Patient", human_name),
            ("RelatedPerson", human_name),
            ("Location", |v: &Value| {
                v["name"].as_str().unwrap_or_default().to_string()
            }),
        ] {
            let Some(set) = wanted.get(rtype) else {
                continue;
            };
            let missing: BTreeSet<String> = set
                .iter()
                .filter(|id| !names.by_ref.contains_key(&format!("{rtype}/{id}")))
                .cloned()
                .collect();
            if missing.is_empty() {
                continue;
            }
            let query = format!("_id={}&_count={}", ids(&missing), missing.len());
            for v in search(state, person, rtype, &query).await {
                let n = name(&json(&v));
                if !n.is_empty() {
                    names.by_ref.insert(format!("{rtype}/{}", v.id), n);
                }
            }
        }
        names
    }

    /// The organisation (`Organization/…`) of a role the look-up found.
    pub fn organisation_of(&self, role: &str) -> Option<&str> {
        self.org_of.get(role).map(String::as_str)
    }

    /// The name of a reference, when this person may know it.
    pub fn known(&self, reference: &str) -> Option<&str> {
        self.by_ref
            .get(reference.split('#').next().unwrap_or(reference))
            .map(String::as_str)
    }

    /// The name of a reference, or what it is when the name is not known to this person.
    pub fn name(&self, reference: &str) -> String {
        let r = reference.split('#').next().unwrap_or(reference);
        if let Some(n) = self.by_ref.get(r) {
            return n.clone();
        }
        let t = Texts {
            lang: self.lang.unwrap_or(Lang::Nl),
        };
        let kind = r.rsplit_once('/').map(|(t, _)| t).unwrap_or_default();
        t.get(match kind {
            "Practitioner" | "PractitionerRole" => "someone-professional",
            "Organization" => "someone-organisation",
            "CareTeam" => "someone-team",
            "Patient" => "someone-client",
            "RelatedPerson" => "someone-relative",
            _ => "someone",
        })
    }
}

/// The text of a role (`code[0]`: its text, else its first coding's display or code).
pub fn role_text(v: &Value) -> String {
    let c = &v["code"][0];
    c["text"]
        .as_str()
        .or_else(|| c["coding"][0]["display"].as_str())
        .or_else(|| c["coding"][0]["code"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Display names of resources of one type, by reference (`Type/id`), looked up as this
/// person; references of other types, and resources without a name, are left out.
pub async fn names_of<'a>(
    state: &AppState,
    person: &Person,
    rtype: &str,
    references: impl IntoIterator<Item = &'a str>,
    name: fn(&Value) -> String,
) -> BTreeMap<String, String> {
    let prefix = format!("{rtype}/");
    let ids: BTreeSet<&str> = references
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

//! The downtime kit ("noodmap"): what the night shift of a location needs when Kring cannot be
//! reached, written ahead of time onto a folder of the location's own computer — for each
//! client staying there (an Encounter in progress at the location): the crisis plan by phase,
//! the medication doses of the next 24 hours, the circle and the contacts. One self-contained
//! HTML file (no scripts, no links out) and one PDF per location, each with the moment it was
//! made on every page, encrypted with the location's password (age, scrypt) so that the file
//! on the PC is useless without it.
//!
//! Everything is read through the record as the system's downtime-kit writer — decided and
//! logged like any read — and every kit written is itself an access-log entry per client
//! before the file is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use askama::Template;
use chrono::Duration;
use kring_record::{Caller, Handling, Record, SearchRequest, Versioned};
use serde_json::Value;

use crate::pages::dates;
use crate::pages::i18n::{Lang, Texts};

/// Where kits go and how they are locked.
#[derive(Clone)]
pub struct KitSettings {
    /// One folder per location is made inside (`kit_dir`).
    pub dir: PathBuf,
    /// The password a location's staff open their kit with (`kit_passphrase`), for every
    /// location without one of its own.
    pub passphrase: Option<String>,
    /// A password per location (`kit_passwords`: location id → password).
    pub per_location: std::collections::BTreeMap<String, String>,
}

impl KitSettings {
    /// The password of a location's kit.
    pub fn password_of(&self, location: &str) -> Option<&str> {
        self.per_location
            .get(location)
            .or(self.passphrase.as_ref())
            .map(String::as_str)
    }

    /// Reads `kit_passwords`: one location per line, `location-id password` (`#` comments).
    pub fn read_passwords(
        text: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        let mut out = std::collections::BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((location, password)) = line.split_once(char::is_whitespace) else {
                return Err(format!(
                    "line {} of kit_passwords is not 'location-id password'",
                    n + 1
                ));
            };
            out.insert(location.to_string(), password.trim().to_string());
        }
        Ok(out)
    }
}

/// One kit written.
#[derive(Debug, Clone)]
pub struct KitWritten {
    pub location: String,
    pub clients: usize,
    pub html: PathBuf,
    pub pdf: PathBuf,
}

/// A crisis-plan phase with its parts, each with its lines.
pub type PhaseLines = (String, Vec<(String, Vec<String>)>);

/// One client in a kit.
pub struct KitClient {
    pub name: String,
    pub birth: String,
    /// (phase, part, line) of the crisis plan.
    pub crisis: Vec<PhaseLines>,
    pub crisis_updated: String,
    /// (when, medication, dose, high risk).
    pub doses: Vec<(String, String, String, bool)>,
    /// (name, role, organisation, phone).
    pub circle: Vec<(String, String, String, String)>,
    /// (name, relation, phone).
    pub contacts: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "kit.html")]
struct KitPage<'a> {
    t: &'a Texts,
    location: &'a str,
    made: &'a str,
    clients: &'a [KitClient],
}

use crate::pages::names::{human_name as name_of, json, search_as as search};

fn phone_of(v: &Value) -> String {
    v["telecom"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["system"] == "phone")
        .and_then(|t| t["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The caller kits are read as.
pub fn kit_caller() -> Caller {
    Caller::operator("downtime-kit")
}

/// Writes the kit of every location with clients staying there, and of every organisation
/// with clients in its circles but no location with a kit (a wijkteam works from its office,
/// not a location); returns what was written.
pub async fn write_all(
    record: &Record,
    settings: &KitSettings,
    high: &kring_record::medication::HighRisk,
) -> Result<Vec<KitWritten>, String> {
    let caller = kit_caller();
    let locations = search(record, &caller, "Location", "_count=1000").await;
    let mut out = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for l in &locations {
        let v = json(l);
        let name = v["name"].as_str().unwrap_or(&l.id).to_string();
        let ids = crate::pages::work::medication::clients_staying_at(record, &caller, &l.id).await;
        if let Some(w) = write_one(record, &caller, settings, high, &l.id, &name, ids).await? {
            if let Some(org) = v["managingOrganization"]["reference"].as_str() {
                covered.insert(org.trim_start_matches("Organization/").to_string());
            }
            out.push(w);
        }
    }
    for o in search(record, &caller, "Organization", "_count=1000").await {
        if covered.contains(&o.id) {
            continue;
        }
        let name = json(&o)["name"].as_str().unwrap_or(&o.id).to_string();
        let ids = clients_of_organisation(record, &caller, &o.id).await;
        let key = format!("org-{}", o.id);
        if let Some(w) = write_one(record, &caller, settings, high, &key, &name, ids).await? {
            out.push(w);
        }
    }
    Ok(out)
}

/// The clients in whose running circles a role of `organisation` takes part.
async fn clients_of_organisation(
    record: &Record,
    caller: &Caller,
    organisation: &str,
) -> Vec<String> {
    let roles: Vec<String> = search(
        record,
        caller,
        "PractitionerRole",
        &format!("organization=Organization/{organisation}&_count=1000"),
    )
    .await
    .iter()
    .map(|r| format!("PractitionerRole/{}", r.id))
    .collect();
    if roles.is_empty() {
        return Vec::new();
    }
    crate::pages::work::medication::subjects_of(
        &search(
            record,
            caller,
            "CareTeam",
            &format!("participant={}&status=active&_count=1000", roles.join(",")),
        )
        .await,
    )
}

/// Writes one kit: `location` is the folder's and the log's key (a location id, or
/// `org-<id>` for an organisation), `location_name` what it is called on every page.
async fn write_one(
    record: &Record,
    caller: &Caller,
    settings: &KitSettings,
    high: &kring_record::medication::HighRisk,
    location: &str,
    location_name: &str,
    ids: Vec<String>,
) -> Result<Option<KitWritten>, String> {
    let t = Texts { lang: Lang::Nl };
    if ids.is_empty() {
        return Ok(None);
    }
    let Some(password) = settings.password_of(location).map(str::to_string) else {
        tracing::error!(location, "no kit password for this location: its downtime kit is not written (kit_passwords or kit_passphrase)");
        return Ok(None);
    };
    let subjects = ids
        .iter()
        .map(|i| format!("Patient/{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let queries = [
        format!("_id={}&_count={}", ids.join(","), ids.len()),
        format!("subject={subjects}&_count=1000"),
        format!("subject={subjects}&status=active&_count=1000"),
        format!("subject={subjects}&status=active&_count=1000"),
        format!("patient={subjects}&_count=1000"),
    ];
    let (patients, plans, requests, circles, related) = tokio::join!(
        search(record, caller, "Patient", &queries[0]),
        search(record, caller, "CarePlan", &queries[1]),
        search(record, caller, "MedicationRequest", &queries[2]),
        search(record, caller, "CareTeam", &queries[3]),
        search(record, caller, "RelatedPerson", &queries[4]),
    );
    // The circle's people: roles with their practitioner and organisation.
    let members: Vec<String> = circles
        .iter()
        .flat_map(|c| {
            json(c)["participant"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p["member"]["reference"].as_str().map(str::to_string))
        })
        .collect();
    let role_ids: Vec<&str> = members
        .iter()
        .filter_map(|m| m.strip_prefix("PractitionerRole/"))
        .collect();
    let mut role_info: BTreeMap<String, (String, String, String, String)> = BTreeMap::new();
    if !role_ids.is_empty() {
        // One search: the roles, their practitioners and organisations included.
        let found = record
            .search(
                caller,
                &SearchRequest::from_query(
                    "PractitionerRole",
                    &format!("_id={}&_count=1000&_include=PractitionerRole:practitioner&_include=PractitionerRole:organization", role_ids.join(",")),
                ),
                Handling::Strict,
            )
            .await
            .map_err(|e| format!("the circle's people cannot be read: {e}"))?;
        let (roles, included) = (found.matches, found.included);
        let mut people: BTreeMap<String, Value> = BTreeMap::new();
        for i in &included {
            people.insert(format!("{}/{}", i.rtype, i.id), json(i));
        }
        for r in &roles {
            let v = json(r);
            let person = v["practitioner"]["reference"]
                .as_str()
                .and_then(|p| people.get(p));
            let org = v["organization"]["reference"]
                .as_str()
                .and_then(|o| people.get(o));
            role_info.insert(
                format!("PractitionerRole/{}", r.id),
                (
                    person.map(name_of).unwrap_or_default(),
                    crate::pages::names::role_text(&v),
                    org.and_then(|o| o["name"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                    [phone_of(&v), person.map(phone_of).unwrap_or_default()]
                        .into_iter()
                        .find(|p| !p.is_empty())
                        .unwrap_or_default(),
                ),
            );
        }
    }
    let now = crate::auth::now_ms();
    let made = dates::moment(now, Lang::Nl);
    let today = dates::local(now).date_naive();
    let now_time = dates::local(now).time();
    // Each resource parsed once, by the client it is about (not once per client of the kit).
    let plans = by_client(&plans, "subject");
    let requests = by_client(&requests, "subject");
    let circles = by_client(&circles, "subject");
    let related = by_client(&related, "patient");
    let mut clients = Vec::new();
    for p in &patients {
        let pv = json(p);
        let id = p.id.clone();
        // The crisis plan, by phase and part.
        let plan = about(&plans, &id)
            .iter()
            .find(|(c, _)| kring_access::category::is_crisis_plan(&c.body));
        let mut crisis: Vec<PhaseLines> = Vec::new();
        let mut crisis_updated = String::new();
        if let Some((plan, v)) = plan {
            crisis_updated = dates::moment(plan.last_updated, Lang::Nl);
            for (phase, part, line) in kring_record::plan::crisis_lines(v) {
                let phase = phase
                    .map(|p| t.get(&format!("phase-{}", p.code())))
                    .unwrap_or_else(|| t.get("phase-other"));
                let part = part
                    .map(|p| t.get(&format!("part-{}", p.code())))
                    .unwrap_or_default();
                match crisis.iter_mut().find(|(ph, _)| *ph == phase) {
                    Some((_, parts)) => match parts.iter_mut().find(|(pa, _)| *pa == part) {
                        Some((_, lines)) => lines.push(line),
                        None => parts.push((part, vec![line])),
                    },
                    None => crisis.push((phase, vec![(part, vec![line])])),
                }
            }
        }
        // The doses of the next 24 hours, in order.
        let mut doses: Vec<(chrono::NaiveDateTime, String, String, bool)> = Vec::new();
        for (r, v) in about(&requests, &id) {
            for d in kring_record::medication::doses_of(&r.id, &id, v, high) {
                let day = if d.due >= now_time {
                    today
                } else {
                    today + Duration::days(1)
                };
                doses.push((day.and_time(d.due), d.medication, d.dose, d.high_risk));
            }
        }
        doses.sort();
        let doses = doses
            .into_iter()
            .map(|(at, m, dose, h)| {
                let when = if at.date() == today {
                    format!("{} {}", t.get("kit-today"), at.time().format("%H:%M"))
                } else {
                    format!("{} {}", t.get("kit-tomorrow"), at.time().format("%H:%M"))
                };
                (when, m, dose, h)
            })
            .collect();
        let circle = about(&circles, &id)
            .iter()
            .flat_map(|(_, v)| v["participant"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| {
                let m = p["member"]["reference"].as_str()?;
                let (n, role, org, phone) = role_info.get(m).cloned()?;
                Some((n, role, org, phone))
            })
            .collect();
        let contacts = about(&related, &id)
            .iter()
            .map(|(_, v)| {
                (
                    name_of(v),
                    v["relationship"][0]["text"]
                        .as_str()
                        .or_else(|| v["relationship"][0]["coding"][0]["display"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                    phone_of(v),
                )
            })
            .collect();
        clients.push(KitClient {
            name: name_of(&pv),
            birth: pv["birthDate"]
                .as_str()
                .map(|b| dates::fhir(b, Lang::Nl))
                .unwrap_or_default(),
            crisis,
            crisis_updated,
            doses,
            circle,
            contacts,
        });
    }
    clients.sort_by(|a, b| a.name.cmp(&b.name));
    // Every kit is in the access log, one entry per client, before it is written.
    for id in &ids {
        record
            .log_event(kit_entry(caller, location, id))
            .await
            .map_err(|e| format!("the access log did not take the kit: {e}"))?;
    }
    let html = KitPage {
        t: &t,
        location: location_name,
        made: &made,
        clients: &clients,
    }
    .render()
    .map_err(|e| e.to_string())?;
    let pdf = kit_pdf(&t, location_name, &made, &clients);
    let folder = settings.dir.join(safe(location));
    kring_continuity::crypt::private_dir(&folder).map_err(|e| e.to_string())?;
    let html_path = folder.join(format!("noodmap-{}.html.age", safe(location)));
    let pdf_path = folder.join(format!("noodmap-{}.pdf.age", safe(location)));
    for (bytes, path) in [(html.into_bytes(), &html_path), (pdf, &pdf_path)] {
        let pass = password.clone();
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            kring_continuity::crypt::seal_with_passphrase(&bytes, &path, &pass)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    }
    Ok(Some(KitWritten {
        location: location.to_string(),
        clients: clients.len(),
        html: html_path,
        pdf: pdf_path,
    }))
}

/// Resources with their JSON, by the client (Patient id) their `field` names.
type ByClient<'a> = BTreeMap<String, Vec<(&'a Versioned, Value)>>;

fn by_client<'a>(found: &'a [Versioned], field: &str) -> ByClient<'a> {
    let mut out: ByClient<'a> = BTreeMap::new();
    for r in found {
        let v = json(r);
        if let Some(c) = v[field]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("Patient/"))
        {
            out.entry(c.to_string()).or_default().push((r, v));
        }
    }
    out
}

/// What `found` holds about client `id`.
fn about<'b, 'a>(found: &'b ByClient<'a>, id: &str) -> &'b [(&'a Versioned, Value)] {
    found.get(id).map(Vec::as_slice).unwrap_or(&[])
}

/// A location id as a file name.
fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn kit_entry(caller: &Caller, location: &str, client: &str) -> kring_audit::AccessEntry {
    kring_audit::AccessEntry {
        action: "R".into(),
        interaction: "downtime-kit".into(),
        outcome: "success".into(),
        user: kring_record::logging::actor_of(caller),
        client: client.to_string(),
        data: kring_audit::Data {
            resource_type: "Location".into(),
            id: location.to_string(),
            category: "crisis-plan".into(),
        },
        source: kring_audit::Origin {
            system: "kring-downtime-kit".into(),
            address: "local".into(),
            user_agent: String::new(),
        },
        purpose: "TREAT".into(),
        ..kring_audit::AccessEntry::default()
    }
}

/// The kit as a PDF: the moment it was made in the footer of every page.
fn kit_pdf(t: &Texts, location: &str, made: &str, clients: &[KitClient]) -> Vec<u8> {
    let mut doc =
        kring_pdf::Document::new(&t.with("kit-footer", &[("location", location), ("made", made)]));
    doc.title(&t.with("kit-title", &[("location", location)]));
    doc.paragraph(&t.with("kit-made", &[("made", made)]));
    doc.paragraph(&t.get("kit-help"));
    for c in clients {
        doc.heading(&format!("{} ({})", c.name, c.birth), None);
        doc.label(&t.get("kit-crisis"));
        if c.crisis.is_empty() {
            doc.bullet(&t.get("kit-no-crisis"));
        }
        for (phase, parts) in &c.crisis {
            doc.label(phase);
            for (part, lines) in parts {
                for l in lines {
                    doc.bullet(&if part.is_empty() {
                        l.clone()
                    } else {
                        format!("{part}: {l}")
                    });
                }
            }
        }
        doc.label(&t.get("kit-doses"));
        if c.doses.is_empty() {
            doc.bullet(&t.get("kit-no-doses"));
        }
        for (when, m, dose, high) in &c.doses {
            let mark = if *high {
                format!(" — {}", t.get("kit-high-risk"))
            } else {
                String::new()
            };
            doc.bullet(&format!("{when} · {m} · {dose}{mark}"));
        }
        doc.label(&t.get("kit-circle"));
        for (n, role, org, phone) in &c.circle {
            doc.bullet(&format!("{n} — {role}, {org} {phone}"));
        }
        doc.label(&t.get("kit-contacts"));
        if c.contacts.is_empty() {
            doc.bullet(&t.get("kit-no-contacts"));
        }
        for (n, rel, phone) in &c.contacts {
            doc.bullet(&format!("{n} ({rel}) {phone}"));
        }
    }
    doc.finish()
}

/// Opens a kit file with its password (what the night shift does with the `age` tool; used by
/// the tests).
pub fn open_kit(path: &Path, passphrase: &str) -> Result<Vec<u8>, String> {
    kring_continuity::crypt::open_with_passphrase(path, passphrase).map_err(|e| e.to_string())
}

//! The facts the decision weighs, kept in memory and indexed for speed: clients (birth date,
//! managing organisation), professional roles, parents with authority, circles and teams,
//! consents and emergency declarations. Built from the record at start-up and updated after
//! every committed write of a resource type listed in [`WATCHED_TYPES`], so that a withdrawn
//! consent or an ended membership counts from the next request on.
//!
//! The maps are persistent (`imbl`): a copy of all facts costs nothing until it changes, so a
//! write transaction can take in its own earlier writes ([`crate::Pending`]) without touching
//! the facts every other request is decided on.

use imbl::{HashMap, OrdSet as BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::Value;

use crate::circle::{Circle, Membership};
use crate::consent::ConsentRecord;
use crate::emergency::{Emergency, EMERGENCY_CATEGORY, EMERGENCY_SYSTEM};
use crate::sharing::Grant;

/// The resource types whose content the decision depends on.
pub const WATCHED_TYPES: &[&str] = &[
    "Patient",
    "RelatedPerson",
    "PractitionerRole",
    "CareTeam",
    "Consent",
    "Communication",
];

/// A period of dates; open ends are unbounded, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

impl Period {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.start.is_none_or(|s| s <= day) && self.end.is_none_or(|e| day <= e)
    }
}

/// The date part of a FHIR date or dateTime (`2026-01-01`, `2026-01-01T10:00:00+01:00`).
pub(crate) fn date_of(v: &Value) -> Option<NaiveDate> {
    let s = v.as_str()?;
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// `Type/id` → `id` when the type matches.
pub(crate) fn reference_id(reference: &str, rtype: &str) -> Option<String> {
    let (t, id) = reference.rsplit_once('/')?;
    (t == rtype || t.ends_with(&format!("/{rtype}"))).then(|| id.to_string())
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientFacts {
    pub birth_date: Option<NaiveDate>,
    pub organisation: Option<String>,
}

impl ClientFacts {
    /// Age in whole years on `today`.
    pub fn age_on(&self, today: NaiveDate) -> Option<u32> {
        let b = self.birth_date?;
        let mut age = today.year() - b.year();
        if (today.month(), today.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        u32::try_from(age).ok()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleFacts {
    pub practitioner: Option<String>,
    pub organisation: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RelatedFacts {
    pub patient: Option<String>,
    /// Parental authority (gezag).
    pub authority: bool,
    /// A supporter the client chose (code `supporter` of [`SUPPORTER_SYSTEM`]).
    pub supporter: bool,
}

/// The code system whose `supporter` code marks a RelatedPerson as a supporter the client
/// chose: they see the plan and the messages addressed to them.
pub const SUPPORTER_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/portal-role";

/// The code system whose `gezag` code marks a RelatedPerson as a parent with authority.
pub const AUTHORITY_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/legal-authority";

/// Everything the decision knows.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub clients: HashMap<String, ClientFacts>,
    pub roles: HashMap<String, RoleFacts>,
    pub related: HashMap<String, RelatedFacts>,
    pub circles: HashMap<String, Circle>,
    pub consents: HashMap<String, ConsentRecord>,
    pub emergencies: HashMap<String, Emergency>,
    /// Sharing grants (Consents coded `sharing-grant`), apart from the client's consents.
    pub grants: HashMap<String, Grant>,
    /// client → its circles.
    circles_of_client: HashMap<String, BTreeSet<String>>,
    /// member reference (`PractitionerRole/r`, `Organization/o`, `CareTeam/team` …) → circles
    /// and teams naming it.
    circles_of_member: HashMap<String, BTreeSet<String>>,
    /// organisation → circles with a membership on its behalf.
    circles_of_organisation: HashMap<String, BTreeSet<String>>,
    /// client → consents.
    consents_of_client: HashMap<String, BTreeSet<String>>,
    /// practitioner → emergency declarations.
    emergencies_of_practitioner: HashMap<String, BTreeSet<String>>,
    /// recipient reference (`Organization/o`, `Practitioner/p`, `PractitionerRole/r`) →
    /// grants naming it.
    grants_of_recipient: HashMap<String, BTreeSet<String>>,
}

impl Facts {
    /// Takes in the current content of a watched resource, or its deletion (`None`).
    pub fn observe(&mut self, rtype: &str, id: &str, body: Option<&Value>) {
        match rtype {
            "Patient" => {
                self.clients.remove(id);
                if let Some(v) = body {
                    self.clients.insert(
                        id.to_string(),
                        ClientFacts {
                            birth_date: date_of(&v["birthDate"]),
                            organisation: v["managingOrganization"]["reference"]
                                .as_str()
                                .and_then(|r| reference_id(r, "Organization")),
                        },
                    );
                }
            }
            "PractitionerRole" => {
                self.roles.remove(id);
                if let Some(v) = body {
                    self.roles.insert(
                        id.to_string(),
                        RoleFacts {
                            practitioner: v["practitioner"]["reference"]
                                .as_str()
                                .and_then(|r| reference_id(r, "Practitioner")),
                            organisation: v["organization"]["reference"]
                                .as_str()
                                .and_then(|r| reference_id(r, "Organization")),
                        },
                    );
                }
            }
            "RelatedPerson" => {
                self.related.remove(id);
                if let Some(v) = body {
                    let coded = |system: &str, code: &str| {
                        v["relationship"].as_array().is_some_and(|rs| {
                            rs.iter().any(|r| {
                                r["coding"].as_array().is_some_and(|cs| {
                                    cs.iter()
                                        .any(|c| c["system"] == system && c["code"] == code)
                                })
                            })
                        })
                    };
                    let authority = coded(AUTHORITY_SYSTEM, "gezag");
                    let supporter = coded(SUPPORTER_SYSTEM, "supporter");
                    self.related.insert(
                        id.to_string(),
                        RelatedFacts {
                            patient: v["patient"]["reference"]
                                .as_str()
                                .and_then(|r| reference_id(r, "Patient")),
                            authority: authority && v["active"].as_bool() != Some(false),
                            supporter: supporter && v["active"].as_bool() != Some(false),
                        },
                    );
                }
            }
            "CareTeam" => {
                self.forget_circle(id);
                if let Some(v) = body {
                    self.add_circle(Circle::from_json(id, v));
                }
            }
            "Consent" => {
                if let Some(old) = self.consents.remove(id) {
                    if let Some(c) = old.client {
                        remove_from(&mut self.consents_of_client, &c, id);
                    }
                }
                if let Some(old) = self.grants.remove(id) {
                    remove_from(&mut self.grants_of_recipient, &old.recipient, id);
                }
                if let Some(v) = body.filter(|v| crate::sharing::is_grant(v)) {
                    if let Some(g) = Grant::from_json(id, v) {
                        self.grants_of_recipient
                            .entry(g.recipient.clone())
                            .or_default()
                            .insert(id.to_string());
                        self.grants.insert(id.to_string(), g);
                    }
                } else if let Some(v) = body {
                    let c = ConsentRecord::from_json(id, v);
                    if let Some(client) = &c.client {
                        self.consents_of_client
                            .entry(client.clone())
                            .or_default()
                            .insert(id.to_string());
                    }
                    self.consents.insert(id.to_string(), c);
                }
            }
            "Communication" => {
                if let Some(old) = self.emergencies.remove(id) {
                    remove_from(&mut self.emergencies_of_practitioner, &old.practitioner, id);
                }
                if let Some(e) = body.and_then(|v| Emergency::from_json(id, v)) {
                    self.emergencies_of_practitioner
                        .entry(e.practitioner.clone())
                        .or_default()
                        .insert(id.to_string());
                    self.emergencies.insert(id.to_string(), e);
                }
            }
            _ => {}
        }
    }

    fn add_circle(&mut self, circle: Circle) {
        let id = circle.id.clone();
        if let Some(client) = &circle.client {
            self.circles_of_client
                .entry(client.clone())
                .or_default()
                .insert(id.clone());
        }
        for m in &circle.memberships {
            self.circles_of_member
                .entry(m.member.clone())
                .or_default()
                .insert(id.clone());
            if let Some(o) = self.organisation_of(m) {
                self.circles_of_organisation
                    .entry(o)
                    .or_default()
                    .insert(id.clone());
            }
        }
        self.circles.insert(id, circle);
    }

    fn forget_circle(&mut self, id: &str) {
        let Some(old) = self.circles.remove(id) else {
            return;
        };
        if let Some(client) = &old.client {
            remove_from(&mut self.circles_of_client, client, id);
        }
        for m in &old.memberships {
            remove_from(&mut self.circles_of_member, &m.member, id);
            if let Some(o) = self.organisation_of(m) {
                remove_from(&mut self.circles_of_organisation, &o, id);
            }
        }
    }

    /// The organisation a membership acts for: `onBehalfOf`, else the role's organisation.
    pub fn organisation_of(&self, m: &Membership) -> Option<String> {
        if let Some(o) = &m.organisation {
            return Some(o.clone());
        }
        if let Some(o) = reference_id(&m.member, "Organization") {
            return Some(o);
        }
        reference_id(&m.member, "PractitionerRole")
            .and_then(|r| self.roles.get(&r))
            .and_then(|r| r.organisation.clone())
    }

    /// The circles of a client (usually one).
    pub fn circles_of_client(&self, client: &str) -> impl Iterator<Item = &Circle> {
        self.circles_of_client
            .get(client)
            .into_iter()
            .flatten()
            .filter_map(|id| self.circles.get(id))
    }

    /// The circles (and teams) that name `member` directly.
    pub fn circles_naming(&self, member: &str) -> impl Iterator<Item = &Circle> {
        self.circles_of_member
            .get(member)
            .into_iter()
            .flatten()
            .filter_map(|id| self.circles.get(id))
    }

    /// The circles with a membership on behalf of `organisation`.
    pub fn circles_of_organisation(&self, organisation: &str) -> impl Iterator<Item = &Circle> {
        self.circles_of_organisation
            .get(organisation)
            .into_iter()
            .flatten()
            .filter_map(|id| self.circles.get(id))
    }

    pub fn consents_of(&self, client: &str) -> impl Iterator<Item = &ConsentRecord> {
        self.consents_of_client
            .get(client)
            .into_iter()
            .flatten()
            .filter_map(|id| self.consents.get(id))
    }

    /// Emergency declarations of a practitioner about a client, running at `now`.
    pub fn emergency_of(
        &self,
        practitioner: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Option<&Emergency> {
        self.running_emergencies(practitioner, now)
            .find(|e| e.client == client)
    }

    /// Clients a practitioner declared emergency access to, running at `now`.
    pub fn emergency_clients(&self, practitioner: &str, now: DateTime<Utc>) -> Vec<String> {
        self.running_emergencies(practitioner, now)
            .map(|e| e.client.clone())
            .collect()
    }

    /// A practitioner's running emergency declarations, for their start page.
    pub fn running_emergencies_of(
        &self,
        practitioner: &str,
        now: DateTime<Utc>,
    ) -> Vec<&Emergency> {
        self.running_emergencies(practitioner, now).collect()
    }

    /// A practitioner's emergency declarations that run at `now`.
    fn running_emergencies<'a>(
        &'a self,
        practitioner: &str,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a Emergency> + 'a {
        self.emergencies_of_practitioner
            .get(practitioner)
            .into_iter()
            .flatten()
            .filter_map(|id| self.emergencies.get(id))
            .filter(move |e| e.running(now))
    }

    /// The grants naming any of `recipients` that run on `today`.
    pub fn running_grants<'a>(
        &'a self,
        recipients: &'a [String],
        today: NaiveDate,
    ) -> impl Iterator<Item = &'a Grant> + 'a {
        recipients
            .iter()
            .filter_map(|r| self.grants_of_recipient.get(r))
            .flatten()
            .filter_map(|id| self.grants.get(id))
            .filter(move |g| g.running(today))
    }

    /// Whether `reference` (`RelatedPerson/…`) is a supporter `client` chose.
    pub fn is_supporter(&self, reference: &str, client: &str) -> bool {
        reference_id(reference, "RelatedPerson")
            .and_then(|id| self.related.get(&id))
            .is_some_and(|r| r.supporter && r.patient.as_deref() == Some(client))
    }

    /// Whether `reference` (`RelatedPerson/…`) is a parent with authority of `client`.
    pub fn is_parent_with_authority(&self, reference: &str, client: &str) -> bool {
        reference_id(reference, "RelatedPerson")
            .and_then(|id| self.related.get(&id))
            .is_some_and(|r| r.authority && r.patient.as_deref() == Some(client))
    }
}

/// The category coding (system and code) that marks a Communication as an emergency
/// declaration.
pub fn is_emergency_declaration(v: &Value) -> bool {
    v["category"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            c["coding"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["system"] == EMERGENCY_SYSTEM && c["code"] == EMERGENCY_CATEGORY)
            })
        })
    })
}

fn remove_from(map: &mut HashMap<String, BTreeSet<String>>, key: &str, id: &str) {
    if let Some(set) = map.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

//! What the engine knows of the care network, read from FHIR R4 resources (one per line):
//! who the staff are and where they work (Practitioner, PractitionerRole), who the clients are
//! and where they live or are treated (Patient, Encounter, Location), the circles (CareTeam)
//! and the appointments. Only what explanations and risk signals need is kept, in tables
//! indexed by small numbers so that screening millions of accesses is cheap.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use kring_fhir::datetime::{parse_range, OPEN_HIGH, OPEN_LOW};
use serde_json::Value;

use crate::roles::{RoleKind, RoleMap};
use crate::{BadLine, OversightError};

const IMPORTANCE: &str = "http://hl7.org/fhir/StructureDefinition/patient-importance";
/// How many bad lines are kept with their line number (the count covers all).
pub const BAD_LINES_KEPT: usize = 100;

/// Strings made into small numbers, in order of first sight.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    map: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.map.insert(s.into(), i);
        i
    }
    pub fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }
    pub fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A home address, normalised for comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// Street and house number, lower case, single spaces.
    pub line: String,
    /// The street without house number.
    pub street: String,
    /// Postcode without spaces, upper case (`1234AB`).
    pub postcode: String,
    pub city: String,
}

impl Address {
    /// The same dwelling: same line and (postcode or town).
    pub fn same_dwelling(&self, o: &Address) -> bool {
        !self.line.is_empty()
            && self.line == o.line
            && ((!self.postcode.is_empty() && self.postcode == o.postcode)
                || (!self.city.is_empty() && self.city == o.city))
    }
    /// Neighbours: same street and town, or same postcode (a Dutch postcode is a few dozen
    /// addresses), but not the same dwelling.
    pub fn neighbour_of(&self, o: &Address) -> bool {
        !self.same_dwelling(o)
            && ((!self.street.is_empty() && self.street == o.street && self.city == o.city)
                || (!self.postcode.is_empty() && self.postcode == o.postcode))
    }
}

/// A person as far as identity checks need: name, birth date, home, identifiers.
#[derive(Debug, Clone, Default)]
pub struct Person {
    /// Family name, lower case, without spaces or hyphens (`de Jong` → `dejong`).
    pub family: String,
    /// First given name, lower case.
    pub given: String,
    pub birth: String,
    pub home: Option<Address>,
    /// `system|value` of each identifier.
    pub identifiers: Vec<String>,
}

impl Person {
    /// The same human: name and birth date, or a shared identifier.
    pub fn same_human(&self, o: &Person) -> bool {
        (!self.family.is_empty()
            && !self.birth.is_empty()
            && self.family == o.family
            && self.birth == o.birth
            && (self.given.is_empty()
                || o.given.is_empty()
                || first(&self.given) == first(&o.given)))
            || self
                .identifiers
                .iter()
                .any(|i| o.identifiers.iter().any(|j| i == j))
    }
    /// Family: the same surname at the same dwelling.
    pub fn family_of(&self, o: &Person) -> bool {
        match (&self.home, &o.home) {
            (Some(a), Some(b)) => {
                !self.family.is_empty() && self.family == o.family && a.same_dwelling(b)
            }
            _ => false,
        }
    }
    pub fn neighbour_of(&self, o: &Person) -> bool {
        match (&self.home, &o.home) {
            (Some(a), Some(b)) => a.neighbour_of(b),
            _ => false,
        }
    }
}

fn first(s: &str) -> char {
    s.chars().next().unwrap_or(' ')
}

/// One PractitionerRole: where a user works and as what.
#[derive(Debug, Clone, Default)]
pub struct Role {
    pub organisation: Option<u32>,
    pub locations: Vec<u32>,
    pub kind: Option<RoleKind>,
    /// The role's first code or text, to compare a user with peers.
    pub code: String,
}

/// A member of staff (a Practitioner).
#[derive(Debug, Clone, Default)]
pub struct Staff {
    pub person: Option<Person>,
    pub roles: Vec<Role>,
}

impl Staff {
    pub fn works_at(&self, org: u32) -> bool {
        self.roles.iter().any(|r| r.organisation == Some(org))
    }
    /// Whether one of the user's roles is at this location.
    pub fn at_location(&self, location: u32) -> bool {
        self.roles.iter().any(|r| r.locations.contains(&location))
    }
    pub fn kind_at(&self, org: u32) -> Option<RoleKind> {
        self.roles
            .iter()
            .filter(|r| r.organisation == Some(org))
            .filter_map(|r| r.kind)
            .max()
    }
}

/// Who a circle membership names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    User(u32),
    Organisation(u32),
    /// A staff team (a CareTeam without subject); its members count.
    Team(u32),
}

/// A membership of a client's circle, with its period (ms, inclusive).
#[derive(Debug, Clone, Copy)]
pub struct Membership {
    pub member: Member,
    pub start: i64,
    pub end: i64,
}

/// A stay or treatment of a client at a location (from an Encounter).
#[derive(Debug, Clone, Copy)]
pub struct Stay {
    pub location: u32,
    pub start: i64,
    pub end: i64,
}

/// What the Patient's `patient-importance` extension says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Importance {
    #[default]
    None,
    /// VIP, board member, donor, dignitary, government official.
    Vip,
    /// Staff, staff physician, or family of staff.
    Staff,
}

/// A client (a Patient).
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub person: Option<Person>,
    pub organisation: Option<u32>,
    pub importance: Importance,
    pub memberships: Vec<Membership>,
    pub stays: Vec<Stay>,
    /// Appointments: (user, start, end).
    pub appointments: Vec<(u32, i64, i64)>,
    /// Encounters the user took part in (`Encounter.participant`): (user, start, end).
    pub encounters: Vec<(u32, i64, i64)>,
    /// Referrals and requests about the client (`Task.for`): who asked or was asked (a user,
    /// an organisation, a team), from when to when the work it asks for may run.
    pub referrals: Vec<Membership>,
    /// Sharing grants for the client's data (`Consent` of the `sharing-grant` kind, active,
    /// permit): to whom (a user, an organisation, a team) and for which period.
    pub grants: Vec<Membership>,
}

/// What reading the context found.
#[derive(Debug, Clone, Default)]
pub struct ContextStats {
    pub lines: u64,
    pub resources: BTreeMap<String, u64>,
    /// Resource types the engine does not use, with their counts.
    pub skipped: BTreeMap<String, u64>,
    pub bad: Vec<BadLine>,
    pub bad_count: u64,
}

/// The care network as the engine sees it.
#[derive(Debug, Default)]
pub struct Context {
    pub users: Interner,
    pub clients: Interner,
    pub organisations: Interner,
    pub locations: Interner,
    pub staff: Vec<Staff>,
    pub patients: Vec<Client>,
    /// Members of staff teams (CareTeams without subject), by team number.
    pub teams: Vec<Vec<u32>>,
    /// The staff teams each user is in, by user (empty when the user is in none).
    pub user_teams: Vec<Vec<u32>>,
    team_ids: Interner,
    /// `PractitionerRole/…` → the practitioner it belongs to.
    role_user: HashMap<String, u32>,
    pending: Vec<Pending>,
    /// Which staff members share a location, by location: for covering.
    pub location_staff: Vec<Vec<u32>>,
    /// Staff members who are also clients (by identity), by client.
    pub client_is_staff: Vec<bool>,
    pub stats: ContextStats,
}

/// References resolved once everything is read (a CareTeam may name a PractitionerRole that
/// comes later in the file).
#[derive(Debug)]
enum Pending {
    Membership {
        client: u32,
        member: String,
        start: i64,
        end: i64,
    },
    TeamMember {
        team: u32,
        member: String,
    },
    Appointment {
        clients: Vec<u32>,
        users: Vec<String>,
        start: i64,
        end: i64,
    },
    Encounter {
        client: u32,
        users: Vec<String>,
        start: i64,
        end: i64,
    },
    /// A referral (`grant: false`) or a sharing grant (`grant: true`) naming parties.
    Parties {
        grant: bool,
        client: u32,
        parties: Vec<String>,
        start: i64,
        end: i64,
    },
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn norm_family(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '\'')
        .flat_map(char::to_lowercase)
        .collect()
}

fn norm_words(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn address(v: &Value) -> Option<Address> {
    let all = v.as_array()?;
    let a = all
        .iter()
        .find(|a| text(&a["use"]) == "home")
        .or_else(|| all.first())?;
    let line = a["line"]
        .as_array()
        .map(|l| l.iter().map(text).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let line = norm_words(&line);
    let street = line
        .split(' ')
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ");
    let postcode: String = text(&a["postalCode"])
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    let address = Address {
        line,
        street,
        postcode,
        city: norm_words(text(&a["city"])),
    };
    (address != Address::default()).then_some(address)
}

fn person(r: &Value) -> Person {
    let name = r["name"].as_array().and_then(|n| {
        n.iter()
            .find(|n| text(&n["use"]) == "official")
            .or_else(|| n.first())
    });
    let (family, given) = match name {
        Some(n) => {
            let mut family = text(&n["family"]).to_string();
            let mut given = n["given"]
                .as_array()
                .and_then(|g| g.first())
                .map(text)
                .unwrap_or("")
                .to_string();
            if family.is_empty() {
                // Only a text: the last word is taken as the family name.
                let t = text(&n["text"]);
                if let Some((g, f)) = t.rsplit_once(' ') {
                    family = f.to_string();
                    given = g.split(' ').next().unwrap_or("").to_string();
                }
            }
            (norm_family(&family), given.to_lowercase())
        }
        None => Default::default(),
    };
    let identifiers = r["identifier"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter(|i| !text(&i["value"]).is_empty())
                .map(|i| format!("{}|{}", text(&i["system"]), text(&i["value"])))
                .collect()
        })
        .unwrap_or_default();
    Person {
        family,
        given,
        birth: text(&r["birthDate"]).to_string(),
        home: address(&r["address"]),
        identifiers,
    }
}

/// `Type/id` from a reference, also from an absolute URL or with a version.
pub fn local_reference<'a>(reference: &'a str, kind: &str) -> Option<&'a str> {
    let at = reference
        .rfind(&format!("{kind}/"))
        .filter(|&i| i == 0 || reference.as_bytes()[i - 1] == b'/')?;
    let r = &reference[at..];
    Some(match r.find("/_history") {
        Some(h) => &r[..h],
        None => r,
    })
}

fn period(p: &Value) -> (i64, i64) {
    let start = parse_range(text(&p["start"])).map_or(OPEN_LOW, |r| r.low);
    let end = parse_range(text(&p["end"])).map_or(OPEN_HIGH, |r| r.high);
    (start, end)
}

/// How long after a referral is done its work may still be read (hand-over, reporting).
const REFERRAL_AFTER_MS: i64 = 42 * 86_400_000;
/// How long before a referral is made the parties may already read (preparing it).
const REFERRAL_BEFORE_MS: i64 = 7 * 86_400_000;
/// How long a referral runs that says neither when it ends nor that it is still open.
const REFERRAL_DEFAULT_MS: i64 = 90 * 86_400_000;

/// The period a Task (a referral or request) explains: from a week before it was made to six
/// weeks after its work ended (its execution period, its due date, or its last change when
/// finished); open for as long as it is open.
fn referral_period(r: &Value) -> (i64, i64) {
    let authored = parse_range(text(&r["authoredOn"]))
        .or_else(|| parse_range(text(&r["executionPeriod"]["start"])))
        .map(|t| t.low);
    let Some(authored) = authored else {
        return (OPEN_LOW, OPEN_HIGH);
    };
    let open = matches!(
        text(&r["status"]),
        "draft" | "requested" | "received" | "accepted" | "ready" | "in-progress" | "on-hold"
    );
    let end = parse_range(text(&r["executionPeriod"]["end"]))
        .or_else(|| parse_range(text(&r["restriction"]["period"]["end"])))
        .map(|t| t.high)
        .or_else(|| {
            (!open)
                .then(|| parse_range(text(&r["lastModified"])).map(|t| t.high))
                .flatten()
        });
    let end = match end {
        Some(e) => e.max(authored),
        None if open => OPEN_HIGH,
        None => authored + REFERRAL_DEFAULT_MS,
    };
    (
        authored - REFERRAL_BEFORE_MS,
        end.saturating_add(REFERRAL_AFTER_MS),
    )
}

fn codes(concepts: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in concepts.as_array().into_iter().flatten() {
        for coding in c["coding"].as_array().into_iter().flatten() {
            for k in ["code", "display"] {
                if !text(&coding[k]).is_empty() {
                    out.push(text(&coding[k]).to_string());
                }
            }
        }
        if !text(&c["text"]).is_empty() {
            out.push(text(&c["text"]).to_string());
        }
    }
    out
}

impl Context {
    /// Reads CONTEXT NDJSON. Unknown resource types are counted and skipped; a malformed line
    /// is recorded with its number and skipped.
    pub fn read(input: impl BufRead, roles: &RoleMap) -> Result<Context, OversightError> {
        let mut cx = Context::default();
        for (n, line) in input.lines().enumerate() {
            let line = line.map_err(|source| OversightError::Io {
                what: "the context".into(),
                source,
            })?;
            cx.stats.lines += 1;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(&line) {
                Ok(v) => {
                    if let Err(problem) = cx.add(&v, roles) {
                        cx.bad(n as u64 + 1, problem);
                    }
                }
                Err(e) => cx.bad(n as u64 + 1, format!("not JSON: {e}")),
            }
        }
        cx.finish();
        Ok(cx)
    }

    fn bad(&mut self, line: u64, problem: String) {
        self.stats.bad_count += 1;
        if self.stats.bad.len() < BAD_LINES_KEPT {
            self.stats.bad.push(BadLine { line, problem });
        }
    }

    /// The number of a user (`Practitioner/…`), added when new.
    pub fn user(&mut self, reference: &str) -> u32 {
        let i = self.users.intern(reference);
        if self.staff.len() <= i as usize {
            self.staff.resize_with(i as usize + 1, Staff::default);
        }
        i
    }

    /// The number of a client (`Patient/…`), added when new.
    pub fn client(&mut self, reference: &str) -> u32 {
        let i = self.clients.intern(reference);
        if self.patients.len() <= i as usize {
            self.patients.resize_with(i as usize + 1, Client::default);
        }
        i
    }

    /// The user a requestor reference names: a Practitioner, or the practitioner of a
    /// PractitionerRole.
    pub fn user_of(&mut self, reference: &str) -> Option<u32> {
        if let Some(p) = local_reference(reference, "Practitioner") {
            return Some(self.user(p));
        }
        let r = local_reference(reference, "PractitionerRole")?;
        self.role_user.get(r).copied()
    }

    fn location(&mut self, reference: &str) -> u32 {
        let i = self.locations.intern(reference);
        if self.location_staff.len() <= i as usize {
            self.location_staff.resize_with(i as usize + 1, Vec::new);
        }
        i
    }

    /// Adds one resource; an error names what is wrong with it.
    pub fn add(&mut self, r: &Value, roles: &RoleMap) -> Result<(), String> {
        let kind = r["resourceType"]
            .as_str()
            .ok_or("no resourceType")?
            .to_string();
        let id = text(&r["id"]);
        let needs_id = matches!(
            kind.as_str(),
            "Practitioner" | "Patient" | "PractitionerRole" | "Location" | "Organization"
        );
        if needs_id && id.is_empty() {
            return Err(format!("a {kind} without id"));
        }
        match kind.as_str() {
            "Organization" => {
                self.organisations.intern(&format!("Organization/{id}"));
            }
            "Location" => {
                self.location(&format!("Location/{id}"));
            }
            "Practitioner" => {
                let u = self.user(&format!("Practitioner/{id}"));
                self.staff[u as usize].person = Some(person(r));
            }
            "PractitionerRole" => {
                let who = local_reference(text(&r["practitioner"]["reference"]), "Practitioner")
                    .ok_or("a PractitionerRole without practitioner")?
                    .to_string();
                let u = self.user(&who);
                self.role_user.insert(format!("PractitionerRole/{id}"), u);
                let organisation =
                    local_reference(text(&r["organization"]["reference"]), "Organization")
                        .map(|o| self.organisations.intern(o));
                let locations = r["location"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| local_reference(text(&l["reference"]), "Location"))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .map(|l| self.location(&l))
                    .collect();
                let codes = codes(&r["code"]);
                let kind = roles.kind(&codes);
                self.staff[u as usize].roles.push(Role {
                    organisation,
                    locations,
                    kind,
                    code: codes.first().cloned().unwrap_or_default(),
                });
            }
            "Patient" => {
                let c = self.client(&format!("Patient/{id}"));
                let organisation = local_reference(
                    text(&r["managingOrganization"]["reference"]),
                    "Organization",
                )
                .map(|o| self.organisations.intern(o));
                let mut importance = Importance::None;
                for e in r["extension"].as_array().into_iter().flatten() {
                    if text(&e["url"]) == IMPORTANCE {
                        for code in codes(&Value::Array(vec![e["valueCodeableConcept"].clone()])) {
                            importance = match code.as_str() {
                                "VIP" | "BM" | "FD" | "FOR" | "GOVT" => Importance::Vip,
                                "STF" | "DR" | "SFM" | "DFM" => Importance::Staff,
                                _ => importance,
                            };
                        }
                    }
                }
                let p = &mut self.patients[c as usize];
                p.person = Some(person(r));
                p.organisation = organisation;
                p.importance = importance;
            }
            "CareTeam" => {
                let subject = local_reference(text(&r["subject"]["reference"]), "Patient");
                let (team_start, team_end) = period(&r["period"]);
                match subject {
                    Some(s) => {
                        let client = self.client(s);
                        for p in r["participant"].as_array().into_iter().flatten() {
                            let (start, end) = match &p["period"] {
                                Value::Null => (team_start, team_end),
                                v => period(v),
                            };
                            self.pending.push(Pending::Membership {
                                client,
                                member: text(&p["member"]["reference"]).to_string(),
                                start,
                                end,
                            });
                        }
                    }
                    None => {
                        if id.is_empty() {
                            return Err("a staff team (CareTeam without subject) without id".into());
                        }
                        let team = self.team(&format!("CareTeam/{id}"));
                        for p in r["participant"].as_array().into_iter().flatten() {
                            self.pending.push(Pending::TeamMember {
                                team,
                                member: text(&p["member"]["reference"]).to_string(),
                            });
                        }
                    }
                }
            }
            "Encounter" => {
                let s = local_reference(text(&r["subject"]["reference"]), "Patient")
                    .ok_or("an Encounter without a Patient subject")?
                    .to_string();
                let client = self.client(&s);
                let (start, end) = period(&r["period"]);
                let locations: Vec<String> = r["location"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| local_reference(text(&l["location"]["reference"]), "Location"))
                    .map(str::to_string)
                    .collect();
                for l in locations {
                    let location = self.location(&l);
                    self.patients[client as usize].stays.push(Stay {
                        location,
                        start,
                        end,
                    });
                }
                let users: Vec<String> = r["participant"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| text(&p["individual"]["reference"]).to_string())
                    .filter(|u| !u.is_empty())
                    .collect();
                if !users.is_empty() {
                    self.pending.push(Pending::Encounter {
                        client,
                        users,
                        start,
                        end,
                    });
                }
            }
            "Consent" => {
                let grant = r["category"].as_array().into_iter().flatten().any(|c| {
                    c["coding"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|k| text(&k["code"]) == "sharing-grant")
                });
                let p = &r["provision"];
                let client = local_reference(text(&r["patient"]["reference"]), "Patient");
                let (Some(c), true) = (
                    client,
                    grant && text(&r["status"]) == "active" && text(&p["type"]) != "deny",
                ) else {
                    *self.stats.skipped.entry(kind).or_default() += 1;
                    return Ok(());
                };
                let client = self.client(c);
                let (start, end) = period(&p["period"]);
                let parties: Vec<String> = p["actor"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| text(&a["reference"]["reference"]).to_string())
                    .filter(|a| !a.is_empty())
                    .collect();
                self.pending.push(Pending::Parties {
                    grant: true,
                    client,
                    parties,
                    start,
                    end,
                });
            }
            "Task" => {
                let Some(c) = local_reference(text(&r["for"]["reference"]), "Patient") else {
                    *self.stats.skipped.entry(kind).or_default() += 1;
                    return Ok(());
                };
                let client = self.client(c);
                let (start, end) = referral_period(r);
                let parties: Vec<String> = ["requester", "owner"]
                    .iter()
                    .map(|k| text(&r[*k]["reference"]).to_string())
                    .filter(|p| !p.is_empty())
                    .collect();
                if !parties.is_empty() {
                    self.pending.push(Pending::Parties {
                        grant: false,
                        client,
                        parties,
                        start,
                        end,
                    });
                }
            }
            "Appointment" => {
                let (start, end) = (
                    parse_range(text(&r["start"])).map_or(OPEN_LOW, |t| t.low),
                    parse_range(text(&r["end"]))
                        .or_else(|| parse_range(text(&r["start"])))
                        .map_or(OPEN_HIGH, |t| t.high),
                );
                let mut clients = Vec::new();
                let mut users = Vec::new();
                for p in r["participant"].as_array().into_iter().flatten() {
                    let reference = text(&p["actor"]["reference"]);
                    if let Some(c) = local_reference(reference, "Patient") {
                        clients.push(c.to_string());
                    } else if !reference.is_empty() {
                        users.push(reference.to_string());
                    }
                }
                let clients = clients.iter().map(|c| self.client(c)).collect();
                self.pending.push(Pending::Appointment {
                    clients,
                    users,
                    start,
                    end,
                });
            }
            _ => {
                *self.stats.skipped.entry(kind).or_default() += 1;
                return Ok(());
            }
        }
        *self.stats.resources.entry(kind).or_default() += 1;
        Ok(())
    }

    fn team(&mut self, reference: &str) -> u32 {
        let i = self.team_ids.intern(reference);
        if self.teams.len() <= i as usize {
            self.teams.resize_with(i as usize + 1, Vec::new);
        }
        i
    }

    fn member(&mut self, reference: &str) -> Option<Member> {
        if let Some(o) = local_reference(reference, "Organization") {
            return Some(Member::Organisation(self.organisations.intern(o)));
        }
        if let Some(t) = local_reference(reference, "CareTeam") {
            let t = t.to_string();
            return Some(Member::Team(self.team(&t)));
        }
        self.user_of(reference).map(Member::User)
    }

    /// Resolves references and builds the lookup tables.
    pub fn finish(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            match p {
                Pending::Membership {
                    client,
                    member,
                    start,
                    end,
                } => {
                    if let Some(member) = self.member(&member) {
                        self.patients[client as usize].memberships.push(Membership {
                            member,
                            start,
                            end,
                        });
                    }
                }
                Pending::Encounter {
                    client,
                    users,
                    start,
                    end,
                } => {
                    let users: Vec<u32> = users.iter().filter_map(|u| self.user_of(u)).collect();
                    for u in users {
                        self.patients[client as usize]
                            .encounters
                            .push((u, start, end));
                    }
                }
                Pending::Parties {
                    grant,
                    client,
                    parties,
                    start,
                    end,
                } => {
                    let members: Vec<Member> =
                        parties.iter().filter_map(|p| self.member(p)).collect();
                    let patient = &mut self.patients[client as usize];
                    let list = if grant {
                        &mut patient.grants
                    } else {
                        &mut patient.referrals
                    };
                    list.extend(members.into_iter().map(|member| Membership {
                        member,
                        start,
                        end,
                    }));
                }
                Pending::TeamMember { team, member } => {
                    if let Some(u) = self.user_of(&member) {
                        self.teams[team as usize].push(u);
                    }
                }
                Pending::Appointment {
                    clients,
                    users,
                    start,
                    end,
                } => {
                    let users: Vec<u32> = users.iter().filter_map(|u| self.user_of(u)).collect();
                    for &c in &clients {
                        for &u in &users {
                            self.patients[c as usize].appointments.push((u, start, end));
                        }
                    }
                }
            }
        }
        self.user_teams = vec![Vec::new(); self.staff.len()];
        for (t, members) in self.teams.iter_mut().enumerate() {
            members.sort_unstable();
            members.dedup();
            for &u in members.iter() {
                if let Some(list) = self.user_teams.get_mut(u as usize) {
                    list.push(t as u32);
                }
            }
        }
        for list in &mut self.location_staff {
            list.clear();
        }
        for (u, s) in self.staff.iter().enumerate() {
            for r in &s.roles {
                for &l in &r.locations {
                    self.location_staff[l as usize].push(u as u32);
                }
            }
        }
        for list in &mut self.location_staff {
            list.sort_unstable();
            list.dedup();
        }
        // Which clients are staff: by identity (name + birth date, or identifier).
        let mut by_identity: HashMap<(&str, &str), Vec<&Person>> = HashMap::new();
        let mut by_identifier: HashMap<&str, ()> = HashMap::new();
        for p in self.staff.iter().filter_map(|s| s.person.as_ref()) {
            by_identity
                .entry((p.family.as_str(), p.birth.as_str()))
                .or_default()
                .push(p);
            for i in &p.identifiers {
                by_identifier.insert(i.as_str(), ());
            }
        }
        self.client_is_staff = self
            .patients
            .iter()
            .map(|c| {
                c.importance == Importance::Staff
                    || c.person.as_ref().is_some_and(|p| {
                        p.identifiers
                            .iter()
                            .any(|i| by_identifier.contains_key(i.as_str()))
                            || (!p.family.is_empty()
                                && by_identity
                                    .get(&(p.family.as_str(), p.birth.as_str()))
                                    .is_some_and(|s| s.iter().any(|s| s.same_human(p))))
                    })
            })
            .collect();
    }

    /// Whether `member` (of a circle, a referral, a grant) is user `u`, their organisation or
    /// a staff team they are in.
    pub fn names_user(&self, member: Member, u: u32) -> bool {
        match member {
            Member::User(x) => x == u,
            Member::Organisation(o) => self.staff[u as usize].works_at(o),
            Member::Team(t) => self.teams.get(t as usize).is_some_and(|m| m.contains(&u)),
        }
    }

    /// Whether user `u` is (through a team or organisation) a member of client `c`'s circle
    /// at `at`; also gives memberships that ended before `at`, latest end.
    pub fn membership(&self, u: u32, c: u32, at: i64) -> MembershipState {
        let Some(client) = self.patients.get(c as usize) else {
            return MembershipState::None;
        };
        let mut ended: Option<i64> = None;
        for m in &client.memberships {
            if !self.names_user(m.member, u) {
                continue;
            }
            if m.start <= at && at <= m.end {
                return MembershipState::Active;
            }
            if m.end < at {
                ended = Some(ended.map_or(m.end, |e| e.max(m.end)));
            }
        }
        ended.map_or(MembershipState::None, MembershipState::Ended)
    }
}

/// A user's place in a client's circle at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipState {
    None,
    Active,
    /// Ended at this instant (ms).
    Ended(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_in_urls_and_versions() {
        assert_eq!(
            local_reference("https://ecd.example/fhir/Patient/7/_history/2", "Patient"),
            Some("Patient/7")
        );
        assert_eq!(local_reference("Patient/7", "Patient"), Some("Patient/7"));
        assert_eq!(local_reference("RelatedPatient/7", "Patient"), None);
        assert_eq!(local_reference("Practitioner/1", "Patient"), None);
    }

    #[test]
    fn unknown_types_are_counted_and_bad_lines_numbered() {
        let input = concat!(
            r#"{"resourceType":"Patient","id":"1","name":[{"family":"de Jong","given":["Anna"]}],"birthDate":"1980-01-02"}"#,
            "\n",
            r#"{"resourceType":"Observation","id":"o"}"#,
            "\n",
            "{not json\n",
            r#"{"resourceType":"Practitioner"}"#,
            "\n",
        );
        let cx = Context::read(input.as_bytes(), &RoleMap::default()).unwrap();
        assert_eq!(cx.stats.skipped.get("Observation"), Some(&1));
        assert_eq!(cx.stats.bad_count, 2);
        assert_eq!(cx.stats.bad[0].line, 3);
        assert!(cx.stats.bad[1].problem.contains("without id"));
        let p = cx.patients[0].person.as_ref().unwrap();
        assert_eq!(p.family, "dejong");
    }

    #[test]
    fn neighbours_share_a_street_or_postcode_but_not_the_dwelling() {
        let a = |line: &str, pc: &str| Address {
            line: line.into(),
            street: line.split(' ').next().unwrap().into(),
            postcode: pc.into(),
            city: "zwolle".into(),
        };
        assert!(a("kerkstraat 1", "8011AA").same_dwelling(&a("kerkstraat 1", "8011AA")));
        assert!(a("kerkstraat 1", "8011AA").neighbour_of(&a("kerkstraat 9", "8011AB")));
        assert!(a("kerkstraat 1", "8011AA").neighbour_of(&a("molenweg 2", "8011AA")));
        assert!(!a("kerkstraat 1", "8011AA").neighbour_of(&a("kerkstraat 1", "8011AA")));
        assert!(!a("kerkstraat 1", "8011AA").neighbour_of(&a("molenweg 2", "8011XX")));
    }
}

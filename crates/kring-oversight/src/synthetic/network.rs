//! The synthetic care network: organisations of every kind with locations, staff with roles
//! and shifts, clients in households (Dutch surnames by frequency, so many unrelated clients
//! share one), residential clients at care locations, VIPs, staff who are clients themselves
//! or live with one, and care relationships of which a share was never registered.

use kring_demo::names::{BOYS, GIRLS, STREETS, SURNAMES, TOWNS};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::roles::RoleKind;

use super::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    Wijkteam,
    Jeugdzorg,
    Ggz,
    Gehandicaptenzorg,
    Huisarts,
}

impl OrgKind {
    pub const ALL: [OrgKind; 5] = [
        OrgKind::Wijkteam,
        OrgKind::Jeugdzorg,
        OrgKind::Ggz,
        OrgKind::Gehandicaptenzorg,
        OrgKind::Huisarts,
    ];
    pub fn name(self) -> &'static str {
        match self {
            OrgKind::Wijkteam => "Wijkteam",
            OrgKind::Jeugdzorg => "Jeugdzorg",
            OrgKind::Ggz => "GGZ",
            OrgKind::Gehandicaptenzorg => "Gehandicaptenzorg",
            OrgKind::Huisarts => "Huisartsenpraktijk",
        }
    }
    /// The care role of this kind of organisation: (code, text).
    pub fn care_role(self) -> (&'static str, &'static str) {
        match self {
            OrgKind::Wijkteam => ("WTM", "Wijkteammedewerker"),
            OrgKind::Jeugdzorg => ("JZW", "Jeugdzorgwerker"),
            OrgKind::Ggz => ("GZP", "GZ-psycholoog"),
            OrgKind::Gehandicaptenzorg => ("PBG", "Persoonlijk begeleider"),
            OrgKind::Huisarts => ("HA", "Huisarts"),
        }
    }
}

/// The (code, text) of a role kind that is not care.
pub fn role_code(kind: RoleKind, org: OrgKind) -> (&'static str, &'static str) {
    match kind {
        RoleKind::Care => org.care_role(),
        RoleKind::Administration => ("ADM", "Administratief medewerker"),
        RoleKind::Planning => ("PLN", "Planner"),
        RoleKind::NightShift => ("NDW", "Nachtdienstmedewerker"),
        RoleKind::CrisisService => ("CRS", "Crisisdienst"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub town: usize,
    pub street: String,
    pub number: u32,
    pub postcode: String,
}

#[derive(Debug, Clone)]
pub struct Org {
    pub kind: OrgKind,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Loc {
    pub org: usize,
    pub residential: bool,
    pub address: Addr,
}

/// When a member of staff usually works (local hours, start inclusive, end exclusive).
#[derive(Debug, Clone, Copy)]
pub struct Shift {
    pub start: u32,
    pub end: u32,
    pub weekends: bool,
}

#[derive(Debug, Clone)]
pub struct Staff {
    pub org: usize,
    pub location: usize,
    pub kind: RoleKind,
    pub family: &'static str,
    pub given: &'static str,
    pub birth: String,
    pub home: Addr,
    pub shift: Shift,
    /// The client record of this member of staff, if they are a client too.
    pub own_record: Option<usize>,
    /// A client in the same household.
    pub household_client: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub org: usize,
    pub location: usize,
    pub residential: bool,
    pub family: &'static str,
    pub given: &'static str,
    pub birth: String,
    pub home: Addr,
    /// `patient-importance` code.
    pub importance: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Relation {
    pub staff: usize,
    pub client: usize,
    /// Days relative to the log's first day (negative: before it).
    pub start_day: i64,
    pub end_day: Option<i64>,
    pub registered: bool,
    /// Visits per week.
    pub visits: f64,
    /// Whether the user writes reports (documented work) — nearly always.
    pub documents: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Network {
    pub orgs: Vec<Org>,
    pub locations: Vec<Loc>,
    pub staff: Vec<Staff>,
    pub clients: Vec<Client>,
    pub relations: Vec<Relation>,
    pub streets: Vec<String>,
}

const STREET_PREFIXES: &[&str] = &[
    "", "Nieuwe ", "Oude ", "Korte ", "Lange ", "Achter ", "Hoge ", "Lage ",
];

fn surname(rng: &mut ChaCha8Rng) -> &'static str {
    let total: u32 = SURNAMES.iter().map(|s| s.1).sum();
    let mut x = rng.gen_range(0..total);
    for (name, w) in SURNAMES {
        if x < *w {
            return name;
        }
        x -= w;
    }
    SURNAMES[0].0
}

fn given(rng: &mut ChaCha8Rng) -> &'static str {
    if rng.gen_bool(0.5) {
        GIRLS.choose(rng).copied().unwrap_or("Anna")
    } else {
        BOYS.choose(rng).copied().unwrap_or("Jan")
    }
}

fn birth(rng: &mut ChaCha8Rng, from: i32, to: i32) -> String {
    format!(
        "{}-{:02}-{:02}",
        rng.gen_range(from..=to),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28)
    )
}

impl Network {
    fn address(&self, rng: &mut ChaCha8Rng) -> Addr {
        let town = rng.gen_range(0..TOWNS.len());
        let s = rng.gen_range(0..self.streets.len());
        let number = rng.gen_range(1..=120u32);
        Addr {
            town,
            street: self.streets[s].clone(),
            number,
            // One postcode per street and block of about 20 numbers, as in Dutch postcodes.
            postcode: format!(
                "{}{}{}{}",
                TOWNS[town].1,
                s % 10,
                (b'A' + (s / 10 % 26) as u8) as char,
                (b'A' + (number / 20) as u8) as char
            ),
        }
    }

    /// Generates the network for `p`.
    pub fn generate(p: &Params, rng: &mut ChaCha8Rng) -> Network {
        let mut n = Network {
            streets: STREET_PREFIXES
                .iter()
                .flat_map(|pre| STREETS.iter().map(move |s| format!("{pre}{s}")))
                .collect(),
            ..Network::default()
        };
        // Organisations: one of every kind per 1,500 staff (at least one of each).
        let per_kind = (p.staff / 1500).max(1);
        for k in 0..per_kind {
            for kind in OrgKind::ALL {
                n.orgs.push(Org {
                    kind,
                    name: format!("{} {}", kind.name(), TOWNS[k % TOWNS.len()].0),
                });
            }
        }
        // Locations: about one per 25 staff, spread over the organisations.
        let locations = (p.staff / 25).max(n.orgs.len() * 2);
        for l in 0..locations {
            let org = l % n.orgs.len();
            let residential = n.orgs[org].kind == OrgKind::Gehandicaptenzorg && l % 2 == 0;
            let address = n.address(rng);
            n.locations.push(Loc {
                org,
                residential,
                address,
            });
        }
        let locations_of = |n: &Network, org: usize| -> Vec<usize> {
            (0..n.locations.len())
                .filter(|&l| n.locations[l].org == org)
                .collect()
        };
        // Staff.
        for _ in 0..p.staff {
            let org = rng.gen_range(0..n.orgs.len());
            let kind_of_org = n.orgs[org].kind;
            let x: f64 = rng.gen();
            let kind = if x < 0.05 {
                RoleKind::Administration
            } else if x < 0.08 {
                RoleKind::Planning
            } else if x < 0.16 && kind_of_org == OrgKind::Gehandicaptenzorg {
                RoleKind::NightShift
            } else if x < 0.13 && kind_of_org == OrgKind::Ggz {
                RoleKind::CrisisService
            } else {
                RoleKind::Care
            };
            let mut locs = locations_of(&n, org);
            if kind == RoleKind::NightShift {
                locs.retain(|&l| n.locations[l].residential);
            }
            let location = *locs.choose(rng).unwrap_or(&0);
            let shift = match kind {
                RoleKind::NightShift => Shift {
                    start: 22,
                    end: 31,
                    weekends: true,
                },
                RoleKind::CrisisService => Shift {
                    start: 0,
                    end: 24,
                    weekends: true,
                },
                _ => {
                    let start = rng.gen_range(7..=10);
                    let length = rng.gen_range(7..=9);
                    Shift {
                        start,
                        end: start + length,
                        weekends: n.locations[location].residential,
                    }
                }
            };
            let home = n.address(rng);
            n.staff.push(Staff {
                org,
                location,
                kind,
                family: surname(rng),
                given: given(rng),
                birth: birth(rng, 1960, 2002),
                home,
                shift,
                own_record: None,
                household_client: None,
            });
        }
        // Clients, in households.
        while n.clients.len() < p.clients {
            let family = surname(rng);
            let home = n.address(rng);
            let size = rng.gen_range(1..=4);
            let org = rng.gen_range(0..n.orgs.len());
            let locs = locations_of(&n, org);
            for m in 0..size {
                if n.clients.len() >= p.clients {
                    break;
                }
                let child = m >= 2 || (size > 1 && m == 1 && rng.gen_bool(0.3));
                let location = *locs.choose(rng).unwrap_or(&0);
                let residential = n.locations[location].residential && !child && rng.gen_bool(0.3);
                let home = if residential {
                    n.locations[location].address.clone()
                } else {
                    home.clone()
                };
                n.clients.push(Client {
                    org,
                    location,
                    residential,
                    family,
                    given: given(rng),
                    birth: if child {
                        birth(rng, 2008, 2024)
                    } else {
                        birth(rng, 1940, 2005)
                    },
                    home,
                    importance: rng.gen_bool(0.003).then_some("VIP"),
                });
            }
        }
        // Staff who are clients themselves (1%), or live with a client (2%).
        for s in 0..n.staff.len() {
            let x: f64 = rng.gen();
            if x < 0.01 {
                let c = rng.gen_range(0..n.clients.len());
                let staff = &n.staff[s];
                let client = &mut n.clients[c];
                client.family = staff.family;
                client.given = staff.given;
                client.birth = staff.birth.clone();
                client.home = staff.home.clone();
                client.residential = false;
                if rng.gen_bool(0.5) {
                    client.importance = Some("STF");
                }
                n.staff[s].own_record = Some(c);
            } else if x < 0.03 {
                let c = rng.gen_range(0..n.clients.len());
                if n.clients[c].residential {
                    continue;
                }
                n.staff[s].family = n.clients[c].family;
                n.staff[s].home = n.clients[c].home.clone();
                n.staff[s].household_client = Some(c);
            }
        }
        // Care relationships: 1–3 carers from the client's organisation, preferably from the
        // client's location; some ended months ago; a share never registered.
        let mut carers_at: Vec<Vec<usize>> = vec![Vec::new(); n.locations.len()];
        let mut carers_of: Vec<Vec<usize>> = vec![Vec::new(); n.orgs.len()];
        for (s, st) in n.staff.iter().enumerate() {
            if st.kind == RoleKind::Care {
                carers_at[st.location].push(s);
                carers_of[st.org].push(s);
            }
        }
        let days = i64::from(p.days);
        for c in 0..n.clients.len() {
            let client = &n.clients[c];
            let pool = if carers_at[client.location].is_empty() {
                &carers_of[client.org]
            } else {
                &carers_at[client.location]
            };
            if pool.is_empty() {
                continue;
            }
            let count = rng.gen_range(1..=3);
            for k in 0..count {
                let staff = pool[rng.gen_range(0..pool.len())];
                if n.staff[staff].own_record == Some(c)
                    || n.staff[staff].household_client == Some(c)
                {
                    continue;
                }
                let start_day = -rng.gen_range(0..400);
                let end_day = if rng.gen_bool(0.06) {
                    Some(rng.gen_range(0..days))
                } else {
                    None
                };
                n.relations.push(Relation {
                    staff,
                    client: c,
                    start_day,
                    end_day,
                    registered: !rng.gen_bool(p.unregistered),
                    visits: if k == 0 {
                        rng.gen_range(0.5..3.0)
                    } else {
                        rng.gen_range(0.2..1.0)
                    },
                    documents: rng.gen_bool(0.995),
                });
            }
            // A relationship that ended long ago (registered, with its end date).
            if rng.gen_bool(0.3) {
                let staff = pool[rng.gen_range(0..pool.len())];
                n.relations.push(Relation {
                    staff,
                    client: c,
                    start_day: -rng.gen_range(300..700),
                    end_day: Some(-rng.gen_range(60..240)),
                    registered: true,
                    visits: 0.0,
                    documents: true,
                });
            }
        }
        n
    }
}

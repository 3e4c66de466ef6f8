//! A second, independent synthetic care network — "Rivierenland" — to measure the engine on
//! a log it was not tuned on (issue 23). It was written from its own description
//! (`docs/oversight.md`, "The second generator"), not from [`crate::synthetic`]'s code: its
//! own organisations, names, distributions and habits, and it speaks to the engine only
//! through the file formats (CONTEXT and AUDIT NDJSON, ROLES JSON), as another record
//! system would.
//!
//! What makes it different, on purpose: 15 % of care relationships never registered; some
//! relationships registered on a PractitionerRole or a staff team instead of a person;
//! documentation habits that differ per carer (a third hardly write, and some write their
//! reports in one go on Friday afternoon); agenda habits that differ per carer; sick days,
//! when a colleague of the same team takes over the day's contacts; residential group homes
//! worked in day, late and night shifts with a hand-over read of the residents; a crisis
//! service that breaks the glass for other organisations' clients *and* follows them up with
//! ordinary reads for days; referrals from the wijkteam read by the receiving intake before
//! anyone is registered; the occasional refused slip; instants written with a `+01:00` offset,
//! requestors given as PractitionerRole half of the time, absolute entity URLs.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::finding::Reason;

const MINUTE: i64 = 60_000;
/// Monday 2 November 2026, 00:00 Dutch time (CET all month), as a UTC instant.
const START_UTC: i64 = 1_793_574_000_000;
/// Central European Time, the offset of every instant of the month.
const OFFSET: i64 = 3_600_000;

/// The size of the region and the number of planted violations.
#[derive(Debug, Clone)]
pub struct RegionParams {
    pub seed: u64,
    /// Clients (households are formed among them).
    pub clients: usize,
    /// Days from Monday 2 November 2026 (at most 28: November is CET throughout).
    pub days: i64,
    /// Planted violations of each kind.
    pub plants: usize,
}

impl RegionParams {
    /// Four weeks of a region of 3,000 clients and about 230 staff.
    pub fn month(seed: u64) -> RegionParams {
        RegionParams {
            seed,
            clients: 3_000,
            days: 28,
            plants: 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// Wijkcoach of the municipality's team.
    Coach,
    /// Ambulant hulpverlener (GGZ, youth care, disability care at home).
    Ambulant,
    /// Woonbegeleider in a group home, in shifts.
    Residential,
    /// Crisisdienst of the GGZ, around the clock.
    Crisis,
    /// Secretariaat.
    Secretary,
    /// Roosterplanner.
    Planner,
}

impl Job {
    fn code(self) -> (&'static str, &'static str, &'static str) {
        // (code, display, the ROLES file's kind)
        match self {
            Job::Coach => ("WC", "Wijkcoach", "care"),
            Job::Ambulant => ("AH", "Ambulant hulpverlener", "care"),
            Job::Residential => ("WB", "Woonbegeleider", "care"),
            Job::Crisis => ("CD", "Medewerker crisisdienst", "crisis-service"),
            Job::Secretary => ("SEC", "Secretariaat", "administration"),
            Job::Planner => ("RP", "Roosterplanner", "planning"),
        }
    }
}

#[derive(Debug, Clone)]
struct Person {
    family: String,
    given: &'static str,
    birth: String,
    street: usize,
    number: u32,
    bsn: String,
}

struct Org {
    name: &'static str,
}

struct Loc {
    org: usize,
    street: usize,
    number: u32,
    residential: bool,
}

struct Worker {
    person: Person,
    org: usize,
    loc: usize,
    team: usize,
    job: Job,
    /// Share of contacts the worker writes a report about.
    doc_rate: f64,
    /// Whether reports are written on Friday afternoon rather than the same day.
    batches: bool,
    /// Share of contacts the worker puts in the agenda.
    agenda_rate: f64,
    /// Working days (per day of the period).
    works: Vec<bool>,
    /// Sick or on leave (per day).
    absent: Vec<bool>,
    /// Residential and crisis workers: the shift per day (0 day, 1 late, 2 night).
    shift: Vec<u8>,
    /// The worker is also a client (their own record).
    is_client: Option<usize>,
    /// A child or partner of the worker is a client, at the worker's address.
    relative: Option<usize>,
}

struct Client {
    person: Person,
    org: usize,
    /// The group home the client lives in.
    home: Option<usize>,
    vip: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Registered {
    No,
    Person,
    Role,
    Team,
}

struct Bond {
    worker: usize,
    client: usize,
    start: i64,
    end: Option<i64>,
    registered: Registered,
}

/// One access, in Dutch local minutes from the start of the period.
#[derive(Debug, Clone)]
pub struct RegionEvent {
    minute: i64,
    worker: usize,
    client: usize,
    write: bool,
    /// 0 none, 1 with a reason, 2 without a reason.
    emergency: u8,
    denied: bool,
    via_role: bool,
    pub planted: Option<Reason>,
}

/// The generated region, its context resources and its log, in time order.
pub struct Region {
    pub params: RegionParams,
    orgs: Vec<Org>,
    locs: Vec<Loc>,
    workers: Vec<Worker>,
    clients: Vec<Client>,
    bonds: Vec<Bond>,
    teams: Vec<Vec<usize>>,
    appointments: Vec<(usize, usize, i64)>,
    referrals: Vec<(usize, usize, usize, i64)>,
    pub events: Vec<RegionEvent>,
}

const FAMILIES: [(&str, u32); 24] = [
    ("Jansen", 30),
    ("de Jong", 28),
    ("Bos", 18),
    ("van den Berg", 20),
    ("Vermeulen", 14),
    ("Mulder", 16),
    ("Smit", 16),
    ("Kok", 10),
    ("van Leeuwen", 12),
    ("Hendriks", 14),
    ("Verbeek", 10),
    ("Schouten", 8),
    ("Willems", 8),
    ("van Dam", 9),
    ("Brouwer", 11),
    ("Prins", 6),
    ("Yilmaz", 9),
    ("El Amrani", 7),
    ("Kaya", 6),
    ("Gerritsen", 7),
    ("Kuipers", 6),
    ("van der Heijden", 9),
    ("Timmermans", 5),
    ("Sarmo", 3),
];
const GIVEN: [&str; 24] = [
    "Noor", "Sem", "Julia", "Daan", "Emma", "Lucas", "Mila", "Finn", "Sara", "Levi", "Anouk",
    "Bram", "Fatima", "Mohamed", "Iris", "Thijs", "Lotte", "Ruben", "Eva", "Jesse", "Fleur",
    "Ahmet", "Roos", "Kees",
];
/// Streets in the region: (street, postcode, town).
const STREETS: [(&str, &str, &str); 18] = [
    ("Dijkstraat", "4001 AA", "Tiel"),
    ("Waalkade", "4001 AB", "Tiel"),
    ("Kerkstraat", "4001 BC", "Tiel"),
    ("Stationsweg", "4002 CD", "Tiel"),
    ("Lingedijk", "4003 DE", "Tiel"),
    ("Molenweg", "4011 EF", "Zoelen"),
    ("Kerkstraat", "4011 FG", "Zoelen"),
    ("Rijksstraatweg", "4043 GH", "Opheusden"),
    ("Dorpsstraat", "4043 HJ", "Opheusden"),
    ("Appelgaard", "4051 JK", "Ochten"),
    ("Nieuwstraat", "4051 KL", "Ochten"),
    ("Graafstraat", "4101 LM", "Culemborg"),
    ("Havendijk", "4101 MN", "Culemborg"),
    ("Zandstraat", "4102 NP", "Culemborg"),
    ("Parallelweg", "4102 PR", "Culemborg"),
    ("Hoogstraat", "4001 RS", "Tiel"),
    ("Bloemenlaan", "4003 ST", "Tiel"),
    ("Weidegang", "4103 TV", "Culemborg"),
];

fn local(minute: i64) -> String {
    // A Dutch local time with its offset, as many record systems write it.
    let utc = START_UTC + minute * MINUTE;
    let s = kring_fhir::datetime::format_instant(utc + OFFSET);
    format!("{}+01:00", &s[..19])
}

struct Gen<'a> {
    rng: ChaCha8Rng,
    p: &'a RegionParams,
}

impl Gen<'_> {
    fn person(&mut self, min_age: u32, max_age: u32) -> Person {
        let total: u32 = FAMILIES.iter().map(|f| f.1).sum();
        let mut pick = self.rng.gen_range(0..total);
        let mut family = FAMILIES[0].0;
        for (f, w) in FAMILIES {
            if pick < w {
                family = f;
                break;
            }
            pick -= w;
        }
        let age = self.rng.gen_range(min_age..=max_age);
        Person {
            family: family.to_string(),
            given: GIVEN[self.rng.gen_range(0..GIVEN.len())],
            birth: format!(
                "{}-{:02}-{:02}",
                2026 - age,
                self.rng.gen_range(1..=12),
                self.rng.gen_range(1..=28)
            ),
            street: self.rng.gen_range(0..STREETS.len()),
            number: self.rng.gen_range(1..=160),
            bsn: format!("{:09}", self.rng.gen_range(100_000_000u32..999_999_999)),
        }
    }

    fn week_days(&mut self, per_week: usize) -> Vec<bool> {
        let mut week: Vec<usize> = (0..5).collect();
        week.shuffle(&mut self.rng);
        let on: HashSet<usize> = week.into_iter().take(per_week).collect();
        (0..self.p.days)
            .map(|d| on.contains(&((d % 7) as usize)))
            .collect()
    }
}

impl Region {
    pub fn generate(p: RegionParams) -> Region {
        let mut g = Gen {
            rng: ChaCha8Rng::seed_from_u64(p.seed ^ 0x5249_5649_4552),
            p: &p,
        };
        let days = p.days;
        let orgs = vec![
            Org {
                name: "Gemeente Rivierenland, sociaal wijkteam",
            },
            Org { name: "GGZ Betuwe" },
            Org {
                name: "Stichting Samen Wonen",
            },
            Org {
                name: "Jeugdhulp Rivierenland",
            },
        ];
        // Offices (one per organisation) and five group homes of the disability carer.
        let mut locs = Vec::new();
        for org in 0..4 {
            locs.push(Loc {
                org,
                street: g.rng.gen_range(0..STREETS.len()),
                number: 200 + org as u32,
                residential: false,
            });
        }
        for h in 0..5 {
            locs.push(Loc {
                org: 2,
                street: g.rng.gen_range(0..STREETS.len()),
                number: 300 + h,
                residential: true,
            });
        }
        // Staff: (org, job, location, count).
        let plan: [(usize, Job, usize, usize); 12] = [
            (0, Job::Coach, 0, 32),
            (0, Job::Secretary, 0, 2),
            (1, Job::Ambulant, 1, 40),
            (1, Job::Crisis, 1, 8),
            (1, Job::Secretary, 1, 2),
            (1, Job::Planner, 1, 2),
            (2, Job::Ambulant, 2, 18),
            (2, Job::Residential, 4, 60),
            (2, Job::Secretary, 2, 2),
            (2, Job::Planner, 2, 2),
            (3, Job::Ambulant, 3, 30),
            (3, Job::Secretary, 3, 2),
        ];
        let mut workers = Vec::new();
        let mut teams: Vec<Vec<usize>> = Vec::new();
        for (org, job, loc, count) in plan {
            let team_size = if job == Job::Residential { 12 } else { 8 };
            for i in 0..count {
                if i % team_size == 0 {
                    teams.push(Vec::new());
                }
                let loc = if job == Job::Residential {
                    loc + i / 12
                } else {
                    loc
                };
                let style: f64 = g.rng.gen();
                let doc_rate = if style < 0.45 {
                    g.rng.gen_range(0.8..0.98)
                } else if style < 0.7 {
                    g.rng.gen_range(0.4..0.7)
                } else {
                    g.rng.gen_range(0.02..0.25)
                };
                let per_week = *[5usize, 4, 4, 3].choose(&mut g.rng).unwrap_or(&4);
                let mut works = g.week_days(per_week);
                let mut shift = vec![0u8; days as usize];
                if matches!(job, Job::Residential | Job::Crisis) {
                    // A rota: five shifts in seven days, one kind per week.
                    for week in 0..(days as usize).div_ceil(7) {
                        let kind = g.rng.gen_range(0..3u8);
                        let mut week_days: Vec<usize> = (0..7).collect();
                        week_days.shuffle(&mut g.rng);
                        for (k, d) in week_days.into_iter().enumerate() {
                            let day = week * 7 + d;
                            if day < days as usize {
                                works[day] = k < 5;
                                shift[day] = kind;
                            }
                        }
                    }
                }
                let absent = (0..days).map(|_| g.rng.gen_bool(0.06)).collect();
                let team = teams.len() - 1;
                teams[team].push(workers.len());
                workers.push(Worker {
                    person: g.person(22, 63),
                    org,
                    loc,
                    team,
                    job,
                    doc_rate,
                    batches: g.rng.gen_bool(0.2),
                    agenda_rate: g.rng.gen_range(0.2..0.9),
                    works,
                    absent,
                    shift,
                    is_client: None,
                    relative: None,
                });
            }
        }
        // Clients: households of one to five; youth care and the wijkteam have the families.
        let mut clients: Vec<Client> = Vec::new();
        while clients.len() < p.clients {
            let org = *[0usize, 1, 1, 2, 3, 3].choose(&mut g.rng).unwrap_or(&1);
            let size = if org == 3 || (org == 0 && g.rng.gen_bool(0.5)) {
                g.rng.gen_range(2..=5)
            } else {
                1
            };
            let head = g.person(25, 80);
            for k in 0..size {
                let mut person = if k == 0 {
                    head.clone()
                } else {
                    let mut c = g.person(2, 17);
                    c.family = head.family.clone();
                    c.street = head.street;
                    c.number = head.number;
                    c
                };
                person.given = GIVEN[g.rng.gen_range(0..GIVEN.len())];
                clients.push(Client {
                    person,
                    org,
                    home: None,
                    vip: false,
                });
            }
        }
        clients.truncate(p.clients);
        // Group-home residents.
        let disability: Vec<usize> = (0..clients.len())
            .filter(|&c| clients[c].org == 2)
            .collect();
        for (i, &c) in disability.iter().take(70).enumerate() {
            let h = 4 + i % 5;
            clients[c].home = Some(h);
            clients[c].person.street = locs[h].street;
            clients[c].person.number = locs[h].number;
        }
        // Public figures: an alderman, a footballer, a presenter.
        for _ in 0..4 {
            let c = g.rng.gen_range(0..clients.len());
            if clients[c].home.is_none() {
                clients[c].vip = true;
            }
        }
        // Staff who are clients, and staff whose child or partner is one.
        let n_workers = workers.len();
        for worker in workers.iter_mut() {
            let roll: f64 = g.rng.gen();
            let c = g.rng.gen_range(0..clients.len());
            if clients[c].home.is_some() || clients[c].vip {
                continue;
            }
            if roll < 0.05 {
                clients[c].person = worker.person.clone();
                worker.is_client = Some(c);
            } else if roll < 0.12 {
                clients[c].person.family = worker.person.family.clone();
                clients[c].person.street = worker.person.street;
                clients[c].person.number = worker.person.number;
                worker.relative = Some(c);
            }
        }
        // Care relationships.
        let by_org_job = |org: usize, job: Job| -> Vec<usize> {
            (0..n_workers)
                .filter(|&w| workers[w].org == org && workers[w].job == job)
                .collect()
        };
        let mut bonds = Vec::new();
        let registration = |g: &mut Gen, job: Job| -> Registered {
            let r: f64 = g.rng.gen();
            if r < 0.15 {
                Registered::No
            } else if job == Job::Residential && r < 0.55 {
                Registered::Team
            } else if r < 0.4 {
                Registered::Role
            } else {
                Registered::Person
            }
        };
        let coaches = by_org_job(0, Job::Coach);
        let crisis = by_org_job(1, Job::Crisis);
        #[allow(clippy::needless_range_loop)] // c names the client in the bonds it makes
        for c in 0..clients.len() {
            let org = clients[c].org;
            let carers: Vec<usize> = if let Some(h) = clients[c].home {
                (0..n_workers)
                    .filter(|&w| workers[w].loc == h)
                    .collect::<Vec<_>>()
                    .choose_multiple(&mut g.rng, 2)
                    .copied()
                    .collect()
            } else if org == 0 {
                coaches.choose(&mut g.rng).into_iter().copied().collect()
            } else {
                let mut list: Vec<usize> = by_org_job(org, Job::Ambulant)
                    .choose(&mut g.rng)
                    .into_iter()
                    .copied()
                    .collect();
                if g.rng.gen_bool(0.3) {
                    list.extend(coaches.choose(&mut g.rng));
                }
                list
            };
            for w in carers {
                let start = -g.rng.gen_range(0..400);
                let end = if g.rng.gen_bool(0.05) {
                    Some(g.rng.gen_range(1..days))
                } else {
                    None
                };
                let registered = registration(&mut g, workers[w].job);
                bonds.push(Bond {
                    worker: w,
                    client: c,
                    start,
                    end,
                    registered,
                });
            }
            // A GGZ client in crisis care this month, followed by the crisis service.
            if org == 1 && g.rng.gen_bool(0.03) {
                let w = crisis[g.rng.gen_range(0..crisis.len())];
                let registered = if g.rng.gen_bool(0.7) {
                    Registered::Person
                } else {
                    Registered::No
                };
                bonds.push(Bond {
                    worker: w,
                    client: c,
                    start: g.rng.gen_range(-20..days),
                    end: None,
                    registered,
                });
            }
            // A former carer, whose relationship ended long ago or a few weeks ago.
            if g.rng.gen_bool(0.2) && clients[c].home.is_none() {
                let pool = if org == 0 {
                    coaches.clone()
                } else {
                    by_org_job(org, Job::Ambulant)
                };
                if let Some(&w) = pool.choose(&mut g.rng) {
                    let end = -g.rng.gen_range(5..300);
                    bonds.push(Bond {
                        worker: w,
                        client: c,
                        start: end - g.rng.gen_range(60..400),
                        end: Some(end),
                        registered: Registered::Person,
                    });
                }
            }
        }
        let mut region = Region {
            params: p.clone(),
            orgs,
            locs,
            workers,
            clients,
            bonds,
            teams,
            appointments: Vec::new(),
            referrals: Vec::new(),
            events: Vec::new(),
        };
        region.work(&mut g);
        region.plant(&mut g);
        region.events.sort_by_key(|e| e.minute);
        region
    }

    fn push(&mut self, minute: i64, worker: usize, client: usize, write: bool) {
        // Half of the accesses name the PractitionerRole, half the person.
        let via_role = (minute + worker as i64) % 2 == 0;
        self.events.push(RegionEvent {
            minute,
            worker,
            client,
            write,
            emergency: 0,
            denied: false,
            via_role,
            planted: None,
        });
    }

    /// The month's legitimate work.
    fn work(&mut self, g: &mut Gen) {
        let days = self.params.days;
        let n = self.workers.len();
        let mut caseload: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (b, bond) in self.bonds.iter().enumerate() {
            caseload[bond.worker].push(b);
        }
        let residents: HashMap<usize, Vec<usize>> =
            self.clients
                .iter()
                .enumerate()
                .fold(HashMap::new(), |mut m, (c, cl)| {
                    if let Some(h) = cl.home {
                        m.entry(h).or_insert_with(Vec::new).push(c);
                    }
                    m
                });
        let own_org: Vec<Vec<usize>> = (0..self.orgs.len())
            .map(|o| {
                (0..self.clients.len())
                    .filter(|&c| self.clients[c].org == o)
                    .collect()
            })
            .collect();
        for d in 0..days {
            let weekday = d % 7 < 5;
            #[allow(clippy::needless_range_loop)] // w also names the worker in the events
            for w in 0..n {
                let worker = &self.workers[w];
                let job = worker.job;
                if !worker.works[d as usize]
                    || (!weekday && !matches!(job, Job::Residential | Job::Crisis))
                {
                    continue;
                }
                let absent = worker.absent[d as usize];
                let team = worker.team;
                let (doc, batches, agenda) = (worker.doc_rate, worker.batches, worker.agenda_rate);
                let shift_start = match worker.shift[d as usize] {
                    0 => 7 * 60,
                    1 => 15 * 60,
                    _ => 23 * 60,
                };
                let org = worker.org;
                let loc = worker.loc;
                match job {
                    Job::Coach | Job::Ambulant => {
                        for &b in &caseload[w] {
                            let bond = &self.bonds[b];
                            let client = bond.client;
                            if bond.start > d || bond.end.is_some_and(|e| e < d) {
                                // Final reports in the weeks after an ending.
                                if bond.end.is_some_and(|e| e < d && d - e < 20)
                                    && !absent
                                    && g.rng.gen_bool(0.05)
                                {
                                    let m = d * 1440 + g.rng.gen_range(9 * 60..17 * 60);
                                    self.push(m, w, client, g.rng.gen_bool(0.5));
                                }
                                continue;
                            }
                            if !g.rng.gen_bool(0.3) {
                                // Looking something up between contacts.
                                if g.rng.gen_bool(0.08) && !absent {
                                    let m = d * 1440 + g.rng.gen_range(8 * 60..18 * 60);
                                    self.push(m, w, client, false);
                                }
                                continue;
                            }
                            // A contact today; when the carer is away, a team colleague.
                            let who = if absent {
                                let present: Vec<usize> = self.teams[team]
                                    .iter()
                                    .copied()
                                    .filter(|&o| {
                                        o != w
                                            && self.workers[o].works[d as usize]
                                            && !self.workers[o].absent[d as usize]
                                    })
                                    .collect();
                                match present.choose(&mut g.rng) {
                                    Some(&o) => o,
                                    None => continue,
                                }
                            } else {
                                w
                            };
                            let at = d * 1440 + g.rng.gen_range(8 * 60 + 30..17 * 60);
                            for _ in 0..g.rng.gen_range(1..=3) {
                                let m = (at + g.rng.gen_range(-120..120)).max(d * 1440 + 7 * 60);
                                self.push(m, who, client, false);
                            }
                            if who == w && g.rng.gen_bool(agenda) {
                                self.appointments.push((w, client, at));
                            }
                            let writes = if who == w { doc } else { doc * 0.5 };
                            if g.rng.gen_bool(writes) {
                                let friday = d - d % 7 + 4;
                                // Friday's batch is written only by one who is in that day.
                                let batch = batches
                                    && who == w
                                    && friday < days
                                    && !self.workers[w].absent[friday as usize];
                                let m = if batch {
                                    friday * 1440 + g.rng.gen_range(14 * 60..17 * 60)
                                } else {
                                    at + g.rng.gen_range(30..180)
                                };
                                if m < days * 1440 {
                                    self.push(m, who, client, true);
                                }
                            }
                        }
                        // A coach refers a client to another organisation now and then.
                        if job == Job::Coach && !absent && g.rng.gen_bool(0.08) {
                            if let Some(&b) = caseload[w].choose(&mut g.rng) {
                                let client = self.bonds[b].client;
                                let to = g.rng.gen_range(1..4);
                                let intake: Vec<usize> = (0..n)
                                    .filter(|&o| {
                                        self.workers[o].org == to
                                            && self.workers[o].job == Job::Ambulant
                                    })
                                    .collect();
                                if let Some(&i) = intake.choose(&mut g.rng) {
                                    let at = d * 1440 + g.rng.gen_range(9 * 60..16 * 60);
                                    self.referrals.push((client, w, to, at));
                                    for k in 0..g.rng.gen_range(1..=3) {
                                        let day = d + g.rng.gen_range(1..10) + k;
                                        if day < days
                                            && day % 7 < 5
                                            && !self.workers[i].absent[day as usize]
                                        {
                                            let m = day * 1440 + g.rng.gen_range(9 * 60..17 * 60);
                                            self.push(m, i, client, false);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    Job::Residential => {
                        if absent {
                            continue;
                        }
                        let here = residents.get(&loc).cloned().unwrap_or_default();
                        // The hand-over: the residents' day notes.
                        let k = g.rng.gen_range(3..8);
                        let handover: Vec<usize> =
                            here.choose_multiple(&mut g.rng, k).copied().collect();
                        for c in handover {
                            let m = d * 1440 + shift_start + g.rng.gen_range(0..30);
                            self.push(m, w, c, false);
                        }
                        // During the shift, the own mentees and a few others; reports.
                        let k = g.rng.gen_range(2..5);
                        let mentees: Vec<usize> =
                            here.choose_multiple(&mut g.rng, k).copied().collect();
                        for c in mentees {
                            let m = d * 1440 + shift_start + g.rng.gen_range(30..470);
                            self.push(m, w, c, false);
                            if g.rng.gen_bool(doc) {
                                self.push(m + g.rng.gen_range(5..60), w, c, true);
                            }
                        }
                    }
                    Job::Crisis => {
                        if absent {
                            continue;
                        }
                        // Ordinary reads of the crisis caseload.
                        for &b in &caseload[w] {
                            let bond = &self.bonds[b];
                            if bond.start <= d && g.rng.gen_bool(0.5) {
                                let c = bond.client;
                                let m = d * 1440 + shift_start + g.rng.gen_range(0..480);
                                self.push(m, w, c, false);
                                if g.rng.gen_bool(0.6) {
                                    self.push(m + 20, w, c, true);
                                }
                            }
                        }
                        // Calls from anywhere in the region: break the glass with a reason,
                        // then follow the client up with ordinary reads for some days.
                        for _ in 0..g.rng.gen_range(0..=3) {
                            let c = g.rng.gen_range(0..self.clients.len());
                            if self.clients[c].vip
                                || self.workers[w].is_client == Some(c)
                                || self.workers[w].relative == Some(c)
                            {
                                continue;
                            }
                            let m = d * 1440 + shift_start + g.rng.gen_range(0..470);
                            self.events.push(RegionEvent {
                                minute: m,
                                worker: w,
                                client: c,
                                write: false,
                                emergency: 1,
                                denied: false,
                                via_role: g.rng.gen_bool(0.5),
                                planted: None,
                            });
                            self.push(m + 25, w, c, true);
                            for k in 1..=g.rng.gen_range(0..4) {
                                let day = d + k;
                                if day < days && !self.workers[w].absent[day as usize] {
                                    let m = day * 1440 + g.rng.gen_range(8 * 60..20 * 60);
                                    self.push(m, w, c, false);
                                }
                            }
                        }
                    }
                    Job::Secretary | Job::Planner => {
                        if absent {
                            continue;
                        }
                        let count = if job == Job::Secretary { 10..40 } else { 5..20 };
                        for _ in 0..g.rng.gen_range(count) {
                            let c = own_org[org][g.rng.gen_range(0..own_org[org].len())];
                            let m = d * 1440 + g.rng.gen_range(8 * 60 + 30..17 * 60);
                            self.push(m, w, c, g.rng.gen_bool(0.05));
                        }
                    }
                }
                // A slip: a mistyped search opens someone else, and is refused.
                if !absent && g.rng.gen_bool(0.01) {
                    let c = g.rng.gen_range(0..self.clients.len());
                    let m = d * 1440 + g.rng.gen_range(9 * 60..17 * 60);
                    self.events.push(RegionEvent {
                        minute: m,
                        worker: w,
                        client: c,
                        write: false,
                        emergency: 0,
                        denied: true,
                        via_role: false,
                        planted: None,
                    });
                }
            }
        }
    }

    fn plant_one(&mut self, minute: i64, w: usize, c: usize, kind: Reason) {
        self.events.push(RegionEvent {
            minute,
            worker: w,
            client: c,
            write: false,
            emergency: 0,
            denied: false,
            via_role: (minute + w as i64) % 2 == 0,
            planted: Some(kind),
        });
    }

    /// A minute in office hours on a random weekday of the period when worker `w` is in (a
    /// sick worker opens nothing).
    fn office_minute(&self, g: &mut Gen, w: usize) -> i64 {
        loop {
            let d = g.rng.gen_range(0..self.params.days);
            if d % 7 < 5 && !self.workers[w].absent[d as usize] {
                return d * 1440 + g.rng.gen_range(8 * 60 + 30..17 * 60);
            }
        }
    }

    /// The planted violations, `plants` of each kind, by ambulatory carers and coaches.
    fn plant(&mut self, g: &mut Gen) {
        let n = self.workers.len();
        let mut known: HashSet<(usize, usize)> = HashSet::new();
        for b in &self.bonds {
            known.insert((b.worker, b.client));
        }
        let carers: Vec<usize> = (0..n)
            .filter(|&w| matches!(self.workers[w].job, Job::Coach | Job::Ambulant))
            .collect();
        let street_of = |p: &Person| STREETS[p.street];
        // Someone the worker has no reason to open: no relationship, not at their location,
        // no personal tie, anywhere in the region.
        let stranger = |r: &Region, g: &mut Gen, w: usize| -> usize {
            loop {
                let c = g.rng.gen_range(0..r.clients.len());
                let cl = &r.clients[c];
                let wk = &r.workers[w];
                if !known.contains(&(w, c))
                    && !cl.vip
                    && cl.home != Some(wk.loc)
                    && street_of(&cl.person) != street_of(&wk.person)
                    && r.workers.iter().all(|o| o.is_client != Some(c))
                    && wk.relative != Some(c)
                {
                    return c;
                }
            }
        };
        let pick = |g: &mut Gen| carers[g.rng.gen_range(0..carers.len())];
        let own: Vec<usize> = (0..n)
            .filter(|&w| self.workers[w].is_client.is_some())
            .collect();
        let relatives: Vec<usize> = (0..n)
            .filter(|&w| self.workers[w].relative.is_some())
            .collect();
        let vips: Vec<usize> = (0..self.clients.len())
            .filter(|&c| self.clients[c].vip)
            .collect();
        let former: Vec<(usize, usize)> = self
            .bonds
            .iter()
            .filter(|b| b.end.is_some_and(|e| e < -60))
            .filter(|b| {
                !self.bonds.iter().any(|o| {
                    o.worker == b.worker && o.client == b.client && o.end.is_none_or(|e| e >= -60)
                })
            })
            .map(|b| (b.worker, b.client))
            .collect();
        let crisis: Vec<usize> = (0..n)
            .filter(|&w| self.workers[w].job == Job::Crisis)
            .collect();
        for _ in 0..self.params.plants {
            if let Some(&w) = own.choose(&mut g.rng) {
                let m = self.office_minute(g, w);
                let c = self.workers[w].is_client.unwrap_or(0);
                self.plant_one(m, w, c, Reason::OwnRecord);
            }
            if let Some(&w) = relatives.choose(&mut g.rng) {
                let m = self.office_minute(g, w);
                let c = self.workers[w].relative.unwrap_or(0);
                self.plant_one(m, w, c, Reason::Family);
            }
            // A neighbour: the same street, another house.
            for _ in 0..100 {
                let w = pick(g);
                let wp = &self.workers[w].person;
                let list: Vec<usize> = (0..self.clients.len())
                    .filter(|&c| {
                        let cp = &self.clients[c].person;
                        street_of(cp) == street_of(wp)
                            && cp.number != wp.number
                            && !known.contains(&(w, c))
                            && !self.clients[c].vip
                            && self.clients[c].home.is_none()
                    })
                    .collect();
                if let Some(&c) = list.choose(&mut g.rng) {
                    let m = self.office_minute(g, w);
                    self.plant_one(m, w, c, Reason::Neighbour);
                    break;
                }
            }
            if let Some(&owner) = own.choose(&mut g.rng) {
                let w = pick(g);
                let c = self.workers[owner].is_client.unwrap_or(0);
                if w != owner && !known.contains(&(w, c)) {
                    let m = self.office_minute(g, w);
                    self.plant_one(m, w, c, Reason::ColleagueRecord);
                }
            }
            if let Some(&c) = vips.choose(&mut g.rng) {
                let w = pick(g);
                if !known.contains(&(w, c)) {
                    let m = self.office_minute(g, w);
                    self.plant_one(m, w, c, Reason::Vip);
                }
            }
            if let Some(&(w, c)) = former.choose(&mut g.rng) {
                let m = self.office_minute(g, w);
                self.plant_one(m, w, c, Reason::RelationshipEnded);
            }
            // Breaking the glass without the role or without a reason; or a crisis worker on
            // a public figure.
            let (w, c, reason) = if g.rng.gen_bool(0.75) || vips.is_empty() {
                let w = pick(g);
                (
                    w,
                    stranger(self, g, w),
                    if g.rng.gen_bool(0.5) { 1 } else { 2 },
                )
            } else {
                let w = crisis[g.rng.gen_range(0..crisis.len())];
                (w, vips[g.rng.gen_range(0..vips.len())], 1)
            };
            let m = self.office_minute(g, w);
            self.events.push(RegionEvent {
                minute: m,
                worker: w,
                client: c,
                write: false,
                emergency: reason,
                denied: false,
                via_role: true,
                planted: Some(Reason::Emergency),
            });
            let w = pick(g);
            let c = stranger(self, g, w);
            let m = self.office_minute(g, w);
            self.plant_one(m, w, c, Reason::NoExplanation);
            // Off hours: a day worker at home, at night.
            let w = pick(g);
            let c = stranger(self, g, w);
            let m = g.rng.gen_range(0..self.params.days) * 1440 + g.rng.gen_range(0..5 * 60);
            self.plant_one(m, w, c, Reason::OffHours);
            // Browsing; half of the time probing clients outside the circles, refused.
            let w = pick(g);
            let m = self.office_minute(g, w);
            let probing = g.rng.gen_bool(0.5);
            for k in 0..g.rng.gen_range(6..=12) {
                let c = stranger(self, g, w);
                self.events.push(RegionEvent {
                    minute: m + k * 4,
                    worker: w,
                    client: c,
                    write: false,
                    emergency: 0,
                    denied: probing,
                    via_role: false,
                    planted: Some(Reason::Browsing),
                });
            }
            // Serial: one client on three to five days.
            let w = pick(g);
            let c = stranger(self, g, w);
            for _ in 0..g.rng.gen_range(3..=5) {
                let m = self.office_minute(g, w);
                self.plant_one(m, w, c, Reason::Serial);
            }
            // Volume: thirty clients over the month, a few a day.
            let w = pick(g);
            for _ in 0..30 {
                let c = stranger(self, g, w);
                let m = self.office_minute(g, w);
                self.plant_one(m, w, c, Reason::Volume);
            }
        }
    }

    /// What the generator knows of event `i`, for reading the engine's mistakes: the job, the
    /// relationship (registered how, or none), whether the client is of the worker's
    /// organisation or lives at their location.
    pub fn describe(&self, i: usize) -> String {
        let e = &self.events[i];
        let w = &self.workers[e.worker];
        let c = &self.clients[e.client];
        let bonds: Vec<String> = self
            .bonds
            .iter()
            .filter(|b| b.worker == e.worker && b.client == e.client)
            .map(|b| {
                let how = match b.registered {
                    Registered::No => "unregistered",
                    Registered::Person => "person",
                    Registered::Role => "role",
                    Registered::Team => "team",
                };
                format!("{how} {}..{:?}", b.start, b.end)
            })
            .collect();
        let day = (e.minute / 1440) as usize;
        let carers: Vec<String> = self
            .bonds
            .iter()
            .filter(|b| b.client == e.client && b.worker != e.worker)
            .map(|b| {
                let o = &self.workers[b.worker];
                format!(
                    "mw-{}{}{}{}",
                    b.worker,
                    if o.team == w.team { " team" } else { "" },
                    if o.absent.get(day) == Some(&true) {
                        " absent"
                    } else {
                        ""
                    },
                    if b.registered == Registered::No {
                        " unregistered"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        format!(
            "carers {carers:?} mw-{} clt-{} {:?} day {} {:02}:{:02} write {} em {} denied {} same-org {} home-here {} absent-today {} bonds {:?}",
            e.worker,
            e.client,
            w.job,
            e.minute / 1440,
            e.minute % 1440 / 60,
            e.minute % 60,
            e.write,
            e.emergency,
            e.denied,
            w.org == c.org,
            c.home == Some(w.loc),
            w.absent.get((e.minute / 1440) as usize).copied().unwrap_or(false),
            bonds
        )
    }

    /// The planted kind of each event, by position (event ids are `e{position}`).
    pub fn truth(&self) -> Vec<Option<Reason>> {
        self.events.iter().map(|e| e.planted).collect()
    }

    /// The ROLES file of the region's role codes.
    pub fn roles_json(&self) -> String {
        let mut roles = serde_json::Map::new();
        for job in [
            Job::Coach,
            Job::Ambulant,
            Job::Residential,
            Job::Crisis,
            Job::Secretary,
            Job::Planner,
        ] {
            let (code, _, kind) = job.code();
            roles.insert(code.into(), json!(kind));
        }
        json!({ "roles": roles }).to_string()
    }

    fn address(p: (usize, u32)) -> Value {
        let (street, postcode, town) = STREETS[p.0];
        json!({"use": "home", "line": [format!("{street} {}", p.1)], "postalCode": postcode, "city": town})
    }

    fn date(day: i64) -> String {
        local(day * 1440)[..10].to_string()
    }

    /// The CONTEXT resources.
    pub fn context(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for (o, org) in self.orgs.iter().enumerate() {
            out.push(
                json!({"resourceType": "Organization", "id": format!("org-{o}"), "name": org.name}),
            );
        }
        for (l, loc) in self.locs.iter().enumerate() {
            out.push(json!({"resourceType": "Location", "id": format!("loc-{l}"),
                "mode": "instance", "physicalType": {"text": if loc.residential { "woongroep" } else { "kantoor" }},
                "address": Self::address((loc.street, loc.number)),
                "managingOrganization": {"reference": format!("Organization/org-{}", loc.org)}}));
        }
        let bsn = "http://fhir.nl/fhir/NamingSystem/bsn";
        for (w, wk) in self.workers.iter().enumerate() {
            let p = &wk.person;
            out.push(
                json!({"resourceType": "Practitioner", "id": format!("mw-{w}"),
                "identifier": [{"system": bsn, "value": p.bsn}],
                "name": [{"family": p.family, "given": [p.given]}], "birthDate": p.birth,
                "address": [Self::address((p.street, p.number))]}),
            );
            let (code, display, _) = wk.job.code();
            out.push(json!({"resourceType": "PractitionerRole", "id": format!("rol-{w}"),
                "practitioner": {"reference": format!("Practitioner/mw-{w}")},
                "organization": {"reference": format!("Organization/org-{}", wk.org)},
                "location": [{"reference": format!("Location/loc-{}", wk.loc)}],
                "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.2.4.3.11.22.472", "code": code, "display": display}]}]}));
        }
        for (t, team) in self.teams.iter().enumerate() {
            let members: Vec<Value> = team
                .iter()
                .map(|w| json!({"member": {"reference": format!("PractitionerRole/rol-{w}")}}))
                .collect();
            out.push(
                json!({"resourceType": "CareTeam", "id": format!("team-{t}"), "status": "active",
                "name": format!("Team {t}"), "participant": members}),
            );
        }
        for (c, cl) in self.clients.iter().enumerate() {
            let p = &cl.person;
            let mut r = json!({"resourceType": "Patient", "id": format!("clt-{c}"),
                "identifier": [{"system": bsn, "value": p.bsn}],
                "name": [{"family": p.family, "given": [p.given]}], "birthDate": p.birth,
                "address": [Self::address((p.street, p.number))],
                "managingOrganization": {"reference": format!("Organization/org-{}", cl.org)}});
            if cl.vip {
                r["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/patient-importance",
                    "valueCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-PatientImportance", "code": "VIP"}]}}]);
            }
            out.push(r);
            if let Some(h) = cl.home {
                out.push(json!({"resourceType": "Encounter", "id": format!("verblijf-{c}"), "status": "in-progress",
                    "class": {"code": "HH"}, "subject": {"reference": format!("Patient/clt-{c}")},
                    "location": [{"location": {"reference": format!("Location/loc-{h}")}}],
                    "period": {"start": Self::date(-500)}}));
            }
        }
        let mut circles: Vec<Vec<Value>> = vec![Vec::new(); self.clients.len()];
        for b in &self.bonds {
            let member = match b.registered {
                Registered::No => continue,
                Registered::Person => format!("Practitioner/mw-{}", b.worker),
                Registered::Role => format!("PractitionerRole/rol-{}", b.worker),
                Registered::Team => format!("CareTeam/team-{}", self.workers[b.worker].team),
            };
            let mut period = json!({"start": Self::date(b.start)});
            if let Some(e) = b.end {
                period["end"] = json!(Self::date(e));
            }
            circles[b.client].push(json!({"member": {"reference": member}, "period": period}));
        }
        for (c, participants) in circles.into_iter().enumerate() {
            if !participants.is_empty() {
                out.push(json!({"resourceType": "CareTeam", "id": format!("kring-{c}"), "status": "active",
                    "subject": {"reference": format!("Patient/clt-{c}")}, "participant": participants}));
            }
        }
        for (i, &(w, c, at)) in self.appointments.iter().enumerate() {
            out.push(json!({"resourceType": "Appointment", "id": format!("afspraak-{i}"), "status": "booked",
                "start": local(at), "end": local(at + 45),
                "participant": [{"actor": {"reference": format!("PractitionerRole/rol-{w}")}, "status": "accepted"},
                                {"actor": {"reference": format!("Patient/clt-{c}")}, "status": "accepted"}]}));
        }
        for (i, &(c, from, to, at)) in self.referrals.iter().enumerate() {
            out.push(json!({"resourceType": "Task", "id": format!("verwijzing-{i}"), "status": "accepted",
                "intent": "order", "for": {"reference": format!("Patient/clt-{c}")},
                "authoredOn": local(at), "lastModified": local(at + 3 * 1440),
                "requester": {"reference": format!("PractitionerRole/rol-{from}")},
                "owner": {"reference": format!("Organization/org-{to}")}}));
        }
        out
    }

    /// Writes the CONTEXT NDJSON.
    pub fn write_context(&self, mut w: impl Write) -> io::Result<()> {
        for r in self.context() {
            writeln!(w, "{r}")?;
        }
        Ok(())
    }

    /// Writes the AUDIT NDJSON: one AuditEvent per access, ids `e{position}`.
    pub fn write_audit(&self, mut out: impl Write) -> io::Result<()> {
        for (i, e) in self.events.iter().enumerate() {
            let who = if e.via_role {
                format!("PractitionerRole/rol-{}", e.worker)
            } else {
                format!("Practitioner/mw-{}", e.worker)
            };
            let (action, code) = if e.write {
                ("U", "update")
            } else {
                ("R", "read")
            };
            let mut event = json!({"resourceType": "AuditEvent", "id": format!("e{i}"),
                "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
                "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": code}],
                "action": action, "recorded": local(e.minute),
                "outcome": if e.denied { "4" } else { "0" },
                "agent": [{"who": {"reference": who}, "requestor": true}],
                "source": {"observer": {"display": "ECD Rivierenland"}},
                "entity": [{"what": {"reference": format!("https://ecd.rivierenland.example/fhir/Patient/clt-{}", e.client)}}]});
            match e.emergency {
                1 => {
                    event["purposeOfEvent"] = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"}]}]);
                    event["outcomeDesc"] = json!("Crisismelding via de huisartsenpost");
                }
                2 => {
                    event["purposeOfEvent"] = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"}]}]);
                }
                _ => {}
            }
            writeln!(out, "{event}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_month_starts_on_monday_2_november_at_midnight_dutch_time() {
        assert_eq!(local(0), "2026-11-02T00:00:00+01:00");
        assert_eq!(local(1440 + 9 * 60 + 30), "2026-11-03T09:30:00+01:00");
    }

    #[test]
    fn every_kind_is_planted_and_the_truth_lines_up_with_the_events() {
        let r = Region::generate(RegionParams {
            clients: 600,
            plants: 2,
            ..RegionParams::month(9)
        });
        let truth = r.truth();
        assert_eq!(truth.len(), r.events.len());
        for kind in [
            Reason::OwnRecord,
            Reason::Neighbour,
            Reason::Emergency,
            Reason::NoExplanation,
            Reason::OffHours,
            Reason::Browsing,
            Reason::Serial,
            Reason::Volume,
        ] {
            assert!(truth.contains(&Some(kind)), "{kind:?} was not planted");
        }
        assert!(r.events.windows(2).all(|w| w[0].minute <= w[1].minute));
    }
}

//! What people in the synthetic network do, day by day: carers visit and read and write their
//! clients' records (also where the relationship was never registered), colleagues cover for
//! each other, administration and planning staff read hundreds of records, the night shift
//! reads the residents of its location, the crisis service breaks the glass with a reason,
//! carers finish their reports after a relationship ends. Then the planted violations of
//! every kind, each labelled with what it is.

use std::collections::HashMap;

use kring_fhir::datetime::dutch_offset_ms;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::audit::Emergency;
use crate::finding::Reason;
use crate::roles::RoleKind;
use crate::time::DAY_MS;

use super::network::{Network, Shift};
use super::Params;

/// One generated access.
#[derive(Debug, Clone, Copy)]
pub struct SynthEvent {
    pub at: i64,
    pub user: u32,
    pub client: u32,
    pub write: bool,
    pub emergency: Emergency,
    /// The kind of violation this access was planted as; `None` for legitimate work.
    pub planted: Option<Reason>,
}

/// Context produced along with the behaviour: appointments and treatment encounters.
#[derive(Debug, Default)]
pub struct Diary {
    /// (staff, client, start ms)
    pub appointments: Vec<(usize, usize, i64)>,
    /// (client, location, start ms, end ms)
    pub encounters: Vec<(usize, usize, i64, i64)>,
}

struct Gen<'a> {
    p: &'a Params,
    n: &'a Network,
    rng: ChaCha8Rng,
    out: Vec<SynthEvent>,
    diary: Diary,
}

impl Gen<'_> {
    /// UTC ms of a local minute on day `d`.
    fn at(&self, d: i64, minute: i64) -> i64 {
        let local = self.p.start_ms + d * DAY_MS + minute * 60_000;
        local - dutch_offset_ms(local - 3_600_000)
    }

    fn weekday(&self, d: i64) -> bool {
        // The log starts on a Monday.
        d.rem_euclid(7) < 5
    }

    fn works(&self, shift: &Shift, d: i64) -> bool {
        shift.weekends || self.weekday(d)
    }

    /// A random minute within the shift (may run past midnight for night shifts).
    fn in_shift(&mut self, shift: &Shift) -> i64 {
        i64::from(self.rng.gen_range(shift.start * 60..shift.end * 60))
    }

    fn emit(
        &mut self,
        at: i64,
        user: usize,
        client: usize,
        write: bool,
        emergency: Emergency,
        planted: Option<Reason>,
    ) {
        self.out.push(SynthEvent {
            at,
            user: user as u32,
            client: client as u32,
            write,
            emergency,
            planted,
        });
    }

    fn push(&mut self, d: i64, minute: i64, user: usize, client: usize, write: bool) {
        let at = self.at(d, minute);
        self.emit(at, user, client, write, Emergency::No, None);
    }

    fn plant(&mut self, d: i64, minute: i64, user: usize, client: usize, kind: Reason) {
        let at = self.at(d, minute);
        let emergency = if kind == Reason::Emergency {
            Emergency::WithReason
        } else {
            Emergency::No
        };
        self.emit(at, user, client, false, emergency, Some(kind));
    }

    /// A visit: a few reads around one moment, a report most times.
    fn visit(&mut self, d: i64, user: usize, client: usize, documents: bool) {
        let shift = self.n.staff[user].shift;
        let minute = self.in_shift(&shift);
        let reads = self.rng.gen_range(1..=self.p.reads_per_visit);
        for _ in 0..reads {
            let m = minute + self.rng.gen_range(0..30);
            self.push(d, m, user, client, false);
        }
        let wrote = documents && self.rng.gen_bool(0.7);
        if wrote {
            self.push(d, minute + 35, user, client, true);
        }
        // Most contacts leave another trace too: an appointment in the agenda, or a
        // treatment encounter at the location — more often when no report was written.
        let x: f64 = self.rng.gen();
        let (appointment, encounter) = if wrote { (0.3, 0.5) } else { (0.6, 0.85) };
        if x < appointment {
            let at = self.at(d, minute);
            self.diary.appointments.push((user, client, at));
        } else if x < encounter {
            let at = self.at(d, minute);
            let location = self.n.clients[client].location;
            self.diary
                .encounters
                .push((client, location, at, at + 2 * 3_600_000));
        }
    }

    fn random_day(&mut self) -> i64 {
        self.rng.gen_range(0..i64::from(self.p.days))
    }

    fn random_workday(&mut self, shift: &Shift) -> i64 {
        loop {
            let d = self.random_day();
            if self.works(shift, d) {
                return d;
            }
        }
    }
}

/// Generates the month's accesses (unsorted) and the appointments and encounters.
pub fn behaviour(p: &Params, n: &Network, seed: u64) -> (Vec<SynthEvent>, Diary) {
    use rand::SeedableRng;
    let mut g = Gen {
        p,
        n,
        rng: ChaCha8Rng::seed_from_u64(seed),
        out: Vec::new(),
        diary: Diary::default(),
    };
    let days = i64::from(p.days);
    let mut clients_of_org: Vec<Vec<usize>> = vec![Vec::new(); n.orgs.len()];
    let mut residents: Vec<Vec<usize>> = vec![Vec::new(); n.locations.len()];
    for (c, client) in n.clients.iter().enumerate() {
        clients_of_org[client.org].push(c);
        if client.residential {
            residents[client.location].push(c);
            g.diary.encounters.push((
                c,
                client.location,
                p.start_ms - 400 * DAY_MS,
                p.start_ms + 400 * DAY_MS,
            ));
        }
    }
    let mut caseload: Vec<Vec<usize>> = vec![Vec::new(); n.staff.len()];
    for (i, r) in n.relations.iter().enumerate() {
        caseload[r.staff].push(i);
    }
    let staff_clients: std::collections::HashSet<usize> =
        n.staff.iter().filter_map(|s| s.own_record).collect();
    let mut colleagues: Vec<Vec<usize>> = vec![Vec::new(); n.locations.len()];
    for (s, st) in n.staff.iter().enumerate() {
        if st.kind == RoleKind::Care {
            colleagues[st.location].push(s);
        }
    }
    for d in 0..days {
        // Care relationships: visits while active, closing work in the weeks after.
        for r in &n.relations {
            let shift = n.staff[r.staff].shift;
            if !g.works(&shift, d) {
                continue;
            }
            let active = r.start_day <= d && r.end_day.is_none_or(|e| d <= e);
            if active && g.rng.gen_bool((r.visits / 7.0).min(1.0)) {
                g.visit(d, r.staff, r.client, r.documents);
            } else if let Some(end) = r.end_day {
                if end >= 0 && d > end && d <= end + 35 && g.rng.gen_bool(0.08) {
                    let m = g.in_shift(&shift);
                    g.push(d, m, r.staff, r.client, false);
                    if g.rng.gen_bool(0.5) {
                        g.push(d, m + 20, r.staff, r.client, true);
                    }
                }
            }
        }
        for (s, st) in n.staff.iter().enumerate() {
            if !g.works(&st.shift, d) {
                continue;
            }
            match st.kind {
                RoleKind::Care => {
                    // Covering for a colleague of the same location, during working hours.
                    if g.weekday(d) && g.rng.gen_bool(0.05) {
                        let Some(&colleague) = colleagues[st.location].choose(&mut g.rng) else {
                            continue;
                        };
                        if colleague == s {
                            continue;
                        }
                        let Some(&rel) = caseload[colleague].choose(&mut g.rng) else {
                            continue;
                        };
                        let r = &n.relations[rel];
                        if r.end_day.is_some_and(|e| e < d) || r.start_day > d {
                            continue;
                        }
                        // Covering here concerns ordinary clients new to the coverer. Covering
                        // a former client, a VIP or a colleague's own record is flagged by
                        // design (the officer decides), so it is not generated as routine.
                        if caseload[s]
                            .iter()
                            .any(|&o| n.relations[o].client == r.client)
                            || n.clients[r.client].importance.is_some()
                            || staff_clients.contains(&r.client)
                        {
                            continue;
                        }
                        let m = g.rng.gen_range(8 * 60..18 * 60);
                        for k in 0..g.rng.gen_range(1..=2) {
                            g.push(d, m + k * 5, s, r.client, false);
                        }
                    }
                }
                RoleKind::Administration | RoleKind::Planning => {
                    let (lo, hi) = if st.kind == RoleKind::Administration {
                        (15, 50)
                    } else {
                        (10, 25)
                    };
                    let pool = &clients_of_org[st.org];
                    for _ in 0..g.rng.gen_range(lo..=hi) {
                        if let Some(&c) = pool.choose(&mut g.rng) {
                            // Opening one's own or a family member's record is never part of
                            // the job (planted separately).
                            let client = &n.clients[c];
                            if st.own_record == Some(c)
                                || (client.family == st.family && client.home == st.home)
                            {
                                continue;
                            }
                            let m = g.in_shift(&st.shift);
                            g.push(d, m, s, c, false);
                        }
                    }
                }
                RoleKind::NightShift => {
                    if g.rng.gen_bool(0.3) {
                        continue; // a night off
                    }
                    let here = &residents[st.location];
                    for _ in 0..g.rng.gen_range(3..=8) {
                        if let Some(&c) = here.choose(&mut g.rng) {
                            let m = g.in_shift(&st.shift);
                            g.push(d, m, s, c, false);
                            if g.rng.gen_bool(0.3) {
                                g.push(d, m + 10, s, c, true);
                            }
                        }
                    }
                }
                RoleKind::CrisisService => {
                    if g.rng.gen_bool(0.7) {
                        for _ in 0..g.rng.gen_range(1..=3) {
                            if let Some(&c) = clients_of_org[st.org].choose(&mut g.rng) {
                                // (An emergency on a VIP is always flagged, so the legitimate
                                // crisis work here leaves VIPs out; planted ones include them.)
                                if n.clients[c].importance == Some("VIP") {
                                    continue;
                                }
                                let m = g.rng.gen_range(0..24 * 60);
                                let at = g.at(d, m);
                                for k in 0..g.rng.gen_range(1..=3) {
                                    g.emit(
                                        at + k * 60_000,
                                        s,
                                        c,
                                        false,
                                        Emergency::WithReason,
                                        None,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    plant(&mut g, &caseload);
    (g.out, g.diary)
}

/// The planted violations: `plants_per_kind` of each kind.
fn plant(g: &mut Gen, caseload: &[Vec<usize>]) {
    let n = g.n;
    let care: Vec<usize> = (0..n.staff.len())
        .filter(|&s| n.staff[s].kind == RoleKind::Care)
        .collect();
    let own: Vec<usize> = (0..n.staff.len())
        .filter(|&s| n.staff[s].own_record.is_some())
        .collect();
    let family: Vec<usize> = (0..n.staff.len())
        .filter(|&s| n.staff[s].household_client.is_some())
        .collect();
    let vips: Vec<usize> = (0..n.clients.len())
        .filter(|&c| n.clients[c].importance == Some("VIP"))
        .collect();
    let crisis: Vec<usize> = (0..n.staff.len())
        .filter(|&s| n.staff[s].kind == RoleKind::CrisisService)
        .collect();
    let ended: Vec<usize> = (0..n.relations.len())
        .filter(|&r| n.relations[r].end_day.is_some_and(|e| e <= -60))
        .collect();
    let mut on_street: HashMap<(usize, &str), Vec<usize>> = HashMap::new();
    for (c, client) in n.clients.iter().enumerate() {
        on_street
            .entry((client.home.town, client.home.street.as_str()))
            .or_default()
            .push(c);
    }
    // A client the user has nothing to do with: another organisation's, not at their location.
    let stranger = |g: &mut Gen, s: usize| -> usize {
        loop {
            let c = g.rng.gen_range(0..n.clients.len());
            let client = &n.clients[c];
            let st = &n.staff[s];
            if client.org != st.org
                && client.location != st.location
                && st.own_record != Some(c)
                && st.household_client != Some(c)
                && client.importance.is_none()
                && !caseload[s].iter().any(|&r| n.relations[r].client == c)
            {
                return c;
            }
        }
    };
    let day_minute = |g: &mut Gen, s: usize| -> (i64, i64) {
        let shift = n.staff[s].shift;
        let d = g.random_workday(&shift);
        let m = g.in_shift(&shift);
        (d, m)
    };
    for _ in 0..g.p.plants_per_kind {
        // Own record.
        if let Some(&s) = own.choose(&mut g.rng) {
            let (d, m) = day_minute(g, s);
            let c = n.staff[s].own_record.unwrap_or(0);
            g.plant(d, m, s, c, Reason::OwnRecord);
        }
        // Family.
        if let Some(&s) = family.choose(&mut g.rng) {
            let (d, m) = day_minute(g, s);
            let c = n.staff[s].household_client.unwrap_or(0);
            g.plant(d, m, s, c, Reason::Family);
        }
        // Neighbour: same street and town, another dwelling.
        for _ in 0..50 {
            let s = care[g.rng.gen_range(0..care.len())];
            let home = &n.staff[s].home;
            let Some(list) = on_street.get(&(home.town, home.street.as_str())) else {
                continue;
            };
            let candidates: Vec<usize> = list
                .iter()
                .copied()
                .filter(|&c| {
                    n.clients[c].home.number != home.number
                        && n.clients[c].org != n.staff[s].org
                        && n.clients[c].importance.is_none()
                        && !caseload[s].iter().any(|&r| n.relations[r].client == c)
                })
                .collect();
            if let Some(&c) = candidates.choose(&mut g.rng) {
                let (d, m) = day_minute(g, s);
                g.plant(d, m, s, c, Reason::Neighbour);
                break;
            }
        }
        // A colleague's record.
        if let Some(&owner) = own.choose(&mut g.rng) {
            let s = care[g.rng.gen_range(0..care.len())];
            if s != owner {
                let (d, m) = day_minute(g, s);
                g.plant(
                    d,
                    m,
                    s,
                    n.staff[owner].own_record.unwrap_or(0),
                    Reason::ColleagueRecord,
                );
            }
        }
        // A VIP.
        if let Some(&c) = vips.choose(&mut g.rng) {
            let s = care[g.rng.gen_range(0..care.len())];
            if !caseload[s].iter().any(|&r| n.relations[r].client == c) {
                let (d, m) = day_minute(g, s);
                g.plant(d, m, s, c, Reason::Vip);
            }
        }
        // Long after the relationship ended.
        if let Some(&r) = ended.choose(&mut g.rng) {
            let rel = &n.relations[r];
            let still = caseload[rel.staff]
                .iter()
                .any(|&o| o != r && n.relations[o].client == rel.client);
            if !still {
                let (d, m) = day_minute(g, rel.staff);
                g.plant(d, m, rel.staff, rel.client, Reason::RelationshipEnded);
            }
        }
        // Emergency access without an emergency role, or on a VIP.
        if g.rng.gen_bool(0.7) || crisis.is_empty() || vips.is_empty() {
            let s = care[g.rng.gen_range(0..care.len())];
            let c = stranger(g, s);
            let (d, m) = day_minute(g, s);
            g.plant(d, m, s, c, Reason::Emergency);
        } else {
            let s = crisis[g.rng.gen_range(0..crisis.len())];
            let c = vips[g.rng.gen_range(0..vips.len())];
            let m = g.rng.gen_range(0..24 * 60);
            let d = g.random_day();
            g.plant(d, m, s, c, Reason::Emergency);
        }
        // No explanation at all.
        let s = care[g.rng.gen_range(0..care.len())];
        let c = stranger(g, s);
        let (d, m) = day_minute(g, s);
        g.plant(d, m, s, c, Reason::NoExplanation);
        // Off hours: a day worker at night.
        let s = care[g.rng.gen_range(0..care.len())];
        let c = stranger(g, s);
        let d = g.random_day();
        let m = g.rng.gen_range(60..4 * 60);
        g.plant(d, m, s, c, Reason::OffHours);
        // Browsing: many clients within 40 minutes.
        let s = care[g.rng.gen_range(0..care.len())];
        let (d, m) = day_minute(g, s);
        for k in 0..g.rng.gen_range(8..=15) {
            let c = stranger(g, s);
            g.plant(d, m + k * 3, s, c, Reason::Browsing);
        }
        // Serial: the same client on four days.
        let s = care[g.rng.gen_range(0..care.len())];
        let c = stranger(g, s);
        let mut days: Vec<i64> = (0..i64::from(g.p.days)).collect();
        days.shuffle(&mut g.rng);
        for &d in days.iter().take(4) {
            let m = g.in_shift(&n.staff[s].shift);
            g.plant(d, m, s, c, Reason::Serial);
        }
        // Volume: forty clients spread over the month.
        let s = care[g.rng.gen_range(0..care.len())];
        for _ in 0..40 {
            let c = stranger(g, s);
            let (d, m) = day_minute(g, s);
            g.plant(d, m, s, c, Reason::Volume);
        }
    }
}

//! One screening run: explain every access, judge the unexplained ones, and write the review
//! queue in order of risk. The explanation pass runs on all cores; the rest works on the few
//! per cent that nothing explains.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::audit::{Access, AccessLog, Action, Emergency};
use crate::calibration::Calibration;
use crate::context::{Context, Member, MembershipState};
use crate::explain::{work_spans, Explainer, Explanation, Outcome};
use crate::finding::{
    client_present_sentence, organisation_involved_sentence, registration_gap_sentence, score,
    sentence, single_look_sentence, Evidence, Finding, Reason, CLIENT_PRESENT_SCORE,
    ORGANISATION_INVOLVED_SCORE, REGISTRATION_GAP_SCORE, ROUTINE_EMERGENCY_SCORE,
};
use crate::roles::RoleKind;
use crate::signals::{hour_profiles, patterns, single, Judged};
use crate::time::{Clock, DAY_MS, HOUR_MS};

/// Figures of a run, for the report.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub accesses: u64,
    pub users: u64,
    pub clients: u64,
    /// Accesses explained, by explanation code.
    pub explained: BTreeMap<&'static str, u64>,
    pub unexplained: u64,
    pub emergency: u64,
    pub findings: u64,
    pub flagged: u64,
    pub by_reason: BTreeMap<&'static str, u64>,
    /// Users whose role kind was inferred from behaviour.
    pub inferred_roles: u64,
}

impl Stats {
    pub fn explained_total(&self) -> u64 {
        self.explained.values().sum()
    }
}

/// The result of a run: the queue, highest risk first, and its figures.
pub struct Screening {
    pub findings: Vec<Finding>,
    pub stats: Stats,
    /// Every explained access with what its explanation rests on, in log order — only when
    /// the run was asked for them ([`screen_explaining`]).
    pub explained: Vec<Explained>,
}

/// An access that an explanation holds for, with its evidence.
#[derive(Debug, Clone)]
pub struct Explained {
    pub event: String,
    pub explanation: Explanation,
    /// What the explanation rests on, in Dutch ([`Explainer::grounds`]).
    pub grounds: String,
}

impl Explained {
    /// The EXPLAINED line (without newline): event, explanation code, grounds.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "event": self.event,
            "explanation": self.explanation.code(),
            "grounds": self.grounds,
        })
        .to_string()
    }
}

/// Infers role kinds from behaviour for users whose roles say nothing: mostly at night,
/// writing night reports, on five or more days → night shift; many different clients a day (8 or more), hardly writing, within one organisation →
/// administration. (Never crisis service: that would let breaking the glass excuse itself.)
fn infer_roles(
    cx: &Context,
    clock: &Clock,
    log: &AccessLog,
) -> Vec<Option<(RoleKind, Option<u32>)>> {
    #[derive(Default, Clone)]
    struct Seen {
        total: u32,
        night: u32,
        writes: u32,
        /// Emergency accesses with a stated reason.
        emergency: u32,
        day: i64,
        today: HashSet<u32>,
        per_day: Vec<u32>,
        orgs: HashMap<u32, u32>,
    }
    let n = cx.staff.len();
    let known: Vec<bool> = cx
        .staff
        .iter()
        .map(|s| s.roles.iter().any(|r| r.kind.is_some()))
        .collect();
    let mut seen = vec![Seen::default(); n];
    for a in &log.accesses {
        if known[a.user as usize] {
            continue;
        }
        let s = &mut seen[a.user as usize];
        s.total += 1;
        s.night += u32::from(clock.night(a.at));
        s.writes += u32::from(a.action == Action::Write);
        s.emergency += u32::from(a.emergency == Emergency::WithReason);
        let day = clock.day(a.at);
        if day != s.day {
            if !s.today.is_empty() {
                s.per_day.push(s.today.len() as u32);
            }
            s.today.clear();
            s.day = day;
        }
        s.today.insert(a.client);
        if let Some(o) = cx.patients[a.client as usize].organisation {
            *s.orgs.entry(o).or_default() += 1;
        }
    }
    seen.into_iter()
        .enumerate()
        .map(|(u, mut s)| {
            if known[u] || s.total < 20 {
                return None;
            }
            if !s.today.is_empty() {
                s.per_day.push(s.today.len() as u32);
            }
            s.per_day.sort_unstable();
            let median_per_day = s.per_day[s.per_day.len() / 2];
            let (main_org, main_count) = s
                .orgs
                .iter()
                .max_by_key(|(o, c)| (**c, std::cmp::Reverse(**o)))
                .map_or((None, 0), |(o, c)| (Some(*o), *c));
            let own_org = cx.staff[u]
                .roles
                .iter()
                .find_map(|r| r.organisation)
                .or(main_org);
            let share = |x: u32| f64::from(x) / f64::from(s.total);
            // A night shift also writes its night reports. A crisis service does almost
            // nothing but emergency access with a stated reason, on many days, within one
            // organisation: someone who also does ordinary work and breaks the glass now and
            // then never qualifies, and what a crisis role explains is still queued (a VIP,
            // one's own or a family member's record is flagged all the same).
            let kind = if share(s.night) >= 0.6 && share(s.writes) >= 0.05 && s.per_day.len() >= 5 {
                Some(RoleKind::NightShift)
            } else if share(s.emergency) >= 0.9 && s.per_day.len() >= 5 && share(main_count) >= 0.9
            {
                Some(RoleKind::CrisisService)
            } else if median_per_day >= 8
                && s.per_day.len() >= 5
                && share(s.writes) <= 0.02
                && share(main_count) >= 0.9
            {
                Some(RoleKind::Administration)
            } else {
                None
            };
            kind.map(|k| (k, own_org))
        })
        .collect()
}

/// What one explanation thread returns: counts per explanation, the accesses kept, and (when
/// asked) every explained access.
type ChunkResult = (
    HashMap<Explanation, u64>,
    Vec<(usize, Outcome)>,
    Vec<(usize, Explanation)>,
);

/// Screens a log against a context.
pub fn screen(cx: &Context, log: &AccessLog) -> Screening {
    screen_with(cx, log, false)
}

/// Screens a log and also gives every explained access with the evidence its explanation
/// rests on ([`Screening::explained`]): for an auditor who checks what the share explained
/// stands on, access by access.
pub fn screen_explaining(cx: &Context, log: &AccessLog) -> Screening {
    screen_with(cx, log, true)
}

fn screen_with(cx: &Context, log: &AccessLog, with_grounds: bool) -> Screening {
    let accesses = &log.accesses;
    let mut stats = Stats {
        accesses: accesses.len() as u64,
        ..Stats::default()
    };
    if accesses.is_empty() {
        return Screening {
            findings: Vec::new(),
            stats,
            explained: Vec::new(),
        };
    }
    let clock = Clock::new(accesses[0].at, accesses[accesses.len() - 1].at);
    let work = work_spans(accesses);
    let inferred = infer_roles(cx, &clock, log);
    stats.inferred_roles = inferred.iter().filter(|r| r.is_some()).count() as u64;
    let explainer = Explainer {
        cx,
        clock: &clock,
        work: &work,
        inferred: &inferred,
    };
    // Explain, on all cores; keep only what is not explained (and emergency access).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = accesses.len().div_ceil(threads).max(1);
    let parts: Vec<ChunkResult> = std::thread::scope(|s| {
        let handles: Vec<_> = accesses
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let explainer = &explainer;
                s.spawn(move || {
                    let mut counts = HashMap::new();
                    let mut kept = Vec::new();
                    let mut explained = Vec::new();
                    for (i, a) in part.iter().enumerate() {
                        let outcome = explainer.explain(a);
                        match outcome {
                            Outcome::Explained(e) => {
                                *counts.entry(e).or_insert(0) += 1;
                                if matches!(e, Explanation::Emergency | Explanation::Covering) {
                                    kept.push((c * chunk + i, outcome));
                                }
                                if with_grounds {
                                    explained.push((c * chunk + i, e));
                                }
                            }
                            Outcome::Unexplained(_) => kept.push((c * chunk + i, outcome)),
                        }
                    }
                    (counts, kept, explained)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an explanation thread panicked"))
            .collect()
    });
    let mut judged = Vec::new();
    let mut routine = Vec::new();
    let mut covered = Vec::new();
    let mut explained: Vec<(usize, Explanation)> = Vec::new();
    for (counts, kept, found) in parts {
        explained.extend(found);
        for (e, n) in counts {
            *stats.explained.entry(e.code()).or_default() += n;
        }
        for (index, outcome) in kept {
            match outcome {
                Outcome::Unexplained(membership) => judged.push(Judged {
                    index,
                    membership,
                    reasons: Vec::new(),
                }),
                Outcome::Explained(Explanation::Covering) => covered.push(index),
                Outcome::Explained(_) => routine.push(index),
            }
        }
    }
    stats.unexplained = judged.len() as u64;
    let profiles = hour_profiles(cx, &clock, accesses);
    let night_workers: Vec<bool> = (0..cx.staff.len() as u32)
        .map(|u| {
            cx.staff[u as usize]
                .roles
                .iter()
                .any(|r| r.kind == Some(RoleKind::NightShift))
                || matches!(
                    inferred.get(u as usize),
                    Some(Some((RoleKind::NightShift, _)))
                )
        })
        .collect();
    single(cx, &clock, &profiles, &night_workers, accesses, &mut judged);
    // Recurring care is read from the whole log, before the patterns: a relationship nobody
    // registered must not count towards serial access or volume.
    let recurring = recurring_care(cx, &clock, accesses, &judged);
    if !recurring.is_empty() {
        let before = judged.len();
        judged.retain(|j| {
            let a = &accesses[j.index];
            let care = recurring.contains(&(a.user, a.client));
            if care && with_grounds {
                explained.push((j.index, Explanation::RecurringCare));
            }
            !care
        });
        let n = (before - judged.len()) as u64;
        *stats
            .explained
            .entry(Explanation::RecurringCare.code())
            .or_default() += n;
        stats.unexplained -= n;
    }
    let peer_group = |u: u32| -> String {
        let s = &cx.staff[u as usize];
        s.roles
            .iter()
            .find_map(|r| r.kind.map(|k| k.code().to_string()))
            .or_else(|| s.roles.first().map(|r| r.code.to_lowercase()))
            .unwrap_or_default()
    };
    patterns(cx, &clock, accesses, &peer_group, &mut judged);
    let was_covered: HashSet<usize> = covered.iter().copied().collect();
    uncover(
        &explainer,
        &profiles,
        &night_workers,
        accesses,
        covered,
        &mut judged,
        &mut stats,
    );

    let evidence = |index: usize, tried: Vec<String>, grounds: Option<String>| {
        let a = &accesses[index];
        Evidence {
            user: cx.users.name(a.user).to_string(),
            client: cx.clients.name(a.client).to_string(),
            at: a.at,
            action: a.action,
            emergency: a.emergency,
            tried,
            grounds,
        }
    };
    let tried_all: Vec<String> = Explanation::TRIED
        .iter()
        .map(|e| e.dutch_absent().to_string())
        .collect();
    // What stayed explained (covering that a pattern undid is a finding now), in log order.
    let explained: Vec<Explained> = if with_grounds {
        let queued: HashSet<usize> = judged.iter().map(|j| j.index).collect();
        explained.retain(|(i, _)| !queued.contains(i));
        explained.sort_unstable_by_key(|(i, _)| *i);
        explained
            .into_iter()
            .map(|(i, e)| {
                let a = &accesses[i];
                Explained {
                    event: log.event_id(a.event).to_string(),
                    explanation: e,
                    grounds: explainer.grounds(a, e),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let calibration = Calibration::default();
    let once = single_looks(cx, &clock, accesses, &judged);
    let mut findings = Vec::with_capacity(judged.len() + routine.len());
    for mut j in judged {
        let a = &accesses[j.index];
        let gap = j.reasons.is_empty()
            && j.membership == MembershipState::None
            && registration_gap(cx, a);
        let back = j.reasons == [Reason::RelationshipEnded] && client_present(cx, a);
        let involved = !gap && j.reasons.is_empty() && organisation_involved(cx, a);
        // Unregistered care recurs; a look that stays alone is a signal of its own.
        let single = involved && once.contains(&(a.user, a.client));
        if single {
            j.reasons.push(Reason::SingleLook);
        }
        let involved = involved && !single;
        let signal = j.reasons.iter().any(|r| *r != Reason::OffHours);
        if !signal {
            j.reasons.insert(0, Reason::NoExplanation);
        }
        j.reasons.sort_unstable();
        j.reasons.dedup();
        // Covering held until a pattern of the user's undid it: what it rested on.
        let grounds = was_covered
            .contains(&j.index)
            .then(|| explainer.grounds(a, Explanation::Covering));
        let tried = if grounds.is_some() {
            vec![]
        } else {
            tried_all.clone()
        };
        let e = evidence(j.index, tried, grounds);
        let (risk, explanation) = if gap {
            (
                REGISTRATION_GAP_SCORE,
                registration_gap_sentence(&e.user, &e.client, a.action),
            )
        } else if involved {
            (
                ORGANISATION_INVOLVED_SCORE,
                organisation_involved_sentence(&e.user, &e.client, a.action),
            )
        } else if back {
            (
                CLIENT_PRESENT_SCORE,
                client_present_sentence(&e.user, &e.client, a.action),
            )
        } else if single {
            (
                score(&j.reasons),
                single_look_sentence(&e.user, &e.client, a.action),
            )
        } else {
            (
                score(&j.reasons),
                sentence(&e.user, &e.client, a.action, &j.reasons, false),
            )
        };
        findings.push(Finding {
            event: log.event_id(a.event).to_string(),
            score: calibration.chance(risk),
            risk,
            explanation,
            reasons: j.reasons,
            evidence: e,
        });
    }
    for index in routine {
        let a = &accesses[index];
        let e = evidence(
            index,
            vec![],
            Some(explainer.grounds(a, Explanation::Emergency)),
        );
        findings.push(Finding {
            event: log.event_id(a.event).to_string(),
            score: calibration.chance(ROUTINE_EMERGENCY_SCORE),
            risk: ROUTINE_EMERGENCY_SCORE,
            reasons: vec![Reason::Emergency],
            explanation: sentence(&e.user, &e.client, a.action, &[Reason::Emergency], true),
            evidence: e,
        });
    }
    findings.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.risk.total_cmp(&a.risk))
            .then(a.evidence.at.cmp(&b.evidence.at))
    });
    stats.emergency = accesses
        .iter()
        .filter(|a| a.emergency != Emergency::No)
        .count() as u64;
    stats.findings = findings.len() as u64;
    stats.flagged = findings.iter().filter(|f| f.flagged()).count() as u64;
    for f in &findings {
        for r in &f.reasons {
            *stats.by_reason.entry(r.code()).or_default() += 1;
        }
    }
    stats.users = accesses
        .iter()
        .map(|a| a.user)
        .collect::<HashSet<_>>()
        .len() as u64;
    stats.clients = accesses
        .iter()
        .map(|a| a.client)
        .collect::<HashSet<_>>()
        .len() as u64;
    Screening {
        findings,
        stats,
        explained,
    }
}

/// Whether an access nothing explains falls in a registration gap: the client's circle has no
/// running membership at all, and the user is care staff of the client's own organisation.
/// Registrations are incomplete (10–30% of care relationships are never recorded); a client
/// whom nobody is registered for is still cared for by someone, most likely by their own
/// organisation's carers. Such an access is queued below the flag line with that sentence, so
/// the officer can complete the registration; any risk signal (own record, family, neighbour,
/// colleague, VIP, a former relationship, off-hours, a pattern) flags it as usual.
fn registration_gap(cx: &Context, a: &Access) -> bool {
    let client = &cx.patients[a.client as usize];
    let Some(org) = client.organisation else {
        return false;
    };
    let staff = &cx.staff[a.user as usize];
    staff
        .roles
        .iter()
        .any(|r| r.organisation == Some(org) && r.kind.is_none_or(|k| k == RoleKind::Care))
        && !client
            .memberships
            .iter()
            .any(|m| m.start <= a.at && a.at <= m.end)
}

/// Covering is the weakest ground, and two patterns undo it. A colleague's client opened in
/// the middle of a browsing burst (five or more clients nothing explains within the hour) is
/// part of the burst. And someone who opens far more records nothing explains than their
/// peers (volume) stands in only for a colleague who is away: one with no access at all in
/// the log that day. Such covered accesses are judged like the rest, with the pattern's
/// signal; the counts move from explained to unexplained.
fn uncover(
    explainer: &Explainer,
    profiles: &[[u32; 24]],
    night_workers: &[bool],
    accesses: &[Access],
    covered: Vec<usize>,
    judged: &mut Vec<Judged>,
    stats: &mut Stats,
) {
    let (cx, clock) = (explainer.cx, explainer.clock);
    let mut bursts: HashMap<u32, Vec<i64>> = HashMap::new();
    let mut heavy: HashSet<u32> = HashSet::new();
    for j in judged.iter() {
        let a = &accesses[j.index];
        if j.reasons.contains(&Reason::Browsing) {
            bursts.entry(a.user).or_default().push(a.at);
        }
        if j.reasons.contains(&Reason::Volume) {
            heavy.insert(a.user);
        }
    }
    // Who was in on which day — only for the colleagues of heavy users, so that a log of
    // millions is not hashed whole for a handful of users.
    let mut watched = vec![false; cx.staff.len()];
    for &u in &heavy {
        for c in explainer.colleagues_of(u) {
            watched[c as usize] = true;
        }
    }
    let active: HashSet<(u32, i64)> = if heavy.is_empty() {
        HashSet::new()
    } else {
        accesses
            .iter()
            .filter(|a| watched[a.user as usize])
            .map(|a| (a.user, clock.day(a.at)))
            .collect()
    };
    let mut uncovered: Vec<(Judged, Reason)> = Vec::new();
    for index in covered {
        let a = &accesses[index];
        let burst = bursts.get(&a.user).is_some_and(|times| {
            times
                .iter()
                .any(|&t| (t - a.at).abs() <= crate::signals::BROWSING_WINDOW_MS)
        });
        let reason = if burst {
            Reason::Browsing
        } else if heavy.contains(&a.user) {
            let day = clock.day(a.at);
            if explainer.covering(a, |c| !active.contains(&(c, day))) {
                continue;
            }
            Reason::Volume
        } else {
            continue;
        };
        let judged = Judged {
            index,
            membership: cx.membership(a.user, a.client, a.at),
            reasons: Vec::new(),
        };
        uncovered.push((judged, reason));
    }
    if uncovered.is_empty() {
        return;
    }
    let (mut list, reasons): (Vec<Judged>, Vec<Reason>) = uncovered.into_iter().unzip();
    single(cx, clock, profiles, night_workers, accesses, &mut list);
    let n = list.len() as u64;
    if let Some(c) = stats.explained.get_mut(Explanation::Covering.code()) {
        *c -= n;
    }
    stats.unexplained += n;
    for (mut j, reason) in list.into_iter().zip(reasons) {
        j.reasons.push(reason);
        judged.push(j);
    }
}

/// Recurring care: on at least one day the record was opened this many times (a working
/// session: care reads the plan and the reports, writes, reads again) — one look a day, day
/// after day, is the rhythm of someone checking on a person, not of care.
pub const SESSION_ACCESSES: u32 = 2;
/// Recurring care: at least this many days with access …
pub const RECURRING_DAYS: usize = 4;
/// … the first and the last at least this many (Dutch calendar) days apart.
pub const RECURRING_SPAN_DAYS: i64 = 14;

/// The (user, client) pairs whose accesses nothing else explains but whose rhythm is that of
/// care (Fabbri & LeFevre's *repeat access*): care staff of an organisation that takes part in
/// the client's care ([`organisation_involved`]) open the record on [`RECURRING_DAYS`] or more
/// days spread over two weeks or more, every time in working hours, and not one of those
/// accesses carries a signal (own record, family, neighbour, colleague, VIP, a former
/// relationship, emergency, a refused attempt; off-hours only by the user's own profile, within
/// 07:00–19:00 on a weekday), and on at least one day the record was opened in a working
/// session ([`SESSION_ACCESSES`]). About one care relationship in six is never registered and
/// many carers hardly write; their work looks exactly like this. The price, stated in
/// docs/oversight.md: a colleague of the same organisation who opens a stranger's record on
/// four working days over two weeks, once of those days more than once, and nothing else about
/// it is suspicious, is not queued.
fn recurring_care(
    cx: &Context,
    clock: &Clock,
    accesses: &[Access],
    judged: &[Judged],
) -> HashSet<(u32, u32)> {
    struct Pair {
        days: HashSet<i64>,
        clean: bool,
        index: usize,
    }
    let mut pairs: HashMap<(u32, u32), Pair> = HashMap::new();
    for j in judged {
        let a = &accesses[j.index];
        let p = pairs.entry((a.user, a.client)).or_insert_with(|| Pair {
            days: HashSet::new(),
            clean: true,
            index: j.index,
        });
        p.days.insert(clock.day(a.at));
        // Off-hours by the user's own profile is no objection on a weekday between 07:00
        // and 19:00; any other signal is.
        p.clean &= j.reasons.iter().all(|r| *r == Reason::OffHours)
            && a.emergency == Emergency::No
            && !a.denied
            && clock.working_hours(a.at);
    }
    let rhythm = pair_rhythm(
        cx,
        clock,
        accesses,
        pairs
            .iter()
            .filter(|(_, p)| p.clean && p.days.len() >= RECURRING_DAYS)
            .map(|(&pair, _)| pair),
    );
    pairs
        .into_iter()
        .filter(|&(pair @ (user, _), ref p)| {
            p.clean
                && p.days.len() >= RECURRING_DAYS
                && rhythm
                    .get(&pair)
                    .is_some_and(|r| r.most_in_a_day >= SESSION_ACCESSES)
                && p.days.iter().max().unwrap_or(&0) - p.days.iter().min().unwrap_or(&0)
                    >= RECURRING_SPAN_DAYS
                && cx.staff[user as usize]
                    .roles
                    .iter()
                    .any(|r| r.kind.is_none_or(|k| k == RoleKind::Care))
                && organisation_involved(cx, &accesses[p.index])
        })
        .map(|(pair, _)| pair)
        .collect()
}

/// The (user, client) pairs, among the accesses nothing explains and no signal marks, with
/// one access in the whole log: a single look at a client of one's organisation that nobody
/// registered for the user. Unregistered care recurs — the carer opens the record again,
/// writes in it, or a colleague of the team works with the client and covering explains it —
/// so a look that stays alone is not sent to the weekly sample but flagged: on the
/// independent region's design months (seeds 1–6) three in four such looks were planted
/// snooping on a stranger, while a single look at a client with no registration at all (the
/// registration gap) was mostly a carer nobody registered yet and stays in the sample.
fn single_looks(
    cx: &Context,
    clock: &Clock,
    accesses: &[Access],
    judged: &[Judged],
) -> HashSet<(u32, u32)> {
    let pairs = judged
        .iter()
        .filter(|j| j.reasons.is_empty())
        .map(|j| (accesses[j.index].user, accesses[j.index].client));
    pair_rhythm(cx, clock, accesses, pairs)
        .into_iter()
        .filter(|(_, r)| r.accesses == 1)
        .map(|(pair, _)| pair)
        .collect()
}

/// How a (user, client) pair used the record over the whole log, explained or not.
#[derive(Debug, Default, Clone, Copy)]
struct Rhythm {
    accesses: u32,
    /// The most accesses on one (Dutch) day.
    most_in_a_day: u32,
}

/// The [`Rhythm`] of each of `pairs`: one pass over the log, hashing only the accesses of the
/// users concerned (a few hundred of thousands).
fn pair_rhythm(
    cx: &Context,
    clock: &Clock,
    accesses: &[Access],
    pairs: impl Iterator<Item = (u32, u32)>,
) -> HashMap<(u32, u32), Rhythm> {
    let mut out: HashMap<(u32, u32), Rhythm> = pairs.map(|p| (p, Rhythm::default())).collect();
    if out.is_empty() {
        return out;
    }
    let mut concerned = vec![false; cx.staff.len()];
    for &(u, _) in out.keys() {
        concerned[u as usize] = true;
    }
    let mut per_day: HashMap<(u32, u32, i64), u32> = HashMap::new();
    for a in accesses.iter().filter(|a| concerned[a.user as usize]) {
        if let Some(r) = out.get_mut(&(a.user, a.client)) {
            r.accesses += 1;
            let n = per_day
                .entry((a.user, a.client, clock.day(a.at)))
                .or_default();
            *n += 1;
            r.most_in_a_day = r.most_in_a_day.max(*n);
        }
    }
    out
}

/// How far around a membership its organisation still counts as taking part (hand-over
/// before, closing work after).
const INVOLVED_MARGIN_MS: i64 = 42 * DAY_MS;

/// Whether the user's organisation takes part in the client's care around the moment: it is
/// the client's own organisation, or the circle holds (running, or within six weeks of the
/// moment) a membership of the organisation, of one of its staff, or of a staff team with one
/// of its staff. Registrations are incomplete — about one care relationship in six is never
/// recorded — and colleagues stand in for each other, so an access nothing else explains, with
/// no risk signal at all, by staff of an organisation that takes part is most likely
/// unregistered work: it goes to the weekly spot-check sample, not to the cases. Staff of an
/// organisation with no part in the client's care are flagged as before.
fn organisation_involved(cx: &Context, a: &Access) -> bool {
    let staff = &cx.staff[a.user as usize];
    let client = &cx.patients[a.client as usize];
    if client.organisation.is_some_and(|o| staff.works_at(o)) {
        return true;
    }
    let same_org = |u: u32| {
        cx.staff.get(u as usize).is_some_and(|other| {
            other
                .roles
                .iter()
                .filter_map(|r| r.organisation)
                .any(|o| staff.works_at(o))
        })
    };
    client.memberships.iter().any(|m| {
        m.start - INVOLVED_MARGIN_MS <= a.at
            && a.at <= m.end.saturating_add(INVOLVED_MARGIN_MS)
            && match m.member {
                Member::Organisation(o) => staff.works_at(o),
                Member::User(u) => same_org(u),
                Member::Team(t) => cx
                    .teams
                    .get(t as usize)
                    .is_some_and(|members| members.iter().any(|&u| same_org(u))),
            }
    })
}

/// Whether a former carer's access (the relationship ended long ago, no other signal) fell
/// while the client was being treated at one of the carer's own locations: within an
/// encounter there, from an hour before it to its end, that lasts at most a day (a residence,
/// which spans months, says nothing about any one moment). A client who comes back is often
/// seen by whom they knew, before anyone registers it; such an access is queued below the
/// flag line with that sentence instead of flagged. Off-hours, a pattern or any signal about
/// the person flags it as usual.
fn client_present(cx: &Context, a: &Access) -> bool {
    let staff = &cx.staff[a.user as usize];
    a.action == Action::Read
        && cx.patients[a.client as usize].stays.iter().any(|s| {
            s.end - s.start <= DAY_MS
                && s.start - HOUR_MS <= a.at
                && a.at <= s.end
                && staff.at_location(s.location)
        })
}

//! Then judge: the risk signals of an access that nothing explains. Who the client is to the
//! user (own record, family, neighbour, colleague, VIP), how the relationship stands (ended
//! long ago), how it happened (emergency without the role or on a VIP, off the user's own
//! usual hours) and the pattern around it (browsing many clients in a short window, the same
//! client on several days, far more clients than peers in the same role).

use std::collections::{HashMap, HashSet};

use crate::audit::{Access, Emergency};
use crate::context::{Context, Importance, MembershipState};
use crate::explain::CLOSING_DAYS;
use crate::finding::Reason;
use crate::time::{Clock, DAY_MS, HOUR_MS};

/// Browsing: at least this many distinct unexplained clients …
pub const BROWSING_CLIENTS: usize = 5;
/// … within this window.
pub const BROWSING_WINDOW_MS: i64 = HOUR_MS;
/// Serial: the same unexplained client on at least this many days.
pub const SERIAL_DAYS: usize = 3;
/// Volume: at least this many distinct unexplained clients …
pub const VOLUME_MIN_CLIENTS: usize = 10;
/// … and this many times the median of peers in the same role.
pub const VOLUME_FACTOR: usize = 5;
/// An hour is usual for a user when it and its neighbours hold this share of their accesses.
pub const USUAL_HOUR_SHARE: f64 = 0.02;
/// Below this many accesses a user has no usual hours of their own; nights count as off.
pub const MIN_HISTORY: u32 = 30;

/// Per user: accesses by local hour.
pub fn hour_profiles(cx: &Context, clock: &Clock, accesses: &[Access]) -> Vec<[u32; 24]> {
    let mut hours = vec![[0u32; 24]; cx.staff.len()];
    for a in accesses {
        hours[a.user as usize][clock.hour(a.at)] += 1;
    }
    hours
}

/// Whether an hour is outside the user's own usual hours.
pub fn off_hours(profile: &[u32; 24], hour: usize, night_worker: bool) -> bool {
    let total: u32 = profile.iter().sum();
    if total < MIN_HISTORY {
        return !night_worker && !(7..22).contains(&hour);
    }
    let around = profile[(hour + 23) % 24] + profile[hour] + profile[(hour + 1) % 24];
    f64::from(around) < USUAL_HOUR_SHARE * f64::from(total)
}

/// Who the client is to the user.
pub fn identity(cx: &Context, user: u32, client: u32) -> Vec<Reason> {
    let mut out = Vec::new();
    let c = &cx.patients[client as usize];
    let staff = cx.staff[user as usize].person.as_ref();
    let own = match (staff, &c.person) {
        (Some(s), Some(p)) => s.same_human(p),
        _ => false,
    };
    if own {
        out.push(Reason::OwnRecord);
    } else {
        if let (Some(s), Some(p)) = (staff, &c.person) {
            if s.family_of(p) {
                out.push(Reason::Family);
            } else if s.neighbour_of(p) {
                out.push(Reason::Neighbour);
            }
        }
        if cx
            .client_is_staff
            .get(client as usize)
            .copied()
            .unwrap_or(false)
        {
            out.push(Reason::ColleagueRecord);
        }
    }
    if c.importance == Importance::Vip {
        out.push(Reason::Vip);
    }
    out
}

/// An unexplained access with the signals found so far.
pub struct Judged {
    pub index: usize,
    pub membership: MembershipState,
    pub reasons: Vec<Reason>,
}

/// Adds the signals that need only the access itself and its pair.
pub fn single(
    cx: &Context,
    clock: &Clock,
    profiles: &[[u32; 24]],
    night_workers: &[bool],
    accesses: &[Access],
    judged: &mut [Judged],
) {
    let mut pairs: HashMap<(u32, u32), Vec<Reason>> = HashMap::new();
    for j in judged.iter_mut() {
        let a = &accesses[j.index];
        let who = pairs
            .entry((a.user, a.client))
            .or_insert_with(|| identity(cx, a.user, a.client));
        j.reasons.extend_from_slice(who);
        if let MembershipState::Ended(end) = j.membership {
            if a.at - end > CLOSING_DAYS * DAY_MS {
                j.reasons.push(Reason::RelationshipEnded);
            }
        }
        if a.emergency != Emergency::No {
            j.reasons.push(Reason::Emergency);
        }
        if a.denied {
            j.reasons.push(Reason::DeniedAttempt);
        }
        let night = night_workers.get(a.user as usize).copied().unwrap_or(false);
        if off_hours(&profiles[a.user as usize], clock.hour(a.at), night) {
            j.reasons.push(Reason::OffHours);
        }
    }
}

/// Adds the pattern signals: browsing, serial, volume.
pub fn patterns(
    cx: &Context,
    clock: &Clock,
    accesses: &[Access],
    peer_group: &dyn Fn(u32) -> String,
    judged: &mut [Judged],
) {
    // Per user, in time order (judged is in time order).
    let mut by_user: HashMap<u32, Vec<usize>> = HashMap::new();
    for (k, j) in judged.iter().enumerate() {
        by_user.entry(accesses[j.index].user).or_default().push(k);
    }
    let mut browsing = vec![false; judged.len()];
    let mut serial = vec![false; judged.len()];
    let mut distinct: HashMap<u32, usize> = HashMap::new();
    for (&user, list) in &by_user {
        // Browsing: a sliding window with counts per client.
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut lo = 0;
        for hi in 0..list.len() {
            let a = &accesses[judged[list[hi]].index];
            *counts.entry(a.client).or_default() += 1;
            while accesses[judged[list[lo]].index].at < a.at - BROWSING_WINDOW_MS {
                let c = accesses[judged[list[lo]].index].client;
                let n = counts.get_mut(&c).map(|n| {
                    *n -= 1;
                    *n
                });
                if n == Some(0) {
                    counts.remove(&c);
                }
                lo += 1;
            }
            if counts.len() >= BROWSING_CLIENTS {
                for &k in &list[lo..=hi] {
                    browsing[k] = true;
                }
            }
        }
        // Serial: the same client on several days.
        let mut days: HashMap<u32, HashSet<i64>> = HashMap::new();
        for &k in list {
            let a = &accesses[judged[k].index];
            days.entry(a.client).or_default().insert(clock.day(a.at));
        }
        for &k in list {
            let a = &accesses[judged[k].index];
            if days[&a.client].len() >= SERIAL_DAYS {
                serial[k] = true;
            }
        }
        distinct.insert(user, days.len());
    }
    // Volume: distinct unexplained clients against peers in the same role (all staff of the
    // role count as peers, also those with none unexplained).
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for u in 0..cx.staff.len() as u32 {
        groups
            .entry(peer_group(u))
            .or_default()
            .push(distinct.get(&u).copied().unwrap_or(0));
    }
    let median: HashMap<String, usize> = groups
        .into_iter()
        .map(|(g, mut v)| {
            v.sort_unstable();
            (g, v.get(v.len() / 2).copied().unwrap_or(0))
        })
        .collect();
    let heavy: HashSet<u32> = distinct
        .iter()
        .filter(|&(&u, &n)| {
            n >= VOLUME_MIN_CLIENTS && n >= VOLUME_FACTOR * median[&peer_group(u)].max(1)
        })
        .map(|(&u, _)| u)
        .collect();
    for (k, j) in judged.iter_mut().enumerate() {
        let a = &accesses[j.index];
        if browsing[k] {
            j.reasons.push(Reason::Browsing);
        }
        if serial[k] {
            j.reasons.push(Reason::Serial);
        }
        if heavy.contains(&a.user) {
            j.reasons.push(Reason::Volume);
        }
    }
}

//! Explain first: the legitimate grounds an access can have, tried in turn. An access that
//! one of them explains is not listed (except emergency access, which is always reviewed).
//! Relationships that were never registered are inferred from behaviour: a user who writes to
//! a client's record is doing care work for that client, and one whom the agenda shows seeing
//! the client is in a care relationship around those appointments.

use std::collections::HashMap;

use crate::audit::{Access, Action, Emergency};
use crate::context::{Context, Importance, Member, MembershipState};
use crate::finding::Reason;
use crate::roles::RoleKind;
use crate::signals::identity;
use crate::time::{Clock, DAY_MS};

/// How long after a membership ends closing work (final reports, hand-over) is expected.
pub const CLOSING_DAYS: i64 = 42;
/// How long before a user's first write to a client, and after the last, their reads count
/// as part of that documented care work.
pub const WORK_BEFORE_DAYS: i64 = 30;
pub const WORK_AFTER_DAYS: i64 = 42;
/// A client counts as treated at a location from this long before an encounter there to this
/// long after it.
pub const TREATMENT_DAYS: i64 = 30;

/// A legitimate ground for an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Explanation {
    Membership,
    Location,
    Appointment,
    DocumentedWork,
    Role(RoleKind),
    Covering,
    ClosingWork,
    /// The user took part in an encounter with the client (`Encounter.participant`).
    Encounter,
    /// The user, their organisation or team asked for or was asked to do work for the client
    /// (a referral or request: `Task.requester`, `Task.owner`).
    Referral,
    /// A sharing grant opened the client's data to the user, their organisation or team.
    SharingGrant,
    /// Emergency access with a reason by someone whose role allows it: still queued.
    Emergency,
    /// Access by care staff of an organisation that takes part in the client's care, on
    /// several days over weeks, always in working hours, with no risk signal: the rhythm of
    /// an unregistered care relationship (found over the whole log, after the other grounds).
    RecurringCare,
}

impl Explanation {
    pub fn code(self) -> &'static str {
        match self {
            Explanation::Membership => "membership",
            Explanation::Location => "location",
            Explanation::Appointment => "appointment",
            Explanation::DocumentedWork => "documented-work",
            Explanation::Role(RoleKind::Administration) => "role-administration",
            Explanation::Role(RoleKind::Planning) => "role-planning",
            Explanation::Role(RoleKind::NightShift) => "role-night-shift",
            Explanation::Role(RoleKind::CrisisService) => "role-crisis-service",
            Explanation::Role(RoleKind::Care) => "role-care",
            Explanation::Covering => "covering",
            Explanation::ClosingWork => "closing-work",
            Explanation::Encounter => "encounter",
            Explanation::Referral => "referral",
            Explanation::SharingGrant => "sharing-grant",
            Explanation::Emergency => "emergency-with-reason",
            Explanation::RecurringCare => "recurring-care",
        }
    }

    /// Why this explanation did not hold, in Dutch, for the evidence list.
    pub fn dutch_absent(self) -> &'static str {
        match self {
            Explanation::Membership => "geen lopend lidmaatschap van de kring",
            Explanation::Location => "geen gedeelde locatie of team met waar de cliënt woont of behandeld wordt",
            Explanation::Appointment => "geen afspraak met de cliënt op die dag of in de weken eromheen",
            Explanation::DocumentedWork => "geen eigen verslaglegging in dit dossier",
            Explanation::Role(_) => "geen administratieve, plannings-, nacht- of crisisrol binnen de organisatie van de cliënt",
            Explanation::Covering => "geen waarneming binnen werktijd voor een collega van hetzelfde team (of dezelfde locatie) die bij de cliënt betrokken is",
            Explanation::ClosingWork => "geen afronding kort na een beëindigd lidmaatschap",
            Explanation::Encounter => "geen contact (encounter) met de cliënt in de weken eromheen",
            Explanation::SharingGrant => "geen deelbesluit dat de gegevens met de medewerker, het team of de organisatie deelt",
            Explanation::Referral => "geen verwijzing of verzoek voor de cliënt van of aan de medewerker, het team of de organisatie",
            Explanation::Emergency => "geen noodtoegang met reden door een rol die dat toestaat",
            Explanation::RecurringCare => "geen terugkerende inzage op werkdagen over weken, zoals bij zorg die niet is geregistreerd",
        }
    }

    /// Every explanation, in the order they are tried.
    pub const TRIED: [Explanation; 12] = [
        Explanation::Membership,
        Explanation::ClosingWork,
        Explanation::Appointment,
        Explanation::Encounter,
        Explanation::Referral,
        Explanation::SharingGrant,
        Explanation::DocumentedWork,
        Explanation::Role(RoleKind::Administration),
        Explanation::Location,
        Explanation::Covering,
        Explanation::RecurringCare,
        Explanation::Emergency,
    ];
}

/// How a colleague one covers for works with the client.
#[derive(Debug, Clone, Copy)]
enum Tie {
    Member,
    Appointment(i64),
    Documents,
}

/// The result of trying to explain an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Explained(Explanation),
    /// Nothing explains it; the membership state says whether a relationship had ended.
    Unexplained(MembershipState),
}

/// Documented work in the log: the first and last write of each user to each client's
/// record, and who wrote to each client.
#[derive(Debug, Default)]
pub struct WorkSpans {
    spans: HashMap<(u32, u32), (i64, i64)>,
    writers: HashMap<u32, Vec<u32>>,
}

impl WorkSpans {
    /// Whether `at` lies within the user's documented work for the client.
    pub fn covers(&self, user: u32, client: u32, at: i64) -> bool {
        self.spans
            .get(&(user, client))
            .is_some_and(|&(first, last)| {
                first - WORK_BEFORE_DAYS * DAY_MS <= at && at <= last + WORK_AFTER_DAYS * DAY_MS
            })
    }
    /// Who documented work for the client.
    pub fn writers(&self, client: u32) -> &[u32] {
        self.writers.get(&client).map_or(&[], Vec::as_slice)
    }
}

/// Collects documented work from the log.
pub fn work_spans(accesses: &[Access]) -> WorkSpans {
    let mut work = WorkSpans::default();
    for a in accesses.iter().filter(|a| a.action == Action::Write) {
        work.spans
            .entry((a.user, a.client))
            .and_modify(|s| {
                s.0 = s.0.min(a.at);
                s.1 = s.1.max(a.at);
            })
            .or_insert_with(|| {
                work.writers.entry(a.client).or_default().push(a.user);
                (a.at, a.at)
            });
    }
    work
}

/// Tries the explanations for accesses against one context.
pub struct Explainer<'a> {
    pub cx: &'a Context,
    pub clock: &'a Clock,
    pub work: &'a WorkSpans,
    /// Role kinds inferred from behaviour, by user, for users without a known kind.
    pub inferred: &'a [Option<(RoleKind, Option<u32>)>],
}

impl Explainer<'_> {
    /// The user's role kind for a client of organisation `org`.
    pub fn role_kind(&self, user: u32, org: Option<u32>) -> Option<RoleKind> {
        let staff = &self.cx.staff[user as usize];
        if let Some(o) = org {
            if let Some(k) = staff.kind_at(o) {
                return Some(k);
            }
        }
        match self.inferred.get(user as usize).copied().flatten() {
            Some((kind, inferred_org)) if inferred_org.is_none() || inferred_org == org => {
                Some(kind)
            }
            _ => None,
        }
    }

    /// Whether the user stands in for a colleague who works with the client: one of the same
    /// team (or, without teams, location) who is in the circle, has the client in their
    /// agenda, or documents work for the client (an unregistered relationship) — among the
    /// colleagues `accept` lets count.
    pub fn covering(&self, a: &Access, accept: impl Fn(u32) -> bool) -> bool {
        self.covered_colleague(a, accept).is_some()
    }

    /// The colleague the user stands in for ([`Self::covering`]) and how that colleague works
    /// with the client.
    fn covered_colleague(&self, a: &Access, accept: impl Fn(u32) -> bool) -> Option<(u32, Tie)> {
        let client = &self.cx.patients[a.client as usize];
        let colleague = |c: u32| c != a.user && self.stands_in_for(a.user, c) && accept(c);
        client
            .memberships
            .iter()
            .find_map(|m| match m.member {
                Member::User(c) if m.start <= a.at && a.at <= m.end && colleague(c) => {
                    Some((c, Tie::Member))
                }
                _ => None,
            })
            .or_else(|| {
                client.appointments.iter().find_map(|&(c, s, _)| {
                    (colleague(c)
                        && s - WORK_BEFORE_DAYS * DAY_MS <= a.at
                        && a.at <= s + WORK_AFTER_DAYS * DAY_MS)
                        .then_some((c, Tie::Appointment(s)))
                })
            })
            .or_else(|| {
                self.work.writers(a.client).iter().find_map(|&c| {
                    (colleague(c) && self.work.covers(c, a.client, a.at))
                        .then_some((c, Tie::Documents))
                })
            })
    }

    /// What an explanation rests on for this access, in Dutch, naming people and places by
    /// reference and days as people write them: the evidence an auditor can check against
    /// the record. (Worked out again for the accesses it is asked for, not kept for all.)
    pub fn grounds(&self, a: &Access, e: Explanation) -> String {
        let cx = self.cx;
        let client = &cx.patients[a.client as usize];
        let day = crate::time::dutch_day;
        let period = |start: i64, end: i64| {
            use kring_fhir::datetime::{OPEN_HIGH, OPEN_LOW};
            match (start <= OPEN_LOW, end >= OPEN_HIGH) {
                (true, true) => "zonder begin- of einddatum".to_string(),
                (true, false) => format!("tot {}", day(end)),
                (false, true) => format!("sinds {}", day(start)),
                (false, false) => format!("{} tot {}", day(start), day(end)),
            }
        };
        let member = |m: &crate::context::Membership| match m.member {
            Member::User(u) => cx.users.name(u).to_string(),
            Member::Organisation(o) => format!("de organisatie {}", cx.organisations.name(o)),
            Member::Team(_) => "een team van de medewerker".to_string(),
        };
        let naming = |list: &[crate::context::Membership]| {
            list.iter()
                .find(|m| m.start <= a.at && a.at <= m.end && cx.names_user(m.member, a.user))
                .map(|m| format!("{} ({})", member(m), period(m.start, m.end)))
                .unwrap_or_default()
        };
        match e {
            Explanation::Membership => {
                format!(
                    "lid van de kring van de cliënt: {}",
                    naming(&client.memberships)
                )
            }
            Explanation::ClosingWork => {
                let end = client
                    .memberships
                    .iter()
                    .filter(|m| m.end < a.at && cx.names_user(m.member, a.user))
                    .map(|m| m.end)
                    .max()
                    .unwrap_or(a.at);
                format!(
                    "afronding: het lidmaatschap van de kring eindigde op {}, binnen {CLOSING_DAYS} dagen ervoor",
                    day(end)
                )
            }
            Explanation::Appointment | Explanation::Encounter => {
                let (what, list) = if e == Explanation::Appointment {
                    ("afspraak", &client.appointments)
                } else {
                    ("contact (encounter)", &client.encounters)
                };
                match list
                    .iter()
                    .filter(|&&(u, _, _)| u == a.user)
                    .min_by_key(|&&(_, s, _)| (s - a.at).abs())
                {
                    Some(&(_, s, _)) => format!("{what} met de cliënt op {}", day(s)),
                    None => format!("{what} met de cliënt"),
                }
            }
            Explanation::DocumentedWork if a.action == Action::Write => {
                "de medewerker schreef zelf in het dossier".to_string()
            }
            Explanation::DocumentedWork => match self.work.spans.get(&(a.user, a.client)) {
                Some(&(first, last)) => format!(
                    "eigen verslaglegging in dit dossier van {} tot {}",
                    day(first),
                    day(last)
                ),
                None => "eigen verslaglegging in dit dossier".to_string(),
            },
            Explanation::Referral => {
                format!(
                    "verwijzing of verzoek voor de cliënt: {}",
                    naming(&client.referrals)
                )
            }
            Explanation::SharingGrant => {
                format!("deelbesluit voor {}", naming(&client.grants))
            }
            Explanation::Role(k) => {
                let registered = client
                    .organisation
                    .and_then(|o| cx.staff[a.user as usize].kind_at(o))
                    .is_some();
                format!(
                    "rol {} binnen de organisatie van de cliënt{}",
                    k.dutch(),
                    if registered {
                        ""
                    } else {
                        " (afgeleid uit het gedrag in het log)"
                    }
                )
            }
            Explanation::Location => {
                let staff = &cx.staff[a.user as usize];
                match client
                    .stays
                    .iter()
                    .filter(|s| staff.at_location(s.location))
                    .min_by_key(|s| (s.start - a.at).max(a.at - s.end).max(0))
                {
                    Some(s) => format!(
                        "de cliënt verblijft of wordt behandeld op {}, een locatie van de medewerker ({})",
                        cx.locations.name(s.location),
                        period(s.start, s.end)
                    ),
                    None => "de cliënt verblijft op een locatie van de medewerker".to_string(),
                }
            }
            Explanation::Covering => match self.covered_colleague(a, |_| true) {
                Some((c, tie)) => format!(
                    "waarneming binnen werktijd voor {} van hetzelfde team of dezelfde locatie, {}",
                    cx.users.name(c),
                    match tie {
                        Tie::Member => "lid van de kring van de cliënt".to_string(),
                        Tie::Appointment(s) =>
                            format!("met een afspraak met de cliënt op {}", day(s)),
                        Tie::Documents => "die in dit dossier verslag legt".to_string(),
                    }
                ),
                None => "waarneming binnen werktijd voor een collega".to_string(),
            },
            Explanation::RecurringCare => {
                "terugkerende inzage op werkdagen over weken, binnen werktijd en zonder \
                 risicosignaal, door zorgpersoneel van een organisatie die bij de cliënt \
                 betrokken is"
                    .to_string()
            }
            Explanation::Emergency => format!(
                "noodtoegang met een opgegeven reden, door de rol {}",
                self.role_kind(a.user, client.organisation)
                    .filter(|k| k.emergency_role())
                    .unwrap_or(RoleKind::CrisisService)
                    .dutch()
            ),
        }
    }

    /// Whether `b` is a colleague `a` would stand in for: a member of one of `a`'s staff teams
    /// when the context knows `a`'s teams (a large office holds many teams, and one team
    /// covers for its own), else anyone sharing a location with `a`.
    fn stands_in_for(&self, a: u32, b: u32) -> bool {
        match self.cx.user_teams.get(a as usize) {
            Some(teams) if !teams.is_empty() => teams
                .iter()
                .any(|&t| self.cx.teams[t as usize].binary_search(&b).is_ok()),
            _ => self.shares_location(a, b),
        }
    }

    /// Everyone `a` would stand in for ([`Self::stands_in_for`]), as a list (may repeat).
    pub fn colleagues_of(&self, a: u32) -> Vec<u32> {
        match self.cx.user_teams.get(a as usize) {
            Some(teams) if !teams.is_empty() => teams
                .iter()
                .flat_map(|&t| self.cx.teams[t as usize].iter().copied())
                .collect(),
            _ => self.cx.staff[a as usize]
                .roles
                .iter()
                .flat_map(|r| &r.locations)
                .flat_map(|&l| self.cx.location_staff[l as usize].iter().copied())
                .collect(),
        }
    }

    fn shares_location(&self, a: u32, b: u32) -> bool {
        let sa = &self.cx.staff[a as usize];
        let sb = &self.cx.staff[b as usize];
        sa.roles
            .iter()
            .flat_map(|r| &r.locations)
            .any(|l| sb.roles.iter().flat_map(|r| &r.locations).any(|m| m == l))
    }

    /// Whether the client lives at, or is being treated at (an encounter within the
    /// treatment window), one of the user's locations at `at`.
    fn at_location(&self, user: u32, client: u32, at: i64, window_days: i64) -> bool {
        let staff = &self.cx.staff[user as usize];
        let window = window_days * DAY_MS;
        self.cx.patients[client as usize]
            .stays
            .iter()
            .filter(|s| s.start - window <= at && at <= s.end + window)
            .any(|s| staff.at_location(s.location))
    }

    /// Explains one access, or says why not.
    pub fn explain(&self, a: &Access) -> Outcome {
        let cx = self.cx;
        let client = &cx.patients[a.client as usize];
        if a.emergency != Emergency::No {
            // A crisis service serves the whole region: its registered role counts for any
            // client, whichever organisation manages them; a night shift only its own.
            let kind = self
                .role_kind(a.user, client.organisation)
                .filter(|k| k.emergency_role())
                .or_else(|| {
                    cx.staff[a.user as usize]
                        .roles
                        .iter()
                        .any(|r| r.kind == Some(RoleKind::CrisisService))
                        .then_some(RoleKind::CrisisService)
                });
            // No role makes breaking the glass on one's own or a family member's record
            // routine.
            return if a.emergency == Emergency::WithReason
                && kind.is_some_and(RoleKind::emergency_role)
                && client.importance != Importance::Vip
                && !identity(cx, a.user, a.client)
                    .iter()
                    .any(|r| matches!(r, Reason::OwnRecord | Reason::Family))
            {
                Outcome::Explained(Explanation::Emergency)
            } else {
                Outcome::Unexplained(MembershipState::None)
            };
        }
        let membership = cx.membership(a.user, a.client, a.at);
        match membership {
            MembershipState::Active => return Outcome::Explained(Explanation::Membership),
            MembershipState::Ended(end) if a.at - end <= CLOSING_DAYS * DAY_MS => {
                return Outcome::Explained(Explanation::ClosingWork)
            }
            _ => {}
        }
        if a.action == Action::Write {
            return Outcome::Explained(Explanation::DocumentedWork);
        }
        let day = self.clock.day(a.at);
        if client
            .appointments
            .iter()
            .any(|&(u, s, e)| u == a.user && self.clock.day(s) <= day && day <= self.clock.day(e))
        {
            return Outcome::Explained(Explanation::Appointment);
        }
        if self.work.covers(a.user, a.client, a.at) {
            return Outcome::Explained(Explanation::DocumentedWork);
        }
        // The weaker explanations (a role, a shared location, covering) do not excuse what
        // the user should not open on such grounds: their own or their family's record (no
        // role does), a colleague's or a VIP's record, or a client whose relationship with
        // them ended long ago (neither does covering or a location; for a colleague or a VIP
        // a location counts on the day itself only).
        let identity = identity(cx, a.user, a.client);
        let personal = identity
            .iter()
            .any(|r| matches!(r, Reason::OwnRecord | Reason::Family));
        let former = matches!(membership, MembershipState::Ended(_));
        let sensitive = personal
            || former
            || identity
                .iter()
                .any(|r| matches!(r, Reason::ColleagueRecord | Reason::Vip));
        // An appointment with the client in the weeks around the access: a care relationship
        // the agenda shows where the circle does not (registrations are incomplete). Like
        // documented work, from a month before the appointment to six weeks after it; never
        // for one's own or a family member's record.
        if !personal
            && client.appointments.iter().any(|&(u, s, _)| {
                u == a.user
                    && s - WORK_BEFORE_DAYS * DAY_MS <= a.at
                    && a.at <= s + WORK_AFTER_DAYS * DAY_MS
            })
        {
            return Outcome::Explained(Explanation::Appointment);
        }
        // An encounter the user took part in, in the weeks around it (as an appointment); a
        // referral or request for the client from or to the user, their team or organisation,
        // while its work runs.
        if !personal
            && client.encounters.iter().any(|&(u, s, e)| {
                u == a.user
                    && s - WORK_BEFORE_DAYS * DAY_MS <= a.at
                    && a.at <= e.saturating_add(WORK_AFTER_DAYS * DAY_MS)
            })
        {
            return Outcome::Explained(Explanation::Encounter);
        }
        let names_user = |m: &crate::context::Membership| {
            m.start <= a.at && a.at <= m.end && cx.names_user(m.member, a.user)
        };
        if !personal && client.referrals.iter().any(names_user) {
            return Outcome::Explained(Explanation::Referral);
        }
        if !personal && client.grants.iter().any(names_user) {
            return Outcome::Explained(Explanation::SharingGrant);
        }
        if !personal {
            match self.role_kind(a.user, client.organisation) {
                Some(k @ (RoleKind::Administration | RoleKind::Planning)) => {
                    return Outcome::Explained(Explanation::Role(k))
                }
                // A crisis role inferred from breaking the glass explains only that; a
                // registered one also the ordinary reads of the service.
                Some(RoleKind::CrisisService)
                    if client
                        .organisation
                        .and_then(|o| self.cx.staff[a.user as usize].kind_at(o))
                        == Some(RoleKind::CrisisService) =>
                {
                    return Outcome::Explained(Explanation::Role(RoleKind::CrisisService))
                }
                Some(RoleKind::NightShift)
                    if self.clock.night(a.at) || self.at_location(a.user, a.client, a.at, 1) =>
                {
                    return Outcome::Explained(Explanation::Role(RoleKind::NightShift))
                }
                _ => {}
            }
        }
        // For sensitive records only a stay or treatment that very day counts.
        let window = if sensitive { 1 } else { TREATMENT_DAYS };
        if !personal && !former && self.at_location(a.user, a.client, a.at, window) {
            return Outcome::Explained(Explanation::Location);
        }
        if sensitive {
            return Outcome::Unexplained(membership);
        }
        if self.clock.working_hours(a.at) && self.covering(a, |_| true) {
            return Outcome::Explained(Explanation::Covering);
        }
        Outcome::Unexplained(membership)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AccessLog, Emergency};
    use crate::roles::RoleMap;

    /// Two colleagues at one location; Piet is in Els's circle, Anna (administration) is a
    /// client herself; Jan's membership of Kees's circle ended in 2025.
    const CONTEXT: &str = r#"{"resourceType":"Organization","id":"o"}
{"resourceType":"Practitioner","id":"anna","name":[{"family":"Bakker","given":["Anna"]}],"birthDate":"1980-01-01"}
{"resourceType":"PractitionerRole","id":"ra","practitioner":{"reference":"Practitioner/anna"},"organization":{"reference":"Organization/o"},"code":[{"text":"Administratief medewerker"}]}
{"resourceType":"Practitioner","id":"piet","name":[{"family":"Smit","given":["Piet"]}]}
{"resourceType":"PractitionerRole","id":"rp","practitioner":{"reference":"Practitioner/piet"},"organization":{"reference":"Organization/o"},"location":[{"reference":"Location/l"}]}
{"resourceType":"Practitioner","id":"jan","name":[{"family":"Vos","given":["Jan"]}]}
{"resourceType":"PractitionerRole","id":"rj","practitioner":{"reference":"Practitioner/jan"},"organization":{"reference":"Organization/o"},"location":[{"reference":"Location/l"}]}
{"resourceType":"Patient","id":"anna-self","name":[{"family":"Bakker","given":["Anna"]}],"birthDate":"1980-01-01","managingOrganization":{"reference":"Organization/o"}}
{"resourceType":"Patient","id":"els","name":[{"family":"Dekker","given":["Els"]}],"managingOrganization":{"reference":"Organization/o"}}
{"resourceType":"Patient","id":"kees","name":[{"family":"Mulder","given":["Kees"]}],"managingOrganization":{"reference":"Organization/o"}}
{"resourceType":"CareTeam","id":"c1","subject":{"reference":"Patient/els"},"participant":[{"member":{"reference":"Practitioner/piet"}}]}
{"resourceType":"CareTeam","id":"c2","subject":{"reference":"Patient/kees"},"participant":[{"member":{"reference":"Practitioner/piet"}},{"member":{"reference":"Practitioner/jan"},"period":{"start":"2024-01-01","end":"2025-01-31"}}]}"#;

    fn outcome(user: &str, client: &str, at: &str) -> Outcome {
        outcome_in(CONTEXT, user, client, at)
    }

    fn outcome_in(context: &str, user: &str, client: &str, at: &str) -> Outcome {
        grounds_in(context, user, client, at).0
    }

    /// The outcome, and for an explained access what its explanation rests on.
    fn grounds_in(context: &str, user: &str, client: &str, at: &str) -> (Outcome, String) {
        let mut cx = Context::read(context.as_bytes(), &RoleMap::default()).unwrap();
        let at = crate::audit::instant_ms(at).unwrap();
        let mut log = AccessLog::default();
        let (u, c) = (cx.user(user), cx.client(client));
        log.push(
            "e",
            Access {
                at,
                user: u,
                client: c,
                event: 0,
                action: Action::Read,
                emergency: Emergency::No,
                denied: false,
            },
        );
        let clock = Clock::new(at, at);
        let work = work_spans(&log.accesses);
        let inferred = vec![None; cx.staff.len()];
        let explainer = Explainer {
            cx: &cx,
            clock: &clock,
            work: &work,
            inferred: &inferred,
        };
        let outcome = explainer.explain(&log.accesses[0]);
        let grounds = match outcome {
            Outcome::Explained(e) => explainer.grounds(&log.accesses[0], e),
            Outcome::Unexplained(_) => String::new(),
        };
        (outcome, grounds)
    }

    #[test]
    fn each_explanation_names_what_it_rests_on() {
        let context = format!(
            "{CONTEXT}\n{}",
            r#"{"resourceType":"Appointment","id":"a1","status":"booked","start":"2026-12-01T09:00:00Z","end":"2026-12-01T10:00:00Z","participant":[{"actor":{"reference":"Practitioner/jan"}},{"actor":{"reference":"Patient/kees"}}]}"#
        );
        let cases = [
            // Piet is in Els's circle.
            ("Practitioner/piet", "Patient/els", "2026-11-23T10:00:00Z", "lid van de kring van de cliënt: Practitioner/piet (zonder begin- of einddatum)"),
            // Jan covers for Piet, who is in Els's circle.
            ("Practitioner/jan", "Patient/els", "2026-11-23T10:00:00Z", "waarneming binnen werktijd voor Practitioner/piet van hetzelfde team of dezelfde locatie, lid van de kring van de cliënt"),
            // Jan's membership of Kees's circle ended on 31 January 2025.
            ("Practitioner/jan", "Patient/kees", "2025-02-20T10:00:00Z", "afronding: het lidmaatschap van de kring eindigde op 31 jan 2025, binnen 42 dagen ervoor"),
            // Jan sees Kees on 1 December 2026.
            ("Practitioner/jan", "Patient/kees", "2026-11-10T10:00:00Z", "afspraak met de cliënt op 1 dec 2026"),
            ("Practitioner/anna", "Patient/els", "2026-11-23T10:00:00Z", "rol administratie binnen de organisatie van de cliënt"),
        ];
        for (user, client, at, expected) in cases {
            let (outcome, grounds) = grounds_in(&context, user, client, at);
            assert!(matches!(outcome, Outcome::Explained(_)), "{user} {client}");
            assert_eq!(grounds, expected, "{user} {client} {at}");
        }
    }

    #[test]
    fn a_role_explains_ordinary_records_but_never_ones_own() {
        assert_eq!(
            outcome("Practitioner/anna", "Patient/els", "2026-11-23T10:00:00Z"),
            Outcome::Explained(Explanation::Role(RoleKind::Administration))
        );
        assert!(matches!(
            outcome(
                "Practitioner/anna",
                "Patient/anna-self",
                "2026-11-23T10:00:00Z"
            ),
            Outcome::Unexplained(_)
        ));
    }

    #[test]
    fn covering_holds_in_working_hours_and_not_for_a_former_client() {
        // Monday morning: Jan covers for Piet, who is in Els's circle.
        assert_eq!(
            outcome("Practitioner/jan", "Patient/els", "2026-11-23T10:00:00Z"),
            Outcome::Explained(Explanation::Covering)
        );
        // Sunday: no covering.
        assert!(matches!(
            outcome("Practitioner/jan", "Patient/els", "2026-11-22T10:00:00Z"),
            Outcome::Unexplained(MembershipState::None)
        ));
        // Kees was Jan's client until January 2025: covering does not excuse that.
        assert!(matches!(
            outcome("Practitioner/jan", "Patient/kees", "2026-11-23T10:00:00Z"),
            Outcome::Unexplained(MembershipState::Ended(_))
        ));
        // Three weeks after the end it is closing work.
        assert_eq!(
            outcome("Practitioner/jan", "Patient/kees", "2025-02-20T10:00:00Z"),
            Outcome::Explained(Explanation::ClosingWork)
        );
    }

    #[test]
    fn the_agenda_shows_a_relationship_the_circle_does_not() {
        // Jan sees Kees again on 1 December 2026, long after his membership ended.
        let context = format!(
            "{CONTEXT}\n{}",
            r#"{"resourceType":"Appointment","id":"a1","status":"booked","start":"2026-12-01T09:00:00Z","end":"2026-12-01T10:00:00Z","participant":[{"actor":{"reference":"Practitioner/jan"}},{"actor":{"reference":"Patient/kees"}}]}"#
        );
        // Reading the record in the weeks before and after it is care work …
        for at in ["2026-11-10T10:00:00Z", "2026-12-30T10:00:00Z"] {
            assert_eq!(
                outcome_in(&context, "Practitioner/jan", "Patient/kees", at),
                Outcome::Explained(Explanation::Appointment),
                "{at}"
            );
        }
        // … but not months away from it, and not for someone else.
        assert!(matches!(
            outcome_in(
                &context,
                "Practitioner/jan",
                "Patient/kees",
                "2027-03-01T10:00:00Z"
            ),
            Outcome::Unexplained(MembershipState::Ended(_))
        ));
        assert!(matches!(
            outcome_in(
                &context,
                "Practitioner/anna",
                "Patient/anna-self",
                "2026-11-30T10:00:00Z"
            ),
            Outcome::Unexplained(_)
        ));
    }
}

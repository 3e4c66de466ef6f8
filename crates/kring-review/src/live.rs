//! Screening Kring's own live log: extend the mirror from where it stopped, read the care
//! network from the record (as the operator, so each client read is logged like an export),
//! run the oversight engine on the chosen period, and store the cases for the officers of the
//! organisation the user acted for. The run reads the log through the log itself and leaves
//! one entry saying which entries it read.

use std::collections::HashMap;

use kring_access::{Category, Target};
use kring_audit::AccessEntry;
use kring_oversight::{
    group_cases, screen, Access, AccessLog as Accesses, Action, Context, Emergency, RoleMap,
};
use kring_record::logging::entry_for;
use kring_record::{Caller, Record};

use crate::store::{
    DayFigures, Evidence, EvidenceAccess, MirrorRow, NewCase, Review, RunRow, KIND_DENIED,
    KIND_EMERGENCY, KIND_REASON, KIND_WRITE,
};
use crate::{Result, ReviewError};

/// The resource types the engine reads from the record.
pub const CONTEXT_TYPES: [&str; 10] = [
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "Patient",
    "CareTeam",
    "Encounter",
    "Appointment",
    "Task",
    "Consent",
];

const MIRROR_BATCH: usize = 10_000;

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub run: i64,
    pub mirrored: u64,
    pub accesses: u64,
    pub explained: u64,
    pub findings: u64,
    pub flagged: u64,
    pub cases: u64,
}

fn mirror_kind(e: &AccessEntry) -> i64 {
    let mut kind = 0;
    if matches!(e.action.as_str(), "C" | "U" | "D") {
        kind |= KIND_WRITE;
    }
    if e.outcome == "denied" {
        kind |= KIND_DENIED;
    }
    if e.is_emergency() {
        kind |= KIND_EMERGENCY;
        // Kring lets nobody break the glass without a stated reason; the declaration is
        // the ground of the access.
        if !e.grounds.is_empty() {
            kind |= KIND_REASON;
        }
    }
    kind
}

/// Extends the mirror with the log's new entries: accesses by staff to a client, those that
/// succeeded and those that were refused (attempts). Returns how many entries were read.
pub async fn extend_mirror(review: &Review, record: &Record) -> Result<u64> {
    let log = record.access_log();
    let start = review.mirrored_upto().await?;
    let mut next = start;
    let mut known: HashMap<String, i64> = review
        .refs()
        .await?
        .into_iter()
        .map(|(id, r)| (r, id))
        .collect();
    loop {
        let entries = log.entries_from(next, MIRROR_BATCH).await?;
        let Some(last) = entries.last() else { break };
        let upto = last.id + 1;
        let wanted: Vec<&AccessEntry> = entries
            .iter()
            .filter(|e| {
                !e.client.is_empty()
                    && matches!(e.outcome.as_str(), "success" | "denied")
                    && e.user.person.starts_with("Practitioner/")
            })
            .collect();
        let mut new_refs: Vec<String> = Vec::new();
        for e in &wanted {
            for r in [
                e.user.person.clone(),
                format!("Patient/{}", e.client),
                e.user.organisation.clone(),
            ] {
                if !known.contains_key(&r) && !new_refs.contains(&r) {
                    new_refs.push(r);
                }
            }
        }
        if !new_refs.is_empty() {
            let refs: Vec<&str> = new_refs.iter().map(String::as_str).collect();
            let ids = review.ref_ids(&refs).await?;
            known.extend(new_refs.into_iter().zip(ids));
        }
        let rows: Vec<MirrorRow> = wanted
            .iter()
            .map(|e| MirrorRow {
                seq: e.id as i64,
                at: e.recorded_ms(),
                user: known[&e.user.person],
                client: known[&format!("Patient/{}", e.client)],
                org: known[&e.user.organisation],
                kind: mirror_kind(e),
            })
            .collect();
        review.mirror(&rows, upto).await?;
        next = upto;
        if entries.len() < MIRROR_BATCH {
            break;
        }
    }
    if next > start {
        // The reading itself is an access to the log: one entry for the range.
        let caller = Caller::operator("oversight").with_system("kring-oversight");
        // The entries read, as a range of their ids (`first-last`).
        let range = format!("{start}-{}", next - 1);
        let target = Target::new("AuditEvent", Some(&range), "", Category::AccessLog);
        let entry = entry_for(
            &caller,
            "R",
            "oversight-read-log",
            "success",
            &target,
            &[kring_access::Reason::Rule("operator".into())],
        );
        record.log_event(entry).await?;
    }
    Ok(next - start)
}

/// Reads the engine's context from the record, as the operator (each client read is logged).
pub async fn read_context(record: &Record) -> Result<Context> {
    let caller = Caller::operator("oversight").with_system("kring-oversight");
    let roles = RoleMap::default();
    let mut cx = Context::default();
    for t in CONTEXT_TYPES {
        let mut after: Option<String> = None;
        loop {
            let page = record
                .export_page(&caller, t, after.as_deref(), 1000)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for v in &page {
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&v.body) {
                    // A resource the engine cannot use is skipped, as in a CONTEXT file.
                    let _ = cx.add(&value, &roles);
                }
            }
        }
    }
    cx.finish();
    Ok(cx)
}

/// The accesses of `[from_ms, to_ms]` from the mirror, with the organisation each user
/// acted for.
pub async fn accesses_from_mirror(
    review: &Review,
    cx: &mut Context,
    from_ms: i64,
    to_ms: i64,
) -> Result<(Accesses, HashMap<u32, String>)> {
    let refs: HashMap<i64, String> = review.refs().await?.into_iter().collect();
    let rows = review.accesses(from_ms, to_ms).await?;
    // Reference numbers are small and dense: tables instead of maps.
    let size = refs.keys().copied().max().unwrap_or(0).max(0) as usize + 1;
    let mut users: Vec<u32> = vec![u32::MAX; size];
    let mut clients: Vec<u32> = vec![u32::MAX; size];
    let mut acted_for: HashMap<u32, String> = HashMap::new();
    let mut log = Accesses::default();
    let mut id = String::new();
    let name = |r: i64| refs.get(&r).map_or("", String::as_str);
    for r in &rows {
        let (u, c) = (r.user as usize, r.client as usize);
        if u >= size || c >= size {
            continue;
        }
        if users[u] == u32::MAX {
            users[u] = cx.user(name(r.user));
            acted_for.insert(users[u], name(r.org).to_string());
        }
        if clients[c] == u32::MAX {
            clients[c] = cx.client(name(r.client));
        }
        id.clear();
        use std::fmt::Write as _;
        let _ = write!(id, "{}", r.seq);
        let emergency = if r.kind & KIND_EMERGENCY == 0 {
            Emergency::No
        } else if r.kind & KIND_REASON != 0 {
            Emergency::WithReason
        } else {
            Emergency::WithoutReason
        };
        let action = if r.kind & KIND_WRITE != 0 {
            Action::Write
        } else {
            Action::Read
        };
        log.push(
            &id,
            Access {
                at: r.at,
                user: users[u],
                client: clients[c],
                event: 0,
                action,
                emergency,
                denied: r.kind & KIND_DENIED != 0,
            },
        );
    }
    log.sort();
    Ok((log, acted_for))
}

/// The Dutch local date of an instant.
pub fn local_day(ms: i64) -> String {
    let local = ms + kring_fhir::datetime::dutch_offset_ms(ms);
    kring_fhir::datetime::format_instant(local)[..10].to_string()
}

/// Day figures per organisation: accesses and emergencies counted from the log, flagged
/// findings from the screening; explained = accesses − findings that are not routine.
fn day_figures(
    log_days: &HashMap<(String, String), (i64, i64)>,
    findings: &[kring_oversight::Finding],
    user_org: &HashMap<String, String>,
) -> Vec<(String, DayFigures)> {
    let mut flagged: HashMap<(String, String), i64> = HashMap::new();
    let mut unexplained: HashMap<(String, String), i64> = HashMap::new();
    for f in findings {
        let org = user_org.get(&f.evidence.user).cloned().unwrap_or_default();
        let key = (org, local_day(f.evidence.at));
        if f.flagged() {
            *flagged.entry(key.clone()).or_default() += 1;
        }
        if f.risk > kring_oversight::finding::ROUTINE_EMERGENCY_SCORE {
            *unexplained.entry(key).or_default() += 1;
        }
    }
    let mut out: Vec<(String, DayFigures)> = log_days
        .iter()
        .map(|(key, &(accesses, emergency))| {
            let u = unexplained.get(key).copied().unwrap_or(0);
            (
                key.0.clone(),
                DayFigures {
                    day: key.1.clone(),
                    accesses,
                    explained: accesses - u,
                    flagged: flagged.get(key).copied().unwrap_or(0),
                    emergency,
                },
            )
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1.day).cmp(&(&b.0, &b.1.day)));
    out
}

/// Screens the last `days` days of Kring's own log and stores the cases.
pub async fn screen_live(
    review: &Review,
    record: &Record,
    trigger: &str,
    days: u32,
) -> Result<RunSummary> {
    let started = kring_fhir::datetime::now_ms();
    let mirrored = extend_mirror(review, record).await?;
    let mut cx = read_context(record).await?;
    let from_ms = started - i64::from(days) * 86_400_000;
    let (log, acted_for) = accesses_from_mirror(review, &mut cx, from_ms, started).await?;
    let user_org: HashMap<String, String> = acted_for
        .iter()
        .map(|(u, o)| (cx.users.name(*u).to_string(), o.clone()))
        .collect();
    let (screening, log_days) = tokio::task::spawn_blocking(move || {
        let screening = screen(&cx, &log);
        // Accesses and emergencies per (organisation, local day), for the report.
        let mut days: HashMap<(String, String), (i64, i64)> = HashMap::new();
        for a in &log.accesses {
            let org = acted_for.get(&a.user).cloned().unwrap_or_default();
            let e = days.entry((org, local_day(a.at))).or_default();
            e.0 += 1;
            e.1 += i64::from(a.emergency != Emergency::No);
        }
        (screening, days)
    })
    .await
    .map_err(|e| ReviewError::Screening(e.to_string()))?;
    let cases = group_cases(&screening.findings);
    let new_cases: Vec<NewCase> = cases
        .iter()
        .map(|c| {
            let first = &screening.findings[c.findings[0]];
            NewCase {
                key: c.key.clone(),
                user: c.user.clone(),
                client: c.client.clone(),
                organisation: user_org.get(&c.user).cloned().unwrap_or_default(),
                start_ms: c.start,
                end_ms: c.end,
                score: c.score,
                reasons: c.reasons.iter().map(|r| r.code().to_string()).collect(),
                evidence: Evidence {
                    accesses: c
                        .findings
                        .iter()
                        .map(|&i| {
                            let f = &screening.findings[i];
                            EvidenceAccess {
                                event: f.event.clone(),
                                at: f.evidence.at,
                                write: f.evidence.action == Action::Write,
                                emergency: f.evidence.emergency != Emergency::No,
                                score: f.score,
                                reasons: f.reasons.iter().map(|r| r.code().to_string()).collect(),
                                explanation: f.explanation.clone(),
                                grounds: f.evidence.grounds.clone(),
                            }
                        })
                        .collect(),
                    tried: first.evidence.tried.clone(),
                },
            }
        })
        .collect();
    let s = &screening.stats;
    let run = RunRow {
        trigger: trigger.to_string(),
        started,
        finished: kring_fhir::datetime::now_ms(),
        from_ms,
        to_ms: started,
        accesses: s.accesses as i64,
        explained: s.explained_total() as i64,
        findings: s.findings as i64,
        flagged: s.flagged as i64,
        emergency: s.emergency as i64,
        ..RunRow::default()
    };
    let daily = day_figures(&log_days, &screening.findings, &user_org);
    let id = review.store_run(&run, &new_cases, &daily).await?;
    tracing::info!(
        run = id,
        trigger,
        accesses = s.accesses,
        findings = s.findings,
        cases = new_cases.len(),
        "oversight run finished"
    );
    Ok(RunSummary {
        run: id,
        mirrored,
        accesses: s.accesses,
        explained: s.explained_total(),
        findings: s.findings,
        flagged: s.flagged,
        cases: new_cases.len() as u64,
    })
}

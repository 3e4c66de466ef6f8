//! The log to screen: FHIR R4 `AuditEvent`s, one per line, from Kring or any record system,
//! reduced to what the engine needs — when, which user, which client, read or write, and
//! whether it was emergency access with a stated reason, or an attempt that was refused. An
//! event naming several clients becomes one access per client. Events without a client
//! (sign-ins) or without a requesting user are counted and not screened; a refused attempt
//! (outcome 4 or 8) is screened like an access — probing clients outside one's circles is
//! browsing even when every probe was refused — and a failure of the system (12) is not.

use std::borrow::Cow;
use std::io::BufRead;

use serde::Deserialize;

use crate::context::{local_reference, Context, BAD_LINES_KEPT};
use crate::{BadLine, OversightError};

/// Read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    /// Create, update, patch or delete: documented work in the record.
    Write,
}

/// Whether an access was emergency access (`ETREAT`, "break the glass").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emergency {
    No,
    WithReason,
    WithoutReason,
}

/// One access to one client's record.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// ms since the epoch (UTC).
    pub at: i64,
    pub user: u32,
    pub client: u32,
    /// Position of the event's id in [`AccessLog::event_id`].
    pub event: u32,
    pub action: Action,
    pub emergency: Emergency,
    /// The access was refused: an attempt on data the user may not see.
    pub denied: bool,
}

/// What reading the log found.
#[derive(Debug, Clone, Default)]
pub struct LogStats {
    pub lines: u64,
    pub events: u64,
    /// Events without a client (sign-in, token, policy load …).
    pub without_client: u64,
    /// Events without a requesting user with a Practitioner reference.
    pub without_user: u64,
    /// Events whose outcome was not success (refused attempts, which are screened, and
    /// failures of the system, which are not).
    pub not_success: u64,
    pub bad: Vec<BadLine>,
    pub bad_count: u64,
}

/// The accesses of a log, in time order once [`AccessLog::sort`] has run.
#[derive(Debug, Default)]
pub struct AccessLog {
    pub accesses: Vec<Access>,
    ids: String,
    id_ends: Vec<usize>,
    pub stats: LogStats,
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow, default)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    recorded: Cow<'a, str>,
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    subtype: Vec<RawCoding<'a>>,
    #[serde(borrow, default)]
    outcome: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "outcomeDesc")]
    outcome_desc: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "purposeOfEvent")]
    purpose: Vec<RawConcept<'a>>,
    #[serde(borrow, default)]
    agent: Vec<RawAgent<'a>>,
    #[serde(borrow, default)]
    entity: Vec<RawEntity<'a>>,
}

#[derive(Deserialize, Default)]
struct RawCoding<'a> {
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawConcept<'a> {
    #[serde(borrow, default)]
    coding: Vec<RawCoding<'a>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct RawReference<'a> {
    #[serde(borrow, default)]
    reference: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawAgent<'a> {
    #[serde(default)]
    requestor: bool,
    #[serde(borrow, default)]
    who: RawReference<'a>,
    #[serde(borrow, default, rename = "purposeOfUse")]
    purpose_of_use: Vec<RawConcept<'a>>,
}

#[derive(Deserialize)]
struct RawEntity<'a> {
    #[serde(borrow, default)]
    what: RawReference<'a>,
    #[serde(borrow, default)]
    role: RawCoding<'a>,
    #[serde(borrow, default)]
    description: Option<Cow<'a, str>>,
}

fn is_emergency(concepts: &[RawConcept]) -> bool {
    concepts.iter().any(|c| {
        c.coding
            .iter()
            .any(|k| matches!(k.code.as_deref(), Some("ETREAT" | "BTG")))
    })
}

fn stated(concepts: &[RawConcept]) -> bool {
    concepts
        .iter()
        .any(|c| c.text.as_deref().is_some_and(|t| !t.trim().is_empty()))
}

/// Parses `YYYY-MM-DDThh:mm[:ss[.fff]](Z|±hh:mm)` (and any other FHIR instant) to ms.
pub fn instant_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<i64> {
        let part = b.get(from..from + n)?;
        part.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let fast = || -> Option<i64> {
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
            return None;
        }
        let (y, m, d) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
        let (hh, mm, ss) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
        let mut i = 19;
        let mut ms = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                if i - start < 3 {
                    ms = ms * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            for _ in (i - start).min(3)..3 {
                ms *= 10;
            }
        }
        let offset = match b.get(i)? {
            b'Z' if i + 1 == b.len() => 0,
            &sign @ (b'+' | b'-') if i + 6 == b.len() => {
                let o = (digits(i + 1, 2)? * 60 + digits(i + 4, 2)?) * 60_000;
                if sign == b'+' {
                    o
                } else {
                    -o
                }
            }
            _ => return None,
        };
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        // Days from civil (Howard Hinnant's algorithm).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400_000 + ((hh * 60 + mm) * 60 + ss) * 1000 + ms - offset)
    };
    fast().or_else(|| kring_fhir::datetime::parse_range(s).map(|r| r.low))
}

impl AccessLog {
    /// The id of the event an access came from.
    pub fn event_id(&self, event: u32) -> &str {
        let i = event as usize;
        let start = if i == 0 { 0 } else { self.id_ends[i - 1] };
        &self.ids[start..self.id_ends[i]]
    }

    /// Number of events kept (those with at least one screened access).
    pub fn events(&self) -> usize {
        self.id_ends.len()
    }

    fn bad(&mut self, line: u64, problem: String) {
        self.stats.bad_count += 1;
        if self.stats.bad.len() < BAD_LINES_KEPT {
            self.stats.bad.push(BadLine { line, problem });
        }
    }

    /// Adds one access by hand (for logs that are not NDJSON, such as Kring's own), as the
    /// event `event_id`; the access's own `event` is set here.
    pub fn push(&mut self, event_id: &str, access: Access) {
        let event = self.id_ends.len() as u32;
        self.ids.push_str(event_id);
        self.id_ends.push(self.ids.len());
        self.accesses.push(Access { event, ..access });
    }

    /// Reads AUDIT NDJSON, interning users and clients in `cx`.
    pub fn read(input: impl BufRead, cx: &mut Context) -> Result<AccessLog, OversightError> {
        let mut log = AccessLog::default();
        let mut input = input;
        let mut line = String::new();
        let mut n = 0u64;
        loop {
            line.clear();
            let got = input
                .read_line(&mut line)
                .map_err(|source| OversightError::Io {
                    what: "the audit log".into(),
                    source,
                })?;
            if got == 0 {
                break;
            }
            n += 1;
            log.stats.lines += 1;
            if line.trim().is_empty() {
                continue;
            }
            if let Err(problem) = log.add_line(&line, cx) {
                log.bad(n, problem);
            }
        }
        log.sort();
        Ok(log)
    }

    /// Adds one AuditEvent line.
    pub fn add_line(&mut self, line: &str, cx: &mut Context) -> Result<(), String> {
        let e: RawEvent = serde_json::from_str(line).map_err(|e| {
            // serde's message names the field and the column, never the value.
            format!("not an AuditEvent: {e}")
        })?;
        self.stats.events += 1;
        if e.id.is_empty() {
            return Err("an AuditEvent without id".into());
        }
        let at = instant_ms(&e.recorded).ok_or("an AuditEvent without a valid recorded")?;
        let denied = match e.outcome.as_deref() {
            None | Some("0") => false,
            Some("4") | Some("8") => {
                self.stats.not_success += 1;
                true
            }
            Some(_) => {
                self.stats.not_success += 1;
                return Ok(());
            }
        };
        let Some(requestor) = e.agent.iter().find(|a| a.requestor) else {
            self.stats.without_user += 1;
            return Ok(());
        };
        let Some(user) = requestor
            .who
            .reference
            .as_deref()
            .and_then(|r| cx.user_of(r))
        else {
            self.stats.without_user += 1;
            return Ok(());
        };
        let write = match e.action.as_deref() {
            Some("C" | "U" | "D") => true,
            Some(_) => false,
            None => e.subtype.iter().any(|s| {
                matches!(
                    s.code.as_deref(),
                    Some("create" | "update" | "patch" | "delete")
                )
            }),
        };
        let emergency = if is_emergency(&e.purpose) || is_emergency(&requestor.purpose_of_use) {
            // A reason is stated as text with the purpose, as an outcome description, or as
            // a ground of the access (an entity in the security-resource role, as Kring
            // records the emergency declaration).
            let reason = stated(&e.purpose)
                || stated(&requestor.purpose_of_use)
                || e.outcome_desc
                    .as_deref()
                    .is_some_and(|d| !d.trim().is_empty())
                || e.entity.iter().any(|x| {
                    x.role.code.as_deref() == Some("13")
                        || (x.what.reference.is_none()
                            && x.description.as_deref().is_some_and(|d| !d.is_empty()))
                });
            if reason {
                Emergency::WithReason
            } else {
                Emergency::WithoutReason
            }
        } else {
            Emergency::No
        };
        let mut clients = e
            .entity
            .iter()
            .filter_map(|x| x.what.reference.as_deref())
            .filter_map(|r| local_reference(r, "Patient"))
            .peekable();
        if clients.peek().is_none() {
            self.stats.without_client += 1;
            return Ok(());
        }
        let event = self.id_ends.len() as u32;
        for c in clients {
            let client = cx.client(c);
            self.accesses.push(Access {
                at,
                user,
                client,
                event,
                action: if write { Action::Write } else { Action::Read },
                emergency,
                denied,
            });
        }
        self.ids.push_str(&e.id);
        self.id_ends.push(self.ids.len());
        Ok(())
    }

    /// Puts the accesses in time order (stable: equal times keep log order).
    pub fn sort(&mut self) {
        if !self.accesses.windows(2).all(|w| w[0].at <= w[1].at) {
            self.accesses.sort_by_key(|a| a.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::RoleMap;

    #[test]
    fn instants_parse_fast_and_agree_with_the_general_parser() {
        for s in [
            "2026-11-23T10:15:30.123Z",
            "2026-11-23T10:15:30Z",
            "2026-11-23T11:15:30.1+01:00",
            "2024-02-29T23:59:59.999-05:30",
            "1999-12-31T00:00:00.123456Z",
        ] {
            assert_eq!(
                instant_ms(s),
                kring_fhir::datetime::parse_range(s).map(|r| r.low),
                "{s}"
            );
        }
        assert_eq!(instant_ms("yesterday"), None);
    }

    #[test]
    fn events_become_accesses_per_client_and_the_rest_is_counted() {
        let mut cx = Context::read(
            r#"{"resourceType":"PractitionerRole","id":"r1","practitioner":{"reference":"Practitioner/9"}}"#
                .as_bytes(),
            &RoleMap::default(),
        )
        .unwrap();
        let lines = [
            r#"{"resourceType":"AuditEvent","id":"a","recorded":"2026-01-05T10:00:00Z","action":"R","outcome":"0","agent":[{"requestor":true,"who":{"reference":"Practitioner/1"}}],"entity":[{"what":{"reference":"Patient/1"}},{"what":{"reference":"https://x/fhir/Patient/2"}}]}"#,
            r#"{"resourceType":"AuditEvent","id":"b","recorded":"2026-01-05T09:00:00Z","action":"U","agent":[{"requestor":true,"who":{"reference":"PractitionerRole/r1"}}],"entity":[{"what":{"reference":"Patient/1"}}]}"#,
            r#"{"resourceType":"AuditEvent","id":"c","recorded":"2026-01-05T09:00:00Z","action":"R","outcome":"8","agent":[{"requestor":true,"who":{"reference":"Practitioner/1"}}],"entity":[{"what":{"reference":"Patient/1"}}]}"#,
            r#"{"resourceType":"AuditEvent","id":"d","recorded":"2026-01-05T09:00:00Z","action":"E","agent":[{"requestor":true,"who":{"reference":"Practitioner/1"}}]}"#,
            r#"{"resourceType":"AuditEvent","id":"e","recorded":"2026-01-05T11:00:00Z","action":"R","purposeOfEvent":[{"coding":[{"code":"ETREAT"}]}],"agent":[{"requestor":true,"who":{"reference":"Practitioner/1"}}],"entity":[{"what":{"reference":"Patient/3"}}]}"#,
            r#"{"resourceType":"AuditEvent","id":"f","recorded":"2026-01-05T11:00:00Z","action":"R","purposeOfEvent":[{"coding":[{"code":"ETREAT"}],"text":"reanimatie"}],"agent":[{"requestor":true,"who":{"reference":"Practitioner/1"}}],"entity":[{"what":{"reference":"Patient/3"}}]}"#,
            r#"{"resourceType":"AuditEvent","id":"g","recorded":"2026-01-05T12:00:00Z","action":"R","outcome":"12","agent":[{"requestor":true,"who":{"reference":"Practitioner/1"}}],"entity":[{"what":{"reference":"Patient/1"}}]}"#,
            r#"{"resourceType":"AuditEvent","id":7}"#,
            "not json",
        ];
        let log = AccessLog::read(lines.join("\n").as_bytes(), &mut cx).unwrap();
        assert_eq!(log.accesses.len(), 6);
        assert_eq!(log.event_id(log.accesses[0].event), "b", "sorted by time");
        assert_eq!(log.accesses[0].action, Action::Write);
        assert_eq!(cx.users.name(log.accesses[0].user), "Practitioner/9");
        // A refused attempt (8) is screened; a failure of the system (12) is not.
        assert_eq!(log.event_id(log.accesses[1].event), "c");
        assert!(log.accesses[1].denied && !log.accesses[0].denied);
        assert_eq!(cx.clients.name(log.accesses[3].client), "Patient/2");
        assert_eq!(log.accesses[4].emergency, Emergency::WithoutReason);
        assert_eq!(log.accesses[5].emergency, Emergency::WithReason);
        assert_eq!(log.stats.not_success, 2);
        assert_eq!(log.stats.without_client, 1);
        assert_eq!(log.stats.bad_count, 2);
        assert_eq!(log.stats.bad[0].line, 8);
        assert!(
            log.stats.bad[0].problem.contains("invalid type"),
            "{:?}",
            log.stats.bad
        );
        assert_eq!(log.stats.bad[1].line, 9);
    }
}

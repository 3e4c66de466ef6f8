//! The review store: its own SQLite file (`<access log>-review.db`), like the access log kept
//! apart from the record. It holds
//!
//! - a compact mirror of the access log (time, user, client, organisation, read or write,
//!   emergency) that the nightly run extends from where it stopped, so a screening reads a
//!   month of entries without decoding them again;
//! - the screening runs and their figures;
//! - the cases (user × client × episode) with their evidence and the officer's decision;
//! - the warnings sent to staff, and whether they have been read.
//!
//! A case decided once keeps its decision when a later run finds the same case again.

use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::{Result, ReviewError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mirror_state (id INTEGER PRIMARY KEY CHECK (id = 0), upto INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS refs (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS mirror_chunks (
    first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, min_at INTEGER NOT NULL,
    max_at INTEGER NOT NULL, rows INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS mirror_chunks_at ON mirror_chunks(max_at, min_at);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, trigger TEXT NOT NULL, started INTEGER NOT NULL,
    finished INTEGER NOT NULL, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL,
    accesses INTEGER NOT NULL, explained INTEGER NOT NULL, findings INTEGER NOT NULL,
    flagged INTEGER NOT NULL, emergency INTEGER NOT NULL, cases INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, run INTEGER NOT NULL,
    user TEXT NOT NULL, client TEXT NOT NULL, organisation TEXT NOT NULL,
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, score REAL NOT NULL,
    reasons TEXT NOT NULL, evidence TEXT NOT NULL,
    decision TEXT, note TEXT, decided_by TEXT, decided_ms INTEGER);
CREATE INDEX IF NOT EXISTS cases_open ON cases(organisation, decision, score);
CREATE TABLE IF NOT EXISTS daily (
    day TEXT NOT NULL, organisation TEXT NOT NULL, accesses INTEGER NOT NULL,
    explained INTEGER NOT NULL, flagged INTEGER NOT NULL, emergency INTEGER NOT NULL,
    PRIMARY KEY (day, organisation));
CREATE TABLE IF NOT EXISTS warnings (
    id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, user TEXT NOT NULL, text TEXT NOT NULL,
    sent_by TEXT NOT NULL, sent_ms INTEGER NOT NULL, read_ms INTEGER);
CREATE INDEX IF NOT EXISTS warnings_user ON warnings(user, read_ms);
";

/// The cases that are only unexplained — nothing explains the accesses and no risk signal
/// marks them, so they score below the flag line with the one reason `no-explanation` (most
/// often unregistered work): they go to the weekly spot-check sample, not to the queue.
pub const SAMPLED: &str = "(reasons = 'no-explanation' AND score < 0.5)";

/// Bytes of one mirrored access: seq, at (i64), user, client, organisation (u32), kind (u8).
const ROW_BYTES: usize = 29;

/// Bits of a mirrored access's `kind`.
pub const KIND_WRITE: i64 = 1;
pub const KIND_EMERGENCY: i64 = 2;
pub const KIND_REASON: i64 = 4;
/// A refused attempt (the access log's `denied`).
pub const KIND_DENIED: i64 = 8;

/// The officer's decision on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The access had a good reason.
    Justified,
    /// It had not; recorded, no further step.
    Unjustified,
    /// It had not; the user is sent a warning.
    Warn,
    /// It may be a data breach: to be assessed (72-hour deadline).
    Escalate,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::Justified,
        Decision::Unjustified,
        Decision::Warn,
        Decision::Escalate,
    ];
    /// Whether the officer found the access without good reason (whatever the next step).
    pub fn unjustified(self) -> bool {
        self != Decision::Justified
    }
    pub fn code(self) -> &'static str {
        match self {
            Decision::Justified => "justified",
            Decision::Unjustified => "unjustified",
            Decision::Warn => "warn",
            Decision::Escalate => "escalate",
        }
    }
}

impl FromStr for Decision {
    type Err = ReviewError;
    fn from_str(s: &str) -> Result<Decision> {
        Decision::ALL
            .into_iter()
            .find(|d| d.code() == s)
            .ok_or_else(|| ReviewError::NotADecision(s.chars().take(40).collect()))
    }
}

/// One access in a case's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvidenceAccess {
    pub event: String,
    pub at: i64,
    pub write: bool,
    pub emergency: bool,
    pub score: f64,
    pub reasons: Vec<String>,
    pub explanation: String,
    /// What an explanation that held rests on, when the access is queued all the same
    /// (emergency access with a reason, covering that a pattern undid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grounds: Option<String>,
}

/// What a case rests on.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Evidence {
    pub accesses: Vec<EvidenceAccess>,
    /// The explanations that were tried and did not hold, in Dutch.
    pub tried: Vec<String>,
}

/// A case as the pages show it.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub id: i64,
    pub user: String,
    pub client: String,
    pub organisation: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub score: f64,
    pub reasons: Vec<String>,
    pub evidence: Evidence,
    pub decision: Option<Decision>,
    pub note: String,
    pub decided_by: String,
    pub decided_ms: Option<i64>,
}

/// One day's figures for one organisation (Dutch local date `YYYY-MM-DD`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayFigures {
    pub day: String,
    pub accesses: i64,
    pub explained: i64,
    pub flagged: i64,
    pub emergency: i64,
}

/// A warning to a member of staff.
#[derive(Debug, Clone)]
pub struct Warning {
    pub id: i64,
    pub case_id: i64,
    pub text: String,
    pub sent_ms: i64,
}

/// A case to store from a run.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub key: String,
    pub user: String,
    pub client: String,
    pub organisation: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub score: f64,
    pub reasons: Vec<String>,
    pub evidence: Evidence,
}

/// Figures of a finished run.
#[derive(Debug, Clone, Default)]
pub struct RunRow {
    pub id: i64,
    pub trigger: String,
    pub started: i64,
    pub finished: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub accesses: i64,
    pub explained: i64,
    pub findings: i64,
    pub flagged: i64,
    pub emergency: i64,
    pub cases: i64,
}

/// One mirrored access.
#[derive(Debug, Clone, Copy)]
pub struct MirrorRow {
    pub seq: i64,
    pub at: i64,
    pub user: i64,
    pub client: i64,
    pub org: i64,
    pub kind: i64,
}

/// The review store.
#[derive(Clone)]
pub struct Review {
    pub(crate) pool: SqlitePool,
}

fn case_row(r: &sqlx::sqlite::SqliteRow) -> Result<CaseRow> {
    let reasons: String = r.try_get("reasons")?;
    let evidence: String = r.try_get("evidence")?;
    let decision: Option<String> = r.try_get("decision")?;
    Ok(CaseRow {
        id: r.try_get("id")?,
        user: r.try_get("user")?,
        client: r.try_get("client")?,
        organisation: r.try_get("organisation")?,
        start_ms: r.try_get("start_ms")?,
        end_ms: r.try_get("end_ms")?,
        score: r.try_get("score")?,
        reasons: reasons
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        evidence: serde_json::from_str(&evidence).unwrap_or_default(),
        decision: decision.and_then(|d| d.parse().ok()),
        note: r.try_get::<Option<String>, _>("note")?.unwrap_or_default(),
        decided_by: r
            .try_get::<Option<String>, _>("decided_by")?
            .unwrap_or_default(),
        decided_ms: r.try_get("decided_ms")?,
    })
}

impl Review {
    /// Opens (or creates) the review store at `path`.
    pub async fn open(path: &Path) -> Result<Review> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        sqlx::raw_sql(crate::breach::SCHEMA).execute(&pool).await?;
        Ok(Review { pool })
    }

    /// The log position the mirror has reached (entries before it are mirrored).
    pub async fn mirrored_upto(&self) -> Result<u64> {
        let upto: Option<i64> = sqlx::query_scalar("SELECT upto FROM mirror_state WHERE id = 0")
            .fetch_optional(&self.pool)
            .await?;
        Ok(upto.unwrap_or(0) as u64)
    }

    /// Numbers for references, adding new ones.
    pub async fn ref_ids(&self, refs: &[&str]) -> Result<Vec<i64>> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            sqlx::query("INSERT OR IGNORE INTO refs (ref) VALUES (?)")
                .bind(r)
                .execute(&mut *tx)
                .await?;
            out.push(
                sqlx::query_scalar("SELECT id FROM refs WHERE ref = ?")
                    .bind(r)
                    .fetch_one(&mut *tx)
                    .await?,
            );
        }
        tx.commit().await?;
        Ok(out)
    }

    /// All references by number.
    pub async fn refs(&self) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as("SELECT id, ref FROM refs")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Appends mirrored accesses (one chunk) and moves the mirror to `upto`, in one
    /// transaction.
    pub async fn mirror(&self, rows: &[MirrorRow], upto: u64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            let mut data = Vec::with_capacity(rows.len() * ROW_BYTES);
            for r in rows {
                data.extend_from_slice(&r.seq.to_le_bytes());
                data.extend_from_slice(&r.at.to_le_bytes());
                data.extend_from_slice(&(r.user as u32).to_le_bytes());
                data.extend_from_slice(&(r.client as u32).to_le_bytes());
                data.extend_from_slice(&(r.org as u32).to_le_bytes());
                data.push(r.kind as u8);
            }
            sqlx::query(
                "INSERT OR REPLACE INTO mirror_chunks (first_seq, last_seq, min_at, max_at, rows, data) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(first.seq)
            .bind(last.seq)
            .bind(rows.iter().map(|r| r.at).min().unwrap_or(0))
            .bind(rows.iter().map(|r| r.at).max().unwrap_or(0))
            .bind(rows.len() as i64)
            .bind(data)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT INTO mirror_state (id, upto) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET upto = excluded.upto")
            .bind(upto as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mirrored accesses from `from_ms` to `to_ms`, in log order.
    pub async fn accesses(&self, from_ms: i64, to_ms: i64) -> Result<Vec<MirrorRow>> {
        use futures::StreamExt as _;
        let mut rows = Vec::new();
        let mut chunks = sqlx::query_as::<_, (Vec<u8>,)>(
            "SELECT data FROM mirror_chunks WHERE max_at >= ? AND min_at <= ? ORDER BY first_seq",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch(&self.pool);
        let i64_at =
            |b: &[u8], at: usize| i64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
        let u32_at =
            |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default());
        while let Some(chunk) = chunks.next().await {
            let (data,) = chunk?;
            for r in data.chunks_exact(ROW_BYTES) {
                let at = i64_at(r, 8);
                if at < from_ms || at > to_ms {
                    continue;
                }
                rows.push(MirrorRow {
                    seq: i64_at(r, 0),
                    at,
                    user: i64::from(u32_at(r, 16)),
                    client: i64::from(u32_at(r, 20)),
                    org: i64::from(u32_at(r, 24)),
                    kind: i64::from(r[28]),
                });
            }
        }
        Ok(rows)
    }

    /// Stores a run with its cases. Open cases found again are updated; decided ones keep
    /// their decision.
    pub async fn store_run(
        &self,
        run: &RunRow,
        cases: &[NewCase],
        daily: &[(String, DayFigures)],
    ) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        // The latest run's figures for a day replace earlier ones.
        for (organisation, d) in daily {
            sqlx::query(
                "INSERT OR REPLACE INTO daily (day, organisation, accesses, explained, flagged, emergency) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&d.day)
            .bind(organisation)
            .bind(d.accesses)
            .bind(d.explained)
            .bind(d.flagged)
            .bind(d.emergency)
            .execute(&mut *tx)
            .await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (trigger, started, finished, from_ms, to_ms, accesses, explained, findings, flagged, emergency, cases)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&run.trigger)
        .bind(run.started)
        .bind(run.finished)
        .bind(run.from_ms)
        .bind(run.to_ms)
        .bind(run.accesses)
        .bind(run.explained)
        .bind(run.findings)
        .bind(run.flagged)
        .bind(run.emergency)
        .bind(cases.len() as i64)
        .fetch_one(&mut *tx)
        .await?;
        for c in cases {
            sqlx::query(
                "INSERT INTO cases (key, run, user, client, organisation, start_ms, end_ms, score, reasons, evidence)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (key) DO UPDATE SET run = excluded.run, end_ms = excluded.end_ms,
                   score = excluded.score, reasons = excluded.reasons, evidence = excluded.evidence
                 WHERE cases.decision IS NULL",
            )
            .bind(&c.key)
            .bind(id)
            .bind(&c.user)
            .bind(&c.client)
            .bind(&c.organisation)
            .bind(c.start_ms)
            .bind(c.end_ms)
            .bind(c.score)
            .bind(c.reasons.join(","))
            .bind(serde_json::to_string(&c.evidence).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The findings of a run's cases as FINDINGS lines (highest score first).
    pub async fn findings_of_run(&self, run: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT evidence FROM cases WHERE run = ?")
            .bind(run)
            .fetch_all(&self.pool)
            .await?;
        let mut all: Vec<EvidenceAccess> = rows
            .into_iter()
            .filter_map(|(e,)| serde_json::from_str::<Evidence>(&e).ok())
            .flat_map(|e| e.accesses)
            .collect();
        all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.at.cmp(&b.at)));
        Ok(all
            .iter()
            .map(|a| {
                serde_json::json!({
                    "event": a.event,
                    "score": (a.score * 1000.0).round() / 1000.0,
                    "reasons": a.reasons,
                    "explanation": a.explanation,
                })
                .to_string()
            })
            .collect())
    }

    /// The latest run, if any.
    pub async fn latest_run(&self) -> Result<Option<RunRow>> {
        let r = sqlx::query("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| {
            Ok(RunRow {
                id: r.try_get("id")?,
                trigger: r.try_get("trigger")?,
                started: r.try_get("started")?,
                finished: r.try_get("finished")?,
                from_ms: r.try_get("from_ms")?,
                to_ms: r.try_get("to_ms")?,
                accesses: r.try_get("accesses")?,
                explained: r.try_get("explained")?,
                findings: r.try_get("findings")?,
                flagged: r.try_get("flagged")?,
                emergency: r.try_get("emergency")?,
                cases: r.try_get("cases")?,
            })
        })
        .transpose()
    }

    /// Cases of an organisation (`Organization/…`), open ones or decided ones, highest score
    /// first.
    pub async fn cases(
        &self,
        organisation: &str,
        decided: bool,
        limit: i64,
    ) -> Result<Vec<CaseRow>> {
        let sql = if decided {
            "SELECT * FROM cases WHERE organisation = ? AND decision IS NOT NULL ORDER BY decided_ms DESC LIMIT ?".to_string()
        } else {
            format!("SELECT * FROM cases WHERE organisation = ? AND decision IS NULL AND NOT {SAMPLED} ORDER BY score DESC, start_ms LIMIT ?")
        };
        let rows = sqlx::query(&sql)
            .bind(organisation)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(case_row).collect()
    }

    /// How many cases of the organisation's queue are open (undecided, not in the sample): the
    /// officer's own count, not the run's for the whole network.
    pub async fn open_count(&self, organisation: &str) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM cases WHERE organisation = ? AND decision IS NULL AND NOT {SAMPLED}"
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(organisation)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The spot-check sample of the week from `week_start_ms`: of the organisation's cases in
    /// that week that are only unexplained (see [`SAMPLED`]), `size` picked at random — the
    /// same pick every time the week is shown (by a hash of each case's key and the week) — and
    /// how many there were in all.
    pub async fn weekly_sample(
        &self,
        organisation: &str,
        week_start_ms: i64,
        size: usize,
    ) -> Result<(Vec<CaseRow>, usize)> {
        use sha2::Digest;
        let rows = sqlx::query(&format!(
            "SELECT * FROM cases WHERE organisation = ? AND start_ms >= ? AND start_ms < ? AND {SAMPLED}"
        ))
        .bind(organisation)
        .bind(week_start_ms)
        .bind(week_start_ms + 7 * 86_400_000)
        .fetch_all(&self.pool)
        .await?;
        let total = rows.len();
        let mut keyed: Vec<([u8; 32], CaseRow)> = rows
            .iter()
            .map(|r| {
                let key: String = r.get("key");
                let h = sha2::Sha256::digest(format!("{week_start_ms}/{key}").as_bytes());
                Ok((h.into(), case_row(r)?))
            })
            .collect::<Result<_>>()?;
        keyed.sort_by_key(|k| k.0);
        let mut picked: Vec<CaseRow> = keyed.into_iter().take(size).map(|(_, c)| c).collect();
        picked.sort_by_key(|c| c.start_ms);
        Ok((picked, total))
    }

    /// Cases of an organisation that started in `[from_ms, to_ms]`.
    pub async fn cases_between(
        &self,
        organisation: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CaseRow>> {
        let rows = sqlx::query(
            "SELECT * FROM cases WHERE organisation = ? AND start_ms >= ? AND start_ms <= ? ORDER BY start_ms",
        )
        .bind(organisation)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(case_row).collect()
    }

    /// Users with a case judged unjustified (or worse) before `before_ms`.
    pub async fn earlier_offenders(
        &self,
        organisation: &str,
        before_ms: i64,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT user FROM cases WHERE organisation = ? AND start_ms < ?
             AND decision IN ('unjustified', 'warn', 'escalate')",
        )
        .bind(organisation)
        .bind(before_ms)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Day figures of an organisation for days starting with `prefix` (`2026-11`).
    pub async fn days(&self, organisation: &str, prefix: &str) -> Result<Vec<DayFigures>> {
        let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT day, accesses, explained, flagged, emergency FROM daily
             WHERE organisation = ? AND substr(day, 1, length(?)) = ? ORDER BY day",
        )
        .bind(organisation)
        .bind(prefix)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(day, accesses, explained, flagged, emergency)| DayFigures {
                    day,
                    accesses,
                    explained,
                    flagged,
                    emergency,
                },
            )
            .collect())
    }

    /// One case of an organisation.
    pub async fn case(&self, organisation: &str, id: i64) -> Result<CaseRow> {
        let r = sqlx::query("SELECT * FROM cases WHERE id = ? AND organisation = ?")
            .bind(id)
            .bind(organisation)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(ReviewError::NoSuchCase)?;
        case_row(&r)
    }

    /// Records the officer's decision (a later decision replaces an earlier one).
    pub async fn decide(
        &self,
        organisation: &str,
        id: i64,
        decision: Decision,
        note: &str,
        officer: &str,
        at_ms: i64,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE cases SET decision = ?, note = ?, decided_by = ?, decided_ms = ? WHERE id = ? AND organisation = ?",
        )
        .bind(decision.code())
        .bind(note)
        .bind(officer)
        .bind(at_ms)
        .bind(id)
        .bind(organisation)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(ReviewError::NoSuchCase);
        }
        Ok(())
    }

    /// Sends a warning about a case to its user.
    pub async fn warn(
        &self,
        organisation: &str,
        id: i64,
        text: &str,
        officer: &str,
        at_ms: i64,
    ) -> Result<i64> {
        if text.trim().is_empty() {
            return Err(ReviewError::EmptyWarning);
        }
        let case = self.case(organisation, id).await?;
        Ok(sqlx::query_scalar(
            "INSERT INTO warnings (case_id, user, text, sent_by, sent_ms) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(id)
        .bind(&case.user)
        .bind(text.trim())
        .bind(officer)
        .bind(at_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Warnings of a user (`Practitioner/…`) not yet read.
    pub async fn unread_warnings(&self, user: &str) -> Result<Vec<Warning>> {
        let rows: Vec<(i64, i64, String, i64)> = sqlx::query_as(
            "SELECT id, case_id, text, sent_ms FROM warnings WHERE user = ? AND read_ms IS NULL ORDER BY sent_ms",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, case_id, text, sent_ms)| Warning {
                id,
                case_id,
                text,
                sent_ms,
            })
            .collect())
    }

    /// Marks a user's warning as read.
    pub async fn mark_read(&self, user: &str, id: i64, at_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE warnings SET read_ms = ? WHERE id = ? AND user = ? AND read_ms IS NULL",
        )
        .bind(at_ms)
        .bind(id)
        .bind(user)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many warnings were sent for cases of an organisation in a period.
    pub async fn warnings_sent(&self, organisation: &str, from_ms: i64, to_ms: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM warnings w JOIN cases c ON c.id = w.case_id
             WHERE c.organisation = ? AND w.sent_ms >= ? AND w.sent_ms <= ?",
        )
        .bind(organisation)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

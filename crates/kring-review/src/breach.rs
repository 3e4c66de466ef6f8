//! The data-breach register (AVG art. 33/34): every incident a privacy officer opens — what
//! happened, when it was discovered, whose account or which partner system, the time window —
//! with its scope as read from the access log (which clients, which categories, how many
//! records, which organisations' staff), the assessment (risk, notify the Autoriteit
//! Persoonsgegevens or not, and why), the notification and the letter to the clients, the
//! measures taken, and when the notification and the letters went out. Kept for every incident,
//! notified or not; 72 hours from discovery to notify.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Review, ReviewError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY, organisation TEXT NOT NULL, opened_ms INTEGER NOT NULL,
    opened_by TEXT NOT NULL, discovered_ms INTEGER NOT NULL, what TEXT NOT NULL,
    who TEXT NOT NULL, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL,
    case_id INTEGER, scope TEXT NOT NULL,
    risk TEXT, notify INTEGER, reason TEXT NOT NULL DEFAULT '',
    notification TEXT NOT NULL DEFAULT '', letter TEXT NOT NULL DEFAULT '',
    measures TEXT NOT NULL DEFAULT '', assessed_by TEXT, assessed_ms INTEGER,
    notified_ms INTEGER, informed_ms INTEGER);
CREATE INDEX IF NOT EXISTS incidents_org ON incidents(organisation, opened_ms);
";

/// The deadline to notify the Autoriteit Persoonsgegevens, from discovery (AVG art. 33).
pub const NOTIFY_WITHIN_MS: i64 = 72 * 3_600_000;

/// What the access log says a breach touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Clients (Patient ids) whose data was read or written.
    pub clients: Vec<String>,
    /// Data categories with the number of accesses each.
    pub categories: Vec<(String, u64)>,
    /// Distinct records (resources) touched.
    pub records: u64,
    /// Accesses in all.
    pub accesses: u64,
    /// Organisations (`Organization/…`) the accesses were made for.
    pub organisations: Vec<String>,
}

/// How serious the officer judged an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    /// Unlikely to result in a risk: the DPA need not be notified (record why).
    Unlikely,
    Risk,
    /// A high risk: the people concerned are informed too (art. 34).
    High,
}

impl Risk {
    pub fn code(self) -> &'static str {
        match self {
            Risk::Unlikely => "unlikely",
            Risk::Risk => "risk",
            Risk::High => "high",
        }
    }

    pub fn from_code(s: &str) -> Option<Risk> {
        Some(match s {
            "unlikely" => Risk::Unlikely,
            "risk" => Risk::Risk,
            "high" => Risk::High,
            _ => return None,
        })
    }
}

/// A new incident.
pub struct NewIncident<'a> {
    pub organisation: &'a str,
    pub opened_by: &'a str,
    pub opened_ms: i64,
    pub discovered_ms: i64,
    pub what: &'a str,
    /// Whose access: `account/…`, `client/…` (a partner system) or `Practitioner/…`.
    pub who: &'a str,
    pub from_ms: i64,
    pub to_ms: i64,
    pub case_id: Option<i64>,
    pub scope: &'a Scope,
}

/// The officer's assessment.
pub struct Assessment<'a> {
    pub risk: Risk,
    pub notify: bool,
    pub reason: &'a str,
    pub notification: &'a str,
    pub letter: &'a str,
    pub measures: &'a str,
    pub by: &'a str,
    pub at_ms: i64,
}

/// An incident in the register.
#[derive(Debug, Clone)]
pub struct Incident {
    pub id: i64,
    pub organisation: String,
    pub opened_ms: i64,
    pub opened_by: String,
    pub discovered_ms: i64,
    pub what: String,
    pub who: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub case_id: Option<i64>,
    pub scope: Scope,
    pub risk: Option<Risk>,
    pub notify: Option<bool>,
    pub reason: String,
    pub notification: String,
    pub letter: String,
    pub measures: String,
    pub assessed_by: Option<String>,
    pub assessed_ms: Option<i64>,
    pub notified_ms: Option<i64>,
    pub informed_ms: Option<i64>,
}

impl Incident {
    /// When the DPA must have been notified.
    pub fn deadline_ms(&self) -> i64 {
        self.discovered_ms + NOTIFY_WITHIN_MS
    }

    /// Whether the 72 hours still run for this incident: not notified, and not assessed as
    /// needing no notification.
    pub fn counting(&self) -> bool {
        self.notified_ms.is_none() && self.notify != Some(false)
    }
}

fn incident(r: &sqlx::sqlite::SqliteRow) -> Result<Incident> {
    let scope: String = r.try_get("scope")?;
    Ok(Incident {
        id: r.try_get("id")?,
        organisation: r.try_get("organisation")?,
        opened_ms: r.try_get("opened_ms")?,
        opened_by: r.try_get("opened_by")?,
        discovered_ms: r.try_get("discovered_ms")?,
        what: r.try_get("what")?,
        who: r.try_get("who")?,
        from_ms: r.try_get("from_ms")?,
        to_ms: r.try_get("to_ms")?,
        case_id: r.try_get("case_id")?,
        scope: serde_json::from_str(&scope).unwrap_or_default(),
        risk: r
            .try_get::<Option<String>, _>("risk")?
            .and_then(|c| Risk::from_code(&c)),
        notify: r.try_get::<Option<i64>, _>("notify")?.map(|n| n != 0),
        reason: r.try_get("reason")?,
        notification: r.try_get("notification")?,
        letter: r.try_get("letter")?,
        measures: r.try_get("measures")?,
        assessed_by: r.try_get("assessed_by")?,
        assessed_ms: r.try_get("assessed_ms")?,
        notified_ms: r.try_get("notified_ms")?,
        informed_ms: r.try_get("informed_ms")?,
    })
}

impl Review {
    /// Opens an incident; returns its number.
    pub async fn open_incident(&self, n: &NewIncident<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO incidents (organisation, opened_ms, opened_by, discovered_ms, what, who, from_ms, to_ms, case_id, scope) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(n.organisation)
        .bind(n.opened_ms)
        .bind(n.opened_by)
        .bind(n.discovered_ms)
        .bind(n.what)
        .bind(n.who)
        .bind(n.from_ms)
        .bind(n.to_ms)
        .bind(n.case_id)
        .bind(serde_json::to_string(n.scope).expect("scope serialises"))
        .fetch_one(&self.pool)
        .await?)
    }

    /// One incident of the organisation.
    pub async fn incident(&self, organisation: &str, id: i64) -> Result<Incident> {
        let r = sqlx::query("SELECT * FROM incidents WHERE id = ? AND organisation = ?")
            .bind(id)
            .bind(organisation)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(ReviewError::NoSuchCase)?;
        incident(&r)
    }

    /// The organisation's register, newest first.
    pub async fn incidents(&self, organisation: &str) -> Result<Vec<Incident>> {
        sqlx::query("SELECT * FROM incidents WHERE organisation = ? ORDER BY opened_ms DESC")
            .bind(organisation)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(incident)
            .collect()
    }

    /// Records the assessment (a later one replaces an earlier one).
    pub async fn assess_incident(
        &self,
        organisation: &str,
        id: i64,
        a: &Assessment<'_>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE incidents SET risk = ?, notify = ?, reason = ?, notification = ?, letter = ?, measures = ?, assessed_by = ?, assessed_ms = ? \
             WHERE id = ? AND organisation = ?",
        )
        .bind(a.risk.code())
        .bind(a.notify as i64)
        .bind(a.reason)
        .bind(a.notification)
        .bind(a.letter)
        .bind(a.measures)
        .bind(a.by)
        .bind(a.at_ms)
        .bind(id)
        .bind(organisation)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(ReviewError::NoSuchCase);
        }
        Ok(())
    }

    /// Records that the DPA was notified (`notified`) or the clients informed (`informed`).
    pub async fn incident_sent(
        &self,
        organisation: &str,
        id: i64,
        what: &str,
        at_ms: i64,
    ) -> Result<()> {
        let column = match what {
            "notified" => "notified_ms",
            "informed" => "informed_ms",
            _ => return Err(ReviewError::NoSuchCase),
        };
        let done = sqlx::query(&format!(
            "UPDATE incidents SET {column} = ? WHERE id = ? AND organisation = ? AND {column} IS NULL"
        ))
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
}

//! Reading the `entries` table for `kring audit verify`: consecutive entries in chunks, each
//! chunk one row of one query (`group_concat` of every column), so that ten million entries
//! cross from SQLite to Rust as ten thousand rows instead of ten million — the row-by-row
//! hand-over, not SQLite or the hashing, was what made a pass slow. A task reads the next
//! chunks while the pass works on the last one. The aggregates take the rows in the order of
//! the range scan (by `seq`); the pass checks that order anyway, since every entry must follow
//! the one before.
//!
//! Owns: the chunk query and taking a chunk apart into [`Row`]s. Trusts nothing in the bytes:
//! a chunk that does not take apart into as many rows as it has entries is reported, not read.

use sqlx::{Row as _, SqlitePool};
use tokio::sync::mpsc;

use crate::merkle::Hash;
use crate::AuditError;

/// Entries per chunk.
const CHUNK: i64 = 2048;
/// Separates entries (and columns) in a chunk: JSON text never holds a raw control
/// character, and the columns hold ids and codes.
const RS: u8 = 0x1e;
/// Separates the columns of one entry.
const US: u8 = 0x1f;

/// One entry as stored, borrowed from its chunk.
pub(crate) struct Row<'c> {
    pub seq: u64,
    /// The entry's bytes; `None` past retention.
    pub entry: Option<&'c [u8]>,
    /// The stored leaf hash (`None` when it is not 32 bytes).
    pub leaf: Option<Hash>,
    pub recorded_ms: i64,
    pub client: &'c str,
    pub user_id: &'c str,
    pub user_org: &'c str,
    pub action: &'c str,
    pub outcome: &'c str,
    pub purpose: &'c str,
}

/// Consecutive entries, as one query returned them.
pub(crate) struct Chunk {
    /// The first seq the chunk covers (entries may be missing inside it).
    pub from: u64,
    seqs: String,
    removed: String,
    entries: Vec<u8>,
    leaves: String,
    columns: Vec<u8>,
}

impl Chunk {
    /// The rows of the chunk, or `Err` with a sentence when it does not take apart.
    pub fn rows(&self) -> Result<Vec<Row<'_>>, String> {
        if self.seqs.is_empty() {
            return Ok(vec![]);
        }
        let bad = || {
            format!(
                "the entries from {} on cannot be read apart: a stored entry or column holds bytes no entry holds",
                self.from
            )
        };
        let seqs: Vec<u64> = self
            .seqs
            .split(',')
            .map(|s| s.parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let removed = self.removed.as_bytes();
        let entries: Vec<&[u8]> = self.entries.split(|b| *b == RS).collect();
        let columns: Vec<&[u8]> = self.columns.split(|b| *b == RS).collect();
        let n = seqs.len();
        if removed.len() != n
            || entries.len() != n
            || columns.len() != n
            || self.leaves.len() != n * 64
        {
            return Err(bad());
        }
        let mut out = Vec::with_capacity(n);
        for (i, seq) in seqs.into_iter().enumerate() {
            let cols: Vec<&str> = std::str::from_utf8(columns[i])
                .map_err(|_| bad())?
                .split(US as char)
                .collect();
            let [client, user_id, user_org, action, outcome, purpose, ms] = cols[..] else {
                return Err(bad());
            };
            out.push(Row {
                seq,
                entry: (removed[i] == b'0').then_some(entries[i]),
                leaf: unhex(&self.leaves[i * 64..i * 64 + 64]),
                recorded_ms: ms.parse().map_err(|_| bad())?,
                client,
                user_id,
                user_org,
                action,
                outcome,
                purpose,
            });
        }
        Ok(out)
    }
}

/// 64 hex digits → 32 bytes.
fn unhex(s: &str) -> Option<Hash> {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let d = |c: u8| (c as char).to_digit(16);
        *o = (d(b[2 * i])? * 16 + d(b[2 * i + 1])?) as u8;
    }
    Some(out)
}

/// Reads every entry up to the largest seq present when it starts, chunk by chunk, into a
/// channel (two chunks ahead).
pub(crate) fn chunks(pool: SqlitePool) -> mpsc::Receiver<Result<Chunk, AuditError>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let db = |e: sqlx::Error| AuditError::Unavailable(e.to_string());
        let last: Option<i64> = match sqlx::query_scalar("SELECT max(seq) FROM entries")
            .fetch_one(&pool)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                let _ = tx.send(Err(db(e))).await;
                return;
            }
        };
        let Some(last) = last else { return };
        let sql = format!(
            "SELECT coalesce(group_concat(seq, ','), ''), \
                    coalesce(group_concat(entry IS NULL, ''), ''), \
                    CAST(coalesce(group_concat(coalesce(CAST(entry AS TEXT), ''), char({RS})), '') AS BLOB), \
                    coalesce(group_concat(hex(leaf) || substr('{pad}', length(hex(leaf)) + 1), ''), ''), \
                    CAST(coalesce(group_concat(client || char({US}) || user_id || char({US}) || user_org || char({US}) || action || char({US}) || outcome || char({US}) || purpose || char({US}) || recorded_ms, char({RS})), '') AS BLOB) \
             FROM entries WHERE seq >= ? AND seq < ?",
            pad = "0".repeat(64),
        );
        let mut from = 0i64;
        while from <= last {
            let row = sqlx::query(&sql)
                .bind(from)
                .bind(from + CHUNK)
                .fetch_one(&pool)
                .await;
            let chunk = row.map_err(db).map(|r| Chunk {
                from: from as u64,
                seqs: r.get(0),
                removed: r.get(1),
                entries: r.get(2),
                leaves: r.get(3),
                columns: r.get(4),
            });
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
            from += CHUNK;
        }
    });
    rx
}

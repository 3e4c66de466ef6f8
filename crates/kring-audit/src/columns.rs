//! What the pages read besides the hashed entries: the columns stored beside each entry
//! (`recorded_ms`, `client`, `user_id`, `user_org`, `action`, `outcome`, `purpose`) and the
//! index rows of `by_client`, `by_user` and `by_user_org`, checked against the entries during
//! `kring audit verify`.
//!
//! Owns: reading those fields out of an entry's bytes, comparing them with the columns, and
//! comparing every index row with the entry it points at. A column changed to another client,
//! or an index row added, changed or removed, would hide an access from "who looked at my
//! file" or show it to the wrong reader; each is named.
//!
//! The columns are compared with each entry in the pass over the entries; the index tables
//! are read one key at a time, each on a connection of its own, in parallel with that pass. Index rows exist only below `index_state.upto` (they are written, a step at a time, in
//! the same transaction that raises it) and never change after, so any snapshot taken after
//! reading `upto` holds the same rows below it.

use std::borrow::Cow;
use std::collections::HashMap;

use futures::TryStreamExt;
use serde::Deserialize;
use sqlx::{Row as _, SqlitePool};

use crate::scan::Row;
use crate::AuditError;

/// The index tables and the column each indexes.
pub(crate) const INDEXES: [(&str, &str); 3] = [
    ("by_client", "client"),
    ("by_user", "user_id"),
    ("by_user_org", "user_org"),
];

/// The fields of an entry that are also stored as columns, borrowed from its bytes.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    recorded: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    outcome: Cow<'a, str>,
    #[serde(borrow)]
    user: UserFields<'a>,
    #[serde(default, borrow)]
    client: Cow<'a, str>,
    #[serde(borrow)]
    purpose: Cow<'a, str>,
}

#[derive(Deserialize)]
struct UserFields<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    organisation: Cow<'a, str>,
}

/// The names of the stored columns of `row` that differ from its entry (all of them when the
/// bytes are not an entry).
pub(crate) fn differing(bytes: &[u8], row: &Row<'_>) -> Vec<&'static str> {
    let Ok(f) = serde_json::from_slice::<Fields>(bytes) else {
        return vec!["entry"];
    };
    let recorded_ms = kring_fhir::datetime::parse_range(&f.recorded)
        .map(|r| r.low)
        .unwrap_or(0);
    [
        ("recorded_ms", recorded_ms == row.recorded_ms),
        ("client", f.client == row.client),
        ("user_id", f.user.id == row.user_id),
        ("user_org", f.user.organisation == row.user_org),
        ("action", f.action == row.action),
        ("outcome", f.outcome == row.outcome),
        ("purpose", f.purpose == row.purpose),
    ]
    .into_iter()
    .filter(|(_, same)| !same)
    .map(|(name, _)| name)
    .collect()
}

/// No key: the entry is not in that index (its column is empty).
const NONE: u32 = u32::MAX;

/// The keys of one indexed column, one per entry, with each distinct key stored once.
#[derive(Default)]
pub(crate) struct Keys {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    /// The key of each entry, by seq (NONE: not indexed).
    of: Vec<u32>,
}

impl Keys {
    fn intern(&mut self, key: &str) -> u32 {
        if key.is_empty() {
            return NONE;
        }
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(key.into());
        self.ids.insert(key.into(), id);
        id
    }

    /// The key of entry `seq` (entries come in order; a missing one stays without a key).
    pub(crate) fn set(&mut self, seq: u64, key: &str) {
        let id = self.intern(key);
        let seq = seq as usize;
        if self.of.len() <= seq {
            self.of.resize(seq + 1, NONE);
        }
        self.of[seq] = id;
    }
}

/// What one index table holds below `upto`: the key of each entry it lists.
pub(crate) struct IndexRows {
    table: &'static str,
    keys: Keys,
    /// Entries listed under two keys: (seq, the second key).
    doubled: Vec<(u64, String)>,
    /// Rows at or beyond `upto`: (seq, key).
    beyond: Vec<(u64, String)>,
}

/// Reads one index table (below `upto`, the rest set aside) on a connection of its own. The
/// rows come one key at a time with all its entries (`group_concat`), in the table's own
/// order: a few hundred thousand rows instead of one per entry.
pub(crate) async fn read_index(
    pool: SqlitePool,
    table: &'static str,
    upto: u64,
) -> Result<IndexRows, AuditError> {
    let db = |e: sqlx::Error| AuditError::Unavailable(e.to_string());
    let mut keys = Keys {
        of: vec![NONE; upto as usize],
        ..Keys::default()
    };
    let mut doubled = Vec::new();
    let mut beyond = Vec::new();
    let sql = format!("SELECT key, group_concat(seq) FROM {table} GROUP BY key");
    let mut rows = sqlx::query(&sql).fetch(&pool);
    while let Some(r) = rows.try_next().await.map_err(db)? {
        let key: &str = r.get(0);
        let seqs: &str = r.get(1);
        let id = keys.intern(key);
        for seq in seqs.split(',') {
            let Ok(seq) = seq.parse::<u64>() else {
                continue;
            };
            if seq >= upto {
                beyond.push((seq, key.to_string()));
                continue;
            }
            let slot = &mut keys.of[seq as usize];
            if *slot != NONE && *slot != id {
                doubled.push((seq, key.to_string()));
            } else {
                *slot = id;
            }
        }
    }
    Ok(IndexRows {
        table,
        keys,
        doubled,
        beyond,
    })
}

/// How many differences of one kind are named before the rest are only counted.
const NAMED: usize = 5;

/// Compares an index table with the keys the entries give (`expected`, from the pass over
/// the entries, whose columns were checked against the hashed entries), below `upto`; rows
/// at or beyond `now_upto` (the index's reach when the pass ended) should not exist at all.
/// Returns the problems, in plain words.
pub(crate) fn compare(expected: &Keys, index: &IndexRows, upto: u64, now_upto: u64) -> Vec<String> {
    let table = index.table;
    let mut problems = Vec::new();
    // The index's key ids, in the entries' numbering.
    let translate: Vec<u32> = index
        .keys
        .names
        .iter()
        .map(|n| expected.ids.get(n).copied().unwrap_or(NONE - 1))
        .collect();
    let (mut missing, mut wrong, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    let n = (upto as usize).min(expected.of.len());
    for seq in 0..n {
        let want = expected.of[seq];
        let got = match index.keys.of[seq] {
            NONE => NONE,
            id => translate[id as usize],
        };
        if want == got {
            continue;
        }
        match (want, got) {
            (_, NONE) => missing.push(seq),
            (NONE, _) => extra.push(seq),
            _ => wrong.push(seq),
        }
    }
    let mut say = |list: &[usize], what: &str| {
        if list.is_empty() {
            return;
        }
        let named: Vec<String> = list.iter().take(NAMED).map(|s| s.to_string()).collect();
        let more = if list.len() > NAMED {
            format!(" and {} more", list.len() - NAMED)
        } else {
            String::new()
        };
        problems.push(format!(
            "the {table} index {what} for entr{} {}{more}: the pages that read it would show those accesses wrongly or not at all",
            if list.len() == 1 { "y" } else { "ies" },
            named.join(", ")
        ));
    };
    say(&missing, "lacks the row");
    say(&wrong, "holds a row under another key than the entry's");
    say(&extra, "holds a row the entry does not call for");
    for (seq, _) in index.doubled.iter().take(NAMED) {
        problems.push(format!(
            "the {table} index lists entry {seq} under two keys: a row was added"
        ));
    }
    let bogus: Vec<&(u64, String)> = index
        .beyond
        .iter()
        .filter(|(s, _)| *s >= now_upto)
        .collect();
    if let Some((seq, _)) = bogus.first() {
        problems.push(format!(
            "the {table} index holds {} row(s) for entries it has not reached (from entry {seq}): rows were added",
            bogus.len()
        ));
    }
    problems
}

//! `kring audit verify`: recomputes the whole log from its entries and checks it against every
//! signed checkpoint — the log's own and the witness's — naming the first entry that does not
//! match; and checks everything the pages read besides the hashed entries (the columns beside
//! each entry and the index tables, [`crate::columns`]) against those entries.
//!
//! Owns: the verification pass and its [`Report`]. Reads the database only; it trusts nothing
//! stored in it except through the signatures of the key it is given.

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;
use futures::TryStreamExt;
use sqlx::{Row, SqlitePool};

use crate::checkpoint::Checkpoint;
use crate::columns::{self, Keys, INDEXES};
use crate::ledger::{checkpoint_of, index_upto, TILE_LEVEL};
use crate::merkle::{self, Frontier, Hash};
use crate::scan;
use crate::AuditError;

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Entries read.
    pub entries: u64,
    /// Entries whose content was removed after the retention period (their hashes checked).
    pub removed: u64,
    /// Signed checkpoints checked (the log's own and the witness's).
    pub checkpoints: usize,
    /// Entries after the last checkpoint (not yet covered by a signature).
    pub uncovered: u64,
    /// The first entry that does not match, when one can be named.
    pub first_bad_entry: Option<u64>,
    /// Every problem, in plain words.
    pub problems: Vec<String>,
}

impl Report {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Where a checkpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    Log,
    Witness,
}

impl From {
    fn name(self) -> &'static str {
        match self {
            From::Log => "the log's own",
            From::Witness => "the witness's",
        }
    }
}

/// Verifies the log in `pool` against `key` and the `witnessed` checkpoints; `progress` is
/// called with the number of entries read so far (every 100,000).
pub async fn verify(
    pool: &SqlitePool,
    key: &VerifyingKey,
    witnessed: &[Checkpoint],
    mut progress: impl FnMut(u64),
) -> Result<Report, AuditError> {
    let db = |e: sqlx::Error| AuditError::Unavailable(e.to_string());
    let mut report = Report::default();
    let problem = |report: &mut Report, at: Option<u64>, text: String| {
        if let (Some(at), None) = (at, report.first_bad_entry) {
            report.first_bad_entry = Some(at);
        }
        report.problems.push(text);
    };

    // Every checkpoint must carry a valid signature; what it states is checked below.
    let mut targets: BTreeMap<u64, Vec<(Hash, From, i64)>> = BTreeMap::new();
    let rows = sqlx::query("SELECT size, root, time_ms, signature FROM checkpoints ORDER BY size")
        .fetch_all(pool)
        .await
        .map_err(db)?;
    let mut own = Vec::new();
    for r in &rows {
        own.push(checkpoint_of(r)?);
    }
    for (cp, from) in own
        .iter()
        .map(|c| (c, From::Log))
        .chain(witnessed.iter().map(|c| (c, From::Witness)))
    {
        report.checkpoints += 1;
        if !cp.verify(key) {
            problem(
                &mut report,
                None,
                format!(
                    "{} checkpoint at size {} does not carry a valid signature of this installation's key",
                    from.name(),
                    cp.size
                ),
            );
            continue;
        }
        targets
            .entry(cp.size)
            .or_default()
            .push((cp.root, from, cp.time_ms));
    }

    // The stored subtrees, to say where a changed entry is when its own hash was rewritten.
    let mut nodes: HashMap<(u32, u64), Hash> = HashMap::new();
    let mut stream = sqlx::query("SELECT level, idx, hash FROM nodes").fetch(pool);
    while let Some(r) = stream.try_next().await.map_err(db)? {
        if let Ok(h) = r.get::<Vec<u8>, _>(2).try_into() {
            nodes.insert((r.get::<i64, _>(0) as u32, r.get::<i64, _>(1) as u64), h);
        }
    }
    drop(stream);

    // The index tables, read beside the pass over the entries (each on a connection of its
    // own), up to where they reached when the pass began.
    let upto = index_upto(pool).await?;
    let indexes: Vec<_> = INDEXES
        .iter()
        .map(|(table, _)| tokio::spawn(columns::read_index(pool.clone(), table, upto)))
        .collect();
    let mut keys: [Keys; 3] = Default::default();
    let mut changed_columns = 0u64;

    let mut frontier = Frontier::new();
    let mut good_up_to = 0u64;
    let mut broken = false;
    let mut chunks = scan::chunks(pool.clone());
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        let rows = match chunk.rows() {
            Ok(rows) => rows,
            Err(sentence) => {
                problem(&mut report, Some(chunk.from), sentence);
                break;
            }
        };
        for r in rows {
            let seq = r.seq;
            for (k, key) in keys.iter_mut().zip([r.client, r.user_id, r.user_org]) {
                k.set(seq, key);
            }
            let expected = frontier.size();
            if seq != expected && !broken {
                broken = true;
                problem(
                    &mut report,
                    Some(expected),
                    format!(
                        "entry {expected} is missing: the log jumps from entry {} to entry {seq}",
                        expected.wrapping_sub(1) as i64
                    ),
                );
            }
            let leaf = match r.entry {
                Some(bytes) => {
                    let leaf = merkle::leaf_hash(bytes);
                    if r.leaf != Some(leaf) && !broken {
                        problem(
                            &mut report,
                            Some(seq),
                            format!(
                                "entry {seq} was changed: its content no longer matches its hash"
                            ),
                        );
                    }
                    let differ = columns::differing(bytes, &r);
                    if !differ.is_empty() {
                        changed_columns += 1;
                        if changed_columns <= 5 {
                            problem(
                                &mut report,
                                Some(seq),
                                format!(
                                    "entry {seq}: the stored {} column{} no longer match{} the entry, so the pages that read {} would show this access wrongly or not at all",
                                    differ.join(", "),
                                    if differ.len() == 1 { "" } else { "s" },
                                    if differ.len() == 1 { "es" } else { "" },
                                    if differ.len() == 1 { "it" } else { "them" },
                                ),
                            );
                        }
                    }
                    if id_of(bytes) != Some(seq) && !broken {
                        problem(
                            &mut report,
                            Some(seq),
                            format!(
                                "entry {seq} holds the content of entry {:?}: entries were moved",
                                id_of(bytes)
                            ),
                        );
                    }
                    leaf
                }
                None => {
                    report.removed += 1;
                    r.leaf.unwrap_or([0; 32])
                }
            };
            let mut node_problem = None;
            frontier.push(leaf, |t, h| {
                if t.level >= TILE_LEVEL && node_problem.is_none() {
                    if let Some(s) = nodes.get(&(t.level, t.index)) {
                        if s != h {
                            node_problem = Some((t.first_leaf(), t.first_leaf() + t.leaves()));
                        }
                    }
                }
            });
            if let (Some((lo, hi)), false) = (node_problem, broken) {
                problem(
                    &mut report,
                    None,
                    format!(
                        "the stored tree over entries {lo} to {} does not match those entries",
                        hi - 1
                    ),
                );
            }
            let size = frontier.size();
            if let Some(expect) = targets.get(&size) {
                let root = frontier.root();
                let mut all_good = true;
                for (want, from, time) in expect {
                    if *want != root {
                        all_good = false;
                        problem(
                            &mut report,
                            Some(good_up_to),
                            format!(
                                "the entries up to {} do not match {} checkpoint signed at {}: an entry from {good_up_to} to {} was changed, removed or added",
                                size - 1,
                                from.name(),
                                kring_fhir::datetime::format_instant(*time),
                                size - 1
                            ),
                        );
                    }
                }
                if all_good && report.problems.is_empty() {
                    good_up_to = size;
                }
            }
            report.entries = size;
            if size.is_multiple_of(100_000) {
                progress(size);
            }
        }
    }
    drop(chunks);
    if changed_columns > 5 {
        problem(
            &mut report,
            None,
            format!(
                "{} more entries have stored columns that no longer match them",
                changed_columns - 5
            ),
        );
    }
    // Rows beyond where the index reached when the pass ended were added by hand.
    let now_upto = index_upto(pool).await?;
    for (task, expected) in indexes.into_iter().zip(&keys) {
        let index = task
            .await
            .map_err(|e| AuditError::Unavailable(e.to_string()))??;
        for p in columns::compare(expected, &index, upto, now_upto) {
            problem(&mut report, None, p);
        }
    }
    let size = frontier.size();
    for (s, expect) in targets.range(size + 1..) {
        for (_, from, time) in expect {
            problem(
                &mut report,
                Some(size),
                format!(
                    "{} checkpoint signed at {} covers {s} entries, but the log holds only {size}: entries were removed",
                    from.name(),
                    kring_fhir::datetime::format_instant(*time)
                ),
            );
        }
    }
    // Two checkpoints for one size that disagree.
    let mut seen: BTreeMap<u64, Hash> = BTreeMap::new();
    for cp in own.iter().chain(witnessed) {
        if let Some(root) = seen.insert(cp.size, cp.root) {
            if root != cp.root && cp.verify(key) {
                problem(
                    &mut report,
                    None,
                    format!("two signed checkpoints for size {} state different roots: the log was rewritten", cp.size),
                );
            }
        }
    }
    report.uncovered = size - targets.keys().next_back().copied().unwrap_or(0).min(size);
    progress(size);
    Ok(report)
}

/// The id an entry's bytes state (`{"id":N,…`), read without parsing the whole entry.
fn id_of(bytes: &[u8]) -> Option<u64> {
    let rest = bytes.strip_prefix(b"{\"id\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

//! The log itself: entries in their own SQLite database (never the record's), appended by one
//! writer that gathers concurrent entries into one transaction and one fsync (group commit),
//! extends the hash tree, and signs a checkpoint every second or every N entries.
//!
//! Owns: the log's tables (`entries`, `nodes`, `checkpoints`), the writer task, opening an
//! existing log (which refuses a log that no longer matches its last checkpoint), reading
//! entries back with filters, and proofs. A request is acknowledged only after its entries
//! are committed; when the queue is full, callers wait (backpressure) and nothing is dropped.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::{self, Checkpoint};
use crate::merkle::{self, Frontier, Hash, Subtree};
use crate::witness::Witness;
use crate::{AccessEntry, AccessLog, AuditError, LogQuery};

/// Subtrees of `2^TILE_LEVEL` leaves and larger are stored; smaller ones are recomputed from
/// the leaf hashes (at most 256 of them) when a proof needs one.
pub const TILE_LEVEL: u32 = 8;

/// How the log is set up.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The log's SQLite database file.
    pub path: PathBuf,
    /// The Ed25519 signing key (created beside the log at install when missing).
    pub key_path: PathBuf,
    pub witness: Witness,
    /// A checkpoint after this many entries …
    pub checkpoint_entries: u64,
    /// … or after this long, whichever comes first.
    pub checkpoint_interval: Duration,
}

impl LogConfig {
    /// Defaults for a log at `path`: the key beside it, no witness, a checkpoint every second
    /// or 10,000 entries.
    pub fn at(path: &Path) -> LogConfig {
        LogConfig {
            path: path.to_path_buf(),
            key_path: path.with_extension("key"),
            witness: Witness::None,
            checkpoint_entries: 10_000,
            checkpoint_interval: Duration::from_secs(1),
        }
    }
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        recorded_ms INTEGER NOT NULL,
        client TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_org TEXT NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        purpose TEXT NOT NULL,
        entry BLOB,
        leaf BLOB NOT NULL
    )",
    // Who-looked and officer views find entries through these, filled in sorted steps of
    // `INDEX_STEP` entries rather than entry by entry (random index pages in every small commit
    // would multiply what each fsync writes) and not a whole second at once (that stalled the
    // appends behind it); entries after `index_state.upto` are found by scanning that short
    // tail.
    "CREATE TABLE IF NOT EXISTS by_client (key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS by_user (key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS by_user_org (key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS index_state (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO index_state (id, upto) VALUES (1, 0)",
    "CREATE TABLE IF NOT EXISTS nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS checkpoints (
        size INTEGER PRIMARY KEY,
        root BLOB NOT NULL,
        time_ms INTEGER NOT NULL,
        signature BLOB NOT NULL
    )",
];

type Ack = oneshot::Sender<Result<(), String>>;

enum Request {
    Append(Vec<AccessEntry>, Ack),
    Checkpoint(oneshot::Sender<Result<Option<Checkpoint>, String>>),
}

/// The tamper-evident access log.
pub struct MerkleLog {
    tx: mpsc::Sender<Request>,
    readers: SqlitePool,
    public: VerifyingKey,
    path: PathBuf,
}

fn unavailable(e: impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(e.to_string())
}

/// How far the index tables reach (`index_state.upto`).
pub(crate) async fn index_upto<'e>(db: impl sqlx::SqliteExecutor<'e>) -> Result<u64, AuditError> {
    let upto: i64 = sqlx::query_scalar("SELECT upto FROM index_state")
        .fetch_one(db)
        .await
        .map_err(unavailable)?;
    Ok(upto.max(0) as u64)
}

fn options(path: &Path) -> Result<SqliteConnectOptions, AuditError> {
    Ok(
        SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))
            .map_err(unavailable)?
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: every commit is on disk before it is acknowledged.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            // The indexes' pages stay in memory instead of being read back for every batch;
            // a connection that commits folds the WAL into the file every 40 MB rather than
            // every 4 MB — except the log's writer, which leaves folding to a connection of
            // its own (`MerkleLog::open`).
            .pragma("cache_size", "-65536")
            .pragma("mmap_size", "1073741824")
            .pragma("wal_autocheckpoint", "10000"),
    )
}

/// Opens the log's database for reading only (for `kring audit verify` on a log that may
/// have been tampered with).
pub async fn open_read_only(path: &Path) -> Result<SqlitePool, AuditError> {
    if !path.exists() {
        return Err(AuditError::Unavailable(format!(
            "there is no access log at {}",
            path.display()
        )));
    }
    // Verification reads the entries and the three index tables at once.
    SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options(path)?.read_only(true))
        .await
        .map_err(unavailable)
}

/// The number of entries in a log opened with [`open_read_only`].
pub async fn entry_count(pool: &SqlitePool) -> Result<u64, AuditError> {
    size_of(pool).await
}

/// The latest signed checkpoint of a log opened with [`open_read_only`].
pub async fn last_checkpoint(pool: &SqlitePool) -> Result<Option<Checkpoint>, AuditError> {
    let mut conn = pool.acquire().await.map_err(unavailable)?;
    latest_checkpoint(&mut conn).await
}

/// Copies the log at `path` into the new file `into` while it is being written: `VACUUM INTO`
/// reads one committed state (the writer goes on in the WAL), so the copy is a log that ends at
/// an entry boundary and verifies on its own.
///
/// The connection is not opened read-only — SQLite opens the copy with the source's flags —
/// but it only reads the log.
pub async fn copy_into(path: &Path, into: &Path) -> Result<(), AuditError> {
    if !path.exists() {
        return Err(AuditError::Unavailable(format!(
            "there is no access log at {}",
            path.display()
        )));
    }
    let mut conn = SqliteConnection::connect_with(&options(path)?)
        .await
        .map_err(unavailable)?;
    let target = into
        .to_str()
        .ok_or_else(|| AuditError::Unavailable("the copy's path is not UTF-8".into()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(unavailable)?;
    conn.close().await.map_err(unavailable)?;
    // The copy is written in rollback-journal mode; a log is kept in WAL mode (and a
    // read-only connection cannot switch it).
    let copy = SqliteConnection::connect_with(&options(into)?)
        .await
        .map_err(unavailable)?;
    copy.close().await.map_err(unavailable)?;
    Ok(())
}

/// The number of entries (ids run without gaps from 0).
async fn size_of<'c>(db: impl sqlx::SqliteExecutor<'c>) -> Result<u64, AuditError> {
    let n: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM entries")
        .fetch_one(db)
        .await
        .map_err(unavailable)?;
    Ok(n as u64)
}

impl MerkleLog {
    /// Opens (creating at install) the log, its signing key, and starts its writer. Refuses a
    /// log whose tree no longer matches its last signed checkpoint.
    pub async fn open(config: LogConfig) -> Result<MerkleLog, AuditError> {
        if let Some(dir) = config.path.parent() {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        let fresh = !config.path.exists();
        let mut conn =
            SqliteConnection::connect_with(&options(&config.path)?.create_if_missing(true))
                .await
                .map_err(unavailable)?;
        for stmt in SCHEMA {
            sqlx::query(stmt)
                .execute(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        let size = size_of(&mut conn).await?;
        // A new key only for a log that has nothing to prove yet.
        let key = checkpoint::load_or_create_key(&config.key_path, fresh || size == 0)?;
        let public = key.verifying_key();
        let mut subtrees = Vec::new();
        for t in Frontier::subtrees_of(size) {
            subtrees.push(subtree_hash(&mut conn, t).await?);
        }
        let frontier = Frontier::from_subtrees(size, subtrees);
        let last = latest_checkpoint(&mut conn).await?;
        if let Some(cp) = &last {
            let matches = cp.size <= size
                && cp.verify(&public)
                && range_hash(&mut conn, 0, cp.size).await.ok() == Some(cp.root);
            if !matches {
                return Err(AuditError::Unavailable(format!(
                    "the access log does not match its last signed checkpoint (size {}); nothing is served until `kring audit verify` has been run and the cause found",
                    cp.size
                )));
            }
        }
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options(&config.path)?.read_only(true))
            .await
            .map_err(unavailable)?;
        let index_upto = index_upto(&mut conn).await?;
        let (tx, rx) = mpsc::channel(1024);
        let mut writer = Writer {
            conn,
            frontier,
            index_upto,
            key,
            last_checkpoint: last.as_ref().map(|c| c.size).unwrap_or(0),
            last_checkpoint_at: Instant::now(),
            config: config.clone(),
        };
        // The WAL is folded into the file by a connection of its own, not by the committing
        // writer: a checkpoint copies and syncs up to 40 MB, and done by the writer it held every
        // append (and so every request in flight) behind it. A passive checkpoint runs beside
        // the writer and the readers without blocking either.
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut writer.conn)
            .await
            .map_err(unavailable)?;
        let mut folder = SqliteConnection::connect_with(&options(&config.path)?)
            .await
            .map_err(unavailable)?;
        let alive = tx.downgrade();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WAL_FOLD_INTERVAL);
            loop {
                tick.tick().await;
                if alive.upgrade().is_none() {
                    break;
                }
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut folder)
                    .await
                {
                    tracing::warn!(error = %e, "folding the access log's WAL failed");
                }
            }
        });
        tokio::spawn(writer.run(rx));
        Ok(MerkleLog {
            tx,
            readers,
            public,
            path: config.path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key that checkpoints are signed with.
    pub fn public_key(&self) -> VerifyingKey {
        self.public
    }

    /// Signs a checkpoint now if entries arrived since the last one; returns the latest.
    pub async fn checkpoint_now(&self) -> Result<Option<Checkpoint>, AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Request::Checkpoint(ack))
            .await
            .map_err(|_| stopped())?;
        done.await
            .map_err(|_| stopped())?
            .map_err(AuditError::Unavailable)
    }

    /// Stops the writer after what is queued, with a final checkpoint. Later entries are
    /// refused (and so are the requests that needed them).
    pub async fn shut_down(&self) -> Result<(), AuditError> {
        self.checkpoint_now().await?;
        self.readers.close().await;
        Ok(())
    }

    /// The number of entries.
    pub async fn size(&self) -> Result<u64, AuditError> {
        entry_count(&self.readers).await
    }

    async fn read_from(&self, first: u64, limit: usize) -> Result<Vec<AccessEntry>, AuditError> {
        let rows =
            sqlx::query("SELECT seq, entry FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?")
                .bind(first as i64)
                .bind(limit as i64)
                .fetch_all(&self.readers)
                .await
                .map_err(unavailable)?;
        rows.iter().map(|r| entry_of(r.get(0), r.get(1))).collect()
    }

    /// Removes the content of entries recorded before `cutoff_ms` (the retention period),
    /// keeping their hashes, so that the tree and every proof stay verifiable. Returns how many
    /// entries lost their content.
    pub async fn apply_retention(&self, cutoff_ms: i64) -> Result<u64, AuditError> {
        let mut conn = SqliteConnection::connect_with(&options(&self.path)?)
            .await
            .map_err(unavailable)?;
        let done = sqlx::query(
            "UPDATE entries SET entry = NULL WHERE recorded_ms < ? AND entry IS NOT NULL",
        )
        .bind(cutoff_ms)
        .execute(&mut conn)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    /// The pool for reading (verification, queries).
    pub fn readers(&self) -> &SqlitePool {
        &self.readers
    }
}

fn stopped() -> AuditError {
    AuditError::Unavailable("the log writer has stopped".into())
}

#[async_trait::async_trait]
impl AccessLog for MerkleLog {
    async fn record(&self, entries: Vec<AccessEntry>) -> Result<(), AuditError> {
        if entries.is_empty() {
            return Ok(());
        }
        if self.readers.is_closed() {
            return Err(stopped());
        }
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Request::Append(entries, ack))
            .await
            .map_err(|_| stopped())?;
        done.await
            .map_err(|_| stopped())?
            .map_err(AuditError::Unavailable)
    }

    async fn query(&self, q: &LogQuery) -> Result<Vec<AccessEntry>, AuditError> {
        query(&self.readers, q).await
    }

    async fn entries_from(&self, first: u64, limit: usize) -> Result<Vec<AccessEntry>, AuditError> {
        self.read_from(first, limit).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        let mut conn = self.readers.acquire().await.map_err(unavailable)?;
        latest_checkpoint(&mut conn).await
    }

    async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        let mut conn = self.readers.acquire().await.map_err(unavailable)?;
        check_size(&mut conn, size).await?;
        let mut out = Vec::new();
        for (lo, hi) in merkle::inclusion_plan(index, size) {
            out.push(range_hash(&mut conn, lo, hi).await?);
        }
        Ok(out)
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, AuditError> {
        let mut conn = self.readers.acquire().await.map_err(unavailable)?;
        check_size(&mut conn, second).await?;
        let mut out = Vec::new();
        for (lo, hi) in merkle::consistency_plan(first, second) {
            out.push(range_hash(&mut conn, lo, hi).await?);
        }
        Ok(out)
    }

    async fn leaf(&self, index: u64) -> Result<Option<Hash>, AuditError> {
        let row = sqlx::query("SELECT leaf FROM entries WHERE seq = ?")
            .bind(index as i64)
            .fetch_optional(&self.readers)
            .await
            .map_err(unavailable)?;
        Ok(row.and_then(|r| r.get::<Vec<u8>, _>(0).try_into().ok()))
    }
}

async fn check_size(conn: &mut SqliteConnection, size: u64) -> Result<(), AuditError> {
    let have = size_of(&mut *conn).await?;
    if size > have {
        return Err(AuditError::Invalid(format!(
            "the log holds {have} entries, fewer than the {size} asked for"
        )));
    }
    Ok(())
}

/// The latest signed checkpoint, if any.
pub(crate) async fn latest_checkpoint(
    conn: &mut SqliteConnection,
) -> Result<Option<Checkpoint>, AuditError> {
    let row = sqlx::query(
        "SELECT size, root, time_ms, signature FROM checkpoints ORDER BY size DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(unavailable)?;
    row.map(|r| checkpoint_of(&r)).transpose()
}

pub(crate) fn checkpoint_of(r: &sqlx::sqlite::SqliteRow) -> Result<Checkpoint, AuditError> {
    let bad = || AuditError::Unavailable("a stored checkpoint is damaged".into());
    Ok(Checkpoint {
        size: r.get::<i64, _>(0) as u64,
        root: r.get::<Vec<u8>, _>(1).try_into().map_err(|_| bad())?,
        time_ms: r.get(2),
        signature: r.get::<Vec<u8>, _>(3).try_into().map_err(|_| bad())?,
    })
}

/// The hash of one complete subtree, from the stored nodes or the leaves.
async fn subtree_hash(conn: &mut SqliteConnection, t: Subtree) -> Result<Hash, AuditError> {
    let damaged = || AuditError::Unavailable("the log's tree is incomplete".into());
    if t.level >= TILE_LEVEL {
        let h: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM nodes WHERE level = ? AND idx = ?")
                .bind(t.level as i64)
                .bind(t.index as i64)
                .fetch_optional(&mut *conn)
                .await
                .map_err(unavailable)?;
        return h.and_then(|h| h.try_into().ok()).ok_or_else(damaged);
    }
    let first = t.first_leaf() as i64;
    let leaves: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT leaf FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq")
            .bind(first)
            .bind(first + t.leaves() as i64)
            .fetch_all(&mut *conn)
            .await
            .map_err(unavailable)?;
    if leaves.len() as u64 != t.leaves() {
        return Err(damaged());
    }
    let mut f = Frontier::new();
    for l in leaves {
        f.push(l.try_into().map_err(|_| damaged())?, |_, _| {});
    }
    Ok(f.root())
}

/// The Merkle Tree Hash of leaves `[lo, hi)`.
async fn range_hash(conn: &mut SqliteConnection, lo: u64, hi: u64) -> Result<Hash, AuditError> {
    let mut hashes = Vec::new();
    for t in merkle::range_subtrees(lo, hi) {
        hashes.push(subtree_hash(conn, t).await?);
    }
    Ok(merkle::combine(&hashes))
}

/// Reads entries back, newest first.
pub(crate) async fn query(pool: &SqlitePool, q: &LogQuery) -> Result<Vec<AccessEntry>, AuditError> {
    let mut sql = String::from("SELECT entry, seq FROM entries WHERE 1 = 1");
    let mut binds: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    fn push(sql: &mut String, binds: &mut Vec<String>, cond: &str, v: String) {
        sql.push_str(cond);
        binds.push(v);
    }
    if let Some(id) = q.id {
        sql.push_str(&format!(" AND seq = {id}"));
    }
    if let Some(c) = &q.client {
        push(
            &mut sql,
            &mut binds,
            &indexed("by_client", "client", "= ?"),
            c.clone(),
        );
        binds.push(c.clone());
    }
    if let Some(u) = &q.user {
        push(
            &mut sql,
            &mut binds,
            &indexed("by_user", "user_id", "= ?"),
            u.clone(),
        );
        binds.push(u.clone());
    }
    if !q.outcome.is_empty() {
        push(
            &mut sql,
            &mut binds,
            " AND outcome IN (SELECT value FROM json_each(?))",
            serde_json::to_string(&q.outcome).expect("strings serialise"),
        );
    }
    if let Some(a) = &q.agent {
        if a.contains('/') && !a.starts_with("account/") && !a.starts_with("client/") {
            push(
                &mut sql,
                &mut binds,
                " AND json_extract(entry, '$.user.person') = ?",
                a.clone(),
            );
        } else {
            push(&mut sql, &mut binds, " AND user_id = ?", a.clone());
        }
    }
    if let Some(p) = &q.purpose {
        push(&mut sql, &mut binds, " AND purpose = ?", p.clone());
    }
    if let Some(a) = &q.action {
        push(&mut sql, &mut binds, " AND action = ?", a.clone());
    }
    if let Some(t) = &q.data_type {
        push(
            &mut sql,
            &mut binds,
            " AND json_extract(entry, '$.data.type') = ?",
            t.clone(),
        );
    }
    if let Some(d) = &q.data_id {
        push(
            &mut sql,
            &mut binds,
            " AND json_extract(entry, '$.data.id') = ?",
            d.clone(),
        );
    }
    if let Some(a) = &q.address {
        push(
            &mut sql,
            &mut binds,
            " AND json_extract(entry, '$.source.address') = ?",
            a.clone(),
        );
    }
    if let Some(roles) = &q.roles {
        push(
            &mut sql,
            &mut binds,
            " AND json_extract(entry, '$.user.role') IN (SELECT value FROM json_each(?))",
            serde_json::to_string(roles).expect("strings serialise"),
        );
    }
    // Whose entries the reader may see: their clients, or their organisation's users.
    if q.clients.is_some() || q.user_org.is_some() {
        let mut any = Vec::new();
        if let Some(clients) = &q.clients {
            let list = serde_json::to_string(clients).expect("strings serialise");
            any.push(seqs_of(
                "by_client",
                "client",
                "IN (SELECT value FROM json_each(?))",
            ));
            binds.push(list.clone());
            binds.push(list);
        }
        if let Some(org) = &q.user_org {
            any.push(seqs_of("by_user_org", "user_org", "= ?"));
            binds.push(org.clone());
            binds.push(org.clone());
        }
        sql.push_str(&format!(" AND seq IN ({})", any.join(" UNION ")));
    }
    if let Some(from) = q.from_ms {
        ints.push(from);
        sql.push_str(" AND recorded_ms >= ?");
    }
    if let Some(to) = q.to_ms {
        ints.push(to);
        sql.push_str(" AND recorded_ms <= ?");
    }
    sql.push_str(&format!(
        " ORDER BY seq DESC LIMIT {} OFFSET {}",
        q.limit.max(1),
        q.offset
    ));
    let mut query = sqlx::query(&sql);
    for b in &binds {
        query = query.bind(b);
    }
    for i in &ints {
        query = query.bind(i);
    }
    let rows = query.fetch_all(pool).await.map_err(unavailable)?;
    rows.iter().map(|r| entry_of(r.get(1), r.get(0))).collect()
}

/// The entries whose `column` matches `cond` (one bind), through the index table `table` up
/// to where it reaches, and by scanning the not yet indexed tail after it (a second bind).
fn seqs_of(table: &str, column: &str, cond: &str) -> String {
    format!(
        "SELECT seq FROM {table} WHERE key {cond} UNION ALL SELECT seq FROM entries WHERE seq >= (SELECT upto FROM index_state) AND {column} {cond}"
    )
}

/// [`seqs_of`] as a filter on `seq`.
fn indexed(table: &str, column: &str, cond: &str) -> String {
    format!(" AND seq IN ({})", seqs_of(table, column, cond))
}

/// An entry from its stored row; past retention only its id is left.
fn entry_of(seq: i64, bytes: Option<Vec<u8>>) -> Result<AccessEntry, AuditError> {
    match bytes {
        Some(bytes) => AccessEntry::from_bytes(&bytes)
            .map_err(|_| AuditError::Unavailable(format!("log entry {seq} cannot be read"))),
        None => Ok(AccessEntry {
            id: seq as u64,
            outcome: "removed".into(),
            ..AccessEntry::default()
        }),
    }
}

/// An entry ready to insert: seq, recorded ms, bytes, leaf hash, and where it came from
/// (request, entry).
type Pending = (i64, i64, Vec<u8>, Hash, usize, usize);

/// Rows per INSERT statement (10 values each, well below SQLite's limit of 32,766).
const INSERT_ROWS: usize = 500;

/// One multi-row INSERT of `rows`.
fn insert_entries<'a>(
    rows: &'a [Pending],
    appends: &'a [(Vec<AccessEntry>, Ack)],
) -> sqlx::QueryBuilder<'a, sqlx::Sqlite> {
    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        // OR FAIL: no statement journal (a failure fails the whole batch anyway).
        "INSERT OR FAIL INTO entries (seq, recorded_ms, client, user_id, user_org, action, outcome, purpose, entry, leaf) ",
    );
    qb.push_values(rows, |mut b, (seq, ms, bytes, leaf, ai, ei)| {
        let e = &appends[*ai].0[*ei];
        b.push_bind(*seq)
            .push_bind(*ms)
            .push_bind(e.client.as_str())
            .push_bind(e.user.id.as_str())
            .push_bind(e.user.organisation.as_str())
            .push_bind(e.action.as_str())
            .push_bind(e.outcome.as_str())
            .push_bind(e.purpose.as_str())
            .push_bind(bytes.as_slice())
            .push_bind(&leaf[..]);
    });
    qb
}

/// The one task that appends.
struct Writer {
    conn: SqliteConnection,
    frontier: Frontier,
    /// How far the index tables reach (`index_state.upto`).
    index_upto: u64,
    key: SigningKey,
    last_checkpoint: u64,
    last_checkpoint_at: Instant,
    config: LogConfig,
}

/// The most entries in one transaction.
const MAX_BATCH: usize = 16_384;

/// How often the WAL is folded into the log's file, beside the writer.
const WAL_FOLD_INTERVAL: Duration = Duration::from_secs(1);

/// The most entries indexed in one append transaction. Indexing is done in these steps, in
/// whichever transaction finds that many waiting (and at a checkpoint, what is left), so that
/// no single commit holds the appends behind it for long: indexing a whole second's entries at
/// once at each checkpoint (13,000 at 13,000 reads/s) stalled every request in flight by
/// 20–40 ms once a second (issue 25).
const INDEX_STEP: u64 = 1024;

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        loop {
            let pending = self.frontier.size() > self.last_checkpoint;
            let first = if pending {
                let wait = self
                    .config
                    .checkpoint_interval
                    .saturating_sub(self.last_checkpoint_at.elapsed());
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(r) => r,
                    Err(_) => {
                        if let Err(e) = self.append(&mut [], true).await {
                            tracing::error!(error = %e, "access log checkpoint failed");
                        }
                        continue;
                    }
                }
            } else {
                rx.recv().await
            };
            let Some(first) = first else { break };
            let mut appends: Vec<(Vec<AccessEntry>, Ack)> = Vec::new();
            let mut asks = Vec::new();
            let mut n = 0;
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    Request::Append(entries, ack) => {
                        n += entries.len();
                        appends.push((entries, ack));
                    }
                    Request::Checkpoint(ack) => asks.push(ack),
                }
                if n >= MAX_BATCH {
                    break;
                }
                next = rx.try_recv().ok();
            }
            let result = self.append(&mut appends, !asks.is_empty()).await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "access log write failed");
            }
            for (_, ack) in appends {
                let _ = ack.send(result.clone().map(|_| ()));
            }
            for ack in asks {
                let answer = match &result {
                    Ok(_) => latest_checkpoint(&mut self.conn)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.clone()),
                };
                let _ = ack.send(answer);
            }
        }
        // Everyone has let go of the log: a last checkpoint over what was written.
        if self.frontier.size() > self.last_checkpoint {
            let _ = self.append(&mut [], true).await;
        }
    }

    /// Appends the entries of all `appends` (numbering them), and a checkpoint when one is
    /// due or `force`d, in one transaction.
    async fn append(
        &mut self,
        appends: &mut [(Vec<AccessEntry>, Ack)],
        force: bool,
    ) -> Result<(), String> {
        let mut frontier = self.frontier.clone();
        let mut rows: Vec<Pending> = Vec::new();
        let mut nodes: Vec<(Subtree, Hash)> = Vec::new();
        for (ai, (entries, _)) in appends.iter_mut().enumerate() {
            for (ei, e) in entries.iter_mut().enumerate() {
                e.id = frontier.size();
                let bytes = e.to_bytes();
                let leaf = merkle::leaf_hash(&bytes);
                frontier.push(leaf, |t, h| {
                    if t.level >= TILE_LEVEL {
                        nodes.push((t, *h));
                    }
                });
                rows.push((e.id as i64, e.recorded_ms(), bytes, leaf, ai, ei));
            }
        }
        let size = frontier.size();
        let due = size > self.last_checkpoint
            && (force
                || size - self.last_checkpoint >= self.config.checkpoint_entries
                || self.last_checkpoint_at.elapsed() >= self.config.checkpoint_interval);
        let checkpoint =
            due.then(|| Checkpoint::sign(&self.key, size, frontier.root(), crate::now_ms()));
        // Index one step when a step's worth waits, and at a checkpoint what is left (at most
        // a step): rows beyond `index_upto` are found by scanning the entries meanwhile.
        let backlog = size.saturating_sub(self.index_upto);
        let index_to = if backlog >= INDEX_STEP || (checkpoint.is_some() && backlog > 0) {
            Some(self.index_upto + backlog.min(INDEX_STEP))
        } else {
            None
        };
        if rows.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        if nodes.is_empty()
            && checkpoint.is_none()
            && index_to.is_none()
            && rows.len() <= INSERT_ROWS
        {
            // One statement is a transaction of its own: one round trip, one fsync.
            insert_entries(&rows, appends)
                .build()
                .execute(&mut self.conn)
                .await
                .map_err(|e| e.to_string())?;
            self.frontier = frontier;
            return Ok(());
        }
        let mut tx = self.conn.begin().await.map_err(|e| e.to_string())?;
        for chunk in rows.chunks(INSERT_ROWS) {
            insert_entries(chunk, appends)
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        for chunk in nodes.chunks(2000) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT OR FAIL INTO nodes (level, idx, hash) ",
            );
            qb.push_values(chunk, |mut b, (t, h)| {
                b.push_bind(t.level as i64)
                    .push_bind(t.index as i64)
                    .push_bind(&h[..]);
            });
            qb.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Some(to) = index_to {
            // One step of the index, in one sorted pass per index table.
            for (table, column) in [
                ("by_client", "client"),
                ("by_user", "user_id"),
                ("by_user_org", "user_org"),
            ] {
                sqlx::query(&format!(
                    "INSERT OR IGNORE INTO {table} (key, seq) SELECT {column}, seq FROM entries WHERE seq >= ? AND seq < ? AND {column} <> '' ORDER BY {column}, seq"
                ))
                .bind(self.index_upto as i64)
                .bind(to as i64)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            }
            sqlx::query("UPDATE index_state SET upto = ?")
                .bind(to as i64)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Some(cp) = &checkpoint {
            sqlx::query(
                "INSERT INTO checkpoints (size, root, time_ms, signature) VALUES (?, ?, ?, ?)",
            )
            .bind(cp.size as i64)
            .bind(&cp.root[..])
            .bind(cp.time_ms)
            .bind(&cp.signature[..])
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        self.frontier = frontier;
        if let Some(to) = index_to {
            self.index_upto = to;
        }
        if let Some(cp) = checkpoint {
            self.last_checkpoint = cp.size;
            self.last_checkpoint_at = Instant::now();
            let witness = self.config.witness.clone();
            match witness {
                Witness::None => {}
                // A file witness is one small append per second, in order.
                Witness::File(_) => {
                    if let Err(e) = witness.publish(&cp).await {
                        tracing::warn!(error = %e, size = cp.size, "the witness did not take a checkpoint");
                    }
                }
                // A remote witness is outside the write path: a slow or absent witness delays
                // no access, and a missed checkpoint is covered by the next one.
                Witness::Http(_) => {
                    tokio::spawn(async move {
                        if let Err(e) = witness.publish(&cp).await {
                            tracing::warn!(error = %e, size = cp.size, "the witness did not take a checkpoint");
                        }
                    });
                }
            }
        }
        Ok(())
    }
}

//! The embedded backend: the whole record in one SQLite file.
//!
//! Owns: opening the file (WAL journal, full fsync at commit), its migrations, and running the
//! shared SQL of `kring_store::ops` on SQLite connections. Readers use a pool and never block
//! the writer.
//!
//! Writers are serialised on one connection, as SQLite allows one writer at a time anyway, and
//! committed in groups: the first write transaction of a group opens one shared
//! `BEGIN IMMEDIATE` transaction and each later one runs inside it; when one commits and
//! another writer is already waiting, it hands the connection on instead of committing, and
//! the last writer of the group commits for all — one fsync for many writes. A transaction's
//! `commit()` returns only after that COMMIT is durable, so nothing is acknowledged before it
//! is on disk.
//!
//! Round trips to SQLite's worker thread are what a write waits for while it holds the one
//! writer, so a transaction sends few: its BEGIN travels with its first statement, its rows
//! (gathered by `kring_store::pending`) go out as one script at commit, and `current` reads the
//! whole row that the update's `read` asks for next. How a transaction is undone ([`Undo`]):
//! the group's first writer by rolling back the group's transaction (which holds only it); a
//! later one that writes before its commit by a savepoint opened in front of that write; and
//! a later one whose only write is its commit's script — most of them — without a savepoint
//! (which would make SQLite copy every page it touches into a sub-journal): if that script
//! fails part-way, the whole group is rolled back and every member fails, so nothing is ever
//! half-committed or acknowledged without being durable.
//!
//! A transaction committed with its access-log entries (`commit_logged`) hands the connection
//! on *before* its entries are written, so that the next writers work — and the log's own group
//! commit batches their entries — while it waits. The group's COMMIT waits until every member's
//! entries are durable; if any member's could not be written, the whole group is rolled back
//! and every member fails: nothing is ever committed ahead of its log entry.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kring_store::accounts;
use kring_store::backup::{Backup, Counts, Sample, Snapshot, SnapshotFormat, SAMPLES};
use kring_store::ops::{self, Exec};
use kring_store::pending::Pending;
use kring_store::search::{SearchPlan, SearchResult};
use kring_store::sql::{self, Arg, Sql};
use kring_store::{
    AccountStore, Backend, Current, HistoryQuery, LogWrite, NewVersion, ResourceKey, Result, Store,
    StoreError, StoreTx, StoredResource,
};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};
use tokio::sync::{Mutex, OwnedMutexGuard};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

type Ack = tokio::sync::oneshot::Sender<std::result::Result<(), String>>;

/// The one writing connection and the group commit in progress on it.
struct Writer {
    conn: SqliteConnection,
    /// A shared `BEGIN IMMEDIATE` transaction is open.
    outer_open: bool,
    /// Transactions whose work sits in the open transaction, waiting for its COMMIT.
    pending: Vec<Ack>,
    /// Members of the open transaction whose access-log entries are still being written.
    unlogged: usize,
    /// A member's entries could not be written: the group must roll back.
    doomed: bool,
}

impl Writer {
    /// Ends the shared transaction and tells every waiting transaction the outcome: COMMIT, or
    /// ROLLBACK when a member's log entries failed. Does nothing while a member's entries are
    /// still being written (the last of them ends it).
    async fn flush(&mut self) {
        if !self.outer_open || self.unlogged > 0 {
            return;
        }
        let result = if self.doomed {
            Err("an access-log entry of this group of writes could not be written".to_string())
        } else {
            sqlx::query("COMMIT")
                .execute(&mut self.conn)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        if result.is_err() {
            let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
        }
        self.outer_open = false;
        self.doomed = false;
        for ack in self.pending.drain(..) {
            let _ = ack.send(result.clone());
        }
    }

    /// One member's log entries are written (`ok`) or failed: the group may end now.
    async fn logged(&mut self, ok: bool, alone: bool, waiting: &AtomicUsize) {
        self.unlogged = self.unlogged.saturating_sub(1);
        self.doomed |= !ok;
        self.end_unless_others_follow(alone, waiting).await;
    }

    /// Ends the group unless more writers are on their way to it: the last writer of a group
    /// (or one that has waited long enough, a large transaction, or a doomed group) ends it for
    /// all.
    async fn end_unless_others_follow(&mut self, alone: bool, waiting: &AtomicUsize) {
        if waiting.load(Ordering::SeqCst) == 0 || self.pending.len() >= 64 || alone || self.doomed {
            self.flush().await;
        }
    }
}

/// A member whose log entries are being written; dropped before [`Unlogged::logged`] (its
/// task was cancelled), it counts as failed, so the group never waits for it forever and
/// never commits without it.
struct Unlogged {
    writer: Option<Arc<Mutex<Writer>>>,
    waiting: Arc<AtomicUsize>,
}

impl Unlogged {
    async fn logged(mut self, ok: bool, alone: bool) {
        if let Some(writer) = self.writer.take() {
            writer.lock().await.logged(ok, alone, &self.waiting).await;
        }
    }
}

impl Drop for Unlogged {
    fn drop(&mut self) {
        let Some(writer) = self.writer.take() else {
            return;
        };
        let waiting = self.waiting.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                writer.lock().await.logged(false, false, &waiting).await;
            });
        }
    }
}

/// A record stored in one SQLite file.
pub struct SqliteStore {
    readers: SqlitePool,
    writer: Arc<Mutex<Writer>>,
    /// Writers waiting for the connection: while there are any, a committing transaction
    /// leaves the COMMIT to the group.
    waiting: Arc<AtomicUsize>,
}

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("5") | Some("6") | Some("517")) =>
        {
            StoreError::Unavailable("the database is busy".into())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Database(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite:PATH`).
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536");
        // The writer's temporary files stay on disk: a write transaction is a SAVEPOINT in the
        // group's transaction, so its statement journal grows with the whole transaction, and
        // SQLite truncates an *in-memory* journal by walking it from the start after every
        // statement — quadratic in a Bundle's size (half the CPU of an import). A file journal
        // is not truncated. Readers sort in memory.
        let conn = options
            .clone()
            .pragma("temp_store", "file")
            .connect()
            .await
            .map_err(map_err)?;
        let options = options.pragma("temp_store", "memory");
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options.read_only(true))
            .await
            .map_err(map_err)?;
        Ok(SqliteStore {
            readers,
            writer: Arc::new(Mutex::new(Writer {
                conn,
                outer_open: false,
                pending: Vec::new(),
                unlogged: 0,
                doomed: false,
            })),
            waiting: Arc::new(AtomicUsize::new(0)),
        })
    }

    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>> {
        self.readers.acquire().await.map_err(map_err)
    }
}

fn bind<'q>(
    text: &'q str,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Sqlite, SqliteArguments<'q>> {
    let mut q = sqlx::query(text);
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
            Arg::Float(f) => q.bind(*f),
            Arg::Bytes(b) => q.bind(b.as_slice()),
            Arg::Null => q.bind(None::<String>),
            Arg::NullFloat => q.bind(None::<f64>),
        };
    }
    q
}

fn decode(row: &SqliteRow) -> std::result::Result<StoredResource, sqlx::Error> {
    Ok(StoredResource {
        rtype: row.try_get(0)?,
        id: row.try_get(1)?,
        version: row.try_get(2)?,
        last_updated: row.try_get(3)?,
        deleted: row.try_get::<i64, _>(4)? != 0,
        client_key: row.try_get(5)?,
        body: row.try_get(6)?,
    })
}

/// How a write transaction would be undone now — which also says what it still owes the
/// connection before its next statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    /// The group's first writer, its `BEGIN IMMEDIATE` not sent yet (it goes in front of the
    /// first statement, in the same round trip): nothing to undo.
    Unbegun,
    /// The group's first writer, begun: undone by rolling back the group's transaction, which
    /// holds nothing else. (It needs no savepoint, which would make SQLite copy every page it
    /// first touches into a sub-journal.)
    Group,
    /// A later member of the group that has written nothing yet: nothing to undo.
    Clean,
    /// A later member that wrote before its commit (a large Bundle, a read or search after a
    /// write), from inside its own savepoint, sent in front of that first write: undone by
    /// rolling back to the savepoint.
    Savepoint,
    /// A later member whose only write — its commit's one script — ran without a savepoint:
    /// if that failed part-way, the only undo is rolling back the whole group (every member
    /// fails, none is acknowledged). Most writes are of this kind, and skip the sub-journal.
    Script,
}

/// A SQLite connection seen through the shared [`Exec`] interface.
struct Conn<'c> {
    conn: &'c mut SqliteConnection,
    /// The write transaction this connection serves (`None` for a reader).
    undo: Option<&'c mut Undo>,
    /// Writes before the commit's script open a savepoint first.
    guard_writes: bool,
}

impl<'c> Conn<'c> {
    /// A reading connection: no transaction to open.
    fn new(conn: &'c mut SqliteConnection) -> Self {
        Conn {
            conn,
            undo: None,
            guard_writes: false,
        }
    }

    /// `sql`'s text for SQLite, after what the transaction owes first (its BEGIN, or the
    /// savepoint before a member's first write).
    fn text<'s>(&mut self, sql: &'s Sql, write: bool) -> std::borrow::Cow<'s, str> {
        let text = sql.text_for(Backend::Sqlite);
        let Some(undo) = self.undo.as_deref_mut() else {
            return text;
        };
        let owed = match *undo {
            Undo::Unbegun => {
                *undo = Undo::Group;
                Some("BEGIN IMMEDIATE")
            }
            Undo::Clean if write && self.guard_writes => {
                *undo = Undo::Savepoint;
                Some("SAVEPOINT kring_tx")
            }
            Undo::Clean if write => {
                *undo = Undo::Script;
                None
            }
            _ => None,
        };
        match owed {
            Some(first) => format!("{first};\n{text}").into(),
            None => text,
        }
    }
}

#[async_trait]
impl Exec for Conn<'_> {
    async fn exec(&mut self, sql: &Sql) -> Result<u64> {
        let text = self.text(sql, true);
        Ok(bind(&text, &sql.args)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?
            .rows_affected())
    }

    /// One script: SQLite's worker runs the statements one after another (binding each one's
    /// `?` from the shared list in order) and stops at the first that fails.
    async fn exec_all(&mut self, statements: Vec<Sql>) -> Result<()> {
        if statements.is_empty() {
            return Ok(());
        }
        let mut script = String::new();
        let mut args = Vec::new();
        for statement in statements {
            if !script.is_empty() {
                script.push_str(";\n");
            }
            script.push_str(&statement.text_for(Backend::Sqlite));
            args.extend(statement.args);
        }
        self.exec(&Sql::new(&script).bind_all(args)).await?;
        Ok(())
    }

    async fn fetch_resources(&mut self, sql: &Sql) -> Result<Vec<StoredResource>> {
        let text = self.text(sql, false);
        let rows = bind(&text, &sql.args)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(decode)
            .collect::<std::result::Result<_, _>>()
            .map_err(map_err)
    }
    async fn fetch_count(&mut self, sql: &Sql) -> Result<i64> {
        let text = self.text(sql, false);
        let row = bind(&text, &sql.args)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(map_err)?;
        row.try_get(0).map_err(map_err)
    }
    async fn fetch_pairs(&mut self, sql: &Sql) -> Result<Vec<(String, String)>> {
        let text = self.text(sql, false);
        let rows = bind(&text, &sql.args)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(map_err)
    }
    async fn fetch_current(&mut self, sql: &Sql) -> Result<Option<Current>> {
        let text = self.text(sql, false);
        let row = bind(&text, &sql.args)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            Ok(Current {
                version: r.try_get(0)?,
                deleted: r.try_get::<i64, _>(1)? != 0,
                client_key: r.try_get(2)?,
            })
        })
        .transpose()
        .map_err(map_err)
    }

    async fn fetch_currents(&mut self, sql: &Sql) -> Result<Vec<(String, Current)>> {
        let text = self.text(sql, false);
        let rows = bind(&text, &sql.args)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(map_err)?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    Current {
                        version: r.try_get(1)?,
                        deleted: r.try_get::<i64, _>(2)? != 0,
                        client_key: r.try_get(3)?,
                    },
                ))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(map_err)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<()> {
        let mut w = self.writer.lock().await;
        w.flush().await;
        MIGRATOR
            .run_direct(&mut w.conn)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    async fn read(&self, rtype: &str, id: &str) -> Result<Option<StoredResource>> {
        ops::read(&mut Conn::new(&mut *self.reader().await?), rtype, id).await
    }

    async fn read_many(&self, keys: &[ResourceKey]) -> Result<Vec<StoredResource>> {
        ops::read_many(&mut Conn::new(&mut *self.reader().await?), keys).await
    }

    async fn vread(&self, rtype: &str, id: &str, version: i64) -> Result<Option<StoredResource>> {
        ops::vread(
            &mut Conn::new(&mut *self.reader().await?),
            rtype,
            id,
            version,
        )
        .await
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StoredResource>> {
        Conn::new(&mut *self.reader().await?)
            .fetch_resources(&sql::history(query))
            .await
    }

    async fn search(&self, plan: &SearchPlan) -> Result<SearchResult> {
        ops::search(&mut Conn::new(&mut *self.reader().await?), plan).await
    }

    async fn references_from(
        &self,
        from: &[ResourceKey],
        params: &[String],
    ) -> Result<Vec<ResourceKey>> {
        ops::references_from(&mut Conn::new(&mut *self.reader().await?), from, params).await
    }

    async fn referrers_to(
        &self,
        rtype: &str,
        param: &str,
        to: &[ResourceKey],
    ) -> Result<Vec<ResourceKey>> {
        ops::referrers_to(&mut Conn::new(&mut *self.reader().await?), rtype, param, to).await
    }

    async fn scan(
        &self,
        rtype: &str,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredResource>> {
        Conn::new(&mut *self.reader().await?)
            .fetch_resources(&sql::scan(rtype, after_id, limit))
            .await
    }

    async fn client_resources(
        &self,
        client_key: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<StoredResource>> {
        Conn::new(&mut *self.reader().await?)
            .fetch_resources(&sql::client_resources(client_key, offset, limit))
            .await
    }

    async fn types_in_use(&self) -> Result<Vec<String>> {
        ops::types_in_use(&mut Conn::new(&mut *self.reader().await?)).await
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>> {
        Ok(Box::new(self.begin_tx().await?))
    }
}

impl SqliteStore {
    /// A write transaction: the group's first writer opens the group's shared transaction
    /// (with its first statement, not on its own); a later one runs inside it.
    async fn begin_tx(&self) -> Result<SqliteTx> {
        let mut guard = {
            // Counted as waiting until the lock is ours — also if this future is dropped while
            // it waits, or a committer would wait for a group member that never comes.
            let _waiting = Waiting::enter(&self.waiting);
            self.writer.clone().lock_owned().await
        };
        let undo = if guard.outer_open {
            Undo::Clean
        } else {
            Undo::Unbegun
        };
        guard.outer_open = true;
        Ok(SqliteTx {
            guard: Some(guard),
            writer: self.writer.clone(),
            waiting: self.waiting.clone(),
            puts: 0,
            pending: Pending::default(),
            undo,
            read_ahead: None,
        })
    }
}

/// A write transaction, holding the writer connection. Dropped without `commit`, it is undone
/// (see [`Undo`]) in the background.
struct SqliteTx {
    guard: Option<OwnedMutexGuard<Writer>>,
    writer: Arc<Mutex<Writer>>,
    waiting: Arc<AtomicUsize>,
    /// Versions written: a large transaction commits at once instead of joining a group, so
    /// its writer can go on preparing the next one.
    puts: usize,
    /// Versions put but not yet written (sent before any read of them, search or commit).
    pending: Pending,
    undo: Undo,
    /// The whole current row that `current` read, for the `read` of the same resource that
    /// usually follows (an update compares, a delete logs what it removes): one round trip.
    read_ahead: Option<StoredResource>,
}

/// Marks a writer as waiting for the connection while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Transactions writing more versions than this commit on their own.
const GROUP_MAX_PUTS: usize = 16;

impl SqliteTx {
    /// The writer connection, which sends what the transaction owes first (its BEGIN, or —
    /// with `guard_writes` — a savepoint before a member's first write), and the pending
    /// versions, borrowed together.
    fn conn(&mut self, guard_writes: bool) -> (Conn<'_>, &mut Pending) {
        let guard = self
            .guard
            .as_mut()
            .expect("a live transaction holds the writer");
        (
            Conn {
                conn: &mut guard.conn,
                undo: Some(&mut self.undo),
                guard_writes,
            },
            &mut self.pending,
        )
    }

    /// The connection for work before the commit: a member's first write opens its savepoint.
    fn parts(&mut self) -> (Conn<'_>, &mut Pending) {
        self.conn(true)
    }

    /// Sends what is left of the transaction — its BEGIN if nothing was sent yet, the pending
    /// versions, and the RELEASE of its savepoint if it has one — as one script. On failure
    /// the transaction is left as it is, for its drop to undo.
    async fn finish(&mut self) -> Result<()> {
        let mut statements = self.pending.take_statements();
        if self.undo == Undo::Savepoint {
            statements.push(Sql::new("RELEASE kring_tx"));
        }
        if statements.is_empty() {
            if self.undo != Undo::Unbegun {
                return Ok(());
            }
            // The group's first writer, empty: its BEGIN must still run, as the group's
            // COMMIT ends it.
            statements.push(Sql::new("SELECT 1"));
        }
        // The commit's script itself needs no savepoint (see `Undo::Script`).
        let (mut conn, _) = self.conn(false);
        conn.exec_all(statements).await
    }

    /// Joins the group's commit: takes the writer from the transaction (nothing of it is
    /// undone on drop any more) and returns where the group's outcome will arrive.
    fn join_group(
        &mut self,
    ) -> (
        OwnedMutexGuard<Writer>,
        tokio::sync::oneshot::Receiver<std::result::Result<(), String>>,
    ) {
        let mut guard = self
            .guard
            .take()
            .expect("a live transaction holds the writer");
        let (ack, done) = tokio::sync::oneshot::channel();
        guard.pending.push(ack);
        (guard, done)
    }
}

impl Writer {
    /// Rolls back the group's transaction and fails every member waiting for its COMMIT.
    async fn abandon(&mut self) {
        let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
        self.outer_open = false;
        self.doomed = false;
        for ack in self.pending.drain(..) {
            let _ = ack.send(Err("the group's transaction was rolled back".into()));
        }
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        if self.undo == Undo::Unbegun {
            // The group's first writer sent nothing: there is no transaction to undo.
            guard.outer_open = false;
            guard.doomed = false;
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (undo, waiting) = (self.undo, self.waiting.clone());
        // Undo this transaction's work; commit the group if nobody else will.
        runtime.spawn(async move {
            match undo {
                Undo::Unbegun | Undo::Clean => {}
                // The group's first writer: nothing else is in its transaction.
                Undo::Group => return guard.abandon().await,
                Undo::Script => {
                    tracing::error!(
                        "a write failed part-way without a savepoint; rolling back its group"
                    );
                    return guard.abandon().await;
                }
                Undo::Savepoint => {
                    let undone = sqlx::query("ROLLBACK TO kring_tx")
                        .execute(&mut guard.conn)
                        .await;
                    let _ = sqlx::query("RELEASE kring_tx")
                        .execute(&mut guard.conn)
                        .await;
                    if undone.is_err() {
                        tracing::error!(
                            "could not roll back an abandoned write; rolling back its group"
                        );
                        return guard.abandon().await;
                    }
                }
            }
            if waiting.load(Ordering::SeqCst) == 0 {
                guard.flush().await;
            }
        });
    }
}

#[async_trait]
impl StoreTx for SqliteTx {
    async fn current(&mut self, rtype: &str, id: &str) -> Result<Option<Current>> {
        if let Some(known) = self.pending.known(rtype, id) {
            return Ok(known);
        }
        // The whole row, as an update or delete reads it next.
        let (mut conn, _) = self.parts();
        let row = ops::read(&mut conn, rtype, id).await?;
        let found = row.as_ref().map(|r| Current {
            version: r.version,
            deleted: r.deleted,
            client_key: r.client_key.clone(),
        });
        self.pending.remember(rtype, id, found.clone());
        self.read_ahead = row;
        Ok(found)
    }

    fn new_id(&mut self, rtype: &str, id: &str) {
        self.pending.remember(rtype, id, None);
    }

    async fn prefetch(&mut self, keys: &[(String, String)]) -> Result<()> {
        let (mut conn, pending) = self.parts();
        pending.prefetch(&mut conn, keys, false).await
    }

    async fn read(&mut self, rtype: &str, id: &str) -> Result<Option<StoredResource>> {
        if let Some(row) = self.read_ahead.take() {
            // Still the current version only if this transaction has not written one since.
            let unchanged = self
                .pending
                .known(rtype, id)
                .flatten()
                .is_some_and(|known| known.version == row.version && known.deleted == row.deleted);
            if row.rtype == rtype && row.id == id && unchanged {
                return Ok(Some(row));
            }
        }
        let (mut conn, pending) = self.parts();
        pending.flush_for(&mut conn, rtype, id).await?;
        ops::read(&mut conn, rtype, id).await
    }

    async fn lock(&mut self, _key: i64) -> Result<()> {
        // Writers are already serialised on one connection.
        Ok(())
    }

    async fn search(&mut self, plan: &SearchPlan) -> Result<SearchResult> {
        let (mut conn, pending) = self.parts();
        pending.flush(&mut conn).await?;
        ops::search(&mut conn, plan).await
    }

    async fn put(&mut self, version: NewVersion) -> Result<()> {
        self.puts += 1;
        let (mut conn, pending) = self.parts();
        pending.put(&mut conn, version).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        // A failed write leaves the transaction to its drop, which rolls it back.
        self.finish().await?;
        let (mut guard, done) = self.join_group();
        guard
            .end_unless_others_follow(self.puts > GROUP_MAX_PUTS, &self.waiting)
            .await;
        drop(guard);
        outcome(done).await
    }

    async fn commit_logged<'a>(mut self: Box<Self>, logged: LogWrite<'a>) -> Result<()> {
        if let Err(e) = self.finish().await {
            // Nothing to commit (dropping rolls it back); the attempt is still logged.
            logged.await;
            return Err(e);
        }
        let (mut guard, done) = self.join_group();
        guard.unlogged += 1;
        let unlogged = Unlogged {
            writer: Some(self.writer.clone()),
            waiting: self.waiting.clone(),
        };
        // The next writer may start while this one's entries are written.
        drop(guard);
        let ok = logged.await;
        unlogged.logged(ok, self.puts > GROUP_MAX_PUTS).await;
        outcome(done).await
    }
}

/// What the group's end said to one member.
async fn outcome(
    done: tokio::sync::oneshot::Receiver<std::result::Result<(), String>>,
) -> Result<()> {
    match done.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StoreError::Database(format!("commit failed: {e}"))),
        Err(_) => Err(StoreError::Unavailable(
            "the writer stopped before committing".into(),
        )),
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn put_partner(&self, partner: &kring_store::PartnerClient) -> Result<()> {
        // Through the one writer, as a member of its group, so it never races the record's
        // writes and returns once durable.
        let mut tx = self.begin_tx().await?;
        accounts::put_partner(&mut tx.parts().0, partner).await?;
        Box::new(tx).commit().await
    }

    async fn partner(&self, client_id: &str) -> Result<Option<kring_store::PartnerClient>> {
        accounts::partner(&mut Conn::new(&mut *self.reader().await?), client_id).await
    }

    async fn put_account(&self, username: &str, data: &str) -> Result<()> {
        let mut tx = self.begin_tx().await?;
        accounts::put_account(&mut tx.parts().0, username, data).await?;
        Box::new(tx).commit().await
    }

    async fn account(&self, username: &str) -> Result<Option<String>> {
        accounts::account(&mut Conn::new(&mut *self.reader().await?), username).await
    }

    async fn put_session(&self, id_hash: &str, username: &str, data: &str) -> Result<()> {
        let mut tx = self.begin_tx().await?;
        accounts::put_session(&mut tx.parts().0, id_hash, username, data).await?;
        Box::new(tx).commit().await
    }

    async fn session(&self, id_hash: &str) -> Result<Option<(String, String)>> {
        accounts::session(&mut Conn::new(&mut *self.reader().await?), id_hash).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        let mut tx = self.begin_tx().await?;
        accounts::delete_session(&mut tx.parts().0, id_hash).await?;
        Box::new(tx).commit().await
    }

    async fn delete_sessions_of(&self, username: &str) -> Result<()> {
        let mut tx = self.begin_tx().await?;
        accounts::delete_sessions_of(&mut tx.parts().0, username).await?;
        Box::new(tx).commit().await
    }

    async fn partners_of(&self, organisation: &str) -> Result<Vec<kring_store::PartnerClient>> {
        accounts::partners_of(&mut Conn::new(&mut *self.reader().await?), organisation).await
    }
}

/// Counts what a SQLite database holds and samples some resources, on one connection (one
/// consistent view inside its transaction).
async fn count_and_sample(
    conn: &mut SqliteConnection,
    samples: usize,
) -> std::result::Result<(Counts, Vec<Sample>, i64), sqlx::Error> {
    use kring_store::backup::sql;
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    let conn = &mut *tx;
    let mut counts = Counts::default();
    for row in sqlx::query(sql::RESOURCES_PER_TYPE)
        .fetch_all(&mut *conn)
        .await?
    {
        counts
            .resources
            .insert(row.try_get(0)?, row.try_get::<i64, _>(1)? as u64);
    }
    let one = |q: &'static str| sqlx::query_scalar::<_, i64>(q);
    counts.versions = one(sql::VERSIONS).fetch_one(&mut *conn).await? as u64;
    counts.accounts = one(sql::ACCOUNTS).fetch_one(&mut *conn).await? as u64;
    counts.partners = one(sql::PARTNERS).fetch_one(&mut *conn).await? as u64;
    let schema = one(sql::SCHEMA_VERSION).fetch_one(&mut *conn).await?;
    // The keys first (a sort of keys only), then the chosen bodies.
    let keys: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT client_key, res_type, id FROM resources WHERE deleted = 0 ORDER BY random() LIMIT ?",
    )
    .bind(samples as i64)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(keys.len());
    for (client, rtype, id) in keys {
        let (version, body): (i64, Vec<u8>) = sqlx::query_as(
            "SELECT version, body FROM resources WHERE client_key = ? AND res_type = ? AND id = ?",
        )
        .bind(&client)
        .bind(&rtype)
        .bind(&id)
        .fetch_one(&mut *conn)
        .await?;
        out.push(Sample {
            rtype,
            id,
            version,
            sha256: kring_store::backup::sha256_hex(&body),
        });
    }
    tx.commit().await?;
    Ok((counts, out, schema))
}

#[async_trait]
impl Backup for SqliteStore {
    /// `VACUUM INTO` from a reader: one consistent copy of the last committed state, taken
    /// without holding the writer (writers go on in the WAL meanwhile), then counted on the
    /// copy itself.
    async fn snapshot(&self, into: &Path) -> Result<Snapshot> {
        if into.exists() {
            return Err(StoreError::Database(format!(
                "{} exists already; a snapshot is written to a new file",
                into.display()
            )));
        }
        let target = into
            .to_str()
            .ok_or_else(|| StoreError::Database("the snapshot path is not UTF-8".into()))?;
        // A connection of its own, not a reader: SQLite opens the copy with the source
        // connection's flags, and a read-only one cannot write it. It only reads the record.
        let mut conn = self
            .readers
            .connect_options()
            .as_ref()
            .clone()
            .read_only(false)
            .connect()
            .await
            .map_err(map_err)?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut conn)
            .await
            .map_err(map_err)?;
        sqlx::Connection::close(conn).await.map_err(map_err)?;
        let mut copy = SqliteConnectOptions::new()
            .filename(into)
            .read_only(true)
            .connect()
            .await
            .map_err(map_err)?;
        let (counts, samples, schema_version) = count_and_sample(&mut copy, SAMPLES)
            .await
            .map_err(map_err)?;
        sqlx::Connection::close(copy).await.map_err(map_err)?;
        Ok(Snapshot {
            format: SnapshotFormat::SqliteFile,
            schema_version,
            counts,
            samples,
        })
    }

    async fn counts(&self) -> Result<Counts> {
        let mut conn = self.reader().await?;
        let (counts, _, _) = count_and_sample(&mut conn, 0).await.map_err(map_err)?;
        Ok(counts)
    }
}

#[cfg(test)]
mod query_plans {
    //! Which index SQLite picks for the record's searches: a partial index is used only when
    //! the query names its condition, which a test sees and a benchmark might not.

    use kring_store::search::{AnyOf, Cond, Prefix, SearchPlan, StringMatch, TokenMatch};
    use kring_store::sql;
    use kring_store::{Backend, Store};
    use sqlx::Row;

    async fn plan_of(store: &super::SqliteStore, cond: Cond) -> String {
        plan_of_all(store, vec![vec![cond]]).await
    }

    /// The plan of a search whose matches meet every group (each a list of alternatives).
    async fn plan_of_all(store: &super::SqliteStore, groups: Vec<Vec<Cond>>) -> String {
        explain(
            store,
            scoped(groups, None::<kring_store::search::ClientScope>),
        )
        .await
    }

    /// A search of observations whose matches meet every group, by a caller with `scope`.
    fn scoped(
        groups: Vec<Vec<Cond>>,
        scope: impl Into<Option<kring_store::search::ClientScope>>,
    ) -> SearchPlan {
        let mut plan = SearchPlan::new("Observation");
        for conds in groups {
            plan.filter.all.push(AnyOf {
                conds,
                negate: false,
            });
        }
        plan.scope = scope.into();
        plan
    }

    /// SQLite's plan of a search's page query.
    async fn explain(store: &super::SqliteStore, plan: SearchPlan) -> String {
        let query = sql::search_page(&plan);
        let text = format!("EXPLAIN QUERY PLAN {}", query.text_for(Backend::Sqlite));
        let mut conn = store.reader().await.unwrap();
        let rows = super::bind(&text, &query.args)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>(3))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A fresh store with every migration, in a folder that lives as long as the returned guard.
    async fn migrated_store() -> (tempfile::TempDir, super::SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("p.db").display());
        let store = super::SqliteStore::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn date_number_and_quantity_searches_use_the_partial_index_of_numbers() {
        let (_dir, store) = migrated_store().await;
        for (prefix, what) in [(Prefix::Eq, "eq"), (Prefix::Gt, "gt"), (Prefix::Lt, "lt")] {
            let date = Cond::Date {
                param: "date".into(),
                prefix,
                low: 0,
                high: 86_399_999,
            };
            let plan = plan_of(&store, date).await;
            assert!(plan.contains("search_index_n1"), "date {what}:\n{plan}");
        }
        // A quantity with its unit is found by system and code (`search_index_s1`); without,
        // by its number.
        let quantity = Cond::Quantity {
            param: "value-quantity".into(),
            prefix: Prefix::Ge,
            low: 69.5,
            high: 70.5,
            system: None,
            code: None,
        };
        let plan = plan_of(&store, quantity).await;
        assert!(plan.contains("search_index_n1"), "quantity:\n{plan}");
    }

    /// A date beside references to named clients is checked on each of their rows: the
    /// clients' rows are found first, and no list of every value in range (every message of
    /// the region since a date) is made.
    #[tokio::test]
    async fn a_date_beside_named_subjects_is_checked_row_by_row() {
        let (_dir, store) = migrated_store().await;
        let subject = |id: &str| Cond::Reference {
            param: "subject".into(),
            target_type: Some("Patient".into()),
            target_id: Some(id.into()),
            url: None,
        };
        let since = Cond::Date {
            param: "date".into(),
            prefix: Prefix::Ge,
            low: 1_700_000_000_000,
            high: 1_700_000_000_999,
        };
        for subjects in [vec![subject("a")], vec![subject("a"), subject("b")]] {
            let n = subjects.len();
            let plan = plan_of_all(&store, vec![subjects, vec![since.clone()]]).await;
            assert!(!plan.contains("search_index_n1"), "{n} subjects:\n{plan}");
            assert!(plan.contains("search_index_owner"), "{n} subjects:\n{plan}");
        }
        // A date alone still starts from the dates.
        let plan = plan_of(&store, since).await;
        assert!(plan.contains("search_index_n1"), "alone:\n{plan}");
        // A code beside a named subject is looked up for each of the subject's rows, not
        // listed for the whole region (a quarter of all observations share one).
        let code = Cond::Token {
            param: "code".into(),
            what: TokenMatch::Code("8867-4".into()),
        };
        let plan = plan_of_all(&store, vec![vec![subject("a")], vec![code]]).await;
        assert_eq!(plan.matches("LIST SUBQUERY").count(), 1, "{plan}");
        assert!(plan.contains("CORRELATED"), "{plan}");
    }

    /// Beside a caller's short list of clients a date range is found among those clients' own
    /// dates (`search_index_client_dates`), alone and beside a named subject: neither every
    /// date of the region in range is listed, nor each of the clients' resources checked.
    #[tokio::test]
    async fn a_date_beside_a_few_clients_is_found_among_their_dates() {
        let (_dir, store) = migrated_store().await;
        let scope = kring_store::search::ClientScope {
            clients: vec!["a".to_string(), "b".to_string()].into(),
            include_shared: true,
            ..Default::default()
        };
        let subject = Cond::Reference {
            param: "subject".into(),
            target_type: Some("Patient".into()),
            target_id: Some("a".into()),
            url: None,
        };
        let since = Cond::Date {
            param: "date".into(),
            prefix: Prefix::Gt,
            low: 1_700_000_000_000,
            high: 1_700_000_000_999,
        };
        for groups in [
            vec![vec![since.clone()]],
            vec![vec![subject.clone()], vec![since.clone()]],
        ] {
            let n = groups.len();
            let plan = explain(&store, scoped(groups, scope.clone())).await;
            assert!(plan.contains("search_index_client_dates"), "{n}:\n{plan}");
            assert!(!plan.contains("search_index_n1"), "{n}:\n{plan}");
        }
        // Beside a named subject the dates come first: SQLite starts from the first list of
        // ids (the few messages since a date, not the client's thousands).
        let plan = explain(&store, scoped(vec![vec![subject], vec![since]], scope)).await;
        let first_list = plan.split("LIST SUBQUERY").nth(1).unwrap_or_default();
        assert!(first_list.contains("search_index_client_dates"), "{plan}");
        assert!(
            plan.contains("USING INDEX resources_by_type_id (res_type=? AND id=?)"),
            "{plan}"
        );
    }

    /// A search for one value reads the first page from the value's index rows in resource
    /// order: no temporary B-tree that would first collect every match.
    #[tokio::test]
    async fn a_search_for_one_value_reads_its_matches_in_resource_order() {
        let (_dir, store) = migrated_store().await;
        let code = |what| Cond::Token {
            param: "code".into(),
            what,
        };
        let cases = [
            (
                "system|code",
                code(TokenMatch::SystemCode(
                    Some("http://loinc.org".into()),
                    "8867-4".into(),
                )),
                "search_index_s1",
            ),
            (
                "|code",
                code(TokenMatch::SystemCode(None, "x".into())),
                "search_index_s1",
            ),
            (
                "code",
                code(TokenMatch::Code("8867-4".into())),
                "search_index_s2",
            ),
            (
                "Patient/1",
                Cond::Reference {
                    param: "subject".into(),
                    target_type: Some("Patient".into()),
                    target_id: Some("1".into()),
                    url: None,
                },
                "search_index_s1",
            ),
            (
                "id alone",
                Cond::Reference {
                    param: "subject".into(),
                    target_type: None,
                    target_id: Some("1".into()),
                    url: None,
                },
                "search_index_s2",
            ),
            (
                "exact string",
                Cond::String {
                    param: "code-text".into(),
                    value: "Hartslag".into(),
                    how: StringMatch::Exact,
                },
                "search_index_s2",
            ),
        ];
        for (what, cond, index) in cases {
            let plan = plan_of(&store, cond).await;
            assert!(
                plan.contains(&format!("COVERING INDEX {index}")),
                "{what}:\n{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{what}:\n{plan}");
        }
    }
}

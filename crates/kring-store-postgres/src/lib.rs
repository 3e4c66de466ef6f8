//! The PostgreSQL backend, for a region's record.
//!
//! Owns: the connection pool, its migrations, and running the shared SQL of `kring_store::ops`
//! on PostgreSQL. Concurrent writers of one resource are serialised by locking its row in
//! `resource_keys` (`FOR UPDATE`); conditional creates take a transaction-scoped advisory lock.
//! The planner's statistics of the record are kept current as it grows ([`statistics`]).
//! The schema is ready for Citus: see `docs/ARCHITECTURE.md`.

use std::path::Path;
use std::str::FromStr;

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
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

pub mod citus;
mod statistics;

use statistics::Statistics;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A record stored in PostgreSQL.
pub struct PgStore {
    pool: PgPool,
    /// Where the store was opened, for `pg_dump` (none when opened from bare options).
    url: Option<String>,
    /// The schema the store works in.
    schema: String,
    /// Whether the database is a Citus coordinator, whose `resource_keys` are distributed
    /// apart from the record (see [`citus`]).
    keys_apart: bool,
    /// Keeps the planner's statistics of the record current as it grows (not on Citus).
    statistics: Option<std::sync::Arc<Statistics>>,
}

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        // serialization_failure, deadlock_detected
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("40001") | Some("40P01")) =>
        {
            StoreError::Conflict
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Database(e.to_string()),
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`).
    pub async fn connect(url: &str) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
        let mut store = Self::connect_with(options).await?;
        store.url = Some(url.to_string());
        Ok(store)
    }

    /// Connects to `url` and works inside `schema` (created if missing): benchmarks and tests
    /// use a schema of their own so they never touch real data.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<PgStore> {
        if !schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StoreError::Database(
                "a schema name has letters, digits and _ only".into(),
            ));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(map_err)?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&admin)
            .await
            .map_err(map_err)?;
        admin.close().await;
        let mut store = Self::connect_with(options.options([("search_path", schema)])).await?;
        store.url = Some(url.to_string());
        store.schema = schema.to_string();
        Ok(store)
    }

    /// Drops a schema made by [`PgStore::connect_in_schema`].
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        let admin = admin_pool(url).await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&admin)
            .await
            .map_err(map_err)?;
        admin.close().await;
        Ok(())
    }

    /// Connects with explicit options (tests use a schema of their own via `search_path`).
    pub async fn connect_with(options: PgConnectOptions) -> Result<PgStore> {
        let analysing = options.clone();
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A database that is down answers within seconds, not after sqlx's 30.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(map_err)?;
        let keys_apart = citus::is_citus(&pool).await.map_err(map_err)?;
        let statistics = if keys_apart {
            None
        } else {
            statistics::check_autovacuum(&pool).await;
            Some(Statistics::new(analysing))
        };
        Ok(PgStore {
            pool,
            url: None,
            schema: "public".into(),
            keys_apart,
            statistics,
        })
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Postgres>> {
        self.pool.acquire().await.map_err(map_err)
    }
}

fn bind<'q>(text: &'q str, args: &'q [Arg]) -> sqlx::query::Query<'q, Postgres, PgArguments> {
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

fn decode(row: &PgRow) -> std::result::Result<StoredResource, sqlx::Error> {
    Ok(StoredResource {
        rtype: row.try_get(0)?,
        id: row.try_get(1)?,
        version: row.try_get(2)?,
        last_updated: row.try_get(3)?,
        deleted: row.try_get::<i16, _>(4)? != 0,
        client_key: row.try_get(5)?,
        body: row.try_get(6)?,
    })
}

/// A PostgreSQL connection seen through the shared [`Exec`] interface, and whether the
/// database keeps `resource_keys` apart from the record (a Citus coordinator).
struct Conn<'c>(&'c mut PgConnection, bool);

impl Conn<'_> {
    /// How the shared SQL is written for this database.
    fn dialect(&self) -> Backend {
        if self.1 {
            Backend::Citus
        } else {
            Backend::Postgres
        }
    }
}

#[async_trait]
impl Exec for Conn<'_> {
    fn keys_apart(&self) -> bool {
        self.1
    }
    async fn exec(&mut self, sql: &Sql) -> Result<u64> {
        let text = sql.text_for(self.dialect());
        Ok(bind(&text, &sql.args)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?
            .rows_affected())
    }
    async fn fetch_resources(&mut self, sql: &Sql) -> Result<Vec<StoredResource>> {
        let text = sql.text_for(self.dialect());
        let rows = bind(&text, &sql.args)
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(decode)
            .collect::<std::result::Result<_, _>>()
            .map_err(map_err)
    }
    async fn fetch_count(&mut self, sql: &Sql) -> Result<i64> {
        let text = sql.text_for(self.dialect());
        let row = bind(&text, &sql.args)
            .fetch_one(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.try_get(0).map_err(map_err)
    }
    async fn fetch_pairs(&mut self, sql: &Sql) -> Result<Vec<(String, String)>> {
        let text = sql.text_for(self.dialect());
        let rows = bind(&text, &sql.args)
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(map_err)
    }
    async fn fetch_current(&mut self, sql: &Sql) -> Result<Option<Current>> {
        let text = sql.text_for(self.dialect());
        let row = bind(&text, &sql.args)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            Ok(Current {
                version: r.try_get(0)?,
                deleted: r.try_get::<i16, _>(1)? != 0,
                client_key: r.try_get(2)?,
            })
        })
        .transpose()
        .map_err(map_err)
    }

    async fn fetch_currents(&mut self, sql: &Sql) -> Result<Vec<(String, Current)>> {
        let text = sql.text_for(self.dialect());
        let rows = bind(&text, &sql.args)
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    Current {
                        version: r.try_get(1)?,
                        deleted: r.try_get::<i16, _>(2)? != 0,
                        client_key: r.try_get(3)?,
                    },
                ))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(map_err)
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        if self.keys_apart {
            Backend::Citus
        } else {
            Backend::Postgres
        }
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        if self.keys_apart {
            citus::distribute(&self.pool, &self.schema)
                .await
                .map_err(|e| {
                    StoreError::Migration(format!("cannot distribute the tables over Citus: {e}"))
                })?;
        }
        Ok(())
    }

    async fn read(&self, rtype: &str, id: &str) -> Result<Option<StoredResource>> {
        ops::read(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            rtype,
            id,
        )
        .await
    }

    async fn read_many(&self, keys: &[ResourceKey]) -> Result<Vec<StoredResource>> {
        ops::read_many(&mut Conn(&mut *self.conn().await?, self.keys_apart), keys).await
    }

    async fn vread(&self, rtype: &str, id: &str, version: i64) -> Result<Option<StoredResource>> {
        ops::vread(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            rtype,
            id,
            version,
        )
        .await
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StoredResource>> {
        Conn(&mut *self.conn().await?, self.keys_apart)
            .fetch_resources(&sql::history(query))
            .await
    }

    async fn search(&self, plan: &SearchPlan) -> Result<SearchResult> {
        ops::search(&mut Conn(&mut *self.conn().await?, self.keys_apart), plan).await
    }

    async fn references_from(
        &self,
        from: &[ResourceKey],
        params: &[String],
    ) -> Result<Vec<ResourceKey>> {
        ops::references_from(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            from,
            params,
        )
        .await
    }

    async fn referrers_to(
        &self,
        rtype: &str,
        param: &str,
        to: &[ResourceKey],
    ) -> Result<Vec<ResourceKey>> {
        ops::referrers_to(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            rtype,
            param,
            to,
        )
        .await
    }

    async fn scan(
        &self,
        rtype: &str,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredResource>> {
        Conn(&mut *self.conn().await?, self.keys_apart)
            .fetch_resources(&sql::scan(rtype, after_id, limit))
            .await
    }

    async fn client_resources(
        &self,
        client_key: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<StoredResource>> {
        Conn(&mut *self.conn().await?, self.keys_apart)
            .fetch_resources(&sql::client_resources(client_key, offset, limit))
            .await
    }

    async fn types_in_use(&self) -> Result<Vec<String>> {
        ops::types_in_use(&mut Conn(&mut *self.conn().await?, self.keys_apart)).await
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>> {
        let tx = self.pool.begin().await.map_err(map_err)?;
        Ok(Box::new(PgTx {
            tx,
            keys_apart: self.keys_apart,
            pending: Pending::default(),
            statistics: self.statistics.clone(),
        }))
    }
}

struct PgTx {
    tx: Transaction<'static, Postgres>,
    keys_apart: bool,
    /// Versions put but not yet written (sent before any read of them, search or commit).
    pending: Pending,
    statistics: Option<std::sync::Arc<Statistics>>,
}

impl PgTx {
    async fn flush(&mut self) -> Result<()> {
        self.pending
            .flush(&mut Conn(&mut self.tx, self.keys_apart))
            .await
    }
}

#[async_trait]
impl StoreTx for PgTx {
    async fn current(&mut self, rtype: &str, id: &str) -> Result<Option<Current>> {
        // Known: prefetched (and locked), read before (and locked), or written by this
        // transaction.
        if let Some(known) = self.pending.known(rtype, id) {
            return Ok(known);
        }
        if self.keys_apart {
            // The key row, locked, names the client: one query instead of a lock and a lookup.
            let mut conn = Conn(&mut self.tx, true);
            let found = match ops::client_of(&mut conn, rtype, id, true).await? {
                Some(client) => ops::current_of_client(&mut conn, &client, rtype, id).await?,
                None => None,
            };
            self.pending.remember(rtype, id, found.clone());
            return Ok(found);
        }
        // Lock the key row so concurrent writers of this resource queue up behind us.
        sqlx::query("SELECT 1 FROM resource_keys WHERE res_type = $1 AND id = $2 FOR UPDATE")
            .bind(rtype)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        let found = ops::current(&mut Conn(&mut self.tx, self.keys_apart), rtype, id).await?;
        self.pending.remember(rtype, id, found.clone());
        Ok(found)
    }

    fn new_id(&mut self, rtype: &str, id: &str) {
        self.pending.remember(rtype, id, None);
    }

    async fn prefetch(&mut self, keys: &[(String, String)]) -> Result<()> {
        self.pending
            .prefetch(&mut Conn(&mut self.tx, self.keys_apart), keys, true)
            .await
    }

    async fn read(&mut self, rtype: &str, id: &str) -> Result<Option<StoredResource>> {
        self.pending
            .flush_for(&mut Conn(&mut self.tx, self.keys_apart), rtype, id)
            .await?;
        ops::read(&mut Conn(&mut self.tx, self.keys_apart), rtype, id).await
    }

    async fn lock(&mut self, key: i64) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn search(&mut self, plan: &SearchPlan) -> Result<SearchResult> {
        self.flush().await?;
        ops::search(&mut Conn(&mut self.tx, self.keys_apart), plan).await
    }

    async fn put(&mut self, version: NewVersion) -> Result<()> {
        if let Some(statistics) = &self.statistics {
            statistics.wrote(1);
        }
        self.pending
            .put(&mut Conn(&mut self.tx, self.keys_apart), version)
            .await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.flush().await?;
        self.tx.commit().await.map_err(map_err)
    }

    async fn commit_logged<'a>(mut self: Box<Self>, logged: LogWrite<'a>) -> Result<()> {
        // Written first, so that a failing row fails the write before its entries say it
        // succeeded; committed only once the entries are durable.
        if let Err(e) = self.flush().await {
            logged.await;
            return Err(e);
        }
        if logged.await {
            self.tx.commit().await.map_err(map_err)
        } else {
            Err(StoreError::not_logged())
        }
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn put_partner(&self, partner: &kring_store::PartnerClient) -> Result<()> {
        accounts::put_partner(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            partner,
        )
        .await
    }

    async fn partner(&self, client_id: &str) -> Result<Option<kring_store::PartnerClient>> {
        accounts::partner(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            client_id,
        )
        .await
    }

    async fn put_account(&self, username: &str, data: &str) -> Result<()> {
        accounts::put_account(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            username,
            data,
        )
        .await
    }

    async fn account(&self, username: &str) -> Result<Option<String>> {
        accounts::account(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            username,
        )
        .await
    }

    async fn put_session(&self, id_hash: &str, username: &str, data: &str) -> Result<()> {
        accounts::put_session(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            id_hash,
            username,
            data,
        )
        .await
    }

    async fn session(&self, id_hash: &str) -> Result<Option<(String, String)>> {
        accounts::session(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            id_hash,
        )
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        accounts::delete_session(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            id_hash,
        )
        .await
    }

    async fn delete_sessions_of(&self, username: &str) -> Result<()> {
        accounts::delete_sessions_of(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            username,
        )
        .await
    }

    async fn partners_of(&self, organisation: &str) -> Result<Vec<kring_store::PartnerClient>> {
        accounts::partners_of(
            &mut Conn(&mut *self.conn().await?, self.keys_apart),
            organisation,
        )
        .await
    }
}

/// One connection to the database at `url`, for schema work and checks.
async fn admin_pool(url: &str) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
    PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(map_err)
}

/// The command-line tools' connection settings for a database URL: `-h -p -U -d` and the
/// password in `PGPASSWORD` (never on the command line, where other users of the machine could
/// read it).
fn tool_command(program: &str, url: &str) -> Result<tokio::process::Command> {
    let u = url::Url::parse(url)
        .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg("--no-password");
    if let Some(host) = u.host_str() {
        cmd.arg("--host").arg(host);
    }
    if let Some(port) = u.port() {
        cmd.arg("--port").arg(port.to_string());
    }
    if !u.username().is_empty() {
        cmd.arg("--username").arg(u.username());
    }
    if let Some(p) = u.password() {
        let p = url::form_urlencoded::parse(format!("p={p}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        cmd.env("PGPASSWORD", p);
    }
    let db = u.path().trim_start_matches('/');
    cmd.arg("--dbname")
        .arg(if db.is_empty() { "postgres" } else { db });
    cmd.kill_on_drop(true);
    Ok(cmd)
}

/// Runs a PostgreSQL tool to its end and returns what it wrote; its error output becomes the
/// error.
async fn run_tool(mut cmd: tokio::process::Command, what: &str) -> Result<Vec<u8>> {
    let out = cmd.output().await.map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot run {what} (Debian package postgresql-client): {e}"
        ))
    })?;
    if !out.status.success() {
        return Err(StoreError::Database(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// The entries of `pg_restore --list` without the one that creates `schema`: restoring into a
/// database where the schema exists already (`public` always does) would otherwise stop at
/// `CREATE SCHEMA public` ("schema already exists") before any table.
fn without_create_schema(list: &str, schema: &str) -> String {
    list.lines()
        .filter(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            line.starts_with(';') || !words.windows(3).any(|w| w == ["SCHEMA", "-", schema])
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Counts what the database holds and samples some resources, inside `tx`.
async fn count_and_sample(
    tx: &mut PgConnection,
    samples: usize,
) -> std::result::Result<(Counts, Vec<Sample>, i64), sqlx::Error> {
    use kring_store::backup::sql;
    let mut counts = Counts::default();
    for row in sqlx::query(sql::RESOURCES_PER_TYPE)
        .fetch_all(&mut *tx)
        .await?
    {
        counts
            .resources
            .insert(row.try_get(0)?, row.try_get::<i64, _>(1)? as u64);
    }
    let one = |q: &'static str| sqlx::query_scalar::<_, i64>(q);
    counts.versions = one(sql::VERSIONS).fetch_one(&mut *tx).await? as u64;
    counts.accounts = one(sql::ACCOUNTS).fetch_one(&mut *tx).await? as u64;
    counts.partners = one(sql::PARTNERS).fetch_one(&mut *tx).await? as u64;
    let schema = one(sql::SCHEMA_VERSION).fetch_one(&mut *tx).await?;
    let mut out = Vec::new();
    if samples > 0 {
        for row in sqlx::query(
            "SELECT res_type, id, version, body FROM resources WHERE deleted = 0 \
             ORDER BY random() LIMIT $1",
        )
        .bind(samples as i64)
        .fetch_all(&mut *tx)
        .await?
        {
            let body: Vec<u8> = row.try_get(3)?;
            out.push(Sample {
                rtype: row.try_get(0)?,
                id: row.try_get(1)?,
                version: row.try_get(2)?,
                sha256: kring_store::backup::sha256_hex(&body),
            });
        }
    }
    Ok((counts, out, schema))
}

impl PgStore {
    /// Restores a snapshot written by [`Backup::snapshot`] into the database at `url`, which
    /// must not hold Kring's tables in the snapshot's schema yet: `pg_restore` in one
    /// transaction, so a failed restore leaves the database as empty as it was.
    pub async fn restore_dump(url: &str, dump: &Path, schema: &str) -> Result<()> {
        let admin = admin_pool(url).await?;
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
        )
        .bind(schema)
        .fetch_one(&admin)
        .await
        .map_err(map_err)?;
        let schema_exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(schema)
                .fetch_one(&admin)
                .await
                .map_err(map_err)?;
        admin.close().await;
        if tables > 0 {
            return Err(StoreError::Database(format!(
                "the database already holds {tables} tables in schema {schema}; a restore goes into an empty database"
            )));
        }
        let mut cmd = tool_command("pg_restore", url)?;
        cmd.args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
        ]);
        // The schema there already (empty, as checked): restore everything but its creation.
        let list_file = dump.with_extension("restore-list");
        if schema_exists {
            let mut list = tokio::process::Command::new("pg_restore");
            list.arg("--list").arg(dump).kill_on_drop(true);
            let entries =
                String::from_utf8_lossy(&run_tool(list, "pg_restore --list").await?).into_owned();
            std::fs::write(&list_file, without_create_schema(&entries, schema)).map_err(|e| {
                StoreError::Database(format!(
                    "cannot write the restore list {}: {e}",
                    list_file.display()
                ))
            })?;
            cmd.arg("--use-list").arg(&list_file);
        }
        cmd.arg(dump);
        let restored = run_tool(cmd, "pg_restore").await.map(|_| ());
        if schema_exists {
            let _ = std::fs::remove_file(&list_file);
        }
        restored
    }
}

#[async_trait]
impl Backup for PgStore {
    /// `pg_dump` of the store's schema inside an exported snapshot (`REPEATABLE READ`), whose
    /// transaction also counts and samples: the dump and the counts see the same moment, while
    /// writers go on.
    async fn snapshot(&self, into: &Path) -> Result<Snapshot> {
        if self.keys_apart {
            return Err(StoreError::Database(
                "this database is a Citus coordinator: its tables' rows live in shards on the workers, \
                 which pg_dump of the coordinator does not hold; back up every node of the cluster \
                 (pgBackRest per node, or your provider's cluster snapshots) instead"
                    .into(),
            ));
        }
        let Some(url) = &self.url else {
            return Err(StoreError::Database(
                "this store was opened without a URL, so pg_dump cannot reach it".into(),
            ));
        };
        if into.exists() {
            return Err(StoreError::Database(format!(
                "{} exists already; a snapshot is written to a new file",
                into.display()
            )));
        }
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let exported: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let mut cmd = tool_command("pg_dump", url)?;
        cmd.args([
            "--format=custom",
            "--compress=1",
            "--no-owner",
            "--no-privileges",
        ])
        .arg(format!("--snapshot={exported}"))
        .arg(format!("--schema={}", self.schema))
        .arg(format!("--file={}", into.display()));
        let dump = async { run_tool(cmd, "pg_dump").await.map(|_| ()) };
        let count = count_and_sample(&mut tx, SAMPLES);
        let (dumped, counted) = tokio::join!(dump, count);
        dumped?;
        let (counts, samples, schema_version) = counted.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Snapshot {
            format: SnapshotFormat::PgDump {
                schema: self.schema.clone(),
            },
            schema_version,
            counts,
            samples,
        })
    }

    async fn counts(&self) -> Result<Counts> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let (counts, _, _) = count_and_sample(&mut tx, 0).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(counts)
    }
}

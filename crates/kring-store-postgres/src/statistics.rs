//! The planner's statistics of the record's tables, kept current by the store as it writes.
//!
//! PostgreSQL chooses how to run a query from statistics that only `ANALYZE` gathers. Without
//! them (a table never analysed: a fresh import, or a server with `autovacuum = off`) it takes
//! the defaults, and one of them — a resource type matching half a percent of the keys — makes
//! the lookup of a Bundle's 450 keys scan every key of the type and compare it with each of the
//! 450: 1.15 s per Bundle at 100,000 resources, growing with the table. Autovacuum analyses a
//! table at most once a minute, after a tenth of it changed, and not at all when it is off. So
//! the store analyses the record's tables itself after 1,000 writes and after every tenth of
//! their size since (autovacuum's own rule, counted by this process), in the background, one
//! `ANALYZE` at a time; reads and writes do not wait for it. Not on Citus, where each worker's
//! autovacuum keeps its own shards' statistics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// The record's tables whose statistics the hot queries depend on.
const TABLES: &str = "resources, resource_versions, search_index, resource_keys";

/// Writes before the first `ANALYZE` of a process, and the least between two.
const FIRST: u64 = 1_000;

/// Counts the store's writes and analyses the record's tables when they have grown.
pub(crate) struct Statistics {
    /// A connection of its own, made when first needed, whose statements are not logged: an
    /// `ANALYZE` takes seconds at millions of rows and is no slow query to warn about.
    pool: PgPool,
    /// Versions written by this process.
    written: AtomicU64,
    /// The count of writes at which the next `ANALYZE` is due.
    due: AtomicU64,
    /// Whether an `ANALYZE` is running (one at a time).
    running: AtomicBool,
}

impl Statistics {
    /// For the record reached with `options` (the store's own, `search_path` included).
    pub(crate) fn new(options: PgConnectOptions) -> Arc<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options.disable_statement_logging());
        Arc::new(Statistics {
            pool,
            written: AtomicU64::new(0),
            due: AtomicU64::new(FIRST),
            running: AtomicBool::new(false),
        })
    }

    /// Counts `n` versions written; starts an `ANALYZE` in the background when one is due.
    pub(crate) fn wrote(self: &Arc<Self>, n: u64) {
        let written = self.written.fetch_add(n, Ordering::Relaxed) + n;
        if written < self.due.load(Ordering::Relaxed) || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        // An analysis that ended between the two checks above may have moved the next one on.
        if written < self.due.load(Ordering::Relaxed) {
            self.running.store(false, Ordering::Release);
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match this.analyze().await {
                Ok(rows) => {
                    let next = this.written.load(Ordering::Relaxed) + FIRST.max(rows / 10);
                    this.due.store(next, Ordering::Relaxed);
                    tracing::debug!(
                        rows,
                        ms = started.elapsed().as_millis() as u64,
                        "analysed the record's tables"
                    );
                }
                Err(e) => {
                    // Tried again after the next 1,000 writes; the record works on without.
                    let next = this.written.load(Ordering::Relaxed) + FIRST;
                    this.due.store(next, Ordering::Relaxed);
                    tracing::warn!(error = %e, "could not analyse the record's tables");
                }
            }
            this.running.store(false, Ordering::Release);
        });
    }

    /// Analyses the record's tables; the rows the resources table now holds.
    async fn analyze(&self) -> Result<u64, sqlx::Error> {
        sqlx::query(&format!("ANALYZE {TABLES}"))
            .execute(&self.pool)
            .await?;
        let rows: f32 = sqlx::query_scalar(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass('resources')",
        )
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(0.0);
        Ok(rows.max(0.0) as u64)
    }
}

/// Warns when the server's autovacuum is off: the store keeps the statistics, but dead rows
/// of updates and deletions are not cleaned up and the tables and indexes only grow.
pub(crate) async fn check_autovacuum(pool: &PgPool) {
    let on: Result<String, _> = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(pool)
        .await;
    if matches!(on.as_deref(), Ok("off")) {
        tracing::warn!(
            "autovacuum is off on this PostgreSQL server: Kring analyses its tables itself, \
             but nothing removes the dead rows of updates and deletions; turn autovacuum on \
             (postgresql.conf) or run VACUUM regularly"
        );
    }
}

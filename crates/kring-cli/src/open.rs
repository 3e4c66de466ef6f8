//! Opening the configured database and assembling the record.

use std::sync::Arc;

use anyhow::Context;
use kring_record::Record;
use kring_store::Store;

use crate::config::Config;

/// Opens the store named by a database URL and brings its schema up to date.
pub async fn store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(
            kring_store_sqlite::SqliteStore::open(url)
                .await
                .context("cannot open the SQLite database")?,
        )
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(
            kring_store_postgres::PgStore::connect(url)
                .await
                .context("cannot connect to PostgreSQL")?,
        )
    } else {
        anyhow::bail!("the database must be sqlite:PATH or postgres://…, not '{url}'");
    };
    store
        .migrate()
        .await
        .context("cannot bring the database schema up to date")?;
    Ok(store)
}

/// The record over the configured store, decision point and access log, with the log itself
/// (for checkpoints, retention and syslog).
pub async fn record(cfg: &Config) -> anyhow::Result<(Record, Arc<kring_audit::MerkleLog>)> {
    let store = store(&cfg.database).await?;
    let log = Arc::new(
        kring_audit::MerkleLog::open(cfg.log_config())
            .await
            .context("cannot open the access log")?,
    );
    let access = kring_access::NeedToKnow::new().context("the access rules are not valid")?;
    let record = Record::new(store, Arc::new(access), log.clone());
    let facts = record
        .load_access_facts()
        .await
        .context("cannot read circles and consents for the access decision")?;
    tracing::info!(facts, "access decision ready");
    Ok((record, log))
}

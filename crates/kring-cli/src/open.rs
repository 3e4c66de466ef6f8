//! Opening the configured database and assembling the record.

use std::sync::Arc;

use anyhow::Context;
use kring_record::Record;
use kring_store::{AccountStore, Database};

use crate::config::Config;

/// Opens the database named by a URL (the record and the accounts beside it) and brings its
/// schema up to date.
pub async fn database(url: &str) -> anyhow::Result<Arc<dyn Database>> {
    let store: Arc<dyn Database> = if url.starts_with("sqlite:") {
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

/// An installation as the command line opens it: the record (store, decision point and access
/// log), the log itself (for checkpoints, retention and syslog) and the accounts.
pub struct Opened {
    pub record: Record,
    /// The database as a whole (what a backup copies).
    pub database: Arc<dyn Database>,
    pub log: Arc<kring_audit::MerkleLog>,
    pub accounts: Arc<dyn AccountStore>,
}

/// Opens the configured installation.
pub async fn record(cfg: &Config) -> anyhow::Result<Opened> {
    let database = database(&cfg.database).await?;
    let accounts: Arc<dyn AccountStore> = database.clone();
    let store: Arc<dyn kring_store::Store> = database.clone();
    let log = Arc::new(
        kring_audit::MerkleLog::open(cfg.log_config())
            .await
            .context("cannot open the access log")?,
    );
    let access = kring_access::NeedToKnow::new().context("the access rules are not valid")?;
    let record = Record::new(store, Arc::new(access), log.clone()).with_high_risk(cfg.high_risk());
    let facts = record
        .load_access_facts()
        .await
        .context("cannot read circles and consents for the access decision")?;
    tracing::info!(facts, "access decision ready");
    log_rules_in_force(&record).await?;
    Ok(Opened {
        record,
        database,
        log,
        accounts,
    })
}

/// Logs which access rules are in force from now on (their SHA-256), so that a change of the
/// rules between two starts is in the access log like any other change.
async fn log_rules_in_force(record: &Record) -> anyhow::Result<()> {
    use sha2::{Digest, Sha256};
    let digest = |text: &str| {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let caller = kring_record::Caller::operator("cli");
    record
        .log_event(kring_audit::AccessEntry {
            action: "E".into(),
            interaction: "policy-load".into(),
            outcome: "success".into(),
            user: kring_record::logging::actor_of(&caller),
            data: kring_audit::Data {
                resource_type: "Policy".into(),
                id: "kring.cedar".into(),
                category: String::new(),
            },
            source: kring_audit::Origin {
                system: "kring-cli".into(),
                address: "cli".into(),
                user_agent: String::new(),
            },
            purpose: "HSYSADMIN".into(),
            reasons: vec![
                format!("policies:sha256:{}", digest(kring_access::policy::POLICIES)),
                format!("schema:sha256:{}", digest(kring_access::policy::SCHEMA)),
            ],
            ..kring_audit::AccessEntry::default()
        })
        .await
        .map_err(|_| anyhow::anyhow!("the access log cannot be written"))
}

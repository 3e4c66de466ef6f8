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
    pub log: TheLog,
    pub accounts: Arc<dyn AccountStore>,
}

/// The access log as this process holds it: the log itself (its file, writer and key), or
/// the log service's (`audit_service`), when several servers share one log.
#[derive(Clone)]
pub enum TheLog {
    Own(Arc<kring_audit::MerkleLog>),
    Service(Arc<kring_audit::RemoteLog>),
}

impl TheLog {
    /// The log as the record writes to it.
    pub fn access_log(&self) -> Arc<dyn kring_audit::AccessLog> {
        match self {
            TheLog::Own(log) => log.clone(),
            TheLog::Service(log) => log.clone(),
        }
    }

    /// Signs a checkpoint now (the service signs it when the log is the service's).
    pub async fn checkpoint_now(&self) -> anyhow::Result<Option<kring_audit::Checkpoint>> {
        Ok(match self {
            TheLog::Own(log) => log.checkpoint_now().await?,
            TheLog::Service(log) => log.checkpoint_now().await?,
        })
    }

    /// The number of entries covered by a checkpoint signed now.
    pub async fn size(&self) -> anyhow::Result<u64> {
        Ok(match self {
            TheLog::Own(log) => log.size().await?,
            TheLog::Service(log) => log.checkpoint_now().await?.map_or(0, |cp| cp.size),
        })
    }

    /// On the way out: the own log signs a last checkpoint and stops its writer; the
    /// service's log goes on for the other servers (it signs within a second).
    pub async fn shut_down(&self) -> anyhow::Result<()> {
        match self {
            TheLog::Own(log) => log.shut_down().await?,
            TheLog::Service(_) => {}
        }
        Ok(())
    }
}

/// The user this process runs as (the owner of its `/proc/self`).
pub fn own_uid() -> anyhow::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self")
        .context("cannot tell which user this process runs as")?
        .uid())
}

/// Opens the configured access log: through the service when `audit_service` is set, else
/// the log file itself.
pub async fn log(cfg: &Config) -> anyhow::Result<TheLog> {
    if let Some(socket) = &cfg.audit_service {
        let uid = match cfg.audit_service_uid {
            Some(uid) => uid,
            None => own_uid()?,
        };
        let log = kring_audit::RemoteLog::connect(socket, uid)
            .await
            .with_context(|| {
                format!(
                    "cannot use the access log service at {} (is kring log-serve running?)",
                    socket.display()
                )
            })?;
        return Ok(TheLog::Service(Arc::new(log)));
    }
    Ok(TheLog::Own(Arc::new(
        kring_audit::MerkleLog::open(cfg.log_config())
            .await
            .context("cannot open the access log")?,
    )))
}

/// Opens the configured installation.
pub async fn record(cfg: &Config) -> anyhow::Result<Opened> {
    let database = database(&cfg.database).await?;
    let accounts: Arc<dyn AccountStore> = database.clone();
    let store: Arc<dyn kring_store::Store> = database.clone();
    let log = log(cfg).await?;
    let access = kring_access::NeedToKnow::new().context("the access rules are not valid")?;
    let record =
        Record::new(store, Arc::new(access), log.access_log()).with_high_risk(cfg.high_risk());
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

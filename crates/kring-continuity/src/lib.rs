//! Continuity: what an installation needs to survive losing its machine, with evidence that it
//! would. [`backup`] takes one consistent, encrypted copy of everything an installation holds —
//! the record and accounts, the access log with its signing key and witness state, the review
//! store — while Kring keeps serving, with a [`manifest`]; [`restore`] puts a backup into an
//! empty place, from which Kring starts; [`drill`] restores the latest backup into a scratch
//! place, checks it and records how long it took and how old its data was. [`schedule`] says
//! when the server runs them, [`evidence`] lists what was done for the administrators' page.
//! See `docs/continuity.md`.

pub mod backup;
pub mod crypt;
pub mod drill;
pub mod evidence;
pub mod manifest;
pub mod pending;
pub mod restore;
pub mod schedule;

use std::path::PathBuf;
use std::sync::Arc;

use kring_store::Database;

/// Why a continuity step failed, in a sentence for the administrator.
#[derive(Debug, thiserror::Error)]
pub enum ContinuityError {
    /// A key or identity is missing, malformed or the wrong one.
    #[error("{0}")]
    Key(String),
    /// The backup is incomplete, damaged or not a backup.
    #[error("{0}")]
    Backup(String),
    /// The place to restore into is not empty (or not usable).
    #[error("{0}")]
    Target(String),
    /// The database refused or failed.
    #[error("the database: {0}")]
    Store(#[from] kring_store::StoreError),
    /// The access log could not be read or verified.
    #[error("the access log: {0}")]
    Log(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
}

/// An installation's parts, as a backup finds them.
#[derive(Clone)]
pub struct Installation {
    /// The record and the accounts.
    pub database: Arc<dyn Database>,
    /// The access log, its signing key and its witness.
    pub log: kring_audit::LogConfig,
    /// The privacy officer's review store.
    pub review: PathBuf,
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Writes a continuity run — a backup, a restore drill — to the installation's access log, as
/// the system acting for its administrators: the log is the tamper-evident evidence that it
/// happened and how it ended. `figures` are `name:value` facts (no client data).
pub(crate) async fn log_run(
    record: &kring_record::Record,
    interaction: &str,
    ok: bool,
    id: &str,
    figures: Vec<String>,
) -> Result<(), kring_record::RecordError> {
    let caller = kring_record::Caller::operator("continuity");
    record
        .log_event(kring_audit::AccessEntry {
            action: "E".into(),
            interaction: interaction.into(),
            outcome: if ok { "success" } else { "failed" }.into(),
            user: kring_record::logging::actor_of(&caller),
            data: kring_audit::Data {
                resource_type: "Backup".into(),
                id: id.into(),
                category: String::new(),
            },
            source: kring_audit::Origin {
                system: "kring-continuity".into(),
                address: "local".into(),
                user_agent: String::new(),
            },
            purpose: "HSYSADMIN".into(),
            reasons: figures,
            ..kring_audit::AccessEntry::default()
        })
        .await
}

/// The access-log entry of someone looking at the continuity evidence (no client data).
pub fn view_entry(caller: &kring_record::Caller) -> kring_audit::AccessEntry {
    kring_audit::AccessEntry {
        action: "R".into(),
        interaction: "continuity-view".into(),
        outcome: "success".into(),
        user: kring_record::logging::actor_of(caller),
        data: kring_audit::Data {
            resource_type: "Backup".into(),
            id: String::new(),
            category: String::new(),
        },
        source: kring_audit::Origin {
            system: caller.system.clone(),
            address: caller.source.clone(),
            user_agent: caller.user_agent.clone(),
        },
        purpose: "HSYSADMIN".into(),
        ..kring_audit::AccessEntry::default()
    }
}

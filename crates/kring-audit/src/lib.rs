//! The access log: every access to client data is recorded here, durably, *before* the data
//! leaves the server; if the log cannot be written, the access fails.
//!
//! Owns: the [`AccessEntry`] (NEN 7513 fields), the [`AccessLog`] interface the record writes
//! to and reads from, and the log itself, [`MerkleLog`]: an append-only log in its own
//! SQLite database, hashed into an RFC 6962 Merkle tree ([`merkle`]), with Ed25519-signed
//! [`checkpoint`]s published to a [`witness`], [`verify`]-able from scratch, and readable as
//! FHIR `AuditEvent`s and syslog lines ([`audit_event`]); and the same log served to several
//! servers from one process ([`service`], [`remote`]). Must never: hold a BSN; entries name
//! clients by their Patient id only.

pub mod audit_event;
pub mod checkpoint;
mod columns;
mod entry;
pub mod ledger;
pub mod merkle;
pub mod remote;
mod scan;
pub mod service;
pub mod syslog;
pub mod verify;
pub mod witness;

pub use checkpoint::Checkpoint;
pub use entry::{AccessEntry, Actor, Data, Origin};
pub use ledger::{LogConfig, MerkleLog};
pub use merkle::Hash;
pub use remote::RemoteLog;
pub use witness::Witness;

/// Why the log could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log cannot be written or read: the request that needed it fails (503).
    #[error("the access log cannot be used: {0}")]
    Unavailable(String),
    /// The question cannot be answered as asked (a proof for more entries than exist …).
    #[error("{0}")]
    Invalid(String),
}

/// Which entries to read back. Every filter narrows; `clients` and `user_org` together mean
/// "entries about these clients *or* by users of this organisation" (what a reader may see).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LogQuery {
    pub id: Option<u64>,
    pub client: Option<String>,
    /// A user id (`account/…`).
    pub user: Option<String>,
    /// Any of these outcomes.
    pub outcome: Vec<String>,
    /// The acting user: an account id (`account/…`) or person (`Practitioner/…`).
    pub agent: Option<String>,
    pub purpose: Option<String>,
    pub action: Option<String>,
    pub data_type: Option<String>,
    pub data_id: Option<String>,
    /// The network address the request came from (`source.address`).
    pub address: Option<String>,
    /// Any of these roles acted (`user.role`: `PractitionerRole/…`).
    pub roles: Option<Vec<String>>,
    pub clients: Option<Vec<String>>,
    /// `Organization/…` of the acting user.
    pub user_org: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: usize,
    pub offset: usize,
}

/// Where entries go, and where they are read back.
#[async_trait::async_trait]
pub trait AccessLog: Send + Sync + 'static {
    /// Records entries; returns only when they are durably stored.
    async fn record(&self, entries: Vec<AccessEntry>) -> Result<(), AuditError>;
    /// Entries matching `q`, newest first.
    async fn query(&self, q: &LogQuery) -> Result<Vec<AccessEntry>, AuditError>;
    /// Up to `limit` entries from entry `first` on, oldest first.
    async fn entries_from(&self, first: u64, limit: usize) -> Result<Vec<AccessEntry>, AuditError>;
    /// The latest signed checkpoint.
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, AuditError>;
    /// The RFC 6962 inclusion proof of entry `index` in the tree of `size` entries.
    async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError>;
    /// The RFC 6962 consistency proof between the trees of `first` and `second` entries.
    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, AuditError>;
    /// The leaf hash of entry `index`.
    async fn leaf(&self, index: u64) -> Result<Option<Hash>, AuditError>;
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    kring_fhir::datetime::now_ms()
}

/// The current time as recorded in entries (UTC, milliseconds).
pub fn now() -> String {
    kring_fhir::datetime::format_instant(now_ms())
}

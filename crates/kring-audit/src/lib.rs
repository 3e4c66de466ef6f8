//! The access log point: every access to client data is recorded here, durably, *before* the
//! data leaves the server. If the log cannot be written, the access fails.
//!
//! Owns: the [`AccessEntry`] (NEN 7513 fields) and the [`AccessLog`] interface, with one durable
//! implementation, [`FileLog`]: an append-only NDJSON file written by one task that gathers
//! concurrent entries into one write and one fsync (group commit) and only then acknowledges
//! them. Must never: hold a BSN or a name; entries carry ids only.

mod file;

pub use file::FileLog;

use serde::Serialize;

/// One access, as NEN 7513 asks: who, which client, what, when, from where, on what ground,
/// and the outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccessEntry {
    /// When, UTC with milliseconds.
    pub recorded: String,
    /// C, R, U, D or E.
    pub action: &'static str,
    /// The FHIR interaction (`read`, `search-type`, `create` …) or CLI command.
    pub interaction: String,
    /// `success`, `denied`, `not-found`, `invalid` or `failed`.
    pub outcome: &'static str,
    /// Who (a stable id, never a name).
    pub subject: String,
    /// The client (Patient id); empty for shared data or when unknown.
    pub client: String,
    pub resource_type: String,
    pub resource_id: String,
    /// From where: network address or `cli`.
    pub source: String,
    /// The decision's reasons.
    pub reasons: Vec<String>,
}

/// Why an entry could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the access log cannot be written: {0}")]
    Unavailable(String),
}

/// Where entries go.
#[async_trait::async_trait]
pub trait AccessLog: Send + Sync + 'static {
    /// Records entries; returns only when they are durably stored.
    async fn record(&self, entries: Vec<AccessEntry>) -> Result<(), AuditError>;
}

/// The current time as recorded in entries.
pub fn now() -> String {
    kring_fhir::datetime::format_instant(kring_fhir::datetime::now_ms())
}

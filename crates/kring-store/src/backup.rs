//! Taking one consistent copy of a whole database — the record and the accounts beside it —
//! while it keeps serving, and counting what a database holds, so that a restore can be
//! checked against what was copied. Each backend copies with its own well-kept tool: SQLite
//! with `VACUUM INTO`, PostgreSQL with `pg_dump` inside an exported snapshot.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// How a copy of the database is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SnapshotFormat {
    /// A whole SQLite database file (`VACUUM INTO`).
    SqliteFile,
    /// `pg_dump --format=custom` of the tables Kring owns; `schema` when the store works in a
    /// schema of its own (tests, benchmarks), else `public`.
    PgDump { schema: String },
}

/// What a database holds, as counted inside one consistent view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Current (not deleted) resources per type.
    pub resources: BTreeMap<String, u64>,
    /// Every stored version, deletions included.
    pub versions: u64,
    /// People's accounts.
    pub accounts: u64,
    /// Registered partner systems.
    pub partners: u64,
}

impl Counts {
    /// Current resources of all types together.
    pub fn total(&self) -> u64 {
        self.resources.values().sum()
    }
}

/// One resource of the copy with the SHA-256 of its stored bytes: a restore must give back
/// exactly these bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub rtype: String,
    pub id: String,
    pub version: i64,
    /// Lower-case hex.
    pub sha256: String,
}

/// A copy just taken: how it is written, the schema version it has, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: SnapshotFormat,
    /// The newest migration applied.
    pub schema_version: i64,
    pub counts: Counts,
    /// A few resources chosen at random, with their bytes' hash.
    pub samples: Vec<Sample>,
}

/// How many resources a snapshot samples.
pub const SAMPLES: usize = 25;

/// Copying and counting a whole database.
#[async_trait]
pub trait Backup: Send + Sync {
    /// Writes one consistent copy of the whole database to the file `into` (which must not
    /// exist) while reads and writes go on, and counts and samples that same copy.
    async fn snapshot(&self, into: &Path) -> Result<Snapshot>;

    /// What the database holds now.
    async fn counts(&self) -> Result<Counts>;
}

/// The SHA-256 of bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The statements both backends count with.
pub mod sql {
    /// Current resources per type.
    pub const RESOURCES_PER_TYPE: &str =
        "SELECT res_type, COUNT(*) FROM resources WHERE deleted = 0 GROUP BY res_type";
    pub const VERSIONS: &str = "SELECT COUNT(*) FROM resource_versions";
    pub const ACCOUNTS: &str = "SELECT COUNT(*) FROM accounts";
    pub const PARTNERS: &str = "SELECT COUNT(*) FROM partner_clients";
    /// The newest migration applied.
    pub const SCHEMA_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations";
}

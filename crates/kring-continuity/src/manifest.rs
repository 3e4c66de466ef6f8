//! What a backup holds, written beside its files as `manifest.json`: when it was made, from
//! which schema, every file with its size and checksum, and what the record held then. The
//! manifest names no person: counts per type, sizes and hashes only. The resources a restore
//! is checked against (ids and hashes) travel encrypted, as one of the files.

use std::path::Path;

use kring_store::backup::{Counts, SnapshotFormat};
use serde::{Deserialize, Serialize};

use crate::ContinuityError;

/// This layout of a backup folder; a restore refuses a format it does not know.
pub const FORMAT: u32 = 1;

/// The manifest's file name in a backup folder.
pub const FILE: &str = "manifest.json";

/// One part of an installation in a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// The record and the accounts (one database).
    Record,
    /// The access log's SQLite file.
    AccessLog,
    /// The key that signs the log's checkpoints.
    SigningKey,
    /// Its public half.
    PublicKey,
    /// The witness's copy of the checkpoints, when the witness is a file.
    Witness,
    /// The privacy officer's review store.
    Review,
    /// The resources a restore is checked against.
    Samples,
}

impl Part {
    /// The name of the part's file in a restored installation.
    pub fn restored_name(self) -> &'static str {
        match self {
            Part::Record => "kring.db",
            Part::AccessLog => "kring-access-log.db",
            Part::SigningKey => "kring-access-log.key",
            Part::PublicKey => "kring-access-log.pub",
            Part::Witness => "kring-witness.log",
            Part::Review => "kring-access-log-review.db",
            Part::Samples => "samples.json",
        }
    }
}

/// One encrypted file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub part: Part,
    /// The file's name in the backup folder.
    pub name: String,
    /// Bytes before encryption.
    pub plain_bytes: u64,
    /// Bytes on disk (encrypted).
    pub bytes: u64,
    /// SHA-256 of the encrypted file, lower-case hex: checked before anything is decrypted.
    pub sha256: String,
}

/// The access log as it was backed up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogState {
    /// Entries in the copy.
    pub entries: u64,
    /// The size of the latest signed checkpoint in the copy.
    pub checkpoint_size: u64,
    /// That checkpoint's root hash, hex.
    pub checkpoint_root: String,
}

/// A backup's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The backup's name: `kring-<UTC time>`.
    pub id: String,
    /// When the copy of the record was taken (ms since the epoch): how old a restore's data is.
    pub data_as_of_ms: i64,
    /// When the backup was complete.
    pub finished_ms: i64,
    pub took_ms: u64,
    pub kring_version: String,
    /// How the record was copied (and so how it is restored).
    pub record_format: SnapshotFormat,
    /// The database schema's newest migration.
    pub schema_version: i64,
    /// The age recipients the files are encrypted to (public keys).
    pub recipients: Vec<String>,
    pub files: Vec<FileEntry>,
    /// What the record held.
    pub counts: Counts,
    pub log: LogState,
}

impl Manifest {
    /// Reads the manifest of the backup folder `dir`.
    pub fn read(dir: &Path) -> Result<Manifest, ContinuityError> {
        let path = dir.join(FILE);
        let text = std::fs::read(&path).map_err(|e| {
            ContinuityError::Backup(format!(
                "{} is not a backup: no readable {FILE} ({e})",
                dir.display()
            ))
        })?;
        let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
            ContinuityError::Backup(format!("{} is not a valid manifest: {e}", path.display()))
        })?;
        if m.format != FORMAT {
            return Err(ContinuityError::Backup(format!(
                "{} is a backup of format {}; this Kring reads format {FORMAT}",
                dir.display(),
                m.format
            )));
        }
        Ok(m)
    }

    /// The file of a part, when the backup has one.
    pub fn file(&self, part: Part) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.part == part)
    }

    /// Bytes on disk, all files together.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Bytes before encryption, all files together.
    pub fn plain_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.plain_bytes).sum()
    }
}

//! `kring backup`: one consistent, encrypted copy of an installation while it serves.
//!
//! The order makes the parts agree without stopping anything: first the record (a write is
//! logged before it commits, so every write in the copy has its entry in the log copied after
//! it); then the witness file (checkpoints reach the witness after the log has them, so every
//! checkpoint in the copy of the witness is in the log copied after it); then the log, its
//! keys and the review store. Each part is copied by its database's own tool into a private
//! working folder, encrypted to the backup recipients, hashed, and removed in plain form; the
//! manifest is written last and the folder renamed from `….partial` only when complete.

use std::path::{Path, PathBuf};
use std::time::Instant;

use age::x25519::Recipient;
use kring_store::backup::{Snapshot, SnapshotFormat};

use crate::crypt::{self, Sealed};
use crate::manifest::{FileEntry, LogState, Manifest, Part, FORMAT};
use crate::{now_ms, ContinuityError, Installation};

/// Where backups go and for whom they are encrypted.
#[derive(Clone)]
pub struct Settings {
    /// The folder that holds one folder per backup (`backup_dir`).
    pub dir: PathBuf,
    /// The age recipients (`backup_recipient`).
    pub recipients: Vec<Recipient>,
    /// How many complete backups to keep (`backup_keep`); older ones are removed after a
    /// backup succeeds. At least one.
    pub keep: usize,
}

/// Removes a folder when dropped (the plain copies, whatever happens).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.0) {
                tracing::error!(error = %e, folder = %self.0.display(), "a backup's plain working folder could not be removed");
            }
        }
    }
}

/// The name of a new backup: `kring-<UTC time to the millisecond>`, sortable.
fn new_id() -> String {
    format!("kring-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"))
}

/// Takes one backup of `inst` into `settings.dir` and removes the backups beyond
/// `settings.keep`. Returns the new backup's manifest.
pub async fn take(inst: &Installation, settings: &Settings) -> Result<Manifest, ContinuityError> {
    let started = Instant::now();
    crypt::private_dir(&settings.dir)?;
    let id = new_id();
    let partial = settings.dir.join(format!("{id}.partial"));
    let plain = Scratch(settings.dir.join(format!(".plain-{id}")));
    crypt::private_dir(&plain.0)?;
    crypt::private_dir(&partial)?;
    let mut unfinished = Scratch(partial.clone());

    let mut files = Vec::new();
    let recipients = settings.recipients.clone();
    let seal = |part: Part, from: PathBuf, name: String| {
        let to = partial.join(&name);
        let recipients = recipients.clone();
        async move {
            let Sealed {
                plain_bytes,
                bytes,
                sha256,
            } = tokio::task::spawn_blocking(move || {
                let s = crypt::encrypt_file(&from, &to, &recipients);
                // The plain copy goes as soon as it is sealed.
                let _ = std::fs::remove_file(&from);
                s
            })
            .await
            .map_err(|e| ContinuityError::Io(format!("encryption stopped: {e}")))??;
            Ok::<_, ContinuityError>(FileEntry {
                part,
                name,
                plain_bytes,
                bytes,
                sha256,
            })
        }
    };

    // 1. The record and the accounts.
    let data_as_of_ms = now_ms();
    let record_plain = plain.0.join("record");
    let Snapshot {
        format,
        schema_version,
        counts,
        samples,
    } = inst.database.snapshot(&record_plain).await?;
    let record_name = match format {
        SnapshotFormat::SqliteFile => "record.sqlite.age",
        SnapshotFormat::PgDump { .. } => "record.pgdump.age",
    };
    files.push(seal(Part::Record, record_plain, record_name.into()).await?);

    // 2. The witness's checkpoints, when the witness is a file.
    if let kring_audit::Witness::File(w) = &inst.log.witness {
        if w.exists() {
            let to = plain.0.join("witness");
            std::fs::copy(w, &to).map_err(|e| {
                ContinuityError::Io(format!("cannot copy the witness {}: {e}", w.display()))
            })?;
            files.push(seal(Part::Witness, to, "witness.log.age".into()).await?);
        }
    }

    // 3. The access log and its keys.
    let log_plain = plain.0.join("access-log");
    kring_audit::ledger::copy_into(&inst.log.path, &log_plain)
        .await
        .map_err(|e| ContinuityError::Log(e.to_string()))?;
    let log = log_state(&log_plain).await?;
    files.push(seal(Part::AccessLog, log_plain, "access-log.sqlite.age".into()).await?);
    for (part, from, name) in [
        (
            Part::SigningKey,
            inst.log.key_path.clone(),
            "access-log.key.age",
        ),
        (
            Part::PublicKey,
            kring_audit::checkpoint::public_path(&inst.log.key_path),
            "access-log.pub.age",
        ),
    ] {
        if from.exists() {
            let to = plain.0.join(name);
            std::fs::copy(&from, &to)
                .map_err(|e| ContinuityError::Io(format!("cannot copy {}: {e}", from.display())))?;
            files.push(seal(part, to, name.into()).await?);
        } else if part == Part::SigningKey {
            return Err(ContinuityError::Log(format!(
                "the log's signing key {} is missing; without it a restored log cannot go on",
                from.display()
            )));
        }
    }

    // 4. The review store (cases, decisions, warnings), when there is one.
    if inst.review.exists() {
        let to = plain.0.join("review");
        sqlite_copy(&inst.review, &to).await?;
        files.push(seal(Part::Review, to, "review.sqlite.age".into()).await?);
    }

    // 5. The resources a restore is checked against.
    let sample_bytes = serde_json::to_vec(&samples).expect("samples serialise");
    let to = partial.join("samples.json.age");
    let recipients = settings.recipients.clone();
    let sealed = tokio::task::spawn_blocking(move || {
        crypt::encrypt_reader(&mut sample_bytes.as_slice(), &to, &recipients)
    })
    .await
    .map_err(|e| ContinuityError::Io(format!("encryption stopped: {e}")))??;
    files.push(FileEntry {
        part: Part::Samples,
        name: "samples.json.age".into(),
        plain_bytes: sealed.plain_bytes,
        bytes: sealed.bytes,
        sha256: sealed.sha256,
    });

    let manifest = Manifest {
        format: FORMAT,
        id: id.clone(),
        data_as_of_ms,
        finished_ms: now_ms(),
        took_ms: started.elapsed().as_millis() as u64,
        kring_version: env!("CARGO_PKG_VERSION").into(),
        record_format: format,
        schema_version,
        recipients: settings.recipients.iter().map(|r| r.to_string()).collect(),
        files,
        counts,
        log,
    };
    write_synced(
        &partial.join(crate::manifest::FILE),
        &serde_json::to_vec_pretty(&manifest).expect("manifest serialises"),
    )?;
    let done = settings.dir.join(&id);
    std::fs::rename(&partial, &done)
        .map_err(|e| ContinuityError::Io(format!("cannot complete {}: {e}", done.display())))?;
    unfinished.0 = PathBuf::new();
    sync_dir(&settings.dir);
    prune(&settings.dir, settings.keep.max(1));
    tracing::info!(
        backup = %id,
        resources = manifest.counts.total(),
        bytes = manifest.bytes(),
        took_ms = manifest.took_ms,
        "backup complete"
    );
    Ok(manifest)
}

/// The access log as copied: its size and latest checkpoint.
async fn log_state(copy: &Path) -> Result<LogState, ContinuityError> {
    let pool = kring_audit::ledger::open_read_only(copy)
        .await
        .map_err(|e| ContinuityError::Log(e.to_string()))?;
    let entries = kring_audit::ledger::entry_count(&pool)
        .await
        .map_err(|e| ContinuityError::Log(e.to_string()))?;
    let cp = kring_audit::ledger::last_checkpoint(&pool)
        .await
        .map_err(|e| ContinuityError::Log(e.to_string()))?;
    pool.close().await;
    Ok(LogState {
        entries,
        checkpoint_size: cp.as_ref().map(|c| c.size).unwrap_or(0),
        checkpoint_root: cp.map(|c| crypt::hex(&c.root)).unwrap_or_default(),
    })
}

/// A consistent copy of a SQLite file that may be in use (`VACUUM INTO`; the connection is
/// not read-only, as SQLite opens the copy with its flags, but it only reads).
async fn sqlite_copy(from: &Path, into: &Path) -> Result<(), ContinuityError> {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(from)
        .connect()
        .await
        .map_err(|e| ContinuityError::Io(format!("cannot open {}: {e}", from.display())))?;
    let target = into.to_string_lossy().to_string();
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(|e| ContinuityError::Io(format!("cannot copy {}: {e}", from.display())))?;
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ContinuityError> {
    use std::io::Write;
    let mut f = crypt::new_private_file(path)?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| ContinuityError::Io(format!("cannot write {}: {e}", path.display())))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes complete backups beyond the newest `keep`, and leftovers of backups that stopped
/// half-way more than a day ago.
fn prune(dir: &Path, keep: usize) {
    let complete = crate::evidence::backups(dir);
    for old in complete.iter().skip(keep) {
        if let Err(e) = std::fs::remove_dir_all(dir.join(&old.id)) {
            tracing::warn!(error = %e, backup = %old.id, "an old backup could not be removed");
        } else {
            tracing::info!(backup = %old.id, "old backup removed (backup_keep)");
        }
    }
    let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .map(|t| t < day_ago)
            .unwrap_or(false);
        if stale && (name.ends_with(".partial") || name.starts_with(".plain-")) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

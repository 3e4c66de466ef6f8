//! `kring restore`: a backup into an empty place, from which Kring starts.
//!
//! Every file's checksum is checked against the manifest before anything is decrypted or
//! written; a place that holds anything is refused, never overwritten. The record goes back
//! with its database's own tool (a SQLite file as it was copied; `pg_restore` in one
//! transaction into an empty PostgreSQL database); the access log, its keys, the witness's
//! copy and the review store go into the folder, with a `kring.toml` that names them all, so
//! `kring serve --config FOLDER/kring.toml` starts the restored installation and its access log
//! goes on from the tree it had.

use std::path::{Path, PathBuf};
use std::time::Instant;

use age::x25519::Identity;
use kring_store::backup::SnapshotFormat;

use crate::crypt;
use crate::manifest::{Manifest, Part};
use crate::ContinuityError;

/// Where a backup goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A folder for everything (a SQLite backup).
    Folder(PathBuf),
    /// An empty PostgreSQL database for the record and accounts, and a folder for the rest
    /// (a PostgreSQL backup).
    Postgres { url: String, folder: PathBuf },
}

impl Target {
    fn folder(&self) -> &Path {
        match self {
            Target::Folder(f) | Target::Postgres { folder: f, .. } => f,
        }
    }
}

/// A restored installation.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    /// The folder with the access log, keys, review store and `kring.toml`.
    pub folder: PathBuf,
    /// The database setting of the restored installation (no password in it).
    pub database: String,
    /// The PostgreSQL schema the record was restored into (`public` unless the source used
    /// another).
    pub schema: Option<String>,
    /// The `kring.toml` written.
    pub config: PathBuf,
    /// Checking, decrypting and loading together.
    pub took_ms: u64,
}

impl Restored {
    /// The restored access log's settings.
    pub fn log_config(&self) -> kring_audit::LogConfig {
        let mut c = kring_audit::LogConfig::at(&self.folder.join(Part::AccessLog.restored_name()));
        let witness = self.folder.join(Part::Witness.restored_name());
        if witness.exists() {
            c.witness = kring_audit::Witness::File(witness);
        }
        c
    }
}

/// Checks every file of the backup in `dir` against its manifest.
pub fn check_files(dir: &Path, manifest: &Manifest) -> Result<(), ContinuityError> {
    for f in &manifest.files {
        let path = dir.join(&f.name);
        let meta = std::fs::metadata(&path).map_err(|_| {
            ContinuityError::Backup(format!(
                "the backup {} is incomplete: {} is missing",
                manifest.id, f.name
            ))
        })?;
        if meta.len() != f.bytes || crypt::file_sha256(&path)? != f.sha256 {
            return Err(ContinuityError::Backup(format!(
                "the backup {} is damaged: {} does not match its checksum in the manifest",
                manifest.id, f.name
            )));
        }
    }
    if manifest.file(Part::Record).is_none() || manifest.file(Part::AccessLog).is_none() {
        return Err(ContinuityError::Backup(format!(
            "the backup {} lacks the record or the access log",
            manifest.id
        )));
    }
    Ok(())
}

/// Refuses a folder that holds anything; creates it (private) when missing.
fn empty_folder(folder: &Path) -> Result<(), ContinuityError> {
    if folder.exists() {
        let mut entries = std::fs::read_dir(folder).map_err(|e| {
            ContinuityError::Target(format!("cannot read {}: {e}", folder.display()))
        })?;
        if entries.next().is_some() {
            return Err(ContinuityError::Target(format!(
                "{} is not empty; a restore goes into an empty place and never overwrites",
                folder.display()
            )));
        }
    }
    crypt::private_dir(folder)
}

/// Restores the backup in the folder `backup` into `target` with `identities`.
pub async fn restore(
    backup: &Path,
    identities: &[Identity],
    target: Target,
) -> Result<Restored, ContinuityError> {
    let started = Instant::now();
    let manifest = Manifest::read(backup)?;
    let schema = match (&manifest.record_format, &target) {
        (SnapshotFormat::SqliteFile, Target::Folder(_)) => None,
        (SnapshotFormat::PgDump { schema }, Target::Postgres { .. }) => Some(schema.clone()),
        (SnapshotFormat::SqliteFile, Target::Postgres { .. }) => {
            return Err(ContinuityError::Target(format!(
                "{} is a backup of a SQLite installation: restore it into a folder (--into FOLDER)",
                manifest.id
            )))
        }
        (SnapshotFormat::PgDump { .. }, Target::Folder(_)) => {
            return Err(ContinuityError::Target(format!(
                "{} is a backup of a PostgreSQL installation: restore it into an empty database (--into postgres://…/DATABASE --files FOLDER)",
                manifest.id
            )))
        }
    };
    let folder = target.folder().to_path_buf();
    let folder = if folder.is_absolute() {
        folder
    } else {
        std::env::current_dir()
            .map_err(|e| ContinuityError::Io(e.to_string()))?
            .join(folder)
    };
    {
        let (dir, m) = (backup.to_path_buf(), manifest.clone());
        tokio::task::spawn_blocking(move || check_files(&dir, &m))
            .await
            .map_err(|e| ContinuityError::Io(e.to_string()))??;
    }
    empty_folder(&folder)?;
    // The record first: a PostgreSQL target that is not empty stops the restore before any
    // file is written.
    let record = manifest.file(Part::Record).expect("checked").clone();
    let database = match &target {
        Target::Folder(_) => {
            let to = folder.join(Part::Record.restored_name());
            decrypt(backup.join(&record.name), to.clone(), identities).await?;
            format!("sqlite:{}", to.display())
        }
        Target::Postgres { url, .. } => {
            let dump = folder.join(".record.pgdump");
            decrypt(backup.join(&record.name), dump.clone(), identities).await?;
            let restored = kring_store_postgres::PgStore::restore_dump(
                url,
                &dump,
                schema.as_deref().unwrap_or("public"),
            )
            .await;
            let _ = std::fs::remove_file(&dump);
            restored?;
            without_password(url)
        }
    };
    for f in manifest
        .files
        .iter()
        .filter(|f| !matches!(f.part, Part::Record | Part::Samples))
    {
        decrypt(
            backup.join(&f.name),
            folder.join(f.part.restored_name()),
            identities,
        )
        .await?;
    }
    let config = folder.join("kring.toml");
    let mut toml = format!(
        "# Written by `kring restore` from backup {} (its data as of {}).\n\
         # Start with: kring serve --config {}\n",
        manifest.id,
        chrono::DateTime::from_timestamp_millis(manifest.data_as_of_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default(),
        config.display()
    );
    if database.starts_with("postgres") {
        toml.push_str(
            "# The database's password is not written here: give it in KRING_DATABASE.\n",
        );
    }
    toml.push_str(&format!("database = {:?}\n", database));
    let log = folder.join(Part::AccessLog.restored_name());
    toml.push_str(&format!("access_log = {:?}\n", log.display().to_string()));
    toml.push_str(&format!(
        "audit_key = {:?}\n",
        folder
            .join(Part::SigningKey.restored_name())
            .display()
            .to_string()
    ));
    let witness = folder.join(Part::Witness.restored_name());
    if witness.exists() {
        toml.push_str(
            "# The witness as it was at the backup. Point audit_witness at a new witness file on\n\
             # another disk and keep the old one: it shows which checkpoints the restore lost.\n",
        );
        toml.push_str(&format!(
            "audit_witness = {:?}\n",
            witness.display().to_string()
        ));
    }
    toml.push_str(&format!(
        "oversight_review = {:?}\n",
        folder
            .join(Part::Review.restored_name())
            .display()
            .to_string()
    ));
    std::fs::write(&config, toml)
        .map_err(|e| ContinuityError::Io(format!("cannot write {}: {e}", config.display())))?;
    Ok(Restored {
        manifest,
        folder,
        database,
        schema,
        config,
        took_ms: started.elapsed().as_millis() as u64,
    })
}

async fn decrypt(
    from: PathBuf,
    to: PathBuf,
    identities: &[Identity],
) -> Result<u64, ContinuityError> {
    let ids = identities.to_vec();
    tokio::task::spawn_blocking(move || crypt::decrypt_file(&from, &to, &ids))
        .await
        .map_err(|e| ContinuityError::Io(format!("decryption stopped: {e}")))?
}

/// A PostgreSQL URL without its password.
pub fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_never_reaches_the_restored_config() {
        use super::without_password as w;
        assert_eq!(
            w("postgres://kring:geheim@db/kring"),
            "postgres://kring@db/kring"
        );
        assert_eq!(w("postgres://kring@db/kring"), "postgres://kring@db/kring");
        assert_eq!(w("postgres://db/kring"), "postgres://db/kring");
    }
}

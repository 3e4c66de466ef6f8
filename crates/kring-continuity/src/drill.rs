//! `kring drill`: a backup counts when a restore from it was tried. A drill restores the
//! latest backup into a scratch place, checks what came back — every file's checksum, the
//! counts per type against the manifest, the access log verified from scratch, the restored
//! installation opening as Kring opens it, a sample of resources read back byte for byte and
//! found again by a search — measures how long the restore took (the RTO it shows) and how old
//! the restored data was (the RPO), and keeps its report as evidence in `backup_dir/drills/`.
//! A drill never ends in an error: a failure is a report that says which check failed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use age::x25519::Identity;
use kring_store::backup::{Counts, Sample};
use serde::{Deserialize, Serialize};

use crate::manifest::{Manifest, Part};
use crate::restore::{self, Restored, Target};
use crate::{evidence, now_ms, ContinuityError};

/// Where a drill restores to.
#[derive(Debug, Clone)]
pub enum Scratch {
    /// A temporary folder inside this one (SQLite backups).
    Folder(PathBuf),
    /// A temporary database on this PostgreSQL server, made and dropped by the drill (the URL
    /// of any database there, for a user that may create databases), and a temporary folder in
    /// `folder` for the rest.
    Postgres { server: String, folder: PathBuf },
}

/// One check of a drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// Every file is there and matches its checksum; it decrypts and loads.
    Restore,
    /// Current resources per type, versions, accounts and partner systems equal the manifest.
    Counts,
    /// The restored access log verifies from scratch (tree, signatures, witness copy).
    AccessLog,
    /// The restored installation opens as Kring opens it (the log matches its checkpoint, the
    /// access decision loads its facts).
    Starts,
    /// Sampled resources read back with exactly the bytes backed up.
    Reads,
    /// The sampled resources are found again by a search.
    Search,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub kind: CheckKind,
    pub ok: bool,
    /// What was found, in a sentence (no names, no ids of clients).
    pub detail: String,
}

/// A drill's report: the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillReport {
    /// `drill-<UTC time>`.
    pub id: String,
    /// The backup restored, when there was one.
    pub backup: Option<String>,
    pub started_ms: i64,
    pub finished_ms: i64,
    /// Every check passed.
    pub ok: bool,
    /// Checking, decrypting and loading the backup.
    pub restore_ms: u64,
    /// From the start of the drill until the restored installation answered its first read:
    /// the recovery time this backup gives.
    pub rto_ms: u64,
    /// How old the restored data was when the drill started: what a loss now would cost.
    pub rpo_ms: i64,
    /// Where it restored to: `sqlite` or `postgresql`.
    pub backend: String,
    pub resources: u64,
    pub bytes: u64,
    pub checks: Vec<Check>,
}

impl DrillReport {
    fn check(&mut self, kind: CheckKind, ok: bool, detail: impl Into<String>) {
        self.ok &= ok;
        self.checks.push(Check {
            kind,
            ok,
            detail: detail.into(),
        });
    }
}

/// Runs a drill on the latest backup in `backup_dir` and keeps its report there.
pub async fn run(
    backup_dir: &std::path::Path,
    identities: &[Identity],
    scratch: Scratch,
) -> DrillReport {
    let started = Instant::now();
    let started_ms = now_ms();
    let id = format!("drill-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"));
    let mut report = DrillReport {
        id: id.clone(),
        backup: None,
        started_ms,
        finished_ms: started_ms,
        ok: true,
        restore_ms: 0,
        rto_ms: 0,
        rpo_ms: 0,
        backend: match &scratch {
            Scratch::Folder(_) => "sqlite".into(),
            Scratch::Postgres { .. } => "postgresql".into(),
        },
        resources: 0,
        bytes: 0,
        checks: Vec::new(),
    };
    match evidence::backups(backup_dir).into_iter().next() {
        None => report.check(
            CheckKind::Restore,
            false,
            "there is no complete backup to restore",
        ),
        Some(manifest) => {
            report.backup = Some(manifest.id.clone());
            report.rpo_ms = started_ms - manifest.data_as_of_ms;
            report.resources = manifest.counts.total();
            report.bytes = manifest.bytes();
            drill_one(
                &backup_dir.join(&manifest.id),
                identities,
                scratch,
                started,
                &mut report,
            )
            .await;
        }
    }
    report.finished_ms = now_ms();
    if let Err(e) = keep(backup_dir, &report) {
        tracing::error!(error = %e, "the drill's report could not be kept");
        report.check(
            CheckKind::Restore,
            false,
            format!("the report could not be kept: {e}"),
        );
    }
    if report.ok {
        tracing::info!(drill = %report.id, rto_ms = report.rto_ms, rpo_ms = report.rpo_ms, "restore drill passed");
    } else {
        tracing::error!(drill = %report.id, "restore drill FAILED: see the administrators' page");
    }
    report
}

fn keep(backup_dir: &std::path::Path, report: &DrillReport) -> Result<(), ContinuityError> {
    let dir = evidence::drills_dir(backup_dir);
    crate::crypt::private_dir(&dir)?;
    let path = dir.join(format!("{}.json", report.id));
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(report).expect("report serialises"),
    )
    .map_err(|e| ContinuityError::Io(format!("cannot write {}: {e}", path.display())))
}

/// A scratch place that is removed when the drill ends, whatever happened.
struct Cleanup {
    folder: PathBuf,
    database: Option<(String, String)>,
}

impl Cleanup {
    async fn run(self) {
        let _ = std::fs::remove_dir_all(&self.folder);
        if let Some((server, name)) = self.database {
            if let Err(e) = drop_database(&server, &name).await {
                tracing::warn!(error = %e, database = %name, "the drill's scratch database could not be dropped");
            }
        }
    }
}

async fn drill_one(
    dir: &std::path::Path,
    identities: &[Identity],
    scratch: Scratch,
    started: Instant,
    report: &mut DrillReport,
) {
    let suffix = report.id.trim_start_matches("drill-").to_lowercase();
    let (target, cleanup) = match scratch {
        Scratch::Folder(parent) => {
            let folder = parent.join(format!(".{}", report.id));
            (
                Target::Folder(folder.clone()),
                Cleanup {
                    folder,
                    database: None,
                },
            )
        }
        Scratch::Postgres { server, folder } => {
            let name = format!("kring_drill_{}", suffix.replace(['t', 'z'], "_"));
            let folder = folder.join(format!(".{}", report.id));
            let cleanup = Cleanup {
                folder: folder.clone(),
                database: Some((server.clone(), name.clone())),
            };
            match create_database(&server, &name).await {
                Ok(url) => (Target::Postgres { url, folder }, cleanup),
                Err(e) => {
                    report.check(
                        CheckKind::Restore,
                        false,
                        format!("no scratch database could be made: {e}"),
                    );
                    return;
                }
            }
        }
    };
    let url = match &target {
        Target::Postgres { url, .. } => Some(url.clone()),
        Target::Folder(_) => None,
    };
    let restored = restore::restore(dir, identities, target).await;
    report.restore_ms = started.elapsed().as_millis() as u64;
    match restored {
        Err(e) => report.check(CheckKind::Restore, false, e.to_string()),
        Ok(r) => {
            report.check(
                CheckKind::Restore,
                true,
                format!(
                    "{} files checked against their checksums, decrypted and loaded in {:.1} s",
                    r.manifest.files.len(),
                    r.took_ms as f64 / 1000.0
                ),
            );
            check_restored(&r, url.as_deref(), identities, dir, started, report).await;
        }
    }
    cleanup.run().await;
}

/// Opens the restored record's database.
async fn open_store(
    r: &Restored,
    url: Option<&str>,
) -> Result<Arc<dyn kring_store::Database>, ContinuityError> {
    Ok(match url {
        None => Arc::new(kring_store_sqlite::SqliteStore::open(&r.database).await?),
        Some(url) => match r.schema.as_deref() {
            Some(s) if s != "public" => {
                Arc::new(kring_store_postgres::PgStore::connect_in_schema(url, s).await?)
            }
            _ => Arc::new(kring_store_postgres::PgStore::connect(url).await?),
        },
    })
}

async fn check_restored(
    r: &Restored,
    url: Option<&str>,
    identities: &[Identity],
    dir: &std::path::Path,
    started: Instant,
    report: &mut DrillReport,
) {
    let store = match open_store(r, url).await {
        Ok(s) => s,
        Err(e) => {
            report.check(
                CheckKind::Counts,
                false,
                format!("the restored database does not open: {e}"),
            );
            return;
        }
    };
    // Counts against the manifest.
    match store.counts().await {
        Ok(c) => {
            let diff = differences(&r.manifest.counts, &c);
            report.check(
                CheckKind::Counts,
                diff.is_empty(),
                if diff.is_empty() {
                    format!(
                        "{} resources of {} types, {} versions, {} accounts, {} partner systems: as in the manifest",
                        c.total(),
                        c.resources.len(),
                        c.versions,
                        c.accounts,
                        c.partners
                    )
                } else {
                    format!("not as in the manifest: {}", diff.join("; "))
                },
            );
        }
        Err(e) => report.check(CheckKind::Counts, false, format!("cannot count: {e}")),
    }
    // The access log from scratch.
    let log = r.log_config();
    match verify_log(&log, &r.manifest).await {
        Ok(detail) => report.check(CheckKind::AccessLog, true, detail),
        Err(detail) => report.check(CheckKind::AccessLog, false, detail),
    }
    // Open it as Kring does, and read the samples back through the record.
    let opened = kring_audit::MerkleLog::open(log).await;
    let log = match opened {
        Ok(l) => Arc::new(l),
        Err(e) => {
            report.check(
                CheckKind::Starts,
                false,
                format!("the restored access log does not open: {e}"),
            );
            return;
        }
    };
    let access = match kring_access::NeedToKnow::new() {
        Ok(a) => a,
        Err(e) => {
            report.check(
                CheckKind::Starts,
                false,
                format!("the access rules do not load: {e}"),
            );
            return;
        }
    };
    let record = kring_record::Record::new(store.clone(), Arc::new(access), log.clone());
    match record.load_access_facts().await {
        Ok(n) => report.check(
            CheckKind::Starts,
            true,
            format!("the restored installation opened: its access log matches its last checkpoint, the access decision loaded {n} facts"),
        ),
        Err(e) => {
            report.check(CheckKind::Starts, false, format!("the access decision cannot load its facts: {e}"));
            let _ = log.shut_down().await;
            return;
        }
    }
    let samples = match r.manifest.file(Part::Samples) {
        Some(f) => crate::crypt::decrypt_to_vec(&dir.join(&f.name), identities)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<Sample>>(&b).ok()),
        None => None,
    };
    let Some(samples) = samples else {
        report.check(
            CheckKind::Reads,
            false,
            "the backup's samples cannot be read",
        );
        let _ = log.shut_down().await;
        return;
    };
    let caller = kring_record::Caller::operator("drill");
    let mut same = 0;
    let mut first = true;
    for s in &samples {
        if let Ok(v) = record.read(&caller, &s.rtype, &s.id).await {
            if first {
                report.rto_ms = started.elapsed().as_millis() as u64;
                first = false;
            }
            if v.version == s.version && kring_store::backup::sha256_hex(&v.body) == s.sha256 {
                same += 1;
            }
        }
    }
    if first {
        report.rto_ms = started.elapsed().as_millis() as u64;
    }
    report.check(
        CheckKind::Reads,
        same == samples.len(),
        format!(
            "{same} of {} sampled resources read back byte for byte",
            samples.len()
        ),
    );
    let mut found = 0;
    for s in &samples {
        let req =
            kring_record::search::SearchRequest::from_query(&s.rtype, &format!("_id={}", s.id));
        if let Ok(out) = record
            .search(&caller, &req, kring_record::search::Handling::Strict)
            .await
        {
            if out
                .matches
                .iter()
                .any(|m| m.id == s.id && kring_store::backup::sha256_hex(&m.body) == s.sha256)
            {
                found += 1;
            }
        }
    }
    report.check(
        CheckKind::Search,
        found == samples.len(),
        format!(
            "{found} of {} sampled resources found by a search",
            samples.len()
        ),
    );
    let _ = log.shut_down().await;
}

/// What differs between two counts, in words.
fn differences(want: &Counts, got: &Counts) -> Vec<String> {
    let mut out = Vec::new();
    let types: std::collections::BTreeSet<&String> =
        want.resources.keys().chain(got.resources.keys()).collect();
    for t in types {
        let (w, g) = (
            want.resources.get(t).copied().unwrap_or(0),
            got.resources.get(t).copied().unwrap_or(0),
        );
        if w != g {
            out.push(format!("{t}: {g} instead of {w}"));
        }
    }
    for (what, w, g) in [
        ("versions", want.versions, got.versions),
        ("accounts", want.accounts, got.accounts),
        ("partner systems", want.partners, got.partners),
    ] {
        if w != g {
            out.push(format!("{what}: {g} instead of {w}"));
        }
    }
    out
}

/// Verifies the restored log from scratch with its restored public key and witness copy.
async fn verify_log(log: &kring_audit::LogConfig, manifest: &Manifest) -> Result<String, String> {
    let key_file = kring_audit::checkpoint::public_path(&log.key_path);
    let key = std::fs::read_to_string(&key_file)
        .ok()
        .and_then(|t| kring_audit::checkpoint::parse_public(&t))
        .ok_or_else(|| "the restored public key cannot be read".to_string())?;
    let witnessed = match &log.witness {
        kring_audit::Witness::File(p) => kring_audit::witness::read_file(p)
            .map(|(cps, _)| cps)
            .map_err(|e| format!("the witness copy cannot be read: {e}"))?,
        _ => Vec::new(),
    };
    let pool = kring_audit::ledger::open_read_only(&log.path)
        .await
        .map_err(|e| e.to_string())?;
    let report = kring_audit::verify::verify(&pool, &key, &witnessed, |_| {})
        .await
        .map_err(|e| e.to_string())?;
    pool.close().await;
    if !report.is_intact() {
        return Err(format!(
            "the restored access log does not verify: {}",
            report.problems.join("; ")
        ));
    }
    if report.entries != manifest.log.entries {
        return Err(format!(
            "the restored access log has {} entries, the manifest {}",
            report.entries, manifest.log.entries
        ));
    }
    Ok(format!(
        "{} entries and {} signed checkpoints verified{}",
        report.entries,
        report.checkpoints,
        if witnessed.is_empty() {
            ""
        } else {
            ", the witness's included"
        }
    ))
}

/// A connection to the PostgreSQL server at `server` (any database there).
async fn server_connection(server: &str) -> Result<sqlx::PgConnection, ContinuityError> {
    use sqlx::ConnectOptions;
    let opts: sqlx::postgres::PgConnectOptions = server
        .parse()
        .map_err(|e| ContinuityError::Target(format!("invalid PostgreSQL URL: {e}")))?;
    opts.connect()
        .await
        .map_err(|e| ContinuityError::Target(format!("cannot reach PostgreSQL: {e}")))
}

/// Makes the scratch database and returns its URL.
async fn create_database(server: &str, name: &str) -> Result<String, ContinuityError> {
    use sqlx::Connection;
    let mut conn = server_connection(server).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|e| ContinuityError::Target(format!("cannot make a scratch database: {e}")))?;
    conn.close().await.ok();
    Ok(with_database(server, name))
}

async fn drop_database(server: &str, name: &str) -> Result<(), ContinuityError> {
    use sqlx::Connection;
    let mut conn = server_connection(server).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .map_err(|e| ContinuityError::Target(e.to_string()))?;
    conn.close().await.ok();
    Ok(())
}

/// The URL of another database on the same server.
pub fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (server, String::new()),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..host_end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scratch_database_is_on_the_same_server() {
        use super::with_database as w;
        assert_eq!(
            w("postgres://postgres@127.0.0.1:5432/postgres", "d"),
            "postgres://postgres@127.0.0.1:5432/d"
        );
        assert_eq!(
            w("postgres://u:p@h/x?sslmode=disable", "d"),
            "postgres://u:p@h/d?sslmode=disable"
        );
        assert_eq!(w("postgres://h", "d"), "postgres://h/d");
    }
}

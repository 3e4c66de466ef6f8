//! Runs made on the command line (`kring backup`, `kring drill`) waiting to be written to the
//! access log. The log has one writer — the serving Kring — so the command leaves its run as
//! a small file in `backup_dir/to-log/`, and the server writes every waiting run to the log at
//! start and then every minute, removing each file only once the log has taken it. A run is
//! thus in the log once, whichever process made it; while no Kring runs, the files wait.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ContinuityError;

/// One run to be logged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Run {
    /// `backup` or `restore-drill`.
    pub interaction: String,
    pub ok: bool,
    /// The backup's or drill's id (empty when a backup failed before it had one).
    pub id: String,
    /// `name:value` facts, no client data.
    pub figures: Vec<String>,
    /// When it ran (ms since the epoch).
    pub at_ms: i64,
}

impl Run {
    /// A backup as the log records it: its id and size, or why it failed.
    pub fn of_backup(result: &Result<crate::manifest::Manifest, ContinuityError>) -> Run {
        let (ok, id, figures) = match result {
            Ok(m) => (
                true,
                m.id.clone(),
                vec![
                    format!("resources:{}", m.counts.total()),
                    format!("bytes:{}", m.bytes()),
                    format!("took-ms:{}", m.took_ms),
                ],
            ),
            Err(e) => (false, String::new(), vec![format!("error:{e}")]),
        };
        Run {
            interaction: "backup".into(),
            ok,
            id,
            figures,
            at_ms: crate::now_ms(),
        }
    }

    /// A restore drill as the log records it: the backup it tried and its figures.
    pub fn of_drill(r: &crate::drill::DrillReport) -> Run {
        Run {
            interaction: "restore-drill".into(),
            ok: r.ok,
            id: r.id.clone(),
            figures: vec![
                format!("backup:{}", r.backup.clone().unwrap_or_default()),
                format!("restore-ms:{}", r.restore_ms),
                format!("rto-ms:{}", r.rto_ms),
                format!("rpo-ms:{}", r.rpo_ms),
            ],
            at_ms: crate::now_ms(),
        }
    }

    /// Writes the run to the access log now (the server's own runs).
    pub async fn log(self, record: &kring_record::Record) -> Result<(), ContinuityError> {
        crate::log_run(record, &self.interaction, self.ok, &self.id, self.figures)
            .await
            .map_err(|e| ContinuityError::Log(e.to_string()))
    }
}

/// Where runs wait, under the backup folder.
pub fn folder(backup_dir: &Path) -> PathBuf {
    backup_dir.join("to-log")
}

/// Leaves `run` for the server to log (written whole, then renamed into place).
pub fn queue(backup_dir: &Path, run: &Run) -> Result<PathBuf, ContinuityError> {
    let dir = folder(backup_dir);
    let io = |e: std::io::Error| ContinuityError::Io(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let name = format!(
        "{:013}-{}-{}.json",
        run.at_ms,
        run.interaction,
        std::process::id()
    );
    let tmp = dir.join(format!(".{name}.partial"));
    let path = dir.join(name);
    let bytes = serde_json::to_vec_pretty(run).expect("a run serialises");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// Writes every waiting run to the access log, oldest first; returns how many. A file that is
/// not a run is left in place and named in the server's log; one the access log refuses stops
/// the pass (it is tried again on the next).
pub async fn drain(
    backup_dir: &Path,
    record: &kring_record::Record,
) -> Result<usize, ContinuityError> {
    let dir = folder(backup_dir);
    let Ok(read) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    let mut logged = 0;
    for file in files {
        let run: Run = match std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(r) => r,
            None => {
                tracing::warn!(file = %file.display(), "not a continuity run: left in place");
                continue;
            }
        };
        let mut figures = run.figures.clone();
        figures.push(format!("ran-at:{}", run.at_ms));
        figures.push("by:kring-cli".into());
        crate::log_run(record, &run.interaction, run.ok, &run.id, figures)
            .await
            .map_err(|e| ContinuityError::Log(e.to_string()))?;
        std::fs::remove_file(&file)
            .map_err(|e| ContinuityError::Io(format!("{}: {e}", file.display())))?;
        logged += 1;
    }
    Ok(logged)
}

//! What was done, as evidence: the complete backups in `backup_dir` (each with its manifest)
//! and the drills' reports in `backup_dir/drills/`, newest first, and the state an
//! administrator must act on — a failed last drill, a backup or drill overdue.

use std::path::{Path, PathBuf};

use crate::drill::DrillReport;
use crate::manifest::Manifest;

/// The folder of drill reports inside `backup_dir`.
pub fn drills_dir(backup_dir: &Path) -> PathBuf {
    backup_dir.join("drills")
}

/// The complete backups in `dir` (those with a readable manifest), newest first.
pub fn backups(dir: &Path) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with("kring-") && !name.ends_with(".partial")
        })
        .filter_map(|e| Manifest::read(&e.path()).ok())
        .collect();
    out.sort_by(|a, b| b.id.cmp(&a.id));
    out
}

/// The drills recorded in `backup_dir`, newest first.
pub fn drills(backup_dir: &Path) -> Vec<DrillReport> {
    let mut out: Vec<DrillReport> = std::fs::read_dir(drills_dir(backup_dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect();
    out.sort_by_key(|d| std::cmp::Reverse(d.started_ms));
    out
}

/// What needs an administrator's attention now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alarm {
    /// The last drill failed: the backups may not restore.
    DrillFailed { drill: String, at_ms: i64 },
    /// No backup, or the newest is older than it should be.
    BackupOverdue { last_ms: Option<i64> },
    /// No drill, or the newest is older than it should be.
    DrillOverdue { last_ms: Option<i64> },
}

/// The alarms for the evidence in `backup_dir` at `now_ms`: a backup is overdue after
/// `backup_every_ms` and a half, a drill after `drill_every_ms` and a half.
pub fn alarms(
    backup_dir: &Path,
    now_ms: i64,
    backup_every_ms: Option<i64>,
    drill_every_ms: Option<i64>,
) -> Vec<Alarm> {
    let mut out = Vec::new();
    let drills = drills(backup_dir);
    if let Some(last) = drills.first() {
        if !last.ok {
            out.push(Alarm::DrillFailed {
                drill: last.id.clone(),
                at_ms: last.started_ms,
            });
        }
    }
    let late = |last: Option<i64>, every: Option<i64>| match (last, every) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(t), Some(e)) => now_ms - t > e + e / 2,
    };
    let last_backup = backups(backup_dir).first().map(|m| m.finished_ms);
    if late(last_backup, backup_every_ms) {
        out.push(Alarm::BackupOverdue {
            last_ms: last_backup,
        });
    }
    let last_drill = drills.first().map(|d| d.started_ms);
    if late(last_drill, drill_every_ms) {
        out.push(Alarm::DrillOverdue {
            last_ms: last_drill,
        });
    }
    out
}

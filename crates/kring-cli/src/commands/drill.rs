//! `kring drill`: restore the latest backup into a scratch place, check it, measure it, keep
//! the report as evidence. Exits with status 1 when a check failed.

use clap::Args;
use kring_continuity::drill::{DrillReport, Scratch};

use crate::config::Config;

#[derive(Args)]
pub struct DrillArgs {}

/// Where the configured installation's drills restore to.
pub fn scratch(cfg: &Config) -> anyhow::Result<Scratch> {
    let dir = cfg.backup_dir()?;
    Ok(if cfg.database.starts_with("sqlite:") {
        Scratch::Folder(dir)
    } else {
        Scratch::Postgres {
            server: cfg
                .drill_database
                .clone()
                .unwrap_or_else(|| cfg.database.clone()),
            folder: dir,
        }
    })
}

pub async fn run(cfg: &Config, _args: DrillArgs) -> anyhow::Result<()> {
    let dir = cfg.backup_dir()?;
    let identities = cfg.backup_identities()?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("restoring the latest backup into a scratch place and checking it …");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let report = kring_continuity::drill::run(&dir, &identities, scratch(cfg)?).await;
    bar.finish_and_clear();
    print(&report);
    match kring_continuity::pending::queue(&dir, &kring_continuity::pending::Run::of_drill(&report))
    {
        Ok(_) => println!("{}", super::backup::LOGGED_LATER),
        Err(e) => eprintln!("The run could not be left for the access log: {e}"),
    }
    anyhow::ensure!(
        report.ok,
        "the restore drill failed: the backups may not restore"
    );
    Ok(())
}

fn print(r: &DrillReport) {
    println!(
        "Drill {} on backup {}: {}",
        r.id,
        r.backup.as_deref().unwrap_or("(none)"),
        if r.ok { "passed" } else { "FAILED" }
    );
    for c in &r.checks {
        println!("  [{}] {}", if c.ok { "ok" } else { "FAILED" }, c.detail);
    }
    println!(
        "Restore {:.1} s; first read after {:.1} s (RTO); the data was {:.0} minutes old (RPO).",
        r.restore_ms as f64 / 1000.0,
        r.rto_ms as f64 / 1000.0,
        r.rpo_ms as f64 / 60_000.0
    );
}

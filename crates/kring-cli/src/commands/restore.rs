//! `kring restore BACKUP --into FOLDER|postgres://…`: a backup into an empty place.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use kring_continuity::restore::Target;

use crate::config::Config;

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup's folder (in backup_dir: kring-<time>).
    pub backup: PathBuf,
    /// Where to: an empty (or new) folder for a SQLite backup; an empty PostgreSQL database
    /// (postgres://USER@HOST/DB) for a PostgreSQL backup. Anything not empty is refused.
    #[arg(long, value_name = "FOLDER|URL")]
    pub into: String,
    /// With --into postgres://…: the empty folder for the access log, its keys and the review
    /// store.
    #[arg(long, value_name = "FOLDER")]
    pub files: Option<PathBuf>,
}

pub async fn run(cfg: &Config, args: RestoreArgs) -> anyhow::Result<()> {
    let identities = cfg.backup_identities()?;
    let target = if args.into.starts_with("postgres://") || args.into.starts_with("postgresql://") {
        let folder = args.files.context(
            "--into postgres://… also needs --files FOLDER for the access log, its keys and the review store",
        )?;
        Target::Postgres {
            url: args.into,
            folder,
        }
    } else {
        anyhow::ensure!(
            args.files.is_none(),
            "--files is only for --into postgres://…; with a folder everything goes into it"
        );
        Target::Folder(PathBuf::from(args.into))
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("checking checksums, decrypting, loading …");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let r = kring_continuity::restore::restore(&args.backup, &identities, target).await;
    bar.finish_and_clear();
    let r = r.context("the restore failed")?;
    println!(
        "Restored {} ({} resources, {} access-log entries) in {:.1} s.",
        r.manifest.id,
        r.manifest.counts.total(),
        r.manifest.log.entries,
        r.took_ms as f64 / 1000.0
    );
    println!(
        "Check it:   kring --config {} audit verify",
        r.config.display()
    );
    println!("Start it:   kring --config {} serve", r.config.display());
    Ok(())
}

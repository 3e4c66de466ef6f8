//! `kring backup`: one consistent, encrypted backup of the installation while it serves; and
//! `kring backup --new-key FILE`, the key pair backups are encrypted with; and `--list`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::Config;

#[derive(Args)]
pub struct BackupArgs {
    /// Make a new key pair: write the secret identity to FILE (readable by you only; keep it
    /// off this machine) and print the public key to put in backup_recipient. Takes no backup.
    #[arg(long, value_name = "FILE")]
    pub new_key: Option<PathBuf>,
    /// List the backups in backup_dir and the restore drills, newest first. Takes no backup.
    #[arg(long, conflicts_with = "new_key")]
    pub list: bool,
}

/// What the commands say about the access log.
pub const LOGGED_LATER: &str = "The run goes into the access log through Kring: within a minute while it serves, else when it next starts.";

pub async fn run(cfg: &Config, args: BackupArgs) -> anyhow::Result<()> {
    if let Some(file) = args.new_key {
        return new_key(&file);
    }
    let dir = cfg.backup_dir()?;
    if args.list {
        return list(&dir);
    }
    let settings = kring_continuity::backup::Settings {
        dir,
        recipients: cfg.backup_recipients()?,
        keep: cfg.backup_keep,
    };
    // The database alone: the access log and the review store are copied as files, so a
    // backup runs beside a serving Kring without a second writer to its log.
    let database = crate::open::database(&cfg.database).await?;
    let inst = kring_continuity::Installation {
        database,
        log: cfg.log_config(),
        review: cfg.review_path(),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("copying, encrypting and hashing …");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let taken = kring_continuity::backup::take(&inst, &settings).await;
    bar.finish_and_clear();
    // The serving Kring writes the run to the access log (it is the log's one writer).
    let queued = kring_continuity::pending::queue(
        &settings.dir,
        &kring_continuity::pending::Run::of_backup(&taken),
    );
    let m = taken.context("the backup failed; nothing was kept of it")?;
    println!(
        "Backup {} complete: {} resources of {} types, {} access-log entries, {:.1} MB encrypted ({:.1} MB before) in {:.1} s ({:.0} MB/s).",
        m.id,
        m.counts.total(),
        m.counts.resources.len(),
        m.log.entries,
        m.bytes() as f64 / 1e6,
        m.plain_bytes() as f64 / 1e6,
        m.took_ms as f64 / 1000.0,
        m.plain_bytes() as f64 / 1e6 / (m.took_ms.max(1) as f64 / 1000.0),
    );
    println!(
        "It is in {}; its manifest lists every file with its checksum.",
        settings.dir.join(&m.id).display()
    );
    match queued {
        Ok(_) => println!("{LOGGED_LATER}"),
        Err(e) => eprintln!("The run could not be left for the access log: {e}"),
    }
    Ok(())
}

fn new_key(file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let (secret, public) = kring_continuity::crypt::new_pair();
    let mut f = kring_continuity::crypt::new_private_file(file).with_context(|| {
        format!(
            "{} exists already or cannot be made; a key is never overwritten",
            file.display()
        )
    })?;
    f.write_all(secret.as_bytes())?;
    f.sync_all()?;
    println!("The identity (secret key) is in {} — keep it off this machine; restores and drills need it.", file.display());
    println!("Put the public key in the configuration:\n\nbackup_recipient = \"{public}\"");
    Ok(())
}

fn list(dir: &std::path::Path) -> anyhow::Result<()> {
    let backups = kring_continuity::evidence::backups(dir);
    if backups.is_empty() {
        println!("No complete backups in {}.", dir.display());
    }
    for m in &backups {
        println!(
            "{}  {} resources  {:.1} MB  {:.1} s",
            m.id,
            m.counts.total(),
            m.bytes() as f64 / 1e6,
            m.took_ms as f64 / 1000.0
        );
    }
    for d in kring_continuity::evidence::drills(dir) {
        println!(
            "{}  {}  backup {}  restore {:.1} s  RTO {:.1} s  RPO {:.0} min",
            d.id,
            if d.ok { "passed" } else { "FAILED" },
            d.backup.as_deref().unwrap_or("none"),
            d.restore_ms as f64 / 1000.0,
            d.rto_ms as f64 / 1000.0,
            d.rpo_ms as f64 / 60_000.0
        );
        for c in d.checks.iter().filter(|c| !c.ok) {
            println!("    failed: {}", c.detail);
        }
    }
    Ok(())
}

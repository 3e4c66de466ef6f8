//! `kring audit`: the access log from the command line — verify it from scratch, export it as
//! NDJSON of FHIR AuditEvents, show its latest signed checkpoint.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kring_audit::{checkpoint, witness, Witness};
use kring_record::Caller;

use crate::config::Config;

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the whole log — every entry's hash, the Merkle tree, every signed checkpoint
    /// (the log's own and the witness's) — and name the first entry that does not match.
    /// Exits with status 1 when anything does not match.
    Verify {
        /// A witness file to check against.  [default: the configured audit_witness, if a file]
        #[arg(long, value_name = "FILE")]
        witness: Option<PathBuf>,
        /// The public key to check signatures with.  [default: the .pub file beside audit_key]
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Write the log as NDJSON of FHIR AuditEvents (IHE BALP shape), oldest first. The export
    /// is itself logged, one entry per client.
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the latest signed checkpoint as JSON (what the witness receives).
    Checkpoint,
}

pub async fn run(cfg: &Config, args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        AuditCommand::Verify {
            witness,
            public_key,
        } => verify(cfg, witness, public_key).await,
        AuditCommand::Export { out } => export(cfg, &out).await,
        AuditCommand::Checkpoint => {
            let log = crate::open::log(cfg).await?;
            let cp = log.access_log().latest_checkpoint().await?;
            log.shut_down().await?;
            match cp {
                Some(cp) => println!("{}", cp.to_json()),
                None => println!("{{\"size\": 0}}"),
            }
            Ok(())
        }
    }
}

async fn verify(
    cfg: &Config,
    witness_file: Option<PathBuf>,
    public_key: Option<PathBuf>,
) -> anyhow::Result<()> {
    let lc = cfg.log_config();
    let key_file = public_key.unwrap_or_else(|| checkpoint::public_path(&lc.key_path));
    let key = std::fs::read_to_string(&key_file)
        .ok()
        .and_then(|t| checkpoint::parse_public(&t))
        .with_context(|| {
            format!(
                "cannot read the public key {} (an 'ed25519 …' line written at install)",
                key_file.display()
            )
        })?;
    let witness_file = witness_file.or(match &lc.witness {
        Witness::File(p) => Some(p.clone()),
        _ => None,
    });
    let witnessed = match &witness_file {
        Some(p) => {
            let (cps, bad) = witness::read_file(p)
                .with_context(|| format!("cannot read the witness file {}", p.display()))?;
            if !bad.is_empty() {
                eprintln!(
                    "kring: lines {:?} of the witness file are not checkpoints; they are skipped",
                    bad
                );
            }
            cps
        }
        None => Vec::new(),
    };
    let pool = kring_audit::ledger::open_read_only(&lc.path).await?;
    let total = kring_audit::ledger::entry_count(&pool).await?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} entries ({per_sec}, {eta} left)")
            .expect("valid template"),
    );
    let start = std::time::Instant::now();
    let report =
        kring_audit::verify::verify(&pool, &key, &witnessed, |n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "Checked {} entries and {} signed checkpoints{} in {secs:.1} s.",
        report.entries,
        report.checkpoints,
        if witness_file.is_some() {
            " (including the witness's)"
        } else {
            " (no witness given)"
        },
    );
    if report.removed > 0 {
        println!(
            "{} entries are past retention: their content is gone, their hashes were checked.",
            report.removed
        );
    }
    if report.uncovered > 0 {
        println!(
            "{} entries after the last checkpoint are not yet covered by a signature.",
            report.uncovered
        );
    }
    if report.is_intact() {
        println!("The access log is intact.");
        return Ok(());
    }
    if let Some(first) = report.first_bad_entry {
        println!("The first entry that does not match: {first}.");
    }
    for p in &report.problems {
        println!("  - {p}");
    }
    anyhow::bail!(
        "the access log does not match its checkpoints ({} problems)",
        report.problems.len()
    )
}

async fn export(cfg: &Config, out: &PathBuf) -> anyhow::Result<()> {
    let crate::open::Opened { record, log, .. } = crate::open::record(cfg).await?;
    let caller = Caller::operator("cli");
    // Up to the size at the start: the export's own entries are not chased.
    let end = log.size().await?;
    let bar = ProgressBar::new(end);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} entries ({per_sec})")
            .expect("valid template"),
    );
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("cannot write {}", out.display()))?,
    );
    let mut next = 0u64;
    while next < end {
        let page = record
            .export_log_page(&caller, next, (end - next).min(5000) as usize)
            .await?;
        let Some(last) = page.last() else { break };
        next = last.id + 1;
        for e in page.iter().filter(|e| e.id < end) {
            serde_json::to_writer(&mut file, &kring_audit::audit_event::to_audit_event(e))?;
            file.write_all(b"\n")?;
        }
        bar.set_position(next.min(end));
    }
    file.flush()?;
    bar.finish_and_clear();
    log.shut_down().await?;
    println!(
        "Exported {end} access-log entries as AuditEvents to {}.",
        out.display()
    );
    Ok(())
}

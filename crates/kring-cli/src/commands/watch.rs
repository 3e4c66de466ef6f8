//! `kring watch`: the oversight engine on a log — any record system's AuditEvents with the
//! care network they concern — writing the review queue as FINDINGS NDJSON, highest risk
//! first. Without `--audit`, Kring's own live log is screened and the cases land in the
//! privacy officer's review queue (as the nightly run does).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use kring_oversight::{screen, screen_explaining, AccessLog, Context, RoleMap};

use crate::config::Config;

#[derive(Args)]
#[command(after_help = "\
Formats (worked example in docs/oversight.md):
  AUDIT    FHIR R4 AuditEvent, one per line: id, recorded, action, subtype, outcome,
           purposeOfEvent, agent (requestor: true with who.reference Practitioner/…),
           entity (what.reference Patient/…)
  CONTEXT  FHIR R4 resources, one per line: Organization, Location, Practitioner,
           PractitionerRole, Patient, CareTeam, Encounter, Appointment
  ROLES    {\"roles\": {\"<role code or text>\": \"care\" | \"administration\" | \"planning\"
           | \"night-shift\" | \"crisis-service\"}}
  FINDINGS {\"event\", \"score\", \"reasons\", \"explanation\"}, one per line; score is
           the chance that the access was a violation (calibrated, docs/oversight.md)
  EXPLAINED {\"event\", \"explanation\", \"grounds\"}, one per explained access: what the
           explanation rests on (which membership, appointment, writes, colleague …)

Examples:
  kring watch --audit audit.ndjson --context context.ndjson --roles roles.json --out findings.ndjson
  kring watch --audit audit.ndjson --context context.ndjson --out findings.ndjson \\
              --explained explained.ndjson     also every explained access with its grounds
  kring watch        screen Kring's own log now, into the officer's review queue")]
pub struct WatchArgs {
    /// The log to screen: FHIR AuditEvent NDJSON. Without it, Kring's own live log.
    #[arg(long, value_name = "AUDIT.ndjson", requires = "context")]
    pub audit: Option<PathBuf>,
    /// The care network: FHIR resources as NDJSON (needed with --audit).
    #[arg(long, value_name = "CONTEXT.ndjson")]
    pub context: Option<PathBuf>,
    /// How the source system's role codes map onto what the engine understands.
    #[arg(long, value_name = "ROLES.json")]
    pub roles: Option<PathBuf>,
    /// Where to write the findings (NDJSON). Required with --audit.
    #[arg(long, value_name = "FINDINGS.ndjson")]
    pub out: Option<PathBuf>,
    /// Also write every explained access with what its explanation rests on (NDJSON), so an
    /// auditor can check the share explained access by access (with --audit).
    #[arg(long, value_name = "EXPLAINED.ndjson", requires = "audit")]
    pub explained: Option<PathBuf>,
    /// With the live log: how many days back to screen.
    #[arg(long, default_value_t = 31)]
    pub days: u32,
}

fn open(path: &Path, what: &str, bar: &ProgressBar) -> anyhow::Result<impl std::io::BufRead> {
    let file =
        File::open(path).with_context(|| format!("cannot open the {what} {}", path.display()))?;
    bar.set_length(file.metadata().map(|m| m.len()).unwrap_or(0));
    bar.set_position(0);
    bar.set_message(format!("reading the {what}"));
    Ok(BufReader::with_capacity(1 << 20, bar.wrap_read(file)))
}

pub async fn run(cfg: &Config, args: WatchArgs) -> anyhow::Result<()> {
    let Some(audit) = &args.audit else {
        return super::watch_live::run(cfg, args.days, args.out.as_deref()).await;
    };
    let (Some(context), Some(out)) = (&args.context, &args.out) else {
        anyhow::bail!("with --audit, give --context and --out too (see kring watch --help)");
    };
    let roles = match &args.roles {
        Some(p) => RoleMap::from_json(
            &std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the roles file {}", p.display()))?,
        )?,
        None => RoleMap::default(),
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:24} {wide_bar} {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut cx = Context::read(open(context, "context", &bar)?, &roles)?;
    let log = AccessLog::read(open(audit, "audit log", &bar)?, &mut cx)?;
    bar.finish_and_clear();
    let screening = if args.explained.is_some() {
        screen_explaining(&cx, &log)
    } else {
        screen(&cx, &log)
    };
    if let Some(path) = &args.explained {
        let mut w = BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        for e in &screening.explained {
            writeln!(w, "{}", e.to_json())?;
        }
        w.flush()?;
    }
    let mut w = BufWriter::new(
        File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    for f in &screening.findings {
        writeln!(w, "{}", f.to_json())?;
    }
    w.flush()?;
    let s = &screening.stats;
    let explained = s.explained_total();
    eprintln!(
        "Screened {} accesses ({} events) by {} staff to {} clients in {:.1} s.",
        s.accesses,
        log.events(),
        s.users,
        s.clients,
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "Explained: {explained} ({:.1}%) — {}.",
        100.0 * explained as f64 / s.accesses.max(1) as f64,
        s.explained
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "Review queue: {} findings, {} flagged (score ≥ 0.5), written to {}.",
        s.findings,
        s.flagged,
        out.display()
    );
    if let Some(path) = &args.explained {
        eprintln!(
            "Explained accesses with their grounds: {}, written to {}.",
            screening.explained.len(),
            path.display()
        );
    }
    let ls = &log.stats;
    eprintln!(
        "Not screened: {} events without a client, {} without a requesting practitioner, {} not successful.",
        ls.without_client, ls.without_user, ls.not_success
    );
    for (what, count, bad) in [
        ("context", cx.stats.bad_count, &cx.stats.bad),
        ("audit log", ls.bad_count, &ls.bad),
    ] {
        if count > 0 {
            eprintln!("Skipped {count} malformed line(s) in the {what}:");
            for b in bad {
                eprintln!("  line {}: {}", b.line, b.problem);
            }
        }
    }
    if !cx.stats.skipped.is_empty() {
        eprintln!(
            "Resource types in the context the engine does not use (skipped): {}.",
            cx.stats
                .skipped
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

//! `kring`: the one binary. Each subcommand lives in `commands/`; configuration in `config.rs`.

mod commands;
mod config;
mod open;

use clap::{Parser, Subcommand};

/// Kring — the shared client record of a care network.
///
/// Kring keeps one record per client (identity, support plan, crisis plan, medication,
/// reports) as HL7 FHIR R4 resources, on SQLite (one file, the default) or PostgreSQL.
/// Every access passes one decision point and is written to the access log first.
#[derive(Parser)]
#[command(name = "kring", version, about, long_about, propagate_version = true, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: config::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  kring demo                                   a generated Dutch care network, served at once
  kring --database sqlite:/srv/kring.db serve  one organisation, one file
  kring --database postgres://kring@db/kring --addr 0.0.0.0:8080 serve
  kring import ../shared/data/synthea/*.json   Bundles and NDJSON, resumable
  kring export --type Patient --type CarePlan out/
  kring audit verify                           recompute the access log and its signatures
  kring watch --audit a.ndjson --context c.ndjson --out findings.ndjson
                                               screen any system's access log for snooping
  kring --config /etc/kring.toml serve         settings from a file (KRING_* variables override)
  kring log-serve --socket /run/kring/log.sock one access log for several servers
                                               (each started with KRING_AUDIT_SERVICE=…)";

#[derive(Subcommand)]
enum Command {
    /// Serve the web pages and the FHIR API on --addr.
    Serve,
    /// Hold the access log for several servers in front of one database: they write to it
    /// over a Unix socket (audit_service) and keep one log, one tree and one key.
    LogServe(commands::log_serve::LogServeArgs),
    /// Create a fresh demo network in --data and serve it.
    Demo(commands::demo::DemoArgs),
    /// Import FHIR Bundles (.json) and NDJSON exports (.ndjson); safe to run again after an
    /// interruption.
    Import(commands::import::ImportArgs),
    /// Export current resources as NDJSON, one file per type (like Bulk Data $export).
    Export(commands::export::ExportArgs),
    /// Bring the database schema up to date (serve and import do this on their own too).
    Migrate,
    /// Measure throughput and latency on generated data; see BENCHMARKS.md.
    Bench(commands::bench::BenchArgs),
    /// Manage partner systems that connect with OAuth2 client credentials.
    Client(commands::client::ClientArgs),
    /// The access log: verify it from scratch, export it as FHIR AuditEvents, show its
    /// latest signed checkpoint.
    Audit(commands::audit::AuditArgs),
    /// Oversight: find the accesses nothing explains and rank them — in any record system's
    /// AuditEvent log (--audit), or in Kring's own live log (into the officers' review queue).
    Watch(commands::watch::WatchArgs),
    /// Back up everything the installation holds — record, accounts, access log with its keys
    /// and witness state, review store — while it serves: encrypted for backup_recipient, with
    /// a manifest, into backup_dir (the server also does this on backup_schedule).
    Backup(commands::backup::BackupArgs),
    /// Restore a backup into an empty folder (SQLite) or an empty PostgreSQL database; the
    /// restored installation starts with `kring --config FOLDER/kring.toml serve`.
    Restore(commands::restore::RestoreArgs),
    /// Restore drill: the latest backup into a scratch place, checked (counts, the access log
    /// verified, reads, a search) and timed (RTO, RPO); the report is kept as evidence (the
    /// server also does this on drill_schedule).
    Drill(commands::drill::DrillArgs),
    /// Write the downtime kit of every location now: crisis plans, the next 24 hours of
    /// medication, circles and contacts of its clients, as HTML and PDF locked with
    /// kit_passphrase, into kit_dir (the server also does this on kit_schedule).
    Kit(commands::kit::KitArgs),
}

impl Command {
    /// Which of the global flags (`--addr`, `--database`, `--access-log`) this command reads.
    fn reads(&self) -> [bool; 3] {
        match self {
            Command::Serve | Command::Client(_) => [true, true, true],
            // The demo keeps its access log (and credentials) in --data.
            Command::Demo(_) => [true, true, false],
            Command::Import(_)
            | Command::Export(_)
            | Command::Audit(_)
            | Command::Backup(_)
            | Command::Kit(_) => [false, true, true],
            Command::Migrate | Command::Drill(_) => [false, true, false],
            // The log service holds the log only; the servers hold the record.
            Command::LogServe(_) => [false, false, true],
            Command::Watch(args) if args.audit.is_none() => [false, true, true],
            // Benchmarks make their own databases; a restore goes where its own flags say; a
            // log of another system is screened from its files.
            Command::Bench(_) | Command::Restore(_) | Command::Watch(_) => [false, false, false],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Command::Serve => "serve",
            Command::LogServe(_) => "log-serve",
            Command::Demo(_) => "demo",
            Command::Import(_) => "import",
            Command::Export(_) => "export",
            Command::Migrate => "migrate",
            Command::Bench(_) => "bench",
            Command::Client(_) => "client",
            Command::Audit(_) => "audit",
            Command::Watch(_) => "watch",
            Command::Backup(_) => "backup",
            Command::Restore(_) => "restore",
            Command::Drill(_) => "drill",
            Command::Kit(_) => "kit",
        }
    }
}

/// A global flag given on the command line to a command that does not read it is refused
/// with a sentence saying so, rather than silently ignored (`kring demo --database …` once
/// built the demo on SQLite anyway). Settings from the file or `KRING_*` variables serve many
/// commands and are not checked.
fn refuse_unread_flags(cli: &Cli) -> Result<(), String> {
    let given = [
        ("--addr", cli.global.addr.is_some()),
        ("--database", cli.global.database.is_some()),
        ("--access-log", cli.global.access_log.is_some()),
    ];
    let reads = cli.command.reads();
    let unread: Vec<&str> = given
        .iter()
        .zip(reads)
        .filter(|((_, given), read)| *given && !read)
        .map(|((flag, _), _)| *flag)
        .collect();
    if unread.is_empty() {
        return Ok(());
    }
    let why = match &cli.command {
        Command::Demo(_) => " (the demo keeps its access log in --data)",
        Command::LogServe(_) => {
            " (the log service holds the access log only; the servers hold the record)"
        }
        Command::Watch(_) => " (with --audit, the files given are screened, not Kring's own log)",
        Command::Bench(_) => " (benchmarks make their own databases; see kring bench --help)",
        Command::Restore(_) => {
            " (a restore goes where its own flags say; see kring restore --help)"
        }
        _ => "",
    };
    Err(format!(
        "kring {} does not use {}{why}; leave {} out",
        cli.command.name(),
        unread.join(" or "),
        if unread.len() == 1 { "it" } else { "them" },
    ))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Err(e) = refuse_unread_flags(&cli) {
        eprintln!("kring: {e}");
        return std::process::ExitCode::from(2);
    }
    let cfg = match config::Config::load(&cli.global) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kring: the configuration is not valid: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cfg.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kring: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => commands::serve::run(&cfg).await,
            Command::LogServe(args) => commands::log_serve::run(&cfg, args).await,
            Command::Demo(args) => commands::demo::run(&cfg, args).await,
            Command::Import(args) => commands::import::run(&cfg, args).await,
            Command::Export(args) => commands::export::run(&cfg, args).await,
            Command::Migrate => commands::migrate::run(&cfg).await,
            Command::Bench(args) => commands::bench::run(&cfg, args).await,
            Command::Client(args) => commands::client::run(&cfg, args).await,
            Command::Audit(args) => commands::audit::run(&cfg, args).await,
            Command::Watch(args) => commands::watch::run(&cfg, args).await,
            Command::Backup(args) => commands::backup::run(&cfg, args).await,
            Command::Restore(args) => commands::restore::run(&cfg, args).await,
            Command::Drill(args) => commands::drill::run(&cfg, args).await,
            Command::Kit(args) => commands::kit::run(&cfg, args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kring: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

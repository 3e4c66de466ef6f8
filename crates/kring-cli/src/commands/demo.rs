//! `kring demo`: a fresh demo network in its own folder, served at once.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use kring_record::{Caller, Record};
use serde_json::json;

use crate::config::Config;

#[derive(Args)]
pub struct DemoArgs {
    /// The folder for the demo database, access log and credentials (replaced if it exists).
    #[arg(long, default_value = "./kring-demo")]
    pub data: PathBuf,
    /// The seed of the generated network: the same seed gives the same network.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Create the network but do not serve it.
    #[arg(long)]
    pub no_serve: bool,
}

/// The organisation whose record system the demo's integration client is.
pub const DEMO_INTEGRATION_ORGANISATION: &str = "jeugdhulp-de-brug";

/// Loads a generated network into `record`, in atomic chunks, with a progress bar.
pub async fn load(record: &Record, network: &kring_demo::Network) -> anyhow::Result<()> {
    let caller = Caller::operator("cli");
    let bar = ProgressBar::new(network.resources.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} resources  {msg}")
            .expect("valid template")
            .progress_chars("█▉▊▋▌▍▎▏ "),
    );
    bar.set_message("loading the demo network");
    for chunk in network.resources.chunks(500) {
        let lines = chunk
            .iter()
            .map(|r| serde_json::to_vec(r).expect("serialises"))
            .collect();
        for r in record.restore(&caller, lines).await? {
            r.context("a generated demo resource was rejected")?;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

pub async fn run(cfg: &Config, args: DemoArgs) -> anyhow::Result<()> {
    if args.data.exists() {
        std::fs::remove_dir_all(&args.data)
            .with_context(|| format!("cannot clear {}", args.data.display()))?;
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create {}", args.data.display()))?;
    let data = args.data.canonicalize()?;
    let mut cfg = cfg.clone();
    cfg.database = format!("sqlite:{}", data.join("kring.db").display());
    cfg.access_log = Some(data.join("access-log.ndjson"));
    let record = crate::open::record(&cfg).await?;
    let network = kring_demo::generate(args.seed);
    load(&record, &network).await?;
    let base = crate::commands::client::public_base(&cfg);
    let url = format!("{base}/fhir");
    let integration = kring_server::auth::partners::register(
        &**record.store(),
        DEMO_INTEGRATION_ORGANISATION,
        "system/*.cruds",
    )
    .await?;
    let credentials = json!({
        "fhir_base": url,
        "note": "The integration client is the record system of the youth-care organisation: it sees the clients whose circle includes that organisation. Sign-in for people (passwords, two-factor codes) arrives with the professional pages.",
        "integration": {
            "client_id": integration.client_id,
            "client_secret": integration.client_secret,
            "token_url": format!("{base}/oauth/token"),
            "scope": integration.scopes.to_string(),
        },
        "people": network.people.iter().map(|p| json!({
            "username": p.username, "role": p.role, "organisation": p.organisation, "practitioner": p.practitioner,
        })).collect::<Vec<_>>(),
    });
    let cred_path = data.join("demo-credentials.json");
    std::fs::write(&cred_path, serde_json::to_vec_pretty(&credentials)?)?;
    println!(
        "The demo network (seed {}) is ready: {} clients, {} professionals, {} organisations, {} resources in all.",
        args.seed,
        network.count("Patient"),
        network.count("Practitioner"),
        network.count("Organization"),
        network.resources.len()
    );
    println!("Demo logins: {}", cred_path.display());
    if args.no_serve {
        return Ok(());
    }
    println!("Try (with the integration client from demo-credentials.json):");
    println!("  curl -s -d grant_type=client_credentials -d client_id=… -d client_secret=… {base}/oauth/token");
    println!("  curl -s -H 'Authorization: Bearer …' '{url}/Patient?_count=5&_pretty=true'");
    crate::commands::serve::serve_record(&cfg, record).await
}

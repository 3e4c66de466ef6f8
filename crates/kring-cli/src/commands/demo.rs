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
    /// The folder for the demo's access log, credentials, keys and backups, and its SQLite
    /// database unless --database names another (replaced if it exists). With --database
    /// (sqlite:PATH, postgres://… or a Citus coordinator), the network loads into that
    /// database, which must hold no record yet.
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
    if !cfg.database_given {
        cfg.database = format!("sqlite:{}", data.join("kring.db").display());
    }
    cfg.access_log = Some(data.join("access-log.db"));
    // The demo's log is its own, in --data, never a service's.
    cfg.audit_service = None;
    if cfg.audit_witness.is_none() {
        cfg.audit_witness = Some(data.join("witness.ndjson").display().to_string());
    }
    let opened = crate::open::record(&cfg).await?;
    if cfg.database_given {
        // A database given is never emptied by the demo: it must hold no record yet.
        let held: u64 = opened.database.counts().await?.resources.values().sum();
        if held > 0 {
            anyhow::bail!(
                "the database given already holds {held} resources; the demo loads into an empty database (create a new one, or leave --database out for a SQLite file in {})",
                args.data.display()
            );
        }
    }
    let (record, accounts) = (opened.record.clone(), opened.accounts.clone());
    let mut network = kring_demo::generate(args.seed);
    add_supporter(&mut network);
    load(&record, &network).await?;
    let base = crate::commands::client::public_base(&cfg);
    let url = format!("{base}/fhir");
    let integration = kring_server::auth::partners::register(
        &*accounts,
        DEMO_INTEGRATION_ORGANISATION,
        "system/*.cruds",
    )
    .await?;
    let people = demo_accounts(&*accounts, &network).await?;
    let credentials = json!({
        "fhir_base": url,
        "note": "Sign in at the web pages with a username and password; everyone (clients and parents too) then gives the current code of their totp_secret (any authenticator app, or `oathtool --totp -b SECRET`). The integration client is the record system of the youth-care organisation: it sees the clients whose circle includes that organisation.",
        "web": format!("{base}/"),
        "integration": {
            "client_id": integration.client_id,
            "client_secret": integration.client_secret,
            "token_url": format!("{base}/oauth/token"),
            "scope": integration.scopes.to_string(),
        },
        "people": people,
    });
    let simulated = super::demo_activity::simulate(&record, &network, args.seed, |p| {
        practitioner_name(&network, p.trim_start_matches("Practitioner/"))
    })
    .await?;
    let review = kring_review::Review::open(&cfg.review_path())
        .await
        .context("cannot create the review store")?;
    let run = kring_review::screen_live(&review, &record, "demo", 31).await?;
    review.close().await;
    let cred_path = data.join("demo-credentials.json");
    std::fs::write(&cred_path, serde_json::to_vec_pretty(&credentials)?)?;
    demo_kits(&mut cfg, &opened, &data).await?;
    demo_continuity(&mut cfg, &opened, &data).await?;
    println!(
        "The demo network (seed {}) is ready: {} clients, {} professionals, {} organisations, {} resources in all.",
        args.seed,
        network.count("Patient"),
        network.count("Practitioner"),
        network.count("Organization"),
        network.resources.len()
    );
    println!(
        "A simulated morning of work: {} reads, {} reports written, {} doses of this morning's round signed off; oversight put {} cases in the privacy officers' queue (/toezicht).",
        simulated.reads,
        simulated.reports,
        simulated.doses,
        run.cases
    );
    println!("Demo logins: {}", cred_path.display());
    println!("Web pages: {base}/  (sign in with a username, password and two-factor code from that file)");
    if args.no_serve {
        opened.log.shut_down().await?;
        return Ok(());
    }
    println!("Try (with the integration client from demo-credentials.json):");
    println!("  curl -s -d grant_type=client_credentials -d client_id=… -d client_secret=… {base}/oauth/token");
    println!("  curl -s -H 'Authorization: Bearer …' '{url}/Patient?_count=5&_pretty=true'");
    crate::commands::serve::serve_record(&cfg, opened).await
}

/// "Given Family" of a demo practitioner, for the access log.
fn practitioner_name(network: &kring_demo::Network, id: &str) -> String {
    network
        .resources
        .iter()
        .find(|r| r["resourceType"] == "Practitioner" && r["id"] == id)
        .and_then(|r| r["name"].get(0))
        .map(|n| {
            let given: Vec<&str> = n["given"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.as_str())
                .collect();
            format!("{} {}", given.join(" "), n["family"].as_str().unwrap_or(""))
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// The adult client who signs in to the demo's portal: the first adult of the network.
fn portal_adult(network: &kring_demo::Network) -> Option<&serde_json::Value> {
    let today = kring_demo::today();
    network.resources.iter().find(|r| {
        r["resourceType"] == "Patient"
            && r["birthDate"]
                .as_str()
                .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
                .and_then(|b| today.years_since(b))
                .is_some_and(|a| a >= 18)
    })
}

/// A supporter the portal's adult client chose (meer-over-mijn-plan's *steunpersoon*): a
/// RelatedPerson coded `supporter`, who gets an account of their own.
fn add_supporter(network: &mut kring_demo::Network) {
    let Some(id) = portal_adult(network).and_then(|p| p["id"].as_str().map(str::to_string)) else {
        return;
    };
    network.resources.push(json!({
        "resourceType": "RelatedPerson", "id": format!("{id}-steun"), "active": true,
        "patient": {"reference": format!("Patient/{id}")},
        "relationship": [{"coding": [{"system": kring_access::facts::SUPPORTER_SYSTEM,
                                       "code": "supporter", "display": "Steunpersoon"}],
                          "text": "Steunpersoon"}],
        "name": [{"family": "Bakker", "given": ["Sanne"], "text": "Sanne Bakker"}],
    }));
}

/// Creates the demo's accounts — every professional, a privacy officer and an administrator
/// per organisation, and a few clients and parents — with fresh random passwords and TOTP
/// secrets (confirmed, so scripts can sign in), and returns them for demo-credentials.json.
async fn demo_accounts(
    store: &dyn kring_store::AccountStore,
    network: &kring_demo::Network,
) -> anyhow::Result<Vec<serde_json::Value>> {
    use kring_server::auth::accounts::{self, Kind};
    let mut out = Vec::new();
    let mut add = |a: accounts::Account, role: &str| {
        let password = random_password();
        let entry = (a, password, role.to_string());
        out.push(entry);
    };
    for p in &network.people {
        let pid = p
            .practitioner
            .trim_start_matches("Practitioner/")
            .to_string();
        let mut a = accounts::blank(&p.username, Kind::Professional);
        a.name = practitioner_name(network, &pid);
        a.organisation = Some(p.organisation.clone());
        a.role = Some(format!("{pid}-role"));
        a.practitioner = Some(pid);
        add(a, &p.role);
    }
    let mut orgs: Vec<&str> = network
        .people
        .iter()
        .map(|p| p.organisation.as_str())
        .collect();
    orgs.dedup();
    for org in orgs {
        for (prefix, kind, role) in [
            ("privacy", Kind::Officer, "privacy-officer"),
            ("beheer", Kind::Administrator, "administrator"),
        ] {
            let mut a = accounts::blank(&format!("{prefix}.{org}"), kind);
            a.organisation = Some(org.to_string());
            add(a, role);
        }
    }
    // Clients and parents for the client portal: an adult, a parent of a young child, and a
    // child of 12 to 15 with a parent (who decide together).
    let today = kring_demo::today();
    let age_of = |v: &serde_json::Value| {
        v["birthDate"]
            .as_str()
            .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
            .and_then(|b| today.years_since(b))
    };
    let patients: Vec<&serde_json::Value> = network
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Patient")
        .collect();
    let parent_of = |pid: &str| {
        network.resources.iter().find(|r| {
            r["resourceType"] == "RelatedPerson"
                && r["patient"]["reference"] == format!("Patient/{pid}")
        })
    };
    if let Some(adult) = patients.iter().find(|p| age_of(p).is_some_and(|a| a >= 18)) {
        let id = adult["id"].as_str().unwrap_or_default();
        let mut a = accounts::blank(&format!("client.{id}"), Kind::Client);
        a.patient = Some(id.to_string());
        add(a, "client");
        // The supporter they chose.
        let steun = format!("{id}-steun");
        if network
            .resources
            .iter()
            .any(|r| r["resourceType"] == "RelatedPerson" && r["id"] == steun.as_str())
        {
            let mut a = accounts::blank(&format!("steun.{id}"), Kind::Supporter);
            a.name = "Sanne Bakker".into();
            a.patient = Some(id.to_string());
            a.related_person = Some(steun);
            add(a, "supporter");
        }
    }
    for (range, label) in [(0..12, "young-child"), (12..16, "child-12-15")] {
        let Some(child) = patients.iter().find(|p| {
            age_of(p).is_some_and(|a| range.contains(&a))
                && parent_of(p["id"].as_str().unwrap_or_default()).is_some()
        }) else {
            continue;
        };
        let id = child["id"].as_str().unwrap_or_default();
        if label == "child-12-15" {
            let mut a = accounts::blank(&format!("client.{id}"), Kind::Client);
            a.patient = Some(id.to_string());
            add(a, "client");
        }
        if let Some(rp) = parent_of(id) {
            let rid = rp["id"].as_str().unwrap_or_default();
            let mut a = accounts::blank(&format!("ouder.{rid}"), Kind::Representative);
            a.patient = Some(id.to_string());
            a.related_person = Some(rid.to_string());
            // The same parent of the child's brothers and sisters (one person, one
            // RelatedPerson per child): one account that chooses the child.
            let person_id = &rp["identifier"][0]["value"];
            a.children = network
                .resources
                .iter()
                .filter(|r| {
                    r["resourceType"] == "RelatedPerson"
                        && !person_id.is_null()
                        && &r["identifier"][0]["value"] == person_id
                })
                .filter_map(|r| {
                    Some(accounts::ChildLink {
                        patient: r["patient"]["reference"]
                            .as_str()?
                            .strip_prefix("Patient/")?
                            .to_string(),
                        related_person: r["id"].as_str()?.to_string(),
                    })
                })
                .collect();
            if a.children.len() < 2 {
                a.children.clear();
            }
            add(a, "parent-with-authority");
        }
    }
    let mut people = Vec::new();
    for (a, password, role) in out {
        let a = accounts::create(store, a, &password, true)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create a demo account: {e}"))?;
        people.push(json!({
            "username": a.username,
            "password": password,
            "totp_secret": a.totp_secret,
            "kind": a.kind,
            "role": role,
            "organisation": a.organisation,
            "practitioner": a.practitioner.as_ref().map(|p| format!("Practitioner/{p}")),
            "patient": a.patient,
            "related_person": a.related_person,
        }));
    }
    Ok(people)
}

/// A random password for a demo account (generated anew for every demo).
fn random_password() -> String {
    use rand::Rng;
    const WORDS: &[&str] = &[
        "kring", "fiets", "molen", "tulp", "gracht", "polder", "dijk", "kaas", "haring", "klomp",
        "duin", "sluis",
    ];
    let mut rng = rand::thread_rng();
    let words: Vec<&str> = (0..4)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    format!("{}-{}", words.join("-"), rng.gen_range(1000..10_000))
}

/// Downtime kits for the demo, unless the configuration names its own: in `--data/noodmap`,
/// locked with a password made here (printed, and kept in the demo's `kring.toml`).
async fn demo_kits(
    cfg: &mut Config,
    opened: &crate::open::Opened,
    data: &std::path::Path,
) -> anyhow::Result<()> {
    if cfg.kit_dir.is_none() {
        use rand::Rng;
        let words = [
            "linde", "beuk", "eik", "wilg", "berk", "es", "iep", "hazelaar",
        ];
        let mut rng = rand::thread_rng();
        let passphrase = (0..4)
            .map(|_| words[rng.gen_range(0..words.len())].to_string())
            .collect::<Vec<_>>()
            .join("-")
            + &format!("-{}", rng.gen_range(100..1000));
        cfg.kit_dir = Some(data.join("noodmap"));
        cfg.kit_passphrase = Some(passphrase);
    }
    let written = kring_server::kit::write_all(&opened.record, &cfg.kit()?, &cfg.high_risk())
        .await
        .map_err(anyhow::Error::msg)?;
    println!(
        "Downtime kits: {} locations in {} (password: {}).",
        written.len(),
        cfg.kit_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        cfg.kit_passphrase.as_deref().unwrap_or_default()
    );
    Ok(())
}

/// Backups for the demo, unless the configuration names its own: a key pair and a backup folder
/// in `--data` (in production the identity is kept off the machine), one backup and one
/// restore drill now, so the administrators' page shows evidence from the start.
async fn demo_continuity(
    cfg: &mut Config,
    opened: &crate::open::Opened,
    data: &std::path::Path,
) -> anyhow::Result<()> {
    if cfg.backup_dir.is_some() {
        return write_config(cfg, data);
    }
    if opened.database.backend() == kring_store::Backend::Citus {
        println!(
            "Backups: none made — a Citus cluster is backed up node by node (pgBackRest on each), not through Kring's coordinator."
        );
        return write_config(cfg, data);
    }
    let (secret, public) = kring_continuity::crypt::new_pair();
    let identity = data.join("backup-identity.txt");
    {
        use std::io::Write;
        let mut f = kring_continuity::crypt::new_private_file(&identity)?;
        f.write_all(secret.as_bytes())?;
    }
    cfg.backup_dir = Some(data.join("backups"));
    cfg.backup_recipient = Some(public);
    cfg.backup_identity = Some(identity);
    let settings = kring_continuity::backup::Settings {
        dir: cfg.backup_dir()?,
        recipients: cfg.backup_recipients()?,
        keep: cfg.backup_keep,
    };
    let inst = kring_continuity::Installation {
        database: opened.database.clone(),
        log: cfg.log_config(),
        review: cfg.review_path(),
    };
    opened.log.checkpoint_now().await?;
    let taken = kring_continuity::backup::take(&inst, &settings).await;
    kring_continuity::pending::Run::of_backup(&taken)
        .log(&opened.record)
        .await?;
    let m = taken?;
    let drill = kring_continuity::drill::run(
        &settings.dir,
        &cfg.backup_identities()?,
        super::drill::scratch(cfg)?,
    )
    .await;
    kring_continuity::pending::Run::of_drill(&drill)
        .log(&opened.record)
        .await?;
    println!(
        "Backups: {} (one made, {:.1} MB encrypted; restore drill {} in {:.1} s).",
        settings.dir.display(),
        m.bytes() as f64 / 1e6,
        if drill.ok { "passed" } else { "FAILED" },
        drill.rto_ms as f64 / 1000.0
    );
    write_config(cfg, data)
}

/// `kring.toml` in `--data`: the demo's database, log, witness and backups, so that
/// `kring --config DATA/kring.toml serve` serves the demo as it was made.
fn write_config(cfg: &Config, data: &std::path::Path) -> anyhow::Result<()> {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let settings = [
        ("database", Some(cfg.database.clone())),
        ("access_log", path(&cfg.access_log)),
        ("audit_witness", cfg.audit_witness.clone()),
        ("backup_dir", path(&cfg.backup_dir)),
        ("backup_recipient", cfg.backup_recipient.clone()),
        ("backup_identity", path(&cfg.backup_identity)),
        ("kit_dir", path(&cfg.kit_dir)),
        ("kit_passphrase", cfg.kit_passphrase.clone()),
    ];
    let mut toml = String::from(
        "# Written by `kring demo`: serve this demo again with\n# kring --config <this file> serve\n",
    );
    for (key, value) in settings {
        if let Some(v) = value {
            toml.push_str(&format!("{key} = {v:?}\n"));
        }
    }
    std::fs::write(data.join("kring.toml"), toml)?;
    Ok(())
}

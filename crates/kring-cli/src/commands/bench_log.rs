//! `kring bench --audit`: the access log's own figures for BENCHMARKS.md.
//!
//! 1. Sustained append rate with fsync on: 256 concurrent writers, each recording the 1 to 20
//!    entries a request produces, for `--seconds` × 3.
//! 2. FHIR read by id over HTTP with the log, and the same server without it (entries
//!    discarded: the baseline the ratio is measured against), in alternating rounds.
//! 3. `kring audit verify` over `--entries` entries (written first in bulk).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use kring_audit::{
    AccessEntry, AccessLog, Actor, AuditError, Checkpoint, Data, Hash, LogConfig, LogQuery,
    MerkleLog, Origin,
};
use kring_record::Record;
use kring_store::Store;

use super::bench::{call, percentile, run_clients, tempfile_dir, BenchArgs};

/// A realistic entry: one of 10,000 staff, one of 100,000 clients, with grounds and reasons.
fn entry(i: u64) -> AccessEntry {
    let staff = i.wrapping_mul(2_654_435_761) % 10_000;
    let client = i.wrapping_mul(40_503) % 100_000;
    AccessEntry {
        recorded: kring_audit::now(),
        action: ["R", "R", "R", "C", "U"][(i % 5) as usize].into(),
        interaction: ["read", "search-type", "read", "create", "update"][(i % 5) as usize].into(),
        outcome: if i.is_multiple_of(97) {
            "denied"
        } else {
            "success"
        }
        .into(),
        user: Actor {
            id: format!("account/medewerker.{staff}"),
            person: format!("Practitioner/pr-{staff}"),
            name: format!("Medewerker {staff}"),
            role: format!("PractitionerRole/pr-{staff}-role"),
            organisation: format!("Organization/org-{}", staff % 40),
        },
        client: format!("client-{client:06}"),
        data: Data {
            resource_type: "CarePlan".into(),
            id: format!("client-{client:06}-plan"),
            category: "support-plan".into(),
        },
        source: Origin {
            system: "kring-web".into(),
            address: format!("10.{}.{}.{}", staff % 250, client % 250, i % 250),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0".into(),
        },
        purpose: "TREAT".into(),
        grounds: vec![
            format!("CareTeam/client-{client:06}-circle#{}", staff % 7),
            format!("Consent/client-{client:06}-consent"),
        ],
        reasons: vec![
            "rule:circle-membership".into(),
            format!(
                "membership:CareTeam/client-{client:06}-circle#{}",
                staff % 7
            ),
        ],
        ..AccessEntry::default()
    }
}

/// The baseline of the read comparison: the same server with entries discarded.
struct Discard;

#[async_trait::async_trait]
impl AccessLog for Discard {
    async fn record(&self, _: Vec<AccessEntry>) -> Result<(), AuditError> {
        Ok(())
    }
    async fn query(&self, _: &LogQuery) -> Result<Vec<AccessEntry>, AuditError> {
        Ok(vec![])
    }
    async fn entries_from(&self, _: u64, _: usize) -> Result<Vec<AccessEntry>, AuditError> {
        Ok(vec![])
    }
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        Ok(None)
    }
    async fn inclusion_proof(&self, _: u64, _: u64) -> Result<Vec<Hash>, AuditError> {
        Ok(vec![])
    }
    async fn consistency_proof(&self, _: u64, _: u64) -> Result<Vec<Hash>, AuditError> {
        Ok(vec![])
    }
    async fn leaf(&self, _: u64) -> Result<Option<Hash>, AuditError> {
        Ok(None)
    }
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    println!("# kring bench --audit — {} s per run", args.seconds);
    append_rate(&dir, args.seconds).await?;
    read_with_and_without(&dir, args).await?;
    match &args.log_dir {
        Some(kept) => {
            std::fs::create_dir_all(kept)?;
            verify_large(kept, args.entries).await?
        }
        None => verify_large(&dir, args.entries).await?,
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// 1. Entries per second, sustained, fsync on.
///
/// In the server's own process, and through the log service (`kring log-serve`) on a Unix
/// socket, as several servers write to one log.
async fn append_rate(dir: &std::path::Path, seconds: u64) -> anyhow::Result<()> {
    let log = Arc::new(MerkleLog::open(LogConfig::at(&dir.join("append.db"))).await?);
    let (n, secs, lat) = append_load(log.clone(), seconds * 3).await?;
    let cp = log.checkpoint_now().await?.map(|c| c.size).unwrap_or(0);
    anyhow::ensure!(
        cp == n,
        "every acknowledged entry is in the signed tree ({cp} vs {n})"
    );
    append_row(
        "append, 256 writers × 1–20 entries, fsync on",
        n,
        secs,
        &lat,
    );
    log.shut_down().await?;

    let log = Arc::new(MerkleLog::open(LogConfig::at(&dir.join("service.db"))).await?);
    let socket = dir.join("log.sock");
    let listener = tokio::net::UnixListener::bind(&socket)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(kring_audit::service::serve(
        log.clone(),
        listener,
        kring_audit::service::Peers(vec![crate::open::own_uid()?]),
        async move {
            let _ = stopped.await;
        },
    ));
    let remote = Arc::new(kring_audit::RemoteLog::connect(&socket, crate::open::own_uid()?).await?);
    let (n, secs, lat) = append_load(remote, seconds * 3).await?;
    let cp = log.checkpoint_now().await?.map(|c| c.size).unwrap_or(0);
    anyhow::ensure!(
        cp == n,
        "every entry acknowledged through the service is in the signed tree ({cp} vs {n})"
    );
    append_row(
        "append through the log service (Unix socket, HTTP/1.1, JSON), same load",
        n,
        secs,
        &lat,
    );
    let _ = stop.send(());
    served.await??;
    log.shut_down().await?;
    Ok(())
}

/// One row of the append table.
fn append_row(what: &str, n: u64, secs: f64, lat: &[u64]) {
    println!(
        "| access log | {what} | {:.0} entries/s | {n} entries in {secs:.1} s; acknowledgement p50 {:.1} ms, p99 {:.1} ms |",
        n as f64 / secs,
        percentile(lat, 0.50),
        percentile(lat, 0.99),
    );
}

/// 256 writers appending 1–20 entries at a time for `seconds`: how many entries, in how
/// long, and each append's acknowledgement time (µs).
async fn append_load(
    log: Arc<dyn AccessLog>,
    seconds: u64,
) -> anyhow::Result<(u64, f64, Vec<u64>)> {
    let total = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..256u64 {
        let (log, total) = (log.clone(), total.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w * 1_000_000_000;
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let n = 1 + (i % 20);
                let batch: Vec<AccessEntry> = (i..i + n).map(entry).collect();
                let t = Instant::now();
                log.record(batch).await?;
                lat.push(t.elapsed().as_micros() as u64);
                total.fetch_add(n, Ordering::Relaxed);
                i += n;
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    Ok((total.load(Ordering::Relaxed), secs, lat))
}

/// 2. Read by id over HTTP, with the log and without it, in alternating rounds.
async fn read_with_and_without(dir: &std::path::Path, args: &BenchArgs) -> anyhow::Result<()> {
    let database = Arc::new(
        kring_store_sqlite::SqliteStore::open(&format!("sqlite:{}", dir.join("read.db").display()))
            .await?,
    );
    database.migrate().await?;
    let accounts: Arc<dyn kring_store::AccountStore> = database.clone();
    let store: Arc<dyn Store> = database;
    let access = Arc::new(kring_access::NeedToKnow::new()?);
    let log = Arc::new(MerkleLog::open(LogConfig::at(&dir.join("read-log.db"))).await?);
    let logged = Record::new(store.clone(), access.clone(), log.clone());
    let unlogged = Record::new(store, access, Arc::new(Discard));
    let patients = 20_000usize;
    let bar = ProgressBar::new((patients * 10) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} resources").expect("template"),
    );
    super::bench::load(&logged, 0, patients, &bar).await?;
    bar.finish_and_clear();
    let mut bases = Vec::new();
    for record in [logged, unlogged] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = kring_server::AppState::local_operator(
            record,
            accounts.clone(),
            kring_server::HttpConfig::default(),
        );
        tokio::spawn(async move { axum::serve(listener, kring_server::router(state)).await });
        bases.push(format!("http://{addr}/fhir"));
    }
    let mut rates = [Vec::new(), Vec::new()];
    for _round in 0..3 {
        for (k, base) in bases.iter().enumerate() {
            let b = base.clone();
            let t = run_clients(args.clients, args.seconds, move |client, n| {
                let url = format!("{b}/Patient/bp{}", (n * 7919) as usize % patients);
                async move {
                    let (s, _) = call(&client, "GET", &url, None).await?;
                    anyhow::ensure!(s == 200, "status {s}");
                    Ok(1)
                }
            })
            .await;
            anyhow::ensure!(t.errors == 0, "{} reads failed", t.errors);
            rates[k].push(t.ops as f64 / t.seconds);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (with, without) = (median(&mut rates[0]), median(&mut rates[1]));
    println!(
        "| access log | FHIR read by id, {} clients, with the log vs without (median of 3 alternating rounds) | {:.0} vs {:.0} reads/s | {:.0}% of the unlogged rate |",
        args.clients,
        with,
        without,
        100.0 * with / without
    );
    log.shut_down().await?;
    Ok(())
}

/// 3. `kring audit verify` over `n` entries.
async fn verify_large(dir: &std::path::Path, n: u64) -> anyhow::Result<()> {
    let path = dir.join("verify.db");
    let mut config = LogConfig::at(&path);
    config.checkpoint_entries = 1_000_000;
    let kept = path.exists()
        && kring_audit::ledger::entry_count(&kring_audit::ledger::open_read_only(&path).await?)
            .await?
            == n;
    let log = Arc::new(MerkleLog::open(config.clone()).await?);
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} entries written ({per_sec})")
            .expect("template"),
    );
    let start = Instant::now();
    let mut next = if kept { n } else { 0u64 };
    // Four writers of large batches: the fastest way in, through the same path as always.
    while next < n {
        let mut round = Vec::new();
        for _ in 0..4 {
            let k = 20_000.min(n - next);
            if k == 0 {
                break;
            }
            let (log, from) = (log.clone(), next);
            round.push(tokio::spawn(async move {
                log.record((from..from + k).map(entry).collect()).await
            }));
            next += k;
        }
        for t in round {
            t.await??;
        }
        bar.set_position(next);
    }
    bar.finish_and_clear();
    let write_s = start.elapsed().as_secs_f64();
    log.shut_down().await?;
    drop(log);
    let size_gb = std::fs::metadata(&path)?.len() as f64 / 1e9;
    let pool = kring_audit::ledger::open_read_only(&path).await?;
    let key = kring_audit::checkpoint::load_or_create_key(&config.key_path, false)?.verifying_key();
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} entries verified ({per_sec})")
            .expect("template"),
    );
    let start = Instant::now();
    let report = kring_audit::verify::verify(&pool, &key, &[], |k| bar.set_position(k)).await?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(report.is_intact(), "{:?}", report.problems);
    anyhow::ensure!(report.entries == n, "verified {} of {n}", report.entries);
    let log = MerkleLog::open(config).await?;
    breach_scope(&log, n).await?;
    log.shut_down().await?;
    println!(
        "| access log | kring audit verify over {n} entries ({size_gb:.1} GB, {} checkpoints) | {secs:.1} s | {:.0} entries/s; {} |",
        report.checkpoints,
        n as f64 / secs,
        if kept {
            "the log of an earlier run (--log-dir)".to_string()
        } else {
            format!("written in {write_s:.0} s")
        }
    );
    Ok(())
}

/// 4. A data breach's scope over the same log: every entry of one account in the whole
///    period, read through its index, and summed into clients, categories and records (what
///    `/privacy/datalekken` does, without the page).
async fn breach_scope(log: &MerkleLog, n: u64) -> anyhow::Result<()> {
    use kring_audit::AccessLog;
    let start = Instant::now();
    let entries = log
        .query(&kring_audit::LogQuery {
            user: Some("account/medewerker.42".into()),
            from_ms: Some(0),
            to_ms: Some(i64::MAX),
            limit: 200_000,
            ..Default::default()
        })
        .await?;
    let clients: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.client.as_str()).collect();
    let records: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.data.id.as_str()).collect();
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(!entries.is_empty(), "the account has entries");
    println!(
        "| access log | a data breach's scope: one account's entries over {n} entries | {:.0} ms | {} entries, {} clients, {} records |",
        secs * 1000.0,
        entries.len(),
        clients.len(),
        records.len()
    );
    // By network address and by a location's staff, within what an officer of one
    // organisation sees (its users' entries), over the whole period.
    let known = entry(42);
    let org = known.user.organisation.clone();
    let org_n: u64 = org.rsplit('-').next().unwrap_or("0").parse()?;
    let roles: Vec<String> = (org_n..10_000)
        .step_by(40)
        .take(25)
        .map(|s| format!("PractitionerRole/pr-{s}-role"))
        .collect();
    for (what, q) in [
        (
            "one network address",
            kring_audit::LogQuery {
                address: Some(known.source.address.clone()),
                ..Default::default()
            },
        ),
        (
            "a location's 25 staff roles",
            kring_audit::LogQuery {
                roles: Some(roles),
                ..Default::default()
            },
        ),
    ] {
        let start = Instant::now();
        let entries = log
            .query(&kring_audit::LogQuery {
                user_org: Some(org.clone()),
                clients: Some(vec![]),
                from_ms: Some(0),
                to_ms: Some(i64::MAX),
                limit: 200_000,
                ..q
            })
            .await?;
        let secs = start.elapsed().as_secs_f64();
        anyhow::ensure!(!entries.is_empty(), "{what} has entries");
        println!(
            "| access log | a data breach's scope: {what}, within one organisation's entries, over {n} entries | {:.0} ms | {} entries |",
            secs * 1000.0,
            entries.len(),
        );
    }
    Ok(())
}

//! `kring bench`: throughput and latency on data it generates itself. Results are printed as
//! Markdown rows for BENCHMARKS.md.
//!
//! 1. Bundle import: transaction Bundles of 50 patients with their observations, through the
//!    same path as `kring import`, until the database holds `--resources` resources.
//! 2. Read by id over HTTP with `--clients` concurrent clients.
//! 3. A create/read/update/delete mix over HTTP with the same clients.
//! 4. Search by identifier, name, birthdate, subject and a common code (a quarter of all
//!    observations share it) over HTTP, one at a time (latency).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::{Args, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use indicatif::{ProgressBar, ProgressStyle};
use kring_record::{Caller, Preference, Record};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::config::Config;

#[derive(Clone, Copy, ValueEnum, Debug, PartialEq)]
pub enum BenchBackend {
    Sqlite,
    Postgres,
}

#[derive(Args)]
pub struct BenchArgs {
    /// The storage backend to measure.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: BenchBackend,
    /// PostgreSQL server for --backend postgres; a fresh schema is created there and dropped after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres: String,
    /// How many resources the database holds for the search benchmark (a tenth are patients).
    #[arg(long, default_value_t = 1_000_000)]
    pub resources: usize,
    /// Seconds each HTTP throughput benchmark runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Measure only the cost of access control: read by id and a filtered search, as the
    /// unrestricted operator and as a partner system whose organisation is in 1,000 circles,
    /// side by side.
    #[arg(long)]
    pub access: bool,
    /// Measure only the access log: sustained append rate (fsync on), FHIR read by id with
    /// and without the log side by side, and `kring audit verify` over --entries entries.
    #[arg(long)]
    pub audit: bool,
    /// Measure only the oversight engine: precision and recall per kind on unseen synthetic
    /// months, NDJSON screening speed, and the live log at 10 million entries (skipped with
    /// --entries 0).
    #[arg(long)]
    pub oversight: bool,
    /// Measure only the pages of daily work: the demo network copied until it holds
    /// --resources, then --clients signed-in professionals opening the client page, "my
    /// clients" and the round list, writing reports and signing off doses.
    #[arg(long)]
    pub pages: bool,
    /// How many log entries --audit verifies.
    #[arg(long, default_value_t = 10_000_000)]
    pub entries: u64,
    /// Where --audit keeps the log it verifies (`verify.db`), and --pages its database, to
    /// measure them again in a later run without writing them anew (writing 10 million entries
    /// or a million resources takes minutes). Default: a temporary folder, removed afterwards.
    #[arg(long)]
    pub log_dir: Option<std::path::PathBuf>,
}

/// The organisation of the bench's clients and of its partner system.
const BENCH_ORG: &str = "bench-org";
/// How many clients have the partner's organisation in their circle.
const BENCH_CIRCLES: usize = 1_000;

const OBS_PER_PATIENT: usize = 9;
const BENCH_SYSTEM: &str = "urn:kring:bench:patient";

fn patient(i: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Value {
    let total: u32 = kring_demo::SURNAMES.iter().map(|(_, w)| w).sum();
    let mut n = rng.gen_range(0..total);
    let mut family = kring_demo::SURNAMES[0].0;
    for (s, w) in kring_demo::SURNAMES {
        if n < *w {
            family = s;
            break;
        }
        n -= w;
    }
    let year = rng.gen_range(1930..2025);
    let given = ["Anna", "Bram", "Cor", "Daan", "Emma", "Fenna"][i % 6];
    json!({"resourceType": "Patient", "id": format!("bp{i}"), "identifier": [{"system": BENCH_SYSTEM, "value": i.to_string()}],
        "name": [{"family": family, "given": [given]}],
        "gender": if i.is_multiple_of(2) { "female" } else { "male" },
        "birthDate": format!("{year}-{:02}-{:02}", rng.gen_range(1..13), rng.gen_range(1..29)),
        "managingOrganization": {"reference": format!("Organization/{BENCH_ORG}")}})
}

/// The LOINC codes (with their units) of the generated observations, in turn: each is shared
/// by a quarter of them.
const OBSERVATION_CODES: [(&str, &str); 4] = [
    ("29463-7", "kg"),
    ("8867-4", "/min"),
    ("8310-5", "Cel"),
    ("2339-0", "mg/dL"),
];

fn observation(p: usize, j: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Value {
    let (code, unit) = OBSERVATION_CODES[j % OBSERVATION_CODES.len()];
    json!({"resourceType": "Observation", "id": format!("bo{p}-{j}"), "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/bp{p}")},
        "effectiveDateTime": format!("2025-{:02}-{:02}T{:02}:00:00Z", rng.gen_range(1..13), rng.gen_range(1..29), rng.gen_range(0..24)),
        "valueQuantity": {"value": rng.gen_range(30..120), "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
}

/// Loads patients `from..to` with their observations as transaction Bundles of 50 patients.
pub(super) async fn load(
    record: &Record,
    from: usize,
    to: usize,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let caller = Caller::operator("bench");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(from as u64);
    let mut p = from;
    while p < to {
        let end = (p + 50).min(to);
        let mut entries = Vec::new();
        for i in p..end {
            let pat = patient(i, &mut rng);
            entries.push(json!({"resource": pat, "request": {"method": "PUT", "url": format!("Patient/bp{i}")}}));
            for j in 0..OBS_PER_PATIENT {
                let o = observation(i, j, &mut rng);
                entries.push(json!({"resource": o, "request": {"method": "PUT", "url": format!("Observation/bo{i}-{j}")}}));
            }
        }
        let n = entries.len() as u64;
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        record
            .process_bundle(&caller, bundle, "", Preference::Minimal)
            .await
            .map_err(|e| anyhow::anyhow!("{:?}", e.outcome()))?;
        bar.inc(n);
        p = end;
    }
    Ok(())
}

pub(super) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// CPU time the host took from this machine while a benchmark ran (`steal` in `/proc/stat`):
/// on a shared virtual machine the same run can be a third slower when the host is busy, and
/// a figure read without it compares nothing.
pub(super) struct HostSteal(Option<(u64, u64)>);

impl HostSteal {
    pub(super) fn start() -> Self {
        HostSteal(cpu_ticks())
    }

    /// `; host steal N%` for a result's detail column, or nothing where it cannot be read.
    pub(super) fn note(&self) -> String {
        match (self.0, cpu_ticks()) {
            (Some((total0, steal0)), Some((total1, steal1))) if total1 > total0 => format!(
                "; host steal {:.0}%",
                100.0 * (steal1 - steal0) as f64 / (total1 - total0) as f64
            ),
            _ => String::new(),
        }
    }
}

/// (all CPU ticks, stolen ticks) from the first line of `/proc/stat`.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is counted in user).
    let steal = *ticks.get(7)?;
    Some((ticks.iter().take(8).sum(), steal))
}

/// Searches of each kind, one after another.
const SEARCHES: usize = 100;

/// Makes the next query of one search benchmark.
type QueryMaker = Box<dyn Fn(&mut rand_chacha::ChaCha8Rng) -> String>;

pub(super) type HttpClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub(super) async fn call(
    client: &HttpClient,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Bytes)> {
    call_as(client, None, method, url, body).await
}

/// [`call`] with an `Authorization` header value (`Bearer …`).
async fn call_as(
    client: &HttpClient,
    authorization: Option<&str>,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Bytes)> {
    let mut req = hyper::Request::builder().method(method).uri(url);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let bytes = match body {
        Some(b) => {
            req = req.header("content-type", "application/fhir+json");
            Bytes::from(serde_json::to_vec(b)?)
        }
        None => Bytes::new(),
    };
    let res = client.request(req.body(Full::new(bytes))?).await?;
    let status = res.status().as_u16();
    Ok((status, res.into_body().collect().await?.to_bytes()))
}

pub(super) struct Throughput {
    pub(super) ops: u64,
    pub(super) seconds: f64,
    pub(super) latencies: Vec<u64>,
    pub(super) errors: u64,
}

/// Runs `op` in `clients` loops for `seconds`, counting operations and latencies (µs).
pub(super) async fn run_clients<F, Fut>(clients: usize, seconds: u64, op: F) -> Throughput
where
    F: Fn(HttpClient, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<u64>> + Send,
{
    run_paced(clients, seconds, 0, op).await
}

/// [`run_clients`] where each client waits `pause_ms` (± half, so they do not march in step)
/// before each request, as a person reads a page before the next; only the requests are
/// timed.
pub(super) async fn run_paced<F, Fut>(
    clients: usize,
    seconds: u64,
    pause_ms: u64,
    op: F,
) -> Throughput
where
    F: Fn(HttpClient, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<u64>> + Send,
{
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, op) = (client.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(c as u64);
            let (mut lat, mut errors, mut ops, mut n) =
                (Vec::new(), 0u64, 0u64, c as u64 * 1_000_003);
            while Instant::now() < deadline {
                if pause_ms > 0 {
                    let wait = rng.gen_range(pause_ms / 2..=pause_ms + pause_ms / 2);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                let t = Instant::now();
                match op(client.clone(), n).await {
                    Ok(k) => {
                        ops += k;
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => errors += 1,
                }
                n += 1;
            }
            (lat, errors, ops)
        }));
    }
    let mut all = Throughput {
        ops: 0,
        seconds: 0.0,
        latencies: Vec::new(),
        errors: 0,
    };
    for t in tasks {
        if let Ok((lat, errors, ops)) = t.await {
            all.latencies.extend(lat);
            all.errors += errors;
            all.ops += ops;
        }
    }
    all.seconds = start.elapsed().as_secs_f64();
    all.latencies.sort_unstable();
    all
}

pub async fn run(_cfg: &Config, args: BenchArgs) -> anyhow::Result<()> {
    if args.audit {
        return super::bench_log::run(&args).await;
    }
    if args.oversight {
        return super::bench_oversight::run(&args).await;
    }
    if args.pages {
        return super::bench_pages::run(&args).await;
    }
    let dir = tempfile_dir()?;
    let schema = format!("kring_bench_{}", std::process::id());
    let database: Arc<dyn kring_store::Database> = match args.backend {
        BenchBackend::Sqlite => Arc::new(
            kring_store_sqlite::SqliteStore::open(&format!(
                "sqlite:{}",
                dir.join("bench.db").display()
            ))
            .await?,
        ),
        BenchBackend::Postgres => Arc::new(
            kring_store_postgres::PgStore::connect_in_schema(&args.postgres, &schema).await?,
        ),
    };
    database.migrate().await?;
    let accounts: Arc<dyn kring_store::AccountStore> = database.clone();
    let log = kring_audit::MerkleLog::open(kring_audit::LogConfig::at(&dir.join("access-log.db")))
        .await?;
    let record = Record::new(
        database,
        Arc::new(kring_access::NeedToKnow::new()?),
        Arc::new(log),
    );
    let patients = (args.resources / (OBS_PER_PATIENT + 1)).max(100);
    let total = patients * (OBS_PER_PATIENT + 1);
    let backend = format!("{:?}", args.backend).to_lowercase();
    println!(
        "# kring bench — {backend}, {total} resources, {} clients, {} s per HTTP run",
        args.clients, args.seconds
    );

    // 1. Bundle import (two importers, as a migration script would run them).
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} resources ({per_sec}) {msg}")
            .expect("template"),
    );
    bar.set_message("importing transaction Bundles");
    let start = Instant::now();
    let steal = HostSteal::start();
    // Each importer is a task of its own, so that the two check and index their Bundles on
    // both cores at once, as two `kring import` processes would.
    let half = patients / 2;
    let importers = [(0, half), (half, patients)].map(|(from, to)| {
        let (record, bar) = (record.clone(), bar.clone());
        tokio::spawn(async move { load(&record, from, to, &bar).await })
    });
    for importer in importers {
        importer.await??;
    }
    let import_s = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    println!("| {backend} | Bundle import (transactions of 500 resources, 2 importers) | {:.0} resources/s | {total} resources in {import_s:.1} s{} |", total as f64 / import_s, steal.note());

    // The server, in this process, on a free port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = kring_server::AppState::local_operator(
        record.clone(),
        accounts.clone(),
        kring_server::HttpConfig::default(),
    );
    let server =
        tokio::spawn(async move { axum::serve(listener, kring_server::router(state)).await });
    let base = format!("http://{addr}/fhir");
    if args.access {
        access_comparison(&record, &accounts, &base, &args, patients, &backend).await?;
        server.abort();
        return cleanup(&args, &schema, &dir).await;
    }

    // 2. Read by id.
    let b = base.clone();
    let steal = HostSteal::start();
    let reads = run_clients(args.clients, args.seconds, move |client, n| {
        let url = format!("{b}/Patient/bp{}", (n * 7919) as usize % patients);
        async move {
            let (s, _) = call(&client, "GET", &url, None).await?;
            anyhow::ensure!(s == 200, "status {s}");
            Ok(1)
        }
    })
    .await;
    println!(
        "| {backend} | read by id over HTTP, {} clients | {:.0} requests/s | p50 {:.2} ms, p99 {:.2} ms, {} errors{} |",
        args.clients,
        reads.ops as f64 / reads.seconds,
        percentile(&reads.latencies, 0.5),
        percentile(&reads.latencies, 0.99),
        reads.errors,
        steal.note()
    );

    // 3. CRUD mix: create, read, update, delete — four operations per round.
    let b = base.clone();
    let steal = HostSteal::start();
    let crud = run_clients(args.clients, args.seconds, move |client, n| {
        let b = b.clone();
        async move {
            let body = json!({"resourceType": "Patient", "name": [{"family": "Mix", "given": [n.to_string()]}], "birthDate": "1990-01-01"});
            let (s, created) = call(&client, "POST", &format!("{b}/Patient"), Some(&body)).await?;
            anyhow::ensure!(s == 201, "create {s}");
            let v: Value = serde_json::from_slice(&created)?;
            let id = v["id"].as_str().unwrap_or_default().to_string();
            let (s, _) = call(&client, "GET", &format!("{b}/Patient/{id}"), None).await?;
            anyhow::ensure!(s == 200, "read {s}");
            let mut upd = v.clone();
            upd["gender"] = json!("other");
            let (s, _) = call(&client, "PUT", &format!("{b}/Patient/{id}"), Some(&upd)).await?;
            anyhow::ensure!(s == 200, "update {s}");
            let (s, _) = call(&client, "DELETE", &format!("{b}/Patient/{id}"), None).await?;
            anyhow::ensure!(s == 204, "delete {s}");
            Ok(4)
        }
    })
    .await;
    println!(
        "| {backend} | create/read/update/delete mix over HTTP, {} clients | {:.0} operations/s | a round of 4: p50 {:.2} ms, p99 {:.2} ms, {} errors{} |",
        args.clients,
        crud.ops as f64 / crud.seconds,
        percentile(&crud.latencies, 0.5),
        percentile(&crud.latencies, 0.99),
        crud.errors,
        steal.note()
    );

    // 4. Searches, one at a time, over the whole database.
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let kinds: [(&str, QueryMaker); 6] = [
        (
            "identifier",
            Box::new(move |r| {
                format!(
                    "Patient?identifier={BENCH_SYSTEM}|{}",
                    r.gen_range(0..patients)
                )
            }),
        ),
        (
            "name",
            Box::new(|r| {
                format!(
                    "Patient?name={}&_count=20",
                    ["jansen", "de jong", "bakker", "visser", "smit", "kaya"][r.gen_range(0..6)]
                        .replace(' ', "%20")
                )
            }),
        ),
        (
            "birthdate",
            Box::new(|r| {
                format!(
                    "Patient?birthdate={}-{:02}-{:02}",
                    r.gen_range(1930..2025),
                    r.gen_range(1..13),
                    r.gen_range(1..29)
                )
            }),
        ),
        (
            "subject",
            Box::new(move |r| {
                format!("Observation?subject=Patient/bp{}", r.gen_range(0..patients))
            }),
        ),
        (
            // A quarter of all observations share each code: the first page must not wait
            // for every match.
            "a common code (system|code)",
            Box::new(|r| {
                format!(
                    "Observation?code=http://loinc.org|{}",
                    OBSERVATION_CODES[r.gen_range(0..OBSERVATION_CODES.len())].0
                )
            }),
        ),
        (
            "a common code (code only)",
            Box::new(|r| {
                format!(
                    "Observation?code={}",
                    OBSERVATION_CODES[r.gen_range(0..OBSERVATION_CODES.len())].0
                )
            }),
        ),
    ];
    for (name, make) in kinds.iter() {
        let mut lat = Vec::new();
        let mut hits = 0usize;
        let steal = HostSteal::start();
        for _ in 0..SEARCHES {
            let url = format!("{base}/{}", make(&mut rng));
            let t = Instant::now();
            let (s, body) = call(&client, "GET", &url, None).await?;
            lat.push(t.elapsed().as_micros() as u64);
            anyhow::ensure!(s == 200, "search {url}: {s}");
            let v: Value = serde_json::from_slice(&body)?;
            hits += v["entry"].as_array().map(Vec::len).unwrap_or(0);
        }
        lat.sort_unstable();
        println!(
            "| {backend} | search by {name} over {total} resources | p50 {:.2} ms, p95 {:.2} ms | {:.1} matches per page on average{} |",
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            hits as f64 / SEARCHES as f64,
            steal.note()
        );
    }
    server.abort();
    cleanup(&args, &schema, &dir).await
}

async fn cleanup(args: &BenchArgs, schema: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    if args.backend == BenchBackend::Postgres {
        kring_store_postgres::PgStore::drop_schema(&args.postgres, schema)
            .await
            .context("cannot drop the benchmark schema")?;
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// Read by id and a filtered search, first as the operator (no restriction: the baseline),
/// then as a partner system through the need-to-know decision, on the same clients.
async fn access_comparison(
    record: &Record,
    accounts: &Arc<dyn kring_store::AccountStore>,
    operator_base: &str,
    args: &BenchArgs,
    patients: usize,
    backend: &str,
) -> anyhow::Result<()> {
    let circles = BENCH_CIRCLES.min(patients);
    let caller = Caller::operator("bench");
    let mut lines = vec![serde_json::to_vec(
        &json!({"resourceType": "Organization", "id": BENCH_ORG, "name": "Bench"}),
    )?];
    let cats: Vec<Value> = [
        "identity",
        "support-plan",
        "crisis-plan",
        "reports",
        "medication",
        "treatment-notes",
        "documents",
    ]
    .iter()
    .map(|c| json!({"system": kring_access::category::CATEGORY_SYSTEM, "code": c}))
    .collect();
    for i in 0..circles {
        lines.push(serde_json::to_vec(&json!({
            "resourceType": "CareTeam", "id": format!("bp{i}-circle"), "status": "active",
            "subject": {"reference": format!("Patient/bp{i}")},
            "participant": [{"extension": [{"url": kring_access::circle::CATEGORIES_EXTENSION,
                                            "valueCodeableConcept": {"coding": cats}}],
                             "member": {"reference": format!("Organization/{BENCH_ORG}")},
                             "period": {"start": "2020-01-01"}}]}))?);
    }
    for chunk in lines.chunks(500) {
        for r in record.restore(&caller, chunk.to_vec()).await? {
            r.map_err(|e| anyhow::anyhow!("{:?}", e.outcome()))?;
        }
    }
    // The production server: bearer tokens, the need-to-know decision.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = kring_server::AppState::new(
        record.clone(),
        accounts.clone(),
        kring_server::HttpConfig::default(),
    );
    let server =
        tokio::spawn(async move { axum::serve(listener, kring_server::router(state)).await });
    let partner =
        kring_server::auth::partners::register(&**accounts, BENCH_ORG, "system/*.rs").await?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        partner.client_id, partner.client_secret
    );
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))?;
    let res = client.request(req).await?;
    let body = res.into_body().collect().await?.to_bytes();
    let token: Value = serde_json::from_slice(&body)?;
    let bearer = format!(
        "Bearer {}",
        token["access_token"].as_str().unwrap_or_default()
    );
    let secure_base = format!("http://{addr}/fhir");
    println!("# access control: {circles} clients with the partner's organisation in their circle");
    for (what, path) in [
        ("read by id", "Patient/bp{}"),
        (
            "filtered search (Observation?subject=…)",
            "Observation?subject=Patient/bp{}&_count=20",
        ),
        // Not about one client: the scope's whole list is checked for every candidate row.
        (
            "search across clients (Observation?code=…)",
            "Observation?code=http://loinc.org|8867-4&_count=20",
        ),
    ] {
        let mut results = Vec::new();
        for (who, base, auth) in [
            ("operator (no restriction)", operator_base.to_string(), None),
            (
                "partner system (need-to-know)",
                secure_base.clone(),
                Some(bearer.clone()),
            ),
        ] {
            let path = path.to_string();
            let t = run_clients(args.clients, args.seconds, move |client, n| {
                let url = format!(
                    "{base}/{}",
                    path.replace("{}", &((n * 7919) as usize % circles).to_string())
                );
                let auth = auth.clone();
                async move {
                    let (s, body) = call_as(&client, auth.as_deref(), "GET", &url, None).await?;
                    anyhow::ensure!(s == 200, "status {s}");
                    anyhow::ensure!(!body.is_empty(), "empty");
                    Ok(1)
                }
            })
            .await;
            let rate = t.ops as f64 / t.seconds;
            println!(
                "| {backend} | {what}, {who}, {} clients | {rate:.0} requests/s | p50 {:.2} ms, p99 {:.2} ms, {} errors |",
                args.clients,
                percentile(&t.latencies, 0.5),
                percentile(&t.latencies, 0.99),
                t.errors
            );
            results.push(rate);
        }
        println!(
            "| {backend} | {what}: partner ÷ operator | {:.0}% | |",
            results[1] * 100.0 / results[0].max(1.0)
        );
    }
    server.abort();
    Ok(())
}

pub(super) fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kring-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

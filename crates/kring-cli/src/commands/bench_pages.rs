//! `kring bench --pages`: the pages of daily work under load. The demo network is copied (every
//! id and reference prefixed `c{k}-`, so each copy is a care network of its own with its own
//! professionals, circles and locations) until the record holds `--resources`; 32 (`--clients`)
//! signed-in professionals — the same kind of location worker in 32 copies — then each open
//! the client page, "my clients" and the round list, write reports and sign off doses, one kind
//! of request per run, through the production router over HTTP. Beside them, 32 signed-in
//! clients (the adult client of each copy) open the portal's start page, and one client with
//! 2,000 resources downloads their whole record.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use indicatif::{ProgressBar, ProgressStyle};
use kring_record::{Caller, Record};
use serde_json::Value;

use super::bench::{percentile, run_paced, tempfile_dir, BenchArgs, HostSteal, HttpClient};

/// One copy's id for a demo id.
fn prefixed(k: usize, id: &str) -> String {
    format!("c{k}-{id}")
}

/// The resource with every id and reference of copy `k`.
fn copy_of(v: &Value, k: usize) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(key, val)| {
                    let val = match (key.as_str(), val) {
                        ("reference", Value::String(r)) => match r.split_once('/') {
                            Some((t, id))
                                if !r.contains(':')
                                    && t.chars().all(|c| c.is_ascii_alphabetic()) =>
                            {
                                Value::String(format!("{t}/{}", prefixed(k, id)))
                            }
                            _ => val.clone(),
                        },
                        _ => copy_of(val, k),
                    };
                    (key.clone(), val)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| copy_of(x, k)).collect()),
        other => other.clone(),
    }
}

/// The worker every simulated user is: a location professional with medication and reports
/// in the most circles of clients staying at one location.
struct Worker {
    practitioner: String,
    organisation: String,
    location: String,
    /// Clients in the worker's circles.
    clients: Vec<String>,
    /// Clients whose reports the worker writes.
    reporting: Vec<String>,
    /// Doses of medication that is not high-risk: (schedule id, time of day).
    doses: Vec<(String, chrono::NaiveTime)>,
}

fn worker(
    network: &kring_demo::Network,
    high: &kring_record::medication::HighRisk,
) -> Option<Worker> {
    let today = kring_demo::today().to_string();
    let stays: Vec<(&str, &str)> = network
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Encounter" && r["status"] == "in-progress")
        .filter_map(|r| {
            Some((
                r["subject"]["reference"]
                    .as_str()?
                    .strip_prefix("Patient/")?,
                r["location"][0]["location"]["reference"]
                    .as_str()?
                    .strip_prefix("Location/")?,
            ))
        })
        .collect();
    let mut best: Option<Worker> = None;
    for p in network
        .people
        .iter()
        .filter(|p| p.organisation == "zorggroep-de-linde")
    {
        let pid = p.practitioner.trim_start_matches("Practitioner/");
        let role = format!("PractitionerRole/{pid}-role");
        let mut w = Worker {
            practitioner: pid.to_string(),
            organisation: p.organisation.clone(),
            location: String::new(),
            clients: vec![],
            reporting: vec![],
            doses: vec![],
        };
        for circle in network
            .resources
            .iter()
            .filter(|r| r["resourceType"] == "CareTeam")
        {
            let Some(client) = circle["subject"]["reference"]
                .as_str()
                .and_then(|s| s.strip_prefix("Patient/"))
            else {
                continue;
            };
            for m in circle["participant"].as_array().into_iter().flatten() {
                let running = m["period"]["start"].as_str().unwrap_or("") <= today.as_str()
                    && m["period"]["end"].as_str().unwrap_or("9999") >= today.as_str();
                if m["member"]["reference"] != role.as_str() || !running {
                    continue;
                }
                let cats: Vec<&str> = m["extension"][0]["valueCodeableConcept"]["coding"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["code"].as_str())
                    .collect();
                w.clients.push(client.to_string());
                if cats.contains(&"reports") {
                    w.reporting.push(client.to_string());
                }
                if !cats.contains(&"medication") {
                    continue;
                }
                if let Some((_, loc)) = stays.iter().find(|(c, _)| *c == client) {
                    if w.location.is_empty() {
                        w.location = loc.to_string();
                    }
                    if *loc != w.location {
                        continue;
                    }
                    for r in network.resources.iter().filter(|r| {
                        r["resourceType"] == "MedicationRequest"
                            && r["subject"]["reference"] == format!("Patient/{client}")
                    }) {
                        let id = r["id"].as_str().unwrap_or_default();
                        for d in kring_record::medication::doses_of(id, client, r, high) {
                            if !d.high_risk {
                                w.doses.push((id.to_string(), d.due));
                            }
                        }
                    }
                }
            }
        }
        if !w.doses.is_empty()
            && !w.reporting.is_empty()
            && best.as_ref().is_none_or(|b| w.doses.len() > b.doses.len())
        {
            best = Some(w);
        }
    }
    best
}

/// A signed-in user of copy `k`: session cookie and CSRF token.
struct User {
    k: usize,
    cookie: String,
    csrf: String,
}

async fn page(
    client: &HttpClient,
    user: &User,
    method: &str,
    url: &str,
    form: Option<String>,
) -> anyhow::Result<(u16, Bytes)> {
    let mut req = hyper::Request::builder().method(method).uri(url).header(
        "cookie",
        format!("{}={}", kring_server::auth::sessions::COOKIE, user.cookie),
    );
    let body = match form {
        Some(f) => {
            req = req.header("content-type", "application/x-www-form-urlencoded");
            Bytes::from(f)
        }
        None => Bytes::new(),
    };
    let res = client.request(req.body(Full::new(body))?).await?;
    let status = res.status().as_u16();
    Ok((status, res.into_body().collect().await?.to_bytes()))
}

/// The account `a` (created when a reused database does not hold it yet), signed in with both
/// factors, as the user of copy `k`.
async fn signed_in(
    accounts: &dyn kring_store::AccountStore,
    a: kring_server::auth::accounts::Account,
    k: usize,
) -> anyhow::Result<User> {
    let username = a.username.clone();
    if kring_server::auth::accounts::load(accounts, &username)
        .await?
        .is_none()
    {
        kring_server::auth::accounts::create(accounts, a, "bench password, not a secret", true)
            .await?;
    }
    let (cookie, session) = kring_server::auth::sessions::start(
        accounts,
        &username,
        true,
        kring_server::auth::now_ms(),
    )
    .await?;
    Ok(User {
        k,
        cookie,
        csrf: session.csrf,
    })
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    // With --log-dir the database stays there, and a later run measures it again without
    // loading a million resources anew.
    let dir = match &args.log_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => tempfile_dir()?,
    };
    let loaded = dir.join("bench.db").exists();
    let database: Arc<dyn kring_store::Database> = Arc::new(
        kring_store_sqlite::SqliteStore::open(&format!(
            "sqlite:{}",
            dir.join("bench.db").display()
        ))
        .await?,
    );
    database.migrate().await?;
    let accounts: Arc<dyn kring_store::AccountStore> = database.clone();
    let log = kring_audit::MerkleLog::open(kring_audit::LogConfig::at(&dir.join("access-log.db")))
        .await?;
    let record = Record::new(
        database,
        Arc::new(kring_access::NeedToKnow::new()?),
        Arc::new(log),
    );
    let network = kring_demo::generate(1);
    let per_copy = network.resources.len();
    let copies = args.resources.div_ceil(per_copy).max(args.clients);
    let w = worker(&network, record.high_risk())
        .ok_or_else(|| anyhow::anyhow!("the demo network has no location worker with doses"))?;
    println!(
        "# kring bench --pages — sqlite, {} copies of the demo network ({} resources), {} signed-in professionals, {} s per run",
        copies,
        copies * per_copy,
        args.clients,
        args.seconds
    );
    println!(
        "Each professional: {} clients in their circles, {} doses a day on their round at one location.",
        w.clients.len(),
        w.doses.len()
    );
    if loaded {
        // Each run writes reports into the professionals' own clients, all of them "new since
        // the last visit" for "my clients" in the next run (BENCHMARKS.md, 2026-12-07).
        println!(
            "Measuring a database loaded before: the reports and sign-offs of earlier runs are in it and make \"my clients\" slower; for comparable figures, measure each run on a fresh copy of a snapshot taken right after loading."
        );
    }

    // 1. The network, copy by copy.
    let bar = ProgressBar::new((copies * per_copy) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} resources ({per_sec}) {msg}")
            .expect("template"),
    );
    bar.set_message("loading copies of the demo network");
    let start = Instant::now();
    let caller = Caller::operator("bench");
    for k in (0..copies).filter(|_| !loaded) {
        for chunk in network.resources.chunks(500) {
            let lines = chunk
                .iter()
                .map(|r| {
                    let mut v = copy_of(r, k);
                    if let Some(id) = r["id"].as_str() {
                        v["id"] = Value::String(prefixed(k, id));
                    }
                    serde_json::to_vec(&v).expect("serialises")
                })
                .collect();
            for r in record.restore(&caller, lines).await? {
                r?;
            }
            bar.inc(chunk.len() as u64);
        }
    }
    bar.finish_and_clear();
    if loaded {
        // The decision's facts (circles, consents …) come from the database, as at start-up.
        let facts = record.load_access_facts().await?;
        println!(
            "Reused the database in {}: {facts} facts loaded.",
            dir.display()
        );
    } else {
        println!(
            "Loaded {} resources in {:.0} s.",
            copies * per_copy,
            start.elapsed().as_secs_f64()
        );
    }

    // 2. The users: the worker of each of the first copies, signed in.
    let mut users = Vec::new();
    for k in 0..args.clients {
        let username = format!("bench.{k}");
        let mut a = kring_server::auth::accounts::blank(
            &username,
            kring_server::auth::accounts::Kind::Professional,
        );
        a.organisation = Some(prefixed(k, &w.organisation));
        a.practitioner = Some(prefixed(k, &w.practitioner));
        a.role = Some(prefixed(k, &format!("{}-role", w.practitioner)));
        users.push(signed_in(&*accounts, a, k).await?);
    }
    // The portal's users: the adult client of each of the first copies, signed in; the first
    // of them is given 2,000 resources in all, for the download.
    let adult = network
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Patient")
        .find(|p| {
            p["birthDate"]
                .as_str()
                .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
                .and_then(|b| kring_demo::today().years_since(b))
                .is_some_and(|a| a >= 18)
        })
        .and_then(|p| p["id"].as_str())
        .ok_or_else(|| anyhow::anyhow!("the demo network has no adult client"))?
        .to_string();
    let mut portal_users = Vec::new();
    for k in 0..args.clients {
        let username = format!("bench.client.{k}");
        let mut a = kring_server::auth::accounts::blank(
            &username,
            kring_server::auth::accounts::Kind::Client,
        );
        a.patient = Some(prefixed(k, &adult));
        portal_users.push(signed_in(&*accounts, a, k).await?);
    }
    let big = prefixed(0, &adult);
    let held = record
        .everything(&caller, &big, &[("_count".into(), "1".into())])
        .await
        .map(|o| o.matches.len())
        .unwrap_or(0);
    if !loaded && held > 0 {
        // Reports until the client holds 2,000 resources (what $everything counts).
        let mut total = 0usize;
        let mut offset = 0usize;
        loop {
            let out = record
                .everything(
                    &caller,
                    &big,
                    &[
                        ("_count".into(), "1000".into()),
                        ("_offset".into(), offset.to_string()),
                    ],
                )
                .await?;
            total += out.matches.len();
            offset += out.count;
            if !out.more {
                break;
            }
        }
        let lines: Vec<Vec<u8>> = (total..2_000)
            .map(|n| {
                let mut v = kring_record::reports::new_report(
                    &big,
                    &format!(
                        "PractitionerRole/{}",
                        prefixed(0, &format!("{}-role", w.practitioner))
                    ),
                    kring_record::reports::ReportKind::Note,
                    "Rustige dag. Afspraken nagekomen, niets bijzonders.",
                    n % 2 == 0,
                    "2026-11-02T10:00:00+01:00",
                );
                // Restore takes resources with their id.
                v["id"] = Value::String(format!("{big}-dl-{n}"));
                serde_json::to_vec(&v).expect("serialises")
            })
            .collect();
        for chunk in lines.chunks(500) {
            for r in record.restore(&caller, chunk.to_vec()).await? {
                r?;
            }
        }
    }
    let users = Arc::new(users);
    let portal_users = Arc::new(portal_users);
    let w = Arc::new(w);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = kring_server::AppState::new(
        record.clone(),
        accounts.clone(),
        kring_server::HttpConfig::default(),
    );
    let server =
        tokio::spawn(async move { axum::serve(listener, kring_server::router(state)).await });
    let base = format!("http://{addr}");
    let today = kring_demo::today();
    // Where this run's sign-offs begin, counted back from today (a reused database keeps the
    // doses earlier runs signed off).
    let run_day: i64 = {
        use rand::Rng;
        rand::thread_rng().gen_range(1..20_000)
    };

    println!("| what | users pause | p50 | p95 | p99 | requests/s | errors |");
    println!("|---|---|---|---|---|---|---|");
    let kinds = [
        "client page",
        "my clients",
        "round list",
        "write a report",
        "sign off a dose",
        "portal start page",
    ];
    for (what, pause) in kinds
        .iter()
        .map(|k| (*k, 1_000u64))
        .chain(kinds.iter().map(|k| (*k, 0u64)))
    {
        let (users, w, base) = if what == "portal start page" {
            (portal_users.clone(), w.clone(), base.clone())
        } else {
            (users.clone(), w.clone(), base.clone())
        };
        // The flat-out pass signs off other days than the paced one.
        let run_day = run_day + if pause == 0 { 20_000 } else { 0 };
        let steal = HostSteal::start();
        let result = run_paced(args.clients, args.seconds, pause, move |client, n| {
            let (users, w, base) = (users.clone(), w.clone(), base.clone());
            async move {
                let user = &users[(n / 1_000_003) as usize % users.len()];
                let i = (n % 1_000_003) as usize;
                let k = user.k;
                let (method, url, body, expect) = match what {
                    "client page" => (
                        "GET",
                        format!(
                            "{base}/clienten/{}",
                            prefixed(k, &w.clients[i % w.clients.len()])
                        ),
                        None,
                        200,
                    ),
                    "my clients" => ("GET", format!("{base}/clienten"), None, 200),
                    "portal start page" => ("GET", format!("{base}/mijn"), None, 200),
                    "round list" => (
                        "GET",
                        format!(
                            "{base}/medicatie?locatie={}&dag={today}",
                            prefixed(k, &w.location)
                        ),
                        None,
                        200,
                    ),
                    "write a report" => {
                        let c = prefixed(k, &w.reporting[i % w.reporting.len()]);
                        (
                            "POST",
                            format!("{base}/clienten/{c}/rapportages"),
                            Some(form(&[
                                ("csrf", &user.csrf),
                                ("kind", "note"),
                                ("text", "Rustige ochtend, afspraken nagekomen."),
                            ])),
                            303,
                        )
                    }
                    _ => {
                        // A dose not signed off before: a day further back each round of the
                        // schedule, from a day of this run's own (a dose is signed off once).
                        let (request, at) = &w.doses[i % w.doses.len()];
                        let back = run_day + (i / w.doses.len()) as i64;
                        let day = today - chrono::Duration::days(back);
                        let due = kring_record::medication::due_ms(day, *at).to_string();
                        (
                            "POST",
                            format!("{base}/medicatie/aftekenen"),
                            Some(form(&[
                                ("csrf", &user.csrf),
                                ("locatie", &prefixed(k, &w.location)),
                                ("dag", &day.to_string()),
                                ("request", &prefixed(k, request)),
                                ("due", &due),
                                ("action", "give"),
                            ])),
                            303,
                        )
                    }
                };
                let (status, _) = page(&client, user, method, &url, body).await?;
                anyhow::ensure!(status == expect, "{what}: status {status}");
                Ok(1)
            }
        })
        .await;
        println!(
            "| {what} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} | {}{} |",
            if pause == 0 {
                "none (flat out)".to_string()
            } else {
                format!("{pause} ms ± half")
            },
            percentile(&result.latencies, 0.5),
            percentile(&result.latencies, 0.95),
            percentile(&result.latencies, 0.99),
            result.ops as f64 / result.seconds,
            result.errors,
            steal.note()
        );
    }
    // The whole record of the client with 2,000 resources, as NDJSON and as a FHIR Bundle.
    let client: HttpClient =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let user = &portal_users[0];
    for (what, path) in [
        ("NDJSON", "/mijn/gegevens/dossier.ndjson"),
        ("Bundle", "/mijn/gegevens/dossier.json"),
    ] {
        let mut times = Vec::new();
        let mut lines = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let (status, body) = page(&client, user, "GET", &format!("{base}{path}"), None).await?;
            anyhow::ensure!(status == 200, "download: status {status}");
            times.push(start.elapsed().as_secs_f64());
            lines = body.iter().filter(|b| **b == b'\n').count().max(
                serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["entry"].as_array().map(Vec::len))
                    .unwrap_or(0),
            );
        }
        times.sort_by(f64::total_cmp);
        println!(
            "Download of a whole record ({what}, {lines} resources): median {:.0} ms, slowest {:.0} ms of 5.",
            times[2] * 1000.0,
            times[4] * 1000.0
        );
    }
    server.abort();
    if args.log_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

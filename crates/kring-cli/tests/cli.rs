//! The `kring` binary as an operator uses it: help, demo, import, export, and what happens when
//! the process is killed mid-way.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kring_store::{AccountStore, Store};
use serde_json::Value;

fn kring() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kring"));
    c.env_remove("KRING_DATABASE")
        .env_remove("KRING_ADDR")
        .env_remove("KRING_AUDIT_SERVICE")
        .env("KRING_LOG", "warn");
    c
}

fn synthea() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/synthea");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn db(dir: &Path, name: &str) -> String {
    format!("sqlite:{}", dir.join(name).display())
}

async fn open(url: &str) -> kring_store_sqlite::SqliteStore {
    kring_store_sqlite::SqliteStore::open(url).await.unwrap()
}

/// How many current Patients a store holds.
/// The access log of `db_url` (kept in `log`), exported with `kring audit export` as
/// AuditEvents; `kring audit verify` must find it intact first.
fn audit_events(db_url: &str, log: &Path, witness: Option<&Path>) -> Vec<Value> {
    let mut verify = kring();
    verify
        .args(["--database", db_url, "--access-log"])
        .arg(log)
        .args(["audit", "verify"]);
    if let Some(w) = witness {
        verify.arg("--witness").arg(w);
    }
    let out = verify.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("The access log is intact."), "{text}");
    let file = log.with_extension("export.ndjson");
    let out = kring()
        .args(["--database", db_url, "--access-log"])
        .arg(log)
        .args(["audit", "export", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn patients(store: &kring_store_sqlite::SqliteStore) -> u64 {
    let mut plan = kring_store::SearchPlan::new("Patient");
    plan.want_total = true;
    store.search(&plan).await.unwrap().total.unwrap()
}

#[test]
fn help_teaches() {
    let out = kring().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for word in [
        "serve",
        "demo",
        "import",
        "export",
        "migrate",
        "--database",
        "--addr",
        "--config",
        "sqlite:",
        "postgres://",
    ] {
        assert!(text.contains(word), "--help should mention {word}:\n{text}");
    }
    let out = kring().args(["import", "--help"]).output().unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("NDJSON"));
}

#[test]
fn a_bad_database_url_is_a_readable_error() {
    let out = kring()
        .args(["--database", "mysql://x", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("sqlite:PATH or postgres://"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_network_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = kring()
        .args(["demo", "--no-serve", "--seed", "3", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("demo-credentials.json")).unwrap())
            .unwrap();
    assert!(creds["people"].as_array().unwrap().len() >= 40);
    // The simulated morning left cases for the officers: the planted browsing at least.
    let said = String::from_utf8_lossy(&out.stdout);
    let cases: u32 = said
        .split("oversight put ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(cases >= 8, "{said}");
    let integration = &creds["integration"];
    assert!(integration["client_id"]
        .as_str()
        .unwrap()
        .starts_with("jeugdhulp-de-brug-"));
    assert!(integration["client_secret"].as_str().unwrap().len() >= 40);
    assert!(integration["token_url"]
        .as_str()
        .unwrap()
        .ends_with("/oauth/token"));
    let store = open(&db(&data, "kring.db")).await;
    let partner = store
        .partner(integration["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the integration client is registered");
    assert!(
        !partner
            .secret_hash
            .contains(integration["client_secret"].as_str().unwrap()),
        "only a hash of the secret is stored"
    );
    assert!(partner.secret_hash.starts_with("$argon2id$"));
    assert!(patients(&store).await >= 200);
    let events = audit_events(
        &db(&data, "kring.db"),
        &data.join("access-log.db"),
        Some(&data.join("witness.ndjson")),
    );
    assert!(events.len() > 3000, "every write was logged");
    assert!(events.iter().all(|e| e["resourceType"] == "AuditEvent"));
    assert!(
        events
            .iter()
            .any(|e| e["subtype"][0]["code"] == "policy-load"),
        "the rules in force are logged at start"
    );
}

/// `psql` against the tests' PostgreSQL server.
fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .output()
        .expect("psql (Debian package postgresql-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new, empty PostgreSQL database: its name (`prefix` and the time) and URL.
fn fresh_database(prefix: &str) -> (String, String) {
    let name = format!(
        "{prefix}_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    psql(&format!("CREATE DATABASE {name}"));
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    (name, url)
}

#[test]
fn a_flag_a_command_does_not_read_is_refused() {
    for (args, flag) in [
        (
            vec!["--database", "sqlite:elders.db", "bench"],
            "--database",
        ),
        (
            vec!["--access-log", "elders.db", "demo", "--no-serve"],
            "--access-log",
        ),
        (vec!["--addr", "0.0.0.0:1", "migrate"], "--addr"),
        (
            vec![
                "--database",
                "sqlite:x.db",
                "watch",
                "--audit",
                "a",
                "--context",
                "c",
                "--out",
                "o",
            ],
            "--database",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = kring()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("does not use {flag}")),
            "{args:?}: {err}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{args:?} did nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_loads_into_the_postgresql_database_it_is_given() {
    let (name, url) = fresh_database("kring_demo");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = kring()
        .args(["--database", &url, "demo", "--no-serve", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let store = kring_store_postgres::PgStore::connect(&url).await.unwrap();
    let counts = kring_store::backup::Backup::counts(&store).await;
    // A second demo into the same database is refused: it is never emptied by the demo.
    let again = kring()
        .args(["--database", &url, "demo", "--no-serve", "--data"])
        .arg(dir.path().join("again"))
        .output()
        .unwrap();
    drop(store);
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("The demo network (seed 1) is ready"),
        "{said}"
    );
    let counts = counts.unwrap();
    assert!(counts.resources["Patient"] >= 200, "{counts:?}");
    // The record is in PostgreSQL; the access log and the logins stay in --data.
    assert!(!data.join("kring.db").exists());
    assert!(data.join("access-log.db").exists());
    assert!(data.join("demo-credentials.json").exists());
    let config = std::fs::read_to_string(data.join("kring.toml")).unwrap();
    assert!(config.contains(&url), "{config}");
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds"), "{err}");
    // The demo's restore drill put its backup (a dump of schema `public`) into a scratch
    // database, where `public` exists already, and passed.
    let drills: Vec<serde_json::Value> = std::fs::read_dir(data.join("backups").join("drills"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert!(!drills.is_empty());
    for drill in drills {
        assert_eq!(drill["backend"], "postgresql", "{drill}");
        assert_eq!(drill["ok"], true, "{drill}");
    }
}

/// All 94 Synthea bundles import without a rejection; export then import into an empty database
/// reproduces every resource byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthea_imports_and_export_round_trips_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    let first = db(dir.path(), "first.db");
    let out = kring()
        .args(["--database", &first, "import"])
        .args(synthea())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("0 rejected"), "{report}");
    assert!(report.contains("21905 created"), "{report}");

    let export1 = dir.path().join("export1");
    let out = kring()
        .args(["--database", &first, "export"])
        .arg(&export1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let second = db(dir.path(), "second.db");
    let files: Vec<PathBuf> = std::fs::read_dir(&export1)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let out = kring()
        .args(["--database", &second, "import"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let export2 = dir.path().join("export2");
    assert!(kring()
        .args(["--database", &second, "export"])
        .arg(&export2)
        .status()
        .unwrap()
        .success());
    let mut n = 0;
    for f in &files {
        let a = std::fs::read(f).unwrap();
        let b = std::fs::read(export2.join(f.file_name().unwrap())).unwrap();
        assert!(
            a == b,
            "{} differs after export → import → export",
            f.display()
        );
        n += a.iter().filter(|c| **c == b'\n').count();
    }
    assert_eq!(n, 21905);
    // Importing the same export again changes nothing.
    let out = kring()
        .args(["--database", &second, "import"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 created, 0 updated, 21905 unchanged"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `kill -9` during an import leaves no Bundle half-imported, and running the import again
/// completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_import_leaves_no_partial_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(dir.path(), "k.db");
    let files = synthea();
    let mut child = kring()
        .args(["--database", &url, "import"])
        .args(&files)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some bundles are in, but long before all are.
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let wal = dir.path().join("k.db-wal");
        if wal.exists() && std::fs::metadata(&wal).unwrap().len() > 2_000_000
            || start.elapsed() > Duration::from_secs(20)
        {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let store = open(&url).await;
    let (mut complete, mut absent) = (0, 0);
    for f in &files {
        let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let ids: Vec<(String, String)> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["resource"]["resourceType"].as_str().unwrap().to_string(),
                    e["fullUrl"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("urn:uuid:")
                        .to_string(),
                )
            })
            .collect();
        let mut present = 0;
        for (t, id) in &ids {
            if store.read(t, id).await.unwrap().is_some() {
                present += 1;
            }
        }
        // Organisations and practitioners are shared between bundles, so count the patient's own.
        let own: Vec<&(String, String)> = ids
            .iter()
            .filter(|(t, _)| t != "Organization" && t != "Practitioner")
            .collect();
        let mut own_present = 0;
        for (t, id) in &own {
            if store.read(t, id).await.unwrap().is_some() {
                own_present += 1;
            }
        }
        assert!(
            own_present == 0 || own_present == own.len(),
            "{}: {own_present} of {} present — a partial bundle",
            f.display(),
            own.len()
        );
        if own_present == 0 {
            absent += 1;
        } else {
            complete += 1;
            assert_eq!(present, ids.len());
        }
    }
    assert!(
        complete > 0 && absent > 0,
        "the kill should land mid-import ({complete} complete, {absent} absent)"
    );
    drop(store);
    let out = kring()
        .args(["--database", &url, "import"])
        .args(&files)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && report.contains("0 rejected"),
        "{report}"
    );
    let store = open(&url).await;
    assert_eq!(patients(&store).await, 94, "no duplicates after resuming");
}

fn http(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, resp)
}

/// The headers of a FHIR request by `partner` (as `kring client add` printed it), with a
/// token the server at `addr` issued.
fn bearer_headers(addr: &str, partner: &Value) -> String {
    let (status, resp) = http(
        addr,
        "POST",
        "/oauth/token",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        &format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            partner["client_id"].as_str().unwrap(),
            partner["client_secret"].as_str().unwrap()
        ),
    );
    assert_eq!(status, 200, "{resp}");
    let token: Value = serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    format!(
        "Content-Type: application/fhir+json\r\nAuthorization: Bearer {}\r\n",
        token["access_token"].as_str().unwrap()
    )
}

/// Every write the server acknowledged survives `kill -9` of the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(dir.path(), "s.db");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let out = kring()
        .args([
            "--database",
            &url,
            "client",
            "add",
            "--organisation",
            "test-org",
            "--scope",
        ])
        .arg("system/Patient.cruds")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let partner: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut child = kring()
        .args(["--database", &url, "--addr", &addr, "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the server", || TcpStream::connect(&addr).is_ok());
    // A partner system registers the clients, as an organisation's record system would.
    let auth = bearer_headers(&addr, &partner);
    let mut acknowledged = Vec::new();
    for i in 0..50 {
        let body = format!("{{\"resourceType\":\"Patient\",\"id\":\"k{i}\",\"name\":[{{\"family\":\"Kill{i}\"}}]}}");
        let (status, _) = http(&addr, "PUT", &format!("/fhir/Patient/k{i}"), &auth, &body);
        if status == 201 {
            acknowledged.push(format!("k{i}"));
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acknowledged.len(), 50);
    let store = open(&url).await;
    for id in &acknowledged {
        assert!(
            store.read("Patient", id).await.unwrap().is_some(),
            "acknowledged Patient/{id} was lost"
        );
    }
    // The log survived the kill too: it verifies, and holds an entry for every write.
    let events = audit_events(&url, &dir.path().join("s-access-log.db"), None);
    let text = serde_json::to_string(&events).unwrap();
    for id in &acknowledged {
        assert!(
            text.contains(&format!("\"Patient/{id}\"")),
            "the access-log entry of {id} was lost"
        );
    }
    assert!(
        events.iter().any(|e| e["subtype"][0]["code"] == "token"),
        "the partner system's sign-in is logged"
    );
}

/// A child process that is killed when the test ends, also when it fails.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An HTTP/1.1 request that may fail (a server killed under it): the status, or `None`.
fn try_http(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.split(' ').nth(1).and_then(|c| c.parse().ok())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One address in front of several servers, as a load balancer: each connection goes to the
/// next server that accepts it.
async fn balance(listener: tokio::net::TcpListener, servers: Vec<String>) {
    let mut next = 0usize;
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        next += 1;
        let order: Vec<String> = (0..servers.len())
            .map(|i| servers[(next + i) % servers.len()].clone())
            .collect();
        tokio::spawn(async move {
            for server in order {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&server).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    return;
                }
            }
        });
    }
}

/// Two `kring serve` behind one address, writing one log through `kring log-serve`: under a
/// write load on both, one is killed with `kill -9`; the log verifies, holds every write that
/// was acknowledged (through either server), and every such write is in the database. A
/// partner system's token from one server works on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_behind_one_address_keep_one_log() {
    let (name, url) = fresh_database("kring_two");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.db");
    let socket = dir.path().join("run").join("log.sock");
    let mut service = Running(
        kring()
            .arg("--access-log")
            .arg(&log)
            .args(["log-serve", "--socket"])
            .arg(&socket)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the log service", || socket.exists());
    let out = kring()
        .env("KRING_AUDIT_SERVICE", &socket)
        .args([
            "--database",
            &url,
            "client",
            "add",
            "--organisation",
            "org-t",
        ])
        .args(["--scope", "system/Patient.cruds"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let partner: Value = serde_json::from_slice(&out.stdout).unwrap();
    let addrs: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let mut servers: Vec<Running> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            Running(
                kring()
                    .env("KRING_AUDIT_SERVICE", &socket)
                    // Each server its own review store (the officers' queue is not shared).
                    .env(
                        "KRING_OVERSIGHT_REVIEW",
                        dir.path().join(format!("review-{i}.db")),
                    )
                    .args(["--database", &url, "--addr", addr, "serve"])
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    for (addr, server) in addrs.iter().zip(servers.iter_mut()) {
        wait_for("a server", || {
            assert!(
                server.0.try_wait().unwrap().is_none(),
                "a server stopped at start"
            );
            TcpStream::connect(addr).is_ok()
        });
    }
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_addr = front.local_addr().unwrap().to_string();
    tokio::spawn(balance(front, addrs.clone()));

    // A token from the first server works on the second.
    let auth = bearer_headers(&addrs[0], &partner);
    let (status, resp) = http(&addrs[1], "GET", "/fhir/Patient?_count=1", &auth, "");
    assert_eq!(status, 200, "{resp}");

    // A write load through the one address, on both servers; one is killed half-way.
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let killed = std::sync::Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (front, auth, stop, killed) = (
                front_addr.clone(),
                auth.clone(),
                stop.clone(),
                killed.clone(),
            );
            std::thread::spawn(move || {
                let (mut acknowledged, mut after_kill, mut failed) = (Vec::new(), 0, 0);
                let mut i = 0;
                while !stop.load(SeqCst) {
                    let id = format!("w{w}-{i}");
                    i += 1;
                    let body = format!("{{\"resourceType\":\"Patient\",\"id\":\"{id}\",\"name\":[{{\"family\":\"Twee{i}\"}}]}}");
                    match try_http(&front, "PUT", &format!("/fhir/Patient/{id}"), &auth, &body) {
                        Some(201) => {
                            if killed.load(SeqCst) {
                                after_kill += 1;
                            }
                            acknowledged.push(id);
                        }
                        _ => failed += 1,
                    }
                }
                (acknowledged, after_kill, failed)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    servers[0].0.kill().unwrap(); // SIGKILL
    servers[0].0.wait().unwrap();
    killed.store(true, SeqCst);
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, SeqCst);
    let (mut acknowledged, mut after_kill, mut failed) = (Vec::new(), 0, 0);
    for w in writers {
        let (a, k, f) = w.join().unwrap();
        acknowledged.extend(a);
        after_kill += k;
        failed += f;
    }
    drop(servers);
    println!(
        "{} writes acknowledged ({after_kill} after the kill), {failed} failed",
        acknowledged.len()
    );
    // The service signs its last checkpoint on SIGTERM, as at any shut-down.
    Command::new("kill")
        .args(["-TERM", &service.0.id().to_string()])
        .status()
        .unwrap();
    assert!(service.0.wait().unwrap().success());
    assert!(
        acknowledged.len() > 20 && after_kill > 0,
        "the load ran on both servers and went on after the kill ({} acknowledged, {after_kill} after the kill, {failed} failed)",
        acknowledged.len()
    );

    let store = kring_store_postgres::PgStore::connect(&url).await.unwrap();
    for id in &acknowledged {
        assert!(
            store.read("Patient", id).await.unwrap().is_some(),
            "acknowledged Patient/{id} was lost"
        );
    }
    drop(store);
    let events = audit_events(&url, &log, None);
    // The writes the log holds as done: created or updated, with success.
    let logged: std::collections::HashSet<String> = events
        .iter()
        .filter(|e| e["outcome"] == "0" && matches!(e["action"].as_str(), Some("C" | "U")))
        .flat_map(|e| e["entity"].as_array().cloned().unwrap_or_default())
        .filter_map(|entity| entity["what"]["reference"].as_str().map(str::to_string))
        .collect();
    for id in &acknowledged {
        assert!(
            logged.contains(&format!("Patient/{id}")),
            "the access-log entry of the acknowledged write of Patient/{id} is missing"
        );
    }
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
}

/// `kring client add` registers a partner system and prints its credentials once; a key set
/// that is not a JWK Set is a readable error.
#[test]
fn client_add_prints_credentials_and_refuses_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(dir.path(), "c.db");
    let out = kring()
        .args([
            "--database",
            &url,
            "client",
            "add",
            "--organisation",
            "ggz-x",
            "--scope",
        ])
        .arg("system/Patient.rs system/CarePlan.cruds")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["client_id"].as_str().unwrap().starts_with("ggz-x-"));
    assert_eq!(v["scope"], "system/Patient.rs system/CarePlan.cruds");
    let bad = dir.path().join("keys.json");
    std::fs::write(&bad, r#"{"keys": [{"kty": "EC"}]}"#).unwrap();
    let out = kring()
        .args([
            "--database",
            &url,
            "client",
            "add",
            "--organisation",
            "ggz-x",
            "--jwks",
        ])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("JWK Set"), "{err}");
    let out = kring()
        .args([
            "--database",
            &url,
            "client",
            "add",
            "--organisation",
            "ggz-x",
            "--scope",
            "patient/*.read",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a SMART system scope"));
    // The new partner system is in the access log, as an account created from the CLI.
    let events = audit_events(&url, &dir.path().join("c-access-log.db"), None);
    let client_id = v["client_id"].as_str().unwrap();
    assert!(events
        .iter()
        .any(|e| e["subtype"][0]["code"] == "account-create"
            && e["action"] == "C"
            && e["agent"][0]["who"]["identifier"]["value"] == format!("client/{client_id}")));
}

#[test]
fn watch_reproduces_the_worked_example_of_the_docs() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/oversight");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("findings.ndjson");
    let explained = dir.path().join("explained.ndjson");
    let run = kring()
        .arg("watch")
        .arg("--audit")
        .arg(example.join("audit.ndjson"))
        .arg("--context")
        .arg(example.join("context.ndjson"))
        .arg("--roles")
        .arg(example.join("roles.json"))
        .arg("--out")
        .arg(&out)
        .arg("--explained")
        .arg(&explained)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(example.join("findings.ndjson")).unwrap(),
        "docs/examples/oversight/findings.ndjson is what kring watch writes"
    );
    // Every explained access with what it rests on: as many lines as the report counts.
    assert_eq!(
        std::fs::read_to_string(&explained).unwrap(),
        std::fs::read_to_string(example.join("explained.ndjson")).unwrap(),
        "docs/examples/oversight/explained.ndjson is what kring watch --explained writes"
    );
    let report = String::from_utf8_lossy(&run.stderr);
    assert!(
        report.contains("line 10: an AuditEvent without a valid recorded"),
        "{report}"
    );
    assert!(report.contains("Observation 1"), "{report}");
    assert!(report.contains("Explained: 4 (50.0%)"), "{report}");

    // A roles file that is not valid, and a missing file, are readable errors.
    let bad = dir.path().join("roles.json");
    std::fs::write(&bad, r#"{"roles": {"ADM": "boss"}}"#).unwrap();
    let run = kring()
        .args(["watch", "--audit"])
        .arg(example.join("audit.ndjson"))
        .arg("--context")
        .arg(example.join("context.ndjson"))
        .arg("--roles")
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("the roles file is not valid") && err.contains("boss"),
        "{err}"
    );
    let run = kring()
        .args(["watch", "--audit", "/nonexistent/audit.ndjson", "--context"])
        .arg(example.join("context.ndjson"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot open the audit log"));
}

/// The point-in-time recovery that docs/continuity.md tells a PostgreSQL installation to set up
/// (pgBackRest with WAL archiving), tried once: a private cluster, a full backup, a row before
/// and a row after a moment, a restore to that moment (scripts/pitr-check.sh).
#[test]
fn postgres_recovers_to_a_point_in_time_with_pgbackrest() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pitr-check.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("the row before is back, the row after is not"),
        "{stdout}"
    );
}

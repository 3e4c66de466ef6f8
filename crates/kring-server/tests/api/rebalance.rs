//! Operations on a Citus cluster: a worker added and the record's shards rebalanced onto it
//! (`citus_rebalance_start`) while Kring serves reads and writes — no request fails, no
//! acknowledged write is lost.
//!
//! The test runs a cluster of its own (`scripts/citus.sh` on ports 9710–9713, in a folder of its
//! own), so that moving shards never disturbs the cluster the other tests share.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use sqlx::Connection;

use crate::harness::TestApp;

/// A Citus cluster of this test's own, destroyed when dropped.
struct OwnCluster {
    script: PathBuf,
    dir: String,
    port: u16,
}

impl OwnCluster {
    fn run(&self, what: &str) -> String {
        let out = Command::new("bash")
            .arg(&self.script)
            .arg(what)
            .env("KRING_CITUS_DIR", &self.dir)
            .env("KRING_CITUS_PORT", self.port.to_string())
            .env("KRING_CITUS_SHARDS", "8")
            .output()
            .expect("bash runs scripts/citus.sh");
        assert!(
            out.status.success(),
            "scripts/citus.sh {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn start() -> OwnCluster {
        let cluster = OwnCluster {
            script: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/citus.sh"),
            dir: "/tmp/kring-citus-rebalance".into(),
            port: 9710,
        };
        // Whatever an interrupted run left behind goes first.
        cluster.run("destroy");
        cluster.run("start");
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("destroy")
            .env("KRING_CITUS_DIR", &self.dir)
            .env("KRING_CITUS_PORT", self.port.to_string())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_is_added_and_the_shards_rebalanced_while_kring_serves() {
    let cluster = OwnCluster::start();
    let app = Arc::new(TestApp::on_citus_at(&cluster.url()).await);
    let mut clients = Vec::new();
    for i in 0..24 {
        let r = app
            .post(
                "/fhir/Patient",
                &json!({"resourceType": "Patient", "name": [{"family": format!("Verhuis{i}")}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        clients.push(r.body["id"].as_str().unwrap().to_string());
    }

    // Two writers and a reader go on for the whole move; every answer is kept.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut load = Vec::new();
    for w in 0..2 {
        let (app, stop, acked, failed, clients) = (
            app.clone(),
            stop.clone(),
            acked.clone(),
            failed.clone(),
            clients.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let text = format!("meting {w}-{n}");
                let r = app
                    .post(
                        "/fhir/Observation",
                        &json!({"resourceType": "Observation", "status": "final",
                                "code": {"text": text},
                                "subject": {"reference": format!("Patient/{}", clients[n % clients.len()])}}),
                    )
                    .await;
                if r.status == 201 {
                    let id = r.body["id"].as_str().unwrap_or_default().to_string();
                    acked.lock().unwrap().push((id, text));
                } else {
                    failed
                        .lock()
                        .unwrap()
                        .push(format!("write {}: {}", r.status, r.diagnostics()));
                }
                n += 1;
            }
        }));
    }
    {
        let (app, stop, failed, clients) =
            (app.clone(), stop.clone(), failed.clone(), clients.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let client = &clients[n % clients.len()];
                for uri in [
                    format!("/fhir/Patient/{client}"),
                    format!("/fhir/Observation?subject=Patient/{client}"),
                ] {
                    let r = app.get(&uri).await;
                    if r.status != 200 {
                        failed.lock().unwrap().push(format!(
                            "read {}: {}",
                            r.status,
                            r.diagnostics()
                        ));
                    }
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // A third worker joins and the shards are spread over three, while the load goes on.
    let worker = cluster.run("add-worker");
    let port: i32 = worker
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("the new worker's port");
    let mut admin = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
    sqlx::query("SELECT citus_add_node('127.0.0.1', $1)")
        .bind(port)
        .execute(&mut admin)
        .await
        .expect("the worker joins");
    let started = std::time::Instant::now();
    sqlx::query("SELECT citus_rebalance_start()")
        .execute(&mut admin)
        .await
        .expect("the rebalance starts");
    sqlx::query("SELECT citus_rebalance_wait()")
        .execute(&mut admin)
        .await
        .expect("the rebalance finishes");
    let moved: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM citus_shards WHERE nodeport = $1 AND table_name::text LIKE '%resources'",
    )
    .bind(port)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(moved > 0, "shards of the record moved to the new worker");
    eprintln!(
        "rebalanced in {:.1} s: {moved} shards of the record on the new worker, {} writes acknowledged meanwhile",
        started.elapsed().as_secs_f64(),
        acked.lock().unwrap().len()
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }

    let failed = failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "requests failed during the move: {failed:?}"
    );
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "writes went on during the move: {}",
        acked.len()
    );
    // Every acknowledged write is there, as written, and nothing else: read back page by page.
    let mut stored = std::collections::HashMap::new();
    let mut next = Some("/fhir/Observation?_count=1000".to_string());
    while let Some(uri) = next.take() {
        let page = app.get(&uri).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for e in page.body["entry"].as_array().into_iter().flatten() {
            stored.insert(
                e["resource"]["id"].as_str().unwrap().to_string(),
                e["resource"]["code"]["text"].as_str().unwrap().to_string(),
            );
        }
        next = page.body["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str())
            .map(|u| u.trim_start_matches("http://kring.test").to_string());
    }
    for (id, text) in &acked {
        assert_eq!(
            stored.get(id),
            Some(text),
            "{id} was acknowledged and is not there as written"
        );
    }
    assert_eq!(stored.len(), acked.len());
    admin.close().await.unwrap();
}

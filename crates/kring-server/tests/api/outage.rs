//! When the database is down: PostgreSQL reached through a proxy the test cuts and restores
//! under a read and write load. While it is down, the API answers 503 with an
//! OperationOutcome and the pages a Dutch page that says so and points to the downtime folder
//! (never a stack trace, never "signed out"); nothing is half-written — every resource that
//! exists afterwards has its access-log entry, every acknowledged write is there; and when the
//! database is back, reads and writes work again without a restart.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{pg_url, TestApp};
use crate::portal::{director_and_plan, family, get, text, years_ago};

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored, as a database server that stops and starts.
struct Proxy {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped on every cut: connections of an earlier generation close themselves.
    generation: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicUsize::new(0));
        let (up2, gen2) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let born = gen2.load(Ordering::SeqCst);
                let gen3 = gen2.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while gen3.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! { _ = copy => {}, _ = cut => {} }
                });
            }
        });
        Proxy {
            addr,
            up,
            generation,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    fn url(&self) -> String {
        let u = pg_url();
        let rest = u
            .split_once('@')
            .map(|x| x.1)
            .unwrap_or("127.0.0.1:5432/postgres");
        let db = rest.split_once('/').map(|x| x.1).unwrap_or("postgres");
        format!("postgres://postgres@{}/{db}", self.addr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_down_and_back_under_load_loses_nothing_and_needs_no_restart() {
    let target: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(target).await;
    let app = Arc::new(TestApp::on_postgres_at(&proxy.url()).await);
    family(&app, &years_ago(14, 0)).await;
    let cookie = director_and_plan(&app).await;
    let (status, _) = get(&app, &cookie, "/clienten/kind").await;
    assert_eq!(status, StatusCode::OK);

    // A load of reads and writes (each write with its own id, so its fate can be checked).
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(std::sync::Mutex::new(Vec::<(String, u16)>::new()));
    let mut load = Vec::new();
    for w in 0..2 {
        let (app, stop, outcomes) = (app.clone(), stop.clone(), outcomes.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("o-{w}-{n}");
                let r = app
                    .put(
                        &format!("/fhir/Observation/{id}"),
                        &json!({"resourceType": "Observation", "id": id, "status": "final",
                            "code": {"text": "meting"}, "subject": {"reference": "Patient/kind"}}),
                    )
                    .await;
                assert!(
                    matches!(r.status.as_u16(), 200 | 201 | 503),
                    "a write during an outage answers 503, not {}: {}",
                    r.status,
                    r.body
                );
                if r.status == 503 {
                    assert_eq!(r.body["resourceType"], "OperationOutcome");
                }
                let read = app.get("/fhir/Patient/kind").await;
                assert!(
                    matches!(read.status.as_u16(), 200 | 503),
                    "read: {}",
                    read.status
                );
                outcomes.lock().unwrap().push((id, r.status.as_u16()));
                n += 1;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    proxy.cut();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Down: the API says 503 with an OperationOutcome; the page says so in Dutch, not "sign in".
    let started = std::time::Instant::now();
    let r = app.get("/fhir/Patient/kind").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["resourceType"], "OperationOutcome");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "an outage answers within seconds"
    );
    let (status, body) = get(&app, &cookie, "/clienten/kind").await;
    let page = text(&body);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert!(
        page.contains("Kring kan zijn gegevens nu niet bereiken"),
        "{page}"
    );
    assert!(page.contains("noodmap"), "{page}");
    assert!(
        !page.contains("panicked") && !page.contains("sqlx"),
        "{page}"
    );

    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    proxy.restore();
    // Back: reads and writes work again, without a restart, within seconds.
    let back = std::time::Instant::now();
    loop {
        if app.get("/fhir/Patient/kind").await.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < std::time::Duration::from_secs(20),
            "reads came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let (status, _) = get(&app, &cookie, "/clienten/kind").await;
    assert_eq!(status, StatusCode::OK);
    let outcomes = outcomes.lock().unwrap().clone();
    assert!(
        outcomes.iter().any(|(_, s)| *s == 503),
        "the load met the outage"
    );
    assert!(outcomes.iter().filter(|(_, s)| *s != 503).count() > 2);

    // Nothing lost, nothing half-written: every acknowledged write is there; every resource
    // that is there has its write in the access log.
    let logged: std::collections::BTreeSet<String> = app
        .log_lines()
        .await
        .into_iter()
        .filter(|e| e["data"]["type"] == "Observation" && e["outcome"] == "success")
        .filter_map(|e| e["data"]["id"].as_str().map(str::to_string))
        .collect();
    for (id, status) in &outcomes {
        let there = app.store.read("Observation", id).await.unwrap().is_some();
        if *status != 503 {
            assert!(
                there,
                "Observation/{id} was acknowledged ({status}) but is gone"
            );
        }
        if there {
            assert!(
                logged.contains(id),
                "Observation/{id} is stored without its access-log entry"
            );
        }
    }
}

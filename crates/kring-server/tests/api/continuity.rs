//! Backups, restores and drills on both backends: a backup taken under a write load loses
//! nothing acknowledged before it, restores byte for byte, with an access log that verifies
//! and goes on; a place that is not empty is refused; a drill passes and is kept as evidence.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kring_continuity::restore::Target;
use serde_json::json;

use crate::every_backend;
use crate::harness::{pg_url, Backend, TestApp};

fn keys(
    dir: &std::path::Path,
) -> (
    Vec<kring_continuity::crypt::Recipient>,
    Vec<kring_continuity::crypt::Identity>,
) {
    let (secret, public) = kring_continuity::crypt::new_pair();
    let file = dir.join("backup-identity.txt");
    std::fs::write(&file, secret).unwrap();
    (
        kring_continuity::crypt::recipients(&public).unwrap(),
        kring_continuity::crypt::identities(&file).unwrap(),
    )
}

/// A scratch database on the test server for a PostgreSQL restore.
async fn scratch_database() -> (String, String) {
    use sqlx::{ConnectOptions, Connection};
    let name = format!("kring_restore_{}", uuid::Uuid::new_v4().simple());
    let opts: sqlx::postgres::PgConnectOptions = pg_url().parse().unwrap();
    let mut conn = opts.connect().await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    (
        name.clone(),
        kring_continuity::drill::with_database(&pg_url(), &name),
    )
}

async fn drop_database(name: &str) {
    use sqlx::{ConnectOptions, Connection};
    let opts: sqlx::postgres::PgConnectOptions = pg_url().parse().unwrap();
    let mut conn = opts.connect().await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

every_backend!(
    a_backup_under_write_load_restores_byte_for_byte,
    |app: TestApp| async move {
        let backend = app.backend;
        let work = tempfile::tempdir().unwrap();
        let (recipients, identities) = keys(work.path());
        let mut patients = Vec::new();
        for i in 0..20 {
            let r = app
                .post(
                    "/fhir/Patient",
                    &json!({"resourceType": "Patient", "name": [{"family": format!("Backup{i}")}]}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            patients.push(r.body["id"].as_str().unwrap().to_string());
        }
        // Writers go on during the backup; each acknowledged write is noted with its moment.
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(std::sync::Mutex::new(Vec::<(String, i64)>::new()));
        let mut writers = Vec::new();
        for w in 0..3 {
            let (app_router, stop, acked, patients) = (
                app.router.clone(),
                stop.clone(),
                acked.clone(),
                patients.clone(),
            );
            writers.push(tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({
                        "resourceType": "Observation", "status": "final",
                        "code": {"text": format!("meting {w}-{n}")},
                        "subject": {"reference": format!("Patient/{}", patients[n % patients.len()])}
                    });
                    let req = axum::http::Request::builder()
                        .method("POST")
                        .uri("/fhir/Observation")
                        .header("content-type", "application/fhir+json")
                        .body(axum::body::Body::from(serde_json::to_vec(&body).unwrap()))
                        .unwrap();
                    let res = tower::ServiceExt::oneshot(app_router.clone(), req).await.unwrap();
                    assert_eq!(res.status(), 201);
                    let at = chrono::Utc::now().timestamp_millis();
                    let loc = res.headers()["location"].to_str().unwrap().to_string();
                    let id = loc.split("/Observation/").nth(1).unwrap().split('/').next().unwrap().to_string();
                    acked.lock().unwrap().push((id, at));
                    n += 1;
                }
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let inst = kring_continuity::Installation {
            database: app.database.clone(),
            log: kring_audit::LogConfig::at(&app.log_path),
            review: work.path().join("no-review.db"),
        };
        let settings = kring_continuity::backup::Settings {
            dir: work.path().join("backups"),
            recipients: recipients.clone(),
            keep: 2,
        };
        let taken = kring_continuity::backup::take(&inst, &settings).await;
        if matches!(backend, Backend::Citus) {
            // A dump of a Citus coordinator holds its empty shell tables, not the shards on the
            // workers: Kring refuses, and says how a cluster is backed up, rather than write
            // a backup that restores to nothing.
            stop.store(true, Ordering::Relaxed);
            for w in writers {
                w.await.unwrap();
            }
            let e = taken.expect_err("a Citus cluster is not backed up through its coordinator");
            assert!(e.to_string().contains("Citus"), "{e}");
            assert!(
                !settings.dir.exists()
                    || std::fs::read_dir(&settings.dir).unwrap().all(|f| {
                        !f.unwrap()
                            .file_name()
                            .to_string_lossy()
                            .ends_with(".partial")
                    }),
                "nothing half-written is left behind"
            );
            return;
        }
        let manifest = taken.expect("backup");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        assert!(
            acked.iter().any(|(_, at)| *at > manifest.finished_ms),
            "writes went on during the backup"
        );
        assert!(manifest.counts.resources["Patient"] >= 20);
        let backup = settings.dir.join(&manifest.id);
        // Nothing of the backup is readable without the key.
        let record_file = std::fs::read(backup.join(&manifest.files[0].name)).unwrap();
        assert!(!record_file.windows(7).any(|w| w == b"Backup1"));

        // Restore into an empty place.
        let restore_dir = work.path().join("restored");
        let (target, scratch) = match backend {
            Backend::Sqlite => (Target::Folder(restore_dir.clone()), None),
            Backend::Citus => unreachable!("a Citus backup is refused above"),
            Backend::Postgres => {
                let (name, url) = scratch_database().await;
                (
                    Target::Postgres {
                        url,
                        folder: restore_dir.clone(),
                    },
                    Some(name),
                )
            }
        };
        let restored = kring_continuity::restore::restore(&backup, &identities, target.clone())
            .await
            .expect("restore");
        let store: Arc<dyn kring_store::Database> = match &target {
            Target::Folder(_) => Arc::new(
                kring_store_sqlite::SqliteStore::open(&restored.database)
                    .await
                    .unwrap(),
            ),
            Target::Postgres { url, .. } => Arc::new(
                kring_store_postgres::PgStore::connect_in_schema(
                    url,
                    app.pg_schema.as_deref().unwrap(),
                )
                .await
                .unwrap(),
            ),
        };
        // The counts are the manifest's; every resource is byte for byte the source's version.
        let counts = store.counts().await.unwrap();
        assert_eq!(counts, manifest.counts);
        let mut compared = 0;
        for rtype in counts.resources.keys() {
            let mut after = None;
            loop {
                let page = store.scan(rtype, after.as_deref(), 500).await.unwrap();
                let Some(last) = page.last() else { break };
                after = Some(last.id.clone());
                for r in &page {
                    let src = app
                        .store
                        .vread(rtype, &r.id, r.version)
                        .await
                        .unwrap()
                        .expect("the source has this version");
                    assert_eq!(src.body, r.body, "{rtype}/{} differs", r.id);
                    compared += 1;
                }
            }
        }
        assert_eq!(compared as u64, counts.total());
        // Nothing acknowledged before the copy was taken is missing.
        for (id, at) in acked.iter().filter(|(_, at)| *at < manifest.data_as_of_ms) {
            assert!(
                store.read("Observation", id).await.unwrap().is_some(),
                "Observation acknowledged at {at} lost"
            );
        }
        // The restored log verifies, and goes on with the same tree.
        let lc = restored.log_config();
        let pool = kring_audit::ledger::open_read_only(&lc.path).await.unwrap();
        let key = kring_audit::checkpoint::parse_public(
            &std::fs::read_to_string(kring_audit::checkpoint::public_path(&lc.key_path)).unwrap(),
        )
        .unwrap();
        let report = kring_audit::verify::verify(&pool, &key, &[], |_| {})
            .await
            .unwrap();
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(report.entries, manifest.log.entries);
        pool.close().await;
        let log = kring_audit::MerkleLog::open(lc.clone())
            .await
            .expect("the restored log opens");
        let source_leaf = kring_audit::AccessLog::leaf(&*app.log, 0).await.unwrap();
        assert_eq!(
            kring_audit::AccessLog::leaf(&log, 0).await.unwrap(),
            source_leaf
        );
        let record = kring_record::Record::new(
            store.clone(),
            Arc::new(kring_access::NeedToKnow::new().unwrap()),
            Arc::new(log),
        );
        record.load_access_facts().await.unwrap();
        let caller = kring_record::Caller::operator("test");
        record
            .read(&caller, "Patient", &patients[0])
            .await
            .expect("read after restore");
        let pool = kring_audit::ledger::open_read_only(&lc.path).await.unwrap();
        assert!(kring_audit::ledger::entry_count(&pool).await.unwrap() > manifest.log.entries);
        pool.close().await;

        // A place that is not empty is refused, and nothing in it is touched.
        let again = kring_continuity::restore::restore(&backup, &identities, target.clone()).await;
        let e = again
            .expect_err("a non-empty folder is refused")
            .to_string();
        assert!(e.contains("not empty"), "{e}");
        if let Target::Postgres { url, .. } = &target {
            let other = work.path().join("other");
            let e = kring_continuity::restore::restore(
                &backup,
                &identities,
                Target::Postgres {
                    url: url.clone(),
                    folder: other,
                },
            )
            .await
            .expect_err("a database with Kring's tables is refused")
            .to_string();
            assert!(e.contains("empty database"), "{e}");
        }
        // A damaged file is found before anything is written.
        let copy = work.path().join("damaged");
        std::fs::create_dir(&copy).unwrap();
        for f in std::fs::read_dir(&backup).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
        }
        let log_file = copy.join("access-log.sqlite.age");
        let mut bytes = std::fs::read(&log_file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&log_file, bytes).unwrap();
        let never = match &target {
            Target::Folder(_) => Target::Folder(work.path().join("never")),
            Target::Postgres { url, .. } => Target::Postgres {
                url: url.clone(),
                folder: work.path().join("never"),
            },
        };
        let e = kring_continuity::restore::restore(&copy, &identities, never)
            .await
            .expect_err("damaged")
            .to_string();
        assert!(e.contains("does not match its checksum"), "{e}");
        assert!(!work.path().join("never").exists());

        // A drill on this backend passes, and is kept as evidence.
        let scratch_place = match backend {
            Backend::Sqlite => kring_continuity::drill::Scratch::Folder(settings.dir.clone()),
            Backend::Citus => unreachable!("a Citus backup is refused above"),
            Backend::Postgres => kring_continuity::drill::Scratch::Postgres {
                server: pg_url(),
                folder: settings.dir.clone(),
            },
        };
        let drill =
            kring_continuity::drill::run(&settings.dir, &identities, scratch_place.clone()).await;
        assert!(drill.ok, "{:#?}", drill.checks);
        assert_eq!(drill.checks.len(), 6);
        assert_eq!(drill.backup.as_deref(), Some(manifest.id.as_str()));
        assert!(drill.rto_ms > 0 && drill.rpo_ms > 0);
        assert_eq!(kring_continuity::evidence::drills(&settings.dir)[0], drill);
        // A drill with the wrong key fails, and says so.
        let (_, wrong) = keys(&work.path().join("backups"));
        let failed = kring_continuity::drill::run(&settings.dir, &wrong, scratch_place).await;
        assert!(!failed.ok);
        assert!(
            failed.checks[0].detail.contains("another key"),
            "{:?}",
            failed.checks
        );
        assert_eq!(
            kring_continuity::evidence::alarms(
                &settings.dir,
                chrono::Utc::now().timestamp_millis(),
                Some(86_400_000),
                None
            ),
            vec![kring_continuity::evidence::Alarm::DrillFailed {
                drill: failed.id.clone(),
                at_ms: failed.started_ms
            }]
        );
        if let Some(name) = scratch {
            drop(record);
            drop(store);
            drop_database(&name).await;
        }
    }
);

/// `kring backup` and `kring drill` on the command line leave their runs for the serving
/// Kring, the log's one writer: each goes into the access log once, with when it ran, and its
/// file only goes when the log has it; what is not a run stays where it is.
#[tokio::test]
async fn command_line_runs_reach_the_access_log_once() {
    use kring_continuity::pending::{self, Run};
    let app = TestApp::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let failed: Result<kring_continuity::manifest::Manifest, _> = Err(
        kring_continuity::ContinuityError::Target("the disk is full".into()),
    );
    let run = Run::of_backup(&failed);
    assert!(!run.ok);
    pending::queue(dir.path(), &run).unwrap();
    std::fs::write(pending::folder(dir.path()).join("notes.json"), b"not a run").unwrap();
    assert_eq!(pending::drain(dir.path(), &app.record).await.unwrap(), 1);
    assert_eq!(
        pending::drain(dir.path(), &app.record).await.unwrap(),
        0,
        "logged once"
    );
    let left: Vec<_> = std::fs::read_dir(pending::folder(dir.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, vec!["notes.json".to_string()]);
    let log = app.log_lines().await;
    let entry = log
        .iter()
        .find(|e| e["interaction"] == "backup")
        .expect("the run is in the log");
    assert_eq!(entry["outcome"], "failed");
    let reasons = entry["reasons"].to_string();
    assert!(
        reasons.contains("by:kring-cli")
            && reasons.contains("ran-at:")
            && reasons.contains("the disk is full"),
        "{reasons}"
    );
}

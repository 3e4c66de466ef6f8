//! Group commit: concurrent write transactions share one COMMIT, and a transaction abandoned
//! mid-way takes only its own work with it.

use std::sync::Arc;
use std::time::Duration;

use kring_store::{NewVersion, Store};
use kring_store_sqlite::SqliteStore;

fn version(id: &str) -> NewVersion {
    NewVersion {
        rtype: "Patient".into(),
        id: id.into(),
        version: 1,
        last_updated: 1,
        client_key: id.into(),
        body: Some(format!("{{\"resourceType\":\"Patient\",\"id\":\"{id}\"}}").into_bytes()),
        index: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_writes_land_and_abandoned_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&format!("sqlite:{}", dir.path().join("g.db").display()))
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.put(version(&format!("p{i}"))).await.unwrap();
            if i % 5 == 0 {
                drop(tx); // abandoned: must not land, must not block the others
                return false;
            }
            tx.commit().await.unwrap();
            true
        }));
    }
    let committed: Vec<bool> =
        tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(tasks))
            .await
            .expect("no writer hangs")
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
    // Let the background rollback of the last abandoned transaction finish.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tx = store.begin().await.unwrap();
    tx.commit().await.unwrap();
    for (i, c) in committed.iter().enumerate() {
        let found = store
            .read("Patient", &format!("p{i}"))
            .await
            .unwrap()
            .is_some();
        assert_eq!(found, *c, "Patient/p{i}: committed {c}, found {found}");
    }
    // A duplicate version in a group fails alone.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.put(version("p1")).await.is_err());
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    tx.put(version("fresh")).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.read("Patient", "fresh").await.unwrap().is_some());
}

/// A writer that gives up while waiting for the connection leaves no one waiting for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_waiter_does_not_stall_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&format!("sqlite:{}", dir.path().join("c.db").display()))
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    let mut holder = store.begin().await.unwrap();
    holder.put(version("a")).await.unwrap();
    // A second writer starts waiting, then is cancelled.
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            let _ = store.begin().await;
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    waiter.abort();
    let _ = waiter.await;
    // The holder must now commit on its own instead of waiting for the cancelled writer.
    tokio::time::timeout(Duration::from_secs(5), holder.commit())
        .await
        .expect("commit does not wait for a cancelled writer")
        .unwrap();
    assert!(store.read("Patient", "a").await.unwrap().is_some());
}

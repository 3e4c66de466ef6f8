//! Group commit: concurrent write transactions share one COMMIT, and a transaction abandoned
//! mid-way takes only its own work with it — except one whose commit script fails part-way
//! without a savepoint, which takes its whole group (nothing of it is acknowledged).

use std::sync::Arc;
use std::time::Duration;

use kring_store::{NewVersion, Prior, Store};
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
        prior: Prior::Unread,
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

async fn fresh_store(name: &str) -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&format!("sqlite:{}", dir.path().join(name).display()))
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    (dir, store)
}

/// The first writer of a group, having put `id`, committed with a log that is still being
/// written (so the group stays open) until the returned sender says whether it was.
async fn first_writer_logging(
    store: &Arc<SqliteStore>,
    id: &str,
) -> (
    tokio::sync::oneshot::Sender<bool>,
    tokio::task::JoinHandle<kring_store::Result<()>>,
) {
    let (log_done, log_waits) = tokio::sync::oneshot::channel::<bool>();
    let mut first = store.begin().await.unwrap();
    first.put(version(id)).await.unwrap();
    let first = tokio::spawn(async move {
        first
            .commit_logged(Box::pin(async move { log_waits.await.unwrap_or(false) }))
            .await
    });
    (log_done, first)
}

/// A transaction committed with its log entries: started while it waits for its log, the next
/// writer joins its group, and nothing of the group is committed before that log is durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_writer_starts_while_the_log_is_written_and_nothing_commits_before_it() {
    let (_dir, store) = fresh_store("l.db").await;
    let (log_done, first) = first_writer_logging(&store, "first").await;
    // The writer is free while the first transaction's log is written.
    let mut second = tokio::time::timeout(Duration::from_secs(5), store.begin())
        .await
        .expect("the writer is handed on while the log is written")
        .unwrap();
    second.put(version("second")).await.unwrap();
    let second = tokio::spawn(async move { second.commit_logged(Box::pin(async { true })).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !first.is_finished() && !second.is_finished(),
        "nothing commits before the log"
    );
    assert!(store.read("Patient", "first").await.unwrap().is_none());
    assert!(store.read("Patient", "second").await.unwrap().is_none());
    log_done.send(true).unwrap();
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert!(store.read("Patient", "first").await.unwrap().is_some());
    assert!(store.read("Patient", "second").await.unwrap().is_some());
}

/// When one member's log entries cannot be written, its whole group is rolled back and every
/// member fails: no write lands without its entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_log_rolls_back_its_group() {
    let (_dir, store) = fresh_store("f.db").await;
    let (log_done, first) = first_writer_logging(&store, "unlogged").await;
    let mut second = store.begin().await.unwrap();
    second.put(version("bystander")).await.unwrap();
    let second = tokio::spawn(async move { second.commit_logged(Box::pin(async { true })).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    log_done.send(false).unwrap();
    assert!(first.await.unwrap().is_err());
    assert!(
        second.await.unwrap().is_err(),
        "the group went down together"
    );
    assert!(store.read("Patient", "unlogged").await.unwrap().is_none());
    assert!(store.read("Patient", "bystander").await.unwrap().is_none());
    // The writer goes on afterwards.
    let mut tx = store.begin().await.unwrap();
    tx.put(version("later")).await.unwrap();
    tx.commit_logged(Box::pin(async { true })).await.unwrap();
    assert!(store.read("Patient", "later").await.unwrap().is_some());
}

/// A member whose task is cancelled while its log is written counts as unlogged: the group
/// neither hangs nor commits without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cancelled_while_logging_neither_stalls_nor_commits_its_group() {
    let (_dir, store) = fresh_store("x.db").await;
    let mut first = store.begin().await.unwrap();
    first.put(version("cancelled")).await.unwrap();
    let first = tokio::spawn(async move {
        first
            .commit_logged(Box::pin(std::future::pending::<bool>()))
            .await
    });
    let mut second = store.begin().await.unwrap();
    second.put(version("companion")).await.unwrap();
    let second = tokio::spawn(async move { second.commit_logged(Box::pin(async { true })).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.abort();
    let second = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("the group does not wait for a cancelled member");
    assert!(second.unwrap().is_err());
    assert!(store.read("Patient", "cancelled").await.unwrap().is_none());
    assert!(store.read("Patient", "companion").await.unwrap().is_none());
}

/// The first writer of a group runs without a savepoint (its undo is the group's rollback):
/// abandoned while the next one waits, it takes only its own work; the next one lands. And a
/// later member abandoned after the first has joined the group takes only its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_writer_of_a_group_is_undone_alone() {
    let (_dir, store) = fresh_store("first.db").await;
    let mut first = store.begin().await.unwrap();
    first.put(version("first")).await.unwrap();
    let next = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.put(version("next")).await.unwrap();
            tx.commit().await.unwrap();
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(first);
    tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .expect("the waiting writer goes on")
        .unwrap();
    assert!(store.read("Patient", "first").await.unwrap().is_none());
    assert!(store.read("Patient", "next").await.unwrap().is_some());

    // The first member joins the group (another writer waits), the second is abandoned.
    let mut a = store.begin().await.unwrap();
    a.put(version("a")).await.unwrap();
    let b = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.put(version("b")).await.unwrap();
            drop(tx);
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.commit().await.unwrap();
    b.await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(store.read("Patient", "a").await.unwrap().is_some());
    assert!(store.read("Patient", "b").await.unwrap().is_none());
}

/// A later member that writes before its commit (here: it reads back what it put) does so
/// inside a savepoint of its own: abandoned, it takes only its own work; the group commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_wrote_early_is_undone_by_its_savepoint() {
    let (_dir, store) = fresh_store("s.db").await;
    let (log_done, first) = first_writer_logging(&store, "kept").await;
    let mut member = store.begin().await.unwrap();
    member.put(version("undone")).await.unwrap();
    assert!(
        member.read("Patient", "undone").await.unwrap().is_some(),
        "the member sees its own write, so it has been sent"
    );
    drop(member);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut later = store.begin().await.unwrap();
    later.put(version("after")).await.unwrap();
    let later = tokio::spawn(async move { later.commit_logged(Box::pin(async { true })).await });
    log_done.send(true).unwrap();
    first.await.unwrap().unwrap();
    later.await.unwrap().unwrap();
    assert!(store.read("Patient", "kept").await.unwrap().is_some());
    assert!(store.read("Patient", "undone").await.unwrap().is_none());
    assert!(store.read("Patient", "after").await.unwrap().is_some());
}

/// A member whose only write is its commit's one script runs it without a savepoint; if that
/// script fails part-way, the whole group is rolled back and every member fails — nothing of
/// it lands, nothing is acknowledged — and the writer goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_commit_fails_part_way_takes_its_group_down() {
    let (_dir, store) = fresh_store("p.db").await;
    let mut tx = store.begin().await.unwrap();
    tx.put(version("taken")).await.unwrap();
    tx.commit().await.unwrap();

    let (log_done, first) = first_writer_logging(&store, "bystander").await;
    let mut member = store.begin().await.unwrap();
    member.put(version("half")).await.unwrap();
    // Claims to have read that "taken" does not exist: the store believes it, and the
    // script's INSERT fails on the key's unique constraint after "half" went in.
    member
        .put(NewVersion {
            prior: Prior::Read(None),
            ..version("taken")
        })
        .await
        .unwrap();
    assert!(member
        .commit_logged(Box::pin(async { true }))
        .await
        .is_err());
    log_done.send(true).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(5), first)
            .await
            .expect("the group ends")
            .unwrap()
            .is_err(),
        "the group went down together"
    );
    assert!(store.read("Patient", "bystander").await.unwrap().is_none());
    assert!(store.read("Patient", "half").await.unwrap().is_none());
    assert_eq!(
        store
            .read("Patient", "taken")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    let mut tx = store.begin().await.unwrap();
    tx.put(version("later")).await.unwrap();
    tx.commit_logged(Box::pin(async { true })).await.unwrap();
    assert!(store.read("Patient", "later").await.unwrap().is_some());
}

//! The store's write transactions keep their versions pending and send them in batches
//! (`kring_store::pending`): what a transaction sees, and what lands, must be exactly as if
//! every version were written at once. Against the store itself, on both backends.

use kring_store::search::SearchPlan;
use kring_store::{Current, NewVersion, Prior, StoreError};

use crate::every_backend;
use crate::harness::TestApp;

fn version(id: &str, v: i64, prior: Prior) -> NewVersion {
    NewVersion {
        rtype: "Organization".into(),
        id: id.into(),
        version: v,
        last_updated: v,
        client_key: String::new(),
        body: Some(
            format!("{{\"resourceType\":\"Organization\",\"id\":\"{id}\",\"v\":{v}}}").into_bytes(),
        ),
        index: vec![],
        prior,
    }
}

every_backend!(
    a_transaction_sees_its_pending_writes_and_commits_them_all,
    |app: TestApp| async move {
        let store = app.store.clone();
        let mut tx = store.begin().await.unwrap();
        tx.prefetch(&[("Organization".into(), "a".into())])
            .await
            .unwrap();
        assert_eq!(tx.current("Organization", "a").await.unwrap(), None);
        tx.put(version("a", 1, Prior::Read(None))).await.unwrap();
        // Known at once, without the rows being written yet.
        assert_eq!(
            tx.current("Organization", "a").await.unwrap(),
            Some(Current {
                version: 1,
                deleted: false,
                client_key: String::new()
            })
        );
        // A stale version fails at the put, not later.
        assert!(matches!(
            tx.put(version("a", 1, Prior::Unread)).await,
            Err(StoreError::Conflict)
        ));
        // Reading it, or searching, sees the pending version.
        let read = tx.read("Organization", "a").await.unwrap().unwrap();
        assert_eq!(read.version, 1);
        // A second version of the same resource in the same transaction, and more versions
        // than one batch holds.
        tx.put(version("a", 2, Prior::Unread)).await.unwrap();
        for i in 0..520 {
            tx.put(version(&format!("b{i}"), 1, Prior::Unread))
                .await
                .unwrap();
        }
        let mut plan = SearchPlan::new("Organization");
        plan.want_total = true;
        let found = tx.search(&plan).await.unwrap();
        assert_eq!(found.total, Some(521));
        tx.commit().await.unwrap();

        assert_eq!(
            store
                .read("Organization", "a")
                .await
                .unwrap()
                .unwrap()
                .version,
            2
        );
        assert_eq!(
            store
                .vread("Organization", "a", 1)
                .await
                .unwrap()
                .unwrap()
                .version,
            1
        );
        assert!(store.read("Organization", "b519").await.unwrap().is_some());

        // Dropped without commit: nothing pending lands.
        let mut tx = store.begin().await.unwrap();
        tx.put(version("c", 1, Prior::Unread)).await.unwrap();
        drop(tx);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(store.read("Organization", "c").await.unwrap().is_none());
        // Prefetched current versions are the committed ones.
        let mut tx = store.begin().await.unwrap();
        tx.prefetch(&[
            ("Organization".into(), "a".into()),
            ("Organization".into(), "c".into()),
        ])
        .await
        .unwrap();
        assert_eq!(
            tx.current("Organization", "a")
                .await
                .unwrap()
                .map(|c| c.version),
            Some(2)
        );
        assert_eq!(tx.current("Organization", "c").await.unwrap(), None);
    }
);

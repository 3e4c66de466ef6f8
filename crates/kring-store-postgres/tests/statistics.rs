//! The store keeps the planner's statistics of the record current on single-node PostgreSQL:
//! after a fresh import the planner knows how many keys a type has, so the lookup of a Bundle's
//! keys probes the index for each key instead of comparing every key of the type with the whole
//! list (which took 1.15 s per Bundle at 100,000 resources on a server whose autovacuum was
//! off, as this machine's is).

use std::time::{Duration, Instant};

use kring_store::{Backend, NewVersion, Prior, Store};
use kring_store_postgres::PgStore;
use sqlx::postgres::PgPoolOptions;

fn pg_url() -> String {
    std::env::var("KRING_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_import_leaves_statistics_that_make_key_lookups_probe_the_index() {
    let schema = format!(
        "statistics_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let store = PgStore::connect_in_schema(&pg_url(), &schema)
        .await
        .expect("PostgreSQL is running");
    assert_eq!(store.backend(), Backend::Postgres);
    store.migrate().await.unwrap();

    // 3,000 observations of 300 clients, in Bundle-sized transactions.
    for batch in 0..6 {
        let mut tx = store.begin().await.unwrap();
        for n in batch * 500..(batch + 1) * 500 {
            tx.put(NewVersion {
                rtype: "Observation".into(),
                id: format!("o{n}"),
                version: 1,
                last_updated: 1,
                client_key: format!("p{}", n % 300),
                body: Some(b"{}".to_vec()),
                index: vec![],
                prior: Prior::Read(None),
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }

    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&pg_url())
        .await
        .unwrap();
    // The ANALYZE runs in the background: wait for it (a few hundred milliseconds).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let analysed: bool = sqlx::query_scalar(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables \
              WHERE schemaname = $1 AND relname = 'resource_keys'",
        )
        .bind(&schema)
        .fetch_one(&pool)
        .await
        .unwrap();
        if analysed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the record's tables were not analysed after 3,000 writes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // What the lookup of a Bundle's keys is planned from: how many keys of the type there
    // are. Without statistics PostgreSQL guesses half a percent (15 of 3,000 here) and, at
    // scale, compares every key of the type with the whole list instead of probing the index.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query(&format!("SET search_path = {schema}"))
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: String = sqlx::query_scalar(
        "EXPLAIN SELECT k.id FROM resource_keys k WHERE k.res_type = 'Observation'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let rows: u64 = plan
        .split("rows=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_default();
    // (Analysed after the first 1,000 writes, while the rest went on: the estimate counts
    // what was there then; the next analysis is due a tenth later.)
    assert!(rows >= 1_000, "{plan}");
    drop(conn);
    pool.close().await;
    PgStore::drop_schema(&pg_url(), &schema).await.unwrap();
}

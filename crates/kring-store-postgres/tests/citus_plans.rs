//! Where the record's queries go on a Citus cluster (`scripts/citus.sh`: a coordinator and two
//! workers): the plans Citus makes for the SQL Kring runs, read from `EXPLAIN`.
//!
//! A read by id, a write and a search within one client go to one shard (one task, so one
//! worker); a search across clients is one fan-out — one distributed scan, no intermediate
//! results collected on the coordinator first — with the caller's scope checked on the workers.

use kring_store::search::{AnyOf, ClientScope, Cond, Prefix, SearchPlan, StringMatch, TokenMatch};
use kring_store::sql::{self, Arg, Sql};
use kring_store::{Backend, Current, IndexEntry, IndexValue, NewVersion, Prior, Store};
use kring_store_postgres::PgStore;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};

fn citus_url() -> String {
    std::env::var("KRING_TEST_CITUS")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:9700/postgres".into())
}

/// A migrated (so distributed) schema of its own, and a pool working in it.
async fn cluster() -> (String, PgPool) {
    let schema = format!(
        "plans_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let store = PgStore::connect_in_schema(&citus_url(), &schema)
        .await
        .expect("the Citus cluster is running (scripts/citus.sh start)");
    assert_eq!(store.backend(), Backend::Citus);
    store
        .migrate()
        .await
        .expect("migrate distributes the tables");
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .after_connect({
            let schema = schema.clone();
            move |conn, _| {
                let schema = schema.clone();
                Box::pin(async move {
                    sqlx::query(&format!("SET search_path = {schema}"))
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            }
        })
        .connect(&citus_url())
        .await
        .unwrap();
    (schema, pool)
}

/// The plan Citus makes for `sql` as Kring sends it.
async fn explain(pool: &PgPool, sql: &Sql) -> String {
    let text = format!("EXPLAIN {}", sql.text_for(Backend::Citus));
    let mut q = sqlx::query(&text);
    for a in &sql.args {
        q = match a {
            Arg::Text(s) => q.bind(s.clone()),
            Arg::Int(i) => q.bind(*i),
            Arg::Float(f) => q.bind(*f),
            Arg::Bytes(b) => q.bind(b.clone()),
            Arg::Null => q.bind(None::<String>),
            Arg::NullFloat => q.bind(None::<f64>),
        };
    }
    q.fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {text}"))
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The shards each distributed scan of a plan reaches (`Task Count`).
fn tasks(plan: &str) -> Vec<usize> {
    plan.lines()
        .filter_map(|l| l.trim().strip_prefix("Task Count: "))
        .map(|n| n.parse().unwrap())
        .collect()
}

fn text(s: &str) -> Arg {
    Arg::Text(s.into())
}

fn observations(code: &str) -> SearchPlan {
    let mut plan = SearchPlan::new("Observation");
    plan.filter.all.push(AnyOf {
        conds: vec![Cond::Token {
            param: "code".into(),
            what: TokenMatch::Code(code.into()),
        }],
        negate: false,
    });
    plan
}

/// `plan` with a date condition on or after a moment beside its own.
fn since(mut plan: SearchPlan) -> SearchPlan {
    plan.filter.all.push(AnyOf {
        conds: vec![Cond::Date {
            param: "date".into(),
            prefix: Prefix::Ge,
            low: 1_700_000_000_000,
            high: 1_700_000_000_999,
        }],
        negate: false,
    });
    plan
}

fn scope(clients: &[&str]) -> ClientScope {
    ClientScope {
        clients: clients
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .into(),
        ..ClientScope::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_paths_go_to_one_shard_and_a_search_across_clients_is_one_fan_out() {
    let (schema, pool) = cluster().await;
    let shards: usize = sqlx::query_scalar::<_, String>("SHOW citus.shard_count")
        .fetch_one(&pool)
        .await
        .unwrap()
        .parse()
        .unwrap();

    // The tables: the record co-located by client, the keys by id, the small ones everywhere.
    let rows = sqlx::query(
        "SELECT c.relname::text, p.partmethod::text, \
                COALESCE(column_to_column_name(p.logicalrelid, p.partkey), ''), p.colocationid \
           FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    let table = |name: &str| {
        rows.iter()
            .find(|r| r.get::<String, _>(0) == name)
            .map(|r| {
                (
                    r.get::<String, _>(1),
                    r.get::<String, _>(2),
                    r.get::<i32, _>(3),
                )
            })
            .unwrap_or_else(|| panic!("{name} is not distributed"))
    };
    let record = table("resources");
    assert_eq!((record.0.as_str(), record.1.as_str()), ("h", "client_key"));
    for co in ["resource_versions", "search_index"] {
        assert_eq!(table(co).1, "client_key");
        assert_eq!(table(co).2, record.2, "{co} is co-located with resources");
    }
    assert_eq!(table("resource_keys").1, "id");
    assert_eq!(table("sessions").1, "id_hash");
    for reference in ["accounts", "partner_clients"] {
        assert_eq!(table(reference).0, "n", "{reference} is a reference table");
    }

    // Shards can be moved by logical replication: the index, which has no primary key, is
    // identified by its whole row, on the coordinator and in every shard.
    let identities: Vec<String> = sqlx::query_scalar(
        "SELECT relreplident::text FROM pg_class WHERE relname = 'search_index' \
            AND relnamespace = $1::regnamespace",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(identities, ["f"]);
    let shards_without: Vec<String> = sqlx::query_scalar(
        "SELECT result FROM run_command_on_shards($1, \
            $$SELECT relreplident FROM pg_class WHERE oid = '%s'::regclass$$)",
    )
    .bind(format!("{schema}.search_index"))
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .filter(|r: &String| r != "f")
    .collect();
    assert!(shards_without.is_empty(), "{shards_without:?}");

    // A read by id: the key's client (one shard of the keys), then the client's row.
    let plan = explain(
        &pool,
        &Sql::new(sql::CLIENT_OF)
            .bind(text("Observation"))
            .bind(text("o1")),
    )
    .await;
    assert_eq!(tasks(&plan), [1], "{plan}");
    for read in [sql::READ_CURRENT_OF_CLIENT, sql::CURRENT_VERSION_OF_CLIENT] {
        let plan = explain(
            &pool,
            &Sql::new(read)
                .bind(text("p1"))
                .bind(text("Observation"))
                .bind(text("o1")),
        )
        .await;
        assert_eq!(tasks(&plan), [1], "{plan}");
    }

    // A write of a client's resource: every statement to one shard (an update also removes
    // the old current row and index rows of that client only).
    let new = |prior: Option<Current>| {
        (
            NewVersion {
                rtype: "Observation".into(),
                id: "o1".into(),
                version: if prior.is_some() { 2 } else { 1 },
                last_updated: 1,
                client_key: "p1".into(),
                body: Some(b"{}".to_vec()),
                index: vec![IndexEntry {
                    param: "code".into(),
                    value: IndexValue::Token {
                        system: Some("http://loinc.org".into()),
                        code: Some("8867-4".into()),
                        text: None,
                    },
                }],
                prior: Prior::Unread,
            },
            prior,
        )
    };
    let update = Current {
        version: 1,
        deleted: false,
        client_key: "p1".into(),
    };
    for batch in [vec![new(None)], vec![new(Some(update))]] {
        for statement in kring_store::ops::version_statements(batch) {
            let plan = explain(&pool, &statement).await;
            assert_eq!(tasks(&plan), [1], "{plan}");
        }
    }

    // A search within one client (a professional with one client in scope): one shard.
    let plan = explain(
        &pool,
        &sql::search_page(&observations("8867-4").scoped(scope(&["p1"]))),
    )
    .await;
    assert_eq!(tasks(&plan), [1], "{plan}");
    assert!(!plan.contains("Distributed Subplan"), "{plan}");

    // With a date beside it (found among the client's own dates): still one shard.
    let plan = explain(
        &pool,
        &sql::search_page(&since(observations("8867-4")).scoped(scope(&["p1"]))),
    )
    .await;
    assert_eq!(tasks(&plan), [1], "{plan}");
    assert!(!plan.contains("Distributed Subplan"), "{plan}");

    // Across clients ("my clients"): one fan-out, the scope pushed down.
    let mine = ["p1", "p2", "p3"];
    let plan = explain(
        &pool,
        &sql::search_page(&since(observations("8867-4")).scoped(scope(&mine))),
    )
    .await;
    assert_eq!(tasks(&plan).len(), 1, "one distributed scan: {plan}");
    assert!(!plan.contains("Distributed Subplan"), "{plan}");
    let plan = explain(
        &pool,
        &sql::search_page(&observations("8867-4").scoped(scope(&mine))),
    )
    .await;
    assert_eq!(tasks(&plan).len(), 1, "one distributed scan: {plan}");
    assert!(!plan.contains("Distributed Subplan"), "{plan}");
    // The scope is checked by each worker in its own shard, not on the coordinator after.
    // (Bound as parameters, the client keys do not prune shards at planning time; the
    // workers' indexes make a shard without them cheap to ask.)
    let task = plan.split("->  Task").nth(1).unwrap_or_default();
    assert!(task.contains("client_key = ANY"), "{plan}");

    // A partner's search over everything it may see: one fan-out to every shard.
    let plan = explain(&pool, &sql::search_page(&observations("8867-4"))).await;
    assert_eq!(tasks(&plan), [shards], "{plan}");
    assert!(!plan.contains("Distributed Subplan"), "{plan}");

    // With a code that a quarter of the observations of 200 clients share, and statistics
    // that know it: each shard reads the code's index rows in resource order and stops after
    // the page, instead of collecting and sorting every match (an inner join that also names
    // the client is estimated at one row in all, and was planned that way: 230 ms at 300,000
    // resources).
    for statement in [
        "INSERT INTO resources (client_key, res_type, id, version, last_updated, deleted, body) \
         SELECT 'c' || (g % 200), 'Observation', 'o' || g, 1, 0, 0, '\\x7b7d'::bytea \
           FROM generate_series(1, 20000) g",
        "INSERT INTO search_index (client_key, res_type, res_id, param, s1, s2) \
         SELECT 'c' || (g % 200), 'Observation', 'o' || g, 'code', 'http://loinc.org', \
                CASE WHEN g % 4 = 0 THEN '8867-4' ELSE 'x' || (g % 997) END \
           FROM generate_series(1, 20000) g",
        "INSERT INTO search_index (client_key, res_type, res_id, param, s1, s2) \
         SELECT 'c' || (g % 200), 'Observation', 'o' || g, 'subject', 'Patient', 'c' || (g % 200) \
           FROM generate_series(1, 20000) g",
        "ANALYZE resources",
        "ANALYZE search_index",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    for code in [
        TokenMatch::Code("8867-4".into()),
        TokenMatch::SystemCode(Some("http://loinc.org".into()), "8867-4".into()),
    ] {
        let mut plan = SearchPlan::new("Observation");
        plan.filter.all.push(AnyOf {
            conds: vec![Cond::Token {
                param: "code".into(),
                what: code.clone(),
            }],
            negate: false,
        });
        let plan = explain(&pool, &sql::search_page(&plan)).await;
        assert_eq!(tasks(&plan), [shards], "{plan}");
        let task = plan.split("->  Task").nth(1).unwrap_or_default();
        assert!(
            task.contains("Index Scan using search_index_s"),
            "{code:?}: {plan}"
        );
        assert!(!task.contains("Sort"), "{code:?}: {plan}");
    }

    // A name's first letters across clients (a partner's search): the matching ids are
    // listed and cut to the page first (one fan-out over the covering index, each shard
    // sending its first ids only), and only those resources are read (a second fan-out).
    let mut by_name = SearchPlan::new("Patient");
    by_name.filter.all.push(AnyOf {
        conds: vec![Cond::String {
            param: "name".into(),
            value: "jans".into(),
            how: StringMatch::StartsWith,
        }],
        negate: false,
    });
    let plan = explain(&pool, &sql::search_page(&by_name)).await;
    assert_eq!(tasks(&plan), [shards, shards], "{plan}");
    assert_eq!(plan.matches("Distributed Subplan").count(), 1, "{plan}");
    let ids = plan.split("->  Task").nth(1).unwrap_or_default();
    assert!(ids.contains("Limit"), "{plan}");
    assert!(ids.contains("search_index_s1"), "{plan}");

    pool.close().await;
    PgStore::drop_schema(&citus_url(), &schema).await.unwrap();
}

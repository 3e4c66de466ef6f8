//! Kring's schema on a Citus coordinator: which tables are distributed, by what, and which are
//! reference tables.
//!
//! The migrations create ordinary tables; on a database with the `citus` extension, `migrate`
//! then distributes them (once; a table already distributed is left alone):
//!
//! | table | how | why |
//! |---|---|---|
//! | `resources`, `resource_versions`, `search_index` | by `client_key`, co-located | a client's record — its current resources, every version, every index row — lives in one shard group, so a read, a write and a search within one client go to one worker, and a search across clients joins shard by shard |
//! | `resource_keys` | by `id` | the routing table from a resource's id to its client: a read by id looks up one row on one worker, then reads the client's shard |
//! | `sessions` | by `id_hash` | one row per signed-in person, written at every sign-in: spread, not copied to every node |
//! | `accounts`, `partner_clients` | reference | few, read at every sign-in and token, on every node |
//!
//! Resources that belong to no client (organisations, professionals, locations) carry the
//! client key `''` and so share one shard group: there are thousands of them, not millions,
//! and the access decision reads them once into memory at start (see `docs/ARCHITECTURE.md`).

use sqlx::PgPool;

/// The distributed tables in the order they are distributed (the first of a co-location group
/// before the tables co-located with it): table, distribution column, co-located with.
const DISTRIBUTED: &[(&str, &str, &str)] = &[
    ("resources", "client_key", "default"),
    ("resource_versions", "client_key", "resources"),
    ("search_index", "client_key", "resources"),
    ("resource_keys", "id", "none"),
    ("sessions", "id_hash", "none"),
];

/// The tables copied to every node.
const REFERENCE: &[&str] = &["accounts", "partner_clients"];

/// Whether the database is a Citus coordinator (has the extension).
pub async fn is_citus(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
        .fetch_one(pool)
        .await
}

/// Distributes Kring's tables in `schema` (see the module's table); idempotent.
pub async fn distribute(pool: &PgPool, schema: &str) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    for (table, column, colocate) in DISTRIBUTED {
        let name = format!("{schema}.{table}");
        if is_distributed(&mut conn, &name).await? {
            continue;
        }
        let colocate = if *colocate == "default" || *colocate == "none" {
            (*colocate).to_string()
        } else {
            format!("{schema}.{colocate}")
        };
        sqlx::query("SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)")
            .bind(&name)
            .bind(column)
            .bind(&colocate)
            .execute(&mut *conn)
            .await?;
        tracing::info!(table, column, "distributed over the Citus workers");
    }
    for table in REFERENCE {
        let name = format!("{schema}.{table}");
        if is_distributed(&mut conn, &name).await? {
            continue;
        }
        sqlx::query("SELECT create_reference_table($1::regclass)")
            .bind(&name)
            .execute(&mut *conn)
            .await?;
        tracing::info!(table, "copied to every Citus node (reference table)");
    }
    Ok(())
}

async fn is_distributed(conn: &mut sqlx::PgConnection, table: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass)",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await
}

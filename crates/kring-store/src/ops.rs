//! The record operations both backends share, written once over a minimal [`Exec`] interface.
//!
//! A backend implements [`Exec`] for its connection (run a statement, fetch rows); everything
//! that decides *what* to run — writing a version with its history and index, running a search
//! with its count — lives here.

use async_trait::async_trait;

use crate::search::{SearchPlan, SearchResult};
use crate::sql::{self, Arg, Sql};
use crate::{Current, NewVersion, ResourceKey, Result, StoredResource};

/// What a backend's connection can do.
#[async_trait]
pub trait Exec: Send {
    /// Runs a statement; returns the number of rows affected.
    async fn exec(&mut self, sql: &Sql) -> Result<u64>;
    /// Runs statements in order, stopping at the first that fails. A backend that can send
    /// several statements at once (SQLite's worker thread takes a whole script) does so: one
    /// round trip instead of one per statement.
    async fn exec_all(&mut self, statements: Vec<Sql>) -> Result<()> {
        for statement in &statements {
            self.exec(statement).await?;
        }
        Ok(())
    }
    /// Runs a query returning the resource columns of `sql::select_resources`, in that order.
    async fn fetch_resources(&mut self, sql: &Sql) -> Result<Vec<StoredResource>>;
    /// Runs a query returning one integer.
    async fn fetch_count(&mut self, sql: &Sql) -> Result<i64>;
    /// Runs a query returning rows of two text columns.
    async fn fetch_pairs(&mut self, sql: &Sql) -> Result<Vec<(String, String)>>;
    /// Runs [`sql::CURRENT_VERSION`].
    async fn fetch_current(&mut self, sql: &Sql) -> Result<Option<Current>>;
    /// Runs a query of [`sql::CURRENT_VERSIONS_OF`]: (id, current version) per row.
    async fn fetch_currents(&mut self, sql: &Sql) -> Result<Vec<(String, Current)>>;
    /// Whether `resource_keys` lives apart from the rows it names, so that the two cannot be
    /// joined (Citus distributes the keys by id and the record by client): reads by key then
    /// ask the client first and read the client's rows in a second query.
    fn keys_apart(&self) -> bool {
        false
    }
}

/// The client of a resource, where keys live apart (see [`Exec::keys_apart`]); `lock` also
/// locks the key row, so that concurrent writers of the resource queue up.
pub async fn client_of(
    ex: &mut dyn Exec,
    rtype: &str,
    id: &str,
    lock: bool,
) -> Result<Option<String>> {
    let text_of = if lock {
        format!("{} FOR UPDATE", sql::CLIENT_OF)
    } else {
        sql::CLIENT_OF.to_string()
    };
    Ok(ex
        .fetch_pairs(&Sql::new(&text_of).bind(text(rtype)).bind(text(id)))
        .await?
        .pop()
        .map(|(client, _)| client))
}

/// `statement` (one of the `…_OF_CLIENT` reads) bound to the client of a resource, its type
/// and id, where keys live apart; `None` when no such resource was ever written.
async fn of_client(
    ex: &mut dyn Exec,
    statement: &str,
    rtype: &str,
    id: &str,
) -> Result<Option<Sql>> {
    Ok(client_of(ex, rtype, id, false).await?.map(|client| {
        Sql::new(statement)
            .bind(text(&client))
            .bind(text(rtype))
            .bind(text(id))
    }))
}

/// The current version of a resource of `client` (the second step of [`current`] where keys
/// live apart).
pub async fn current_of_client(
    ex: &mut dyn Exec,
    client: &str,
    rtype: &str,
    id: &str,
) -> Result<Option<Current>> {
    ex.fetch_current(
        &Sql::new(sql::CURRENT_VERSION_OF_CLIENT)
            .bind(text(client))
            .bind(text(rtype))
            .bind(text(id)),
    )
    .await
}

fn text(s: &str) -> Arg {
    Arg::Text(s.to_string())
}

pub async fn current(ex: &mut dyn Exec, rtype: &str, id: &str) -> Result<Option<Current>> {
    if ex.keys_apart() {
        return match client_of(ex, rtype, id, false).await? {
            Some(client) => current_of_client(ex, &client, rtype, id).await,
            None => Ok(None),
        };
    }
    ex.fetch_current(
        &Sql::new(sql::CURRENT_VERSION)
            .bind(text(rtype))
            .bind(text(id)),
    )
    .await
}

/// The statements that write a batch of new versions, each with the current version it
/// replaces (`None` for a new resource; no two for the same resource): first what the updates
/// remove (the old current row and index rows, a moved client key), then every new row in
/// multi-row INSERTs — a few statements for a whole Bundle instead of several per resource.
pub fn version_statements(batch: Vec<(NewVersion, Option<Current>)>) -> Vec<Sql> {
    let mut statements = Vec::new();
    let mut keys = Vec::new();
    let mut current = Vec::new();
    let mut versions = Vec::new();
    let mut index = Vec::new();
    for (nv, prior) in batch {
        let (rtype, id) = (nv.rtype.as_str(), nv.id.as_str());
        match &prior {
            None => keys.push(vec![text(rtype), text(id), text(&nv.client_key)]),
            Some(cur) => {
                for stmt in [sql::DELETE_CURRENT, sql::DELETE_INDEX] {
                    statements.push(
                        Sql::new(stmt)
                            .bind(text(&cur.client_key))
                            .bind(text(rtype))
                            .bind(text(id)),
                    );
                }
                if cur.client_key != nv.client_key {
                    statements.push(
                        Sql::new(sql::UPDATE_KEY)
                            .bind(text(&nv.client_key))
                            .bind(text(rtype))
                            .bind(text(id)),
                    );
                    statements.push(
                        Sql::new(sql::COPY_VERSIONS)
                            .bind(text(&nv.client_key))
                            .bind(text(&cur.client_key))
                            .bind(text(rtype))
                            .bind(text(id)),
                    );
                    statements.push(
                        Sql::new(sql::DROP_VERSIONS)
                            .bind(text(&cur.client_key))
                            .bind(text(rtype))
                            .bind(text(id)),
                    );
                }
            }
        }
        let deleted = nv.body.is_none();
        if !deleted {
            index.extend(sql::index_rows(&nv.client_key, rtype, id, &nv.index));
        }
        let body = nv.body.unwrap_or_default();
        let row = |body: Vec<u8>| {
            vec![
                text(rtype),
                text(id),
                Arg::Int(nv.version),
                Arg::Int(nv.last_updated),
                Arg::Int(deleted as i64),
                text(&nv.client_key),
                Arg::Bytes(body),
            ]
        };
        versions.push(row(body.clone()));
        current.push(row(body));
    }
    // Rows per statement: well below the backends' limits on bound parameters.
    statements.extend(sql::insert_many(sql::INSERT_KEYS_HEAD, keys, 500));
    statements.extend(sql::insert_many(sql::INSERT_VERSIONS_HEAD, versions, 100));
    statements.extend(sql::insert_many(sql::INSERT_CURRENT_HEAD, current, 100));
    statements.extend(sql::insert_many(sql::INSERT_INDEX_HEAD, index, 500));
    statements
}

/// Runs a search: the page (one extra row tells whether more follow) and, if asked, the count.
pub async fn search(ex: &mut dyn Exec, plan: &SearchPlan) -> Result<SearchResult> {
    let mut matches = if plan.count == 0 {
        vec![]
    } else {
        ex.fetch_resources(&sql::search_page(plan)).await?
    };
    let more = matches.len() > plan.count;
    matches.truncate(plan.count);
    let total = if plan.want_total || plan.count == 0 {
        Some(ex.fetch_count(&sql::search_count(plan)).await? as u64)
    } else if !more {
        // The last page tells the total for free.
        Some((plan.offset + matches.len()) as u64)
    } else {
        None
    };
    Ok(SearchResult {
        matches,
        more,
        total,
    })
}

pub async fn read(ex: &mut dyn Exec, rtype: &str, id: &str) -> Result<Option<StoredResource>> {
    if ex.keys_apart() {
        return match of_client(ex, sql::READ_CURRENT_OF_CLIENT, rtype, id).await? {
            Some(q) => Ok(ex.fetch_resources(&q).await?.pop()),
            None => Ok(None),
        };
    }
    Ok(ex
        .fetch_resources(&Sql::new(sql::READ_CURRENT).bind(text(rtype)).bind(text(id)))
        .await?
        .pop())
}

pub async fn vread(
    ex: &mut dyn Exec,
    rtype: &str,
    id: &str,
    version: i64,
) -> Result<Option<StoredResource>> {
    if ex.keys_apart() {
        return match of_client(ex, sql::READ_VERSION_OF_CLIENT, rtype, id).await? {
            Some(q) => Ok(ex.fetch_resources(&q.bind(Arg::Int(version))).await?.pop()),
            None => Ok(None),
        };
    }
    Ok(ex
        .fetch_resources(
            &Sql::new(sql::READ_VERSION)
                .bind(text(rtype))
                .bind(text(id))
                .bind(Arg::Int(version)),
        )
        .await?
        .pop())
}

pub async fn read_many(ex: &mut dyn Exec, keys: &[ResourceKey]) -> Result<Vec<StoredResource>> {
    let mut out = Vec::with_capacity(keys.len());
    let apart = ex.keys_apart();
    for chunk in keys.chunks(200) {
        if apart {
            // Distinct already (`SELECT DISTINCT`).
            let clients: Vec<String> = ex
                .fetch_pairs(&sql::clients_of(chunk))
                .await?
                .into_iter()
                .map(|(client, _)| client)
                .collect();
            out.extend(
                ex.fetch_resources(&sql::read_many_of_clients(chunk, &clients))
                    .await?,
            );
        } else {
            out.extend(ex.fetch_resources(&sql::read_many(chunk)).await?);
        }
    }
    Ok(out)
}

fn keys(pairs: Vec<(String, String)>) -> Vec<ResourceKey> {
    pairs
        .into_iter()
        .map(|(rtype, id)| ResourceKey { rtype, id })
        .collect()
}

pub async fn references_from(
    ex: &mut dyn Exec,
    from: &[ResourceKey],
    params: &[String],
) -> Result<Vec<ResourceKey>> {
    let mut out = Vec::new();
    for chunk in from.chunks(200) {
        out.extend(keys(
            ex.fetch_pairs(&sql::references_from(chunk, params)).await?,
        ));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub async fn referrers_to(
    ex: &mut dyn Exec,
    rtype: &str,
    param: &str,
    to: &[ResourceKey],
) -> Result<Vec<ResourceKey>> {
    let mut out = Vec::new();
    for chunk in to.chunks(200) {
        out.extend(keys(
            ex.fetch_pairs(&sql::referrers_to(rtype, param, chunk))
                .await?,
        ));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub async fn types_in_use(ex: &mut dyn Exec) -> Result<Vec<String>> {
    Ok(ex
        .fetch_pairs(&Sql::new(&format!(
            "SELECT res_type, '' FROM ({}) t",
            sql::TYPES_IN_USE
        )))
        .await?
        .into_iter()
        .map(|p| p.0)
        .collect())
}

//! The versions a write transaction has put but not yet sent to the database.
//!
//! A transaction's `put` checks the version against the current one at once (a stale version
//! fails there, as before) and keeps the new version here; the rows go to the database in a
//! few multi-row statements when the transaction commits, when it reads that resource again or
//! searches, or when enough have gathered. What the transaction sees never changes: a read of
//! a resource put earlier in it, and every search, first sends what is pending. A Bundle of
//! 500 resources costs a handful of statements instead of thousands of round trips to the
//! database thread or server.
//!
//! It also remembers the current version of each resource the transaction has read or
//! written, so that a Bundle can read the current versions of all its entries in one query
//! ([`Pending::prefetch`]) and every later `current` is answered from memory.

use std::collections::{HashMap, HashSet};

use crate::ops::{self, Exec};
use crate::sql::{self, Arg, Sql};
use crate::{Current, NewVersion, Prior, Result, StoreError};

/// Versions gathered before they are sent together.
const BATCH: usize = 500;

/// New versions not yet written, each with the version it replaces.
#[derive(Debug, Default)]
pub struct Pending {
    puts: Vec<(NewVersion, Option<Current>)>,
    /// The (type, id) of every version in `puts`.
    held: HashSet<(String, String)>,
    /// The current version of resources as this transaction sees them (`None`: none).
    known: HashMap<(String, String), Option<Current>>,
}

impl Pending {
    /// Whether a version of this resource is waiting.
    fn holds(&self, rtype: &str, id: &str) -> bool {
        self.held.contains(&(rtype.to_string(), id.to_string()))
    }

    /// The current version of `rtype/id` as this transaction sees it, if it is known.
    pub fn known(&self, rtype: &str, id: &str) -> Option<Option<Current>> {
        self.known
            .get(&(rtype.to_string(), id.to_string()))
            .cloned()
    }

    /// Reads the current versions of these resources in a few queries and remembers them.
    /// `lock` appends `FOR UPDATE` (PostgreSQL: concurrent writers of these resources wait
    /// until this transaction ends, as a single `current` would make them).
    pub async fn prefetch(
        &mut self,
        ex: &mut dyn Exec,
        keys: &[(String, String)],
        lock: bool,
    ) -> Result<()> {
        let mut by_type: HashMap<&str, Vec<&str>> = HashMap::new();
        for (t, id) in keys {
            if !self.known.contains_key(&(t.clone(), id.clone())) && !self.holds(t, id) {
                by_type.entry(t).or_default().push(id);
            }
        }
        for (rtype, ids) in by_type {
            if ex.keys_apart() {
                self.prefetch_apart(ex, rtype, &ids, lock).await?;
                continue;
            }
            for chunk in ids.chunks(500) {
                let mut text = String::from(sql::CURRENT_VERSIONS_OF);
                for i in 0..chunk.len() {
                    text.push_str(if i == 0 { "?" } else { ", ?" });
                }
                text.push(')');
                if lock {
                    text.push_str(" FOR UPDATE");
                }
                let mut q = Sql::new(&text).bind(Arg::Text(rtype.to_string()));
                for id in chunk {
                    q = q.bind(Arg::Text(id.to_string()));
                }
                let mut found: HashMap<String, Current> =
                    ex.fetch_currents(&q).await?.into_iter().collect();
                for id in chunk {
                    self.known
                        .insert((rtype.to_string(), id.to_string()), found.remove(*id));
                }
            }
        }
        Ok(())
    }

    /// [`Pending::prefetch`] where keys live apart from the record ([`Exec::keys_apart`]):
    /// each key's client first, locked one by one (Citus locks rows only in a query that goes
    /// to one shard), then the current versions of those clients' resources.
    async fn prefetch_apart(
        &mut self,
        ex: &mut dyn Exec,
        rtype: &str,
        ids: &[&str],
        lock: bool,
    ) -> Result<()> {
        let mut clients = Vec::new();
        for id in ids {
            clients.extend(ops::client_of(ex, rtype, id, lock).await?);
        }
        clients.sort();
        clients.dedup();
        for chunk in ids.chunks(500) {
            let mut found: HashMap<String, Current> = if clients.is_empty() {
                HashMap::new()
            } else {
                ex.fetch_currents(&sql::current_versions_of_clients(rtype, chunk, &clients))
                    .await?
                    .into_iter()
                    .collect()
            };
            for id in chunk {
                self.known
                    .insert((rtype.to_string(), id.to_string()), found.remove(*id));
            }
        }
        Ok(())
    }

    /// Remembers what a single read of the current version found.
    pub fn remember(&mut self, rtype: &str, id: &str, current: Option<Current>) {
        self.known
            .insert((rtype.to_string(), id.to_string()), current);
    }

    /// Checks `nv` against the current version (read now unless the writer already did) and
    /// keeps it; fails with [`StoreError::Conflict`] if that version exists.
    pub async fn put(&mut self, ex: &mut dyn Exec, nv: NewVersion) -> Result<()> {
        if self.holds(&nv.rtype, &nv.id) {
            // One version per resource per batch: the earlier one goes first.
            self.flush(ex).await?;
        }
        let prior = match (&nv.prior, self.known(&nv.rtype, &nv.id)) {
            (Prior::Read(read), _) => read.clone(),
            (Prior::Unread, Some(known)) => known,
            (Prior::Unread, None) => ops::current(ex, &nv.rtype, &nv.id).await?,
        };
        if prior.as_ref().is_some_and(|c| c.version >= nv.version) {
            return Err(StoreError::Conflict);
        }
        self.remember(
            &nv.rtype,
            &nv.id,
            Some(Current {
                version: nv.version,
                deleted: nv.body.is_none(),
                client_key: nv.client_key.clone(),
            }),
        );
        self.held.insert((nv.rtype.clone(), nv.id.clone()));
        self.puts.push((nv, prior));
        if self.puts.len() >= BATCH {
            self.flush(ex).await?;
        }
        Ok(())
    }

    /// Writes everything waiting.
    pub async fn flush(&mut self, ex: &mut dyn Exec) -> Result<()> {
        if self.puts.is_empty() {
            return Ok(());
        }
        ex.exec_all(self.take_statements()).await
    }

    /// The statements that write everything waiting, which is then no longer held: for a
    /// backend that sends them together with statements of its own (SQLite's RELEASE at
    /// commit). The caller must run them, or drop the transaction.
    pub fn take_statements(&mut self) -> Vec<Sql> {
        self.held.clear();
        ops::version_statements(std::mem::take(&mut self.puts))
    }

    /// Writes everything waiting if a version of `rtype/id` is among it, before it is read.
    pub async fn flush_for(&mut self, ex: &mut dyn Exec, rtype: &str, id: &str) -> Result<()> {
        if self.holds(rtype, id) {
            self.flush(ex).await?;
        }
        Ok(())
    }
}

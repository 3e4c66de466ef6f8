//! Several servers, one record: each server's decision point holds the facts it weighs
//! (circles, consents, clients, emergency declarations) in memory and learns its own writes at
//! commit. A server in front of a database that other servers also write to learns theirs
//! here, by reading the recent history of the watched types a few times a second.
//!
//! Owns: following those writes. A version is taken in once; versions are read back over an
//! overlap of [`OVERLAP_MS`], so that a transaction that commits up to that long after it
//! stamped its versions is still seen. A change made through one server therefore counts on
//! the others within one round (half a second in `kring serve`, which runs the rounds).

use std::collections::HashMap;

use kring_store::{HistoryQuery, HistoryScope};

use crate::{Record, Result};

/// How far back each round reads again: a transaction that commits later than this after
/// stamping its versions would be missed.
pub const OVERLAP_MS: i64 = 10_000;
const PAGE: usize = 1000;

/// What a follower has seen: versions taken in (with their time, to forget them once they
/// fall out of the overlap) and when the last round started.
#[derive(Debug)]
pub struct Follower {
    seen: HashMap<(String, String, i64), i64>,
    last_round: i64,
}

impl Follower {
    /// A follower that starts reading from `from_ms` on (the time the facts were loaded).
    pub fn from(from_ms: i64) -> Follower {
        Follower {
            seen: HashMap::new(),
            last_round: from_ms,
        }
    }
}

impl Record {
    /// One round: takes in every version of a watched type written by anyone since the last
    /// round (less the overlap) that was not taken in before. Returns how many.
    pub async fn follow_round(&self, follower: &mut Follower) -> Result<usize> {
        let started = kring_audit::now_ms();
        let since = follower.last_round - OVERLAP_MS;
        let mut taken = 0;
        for rtype in kring_access::facts::WATCHED_TYPES {
            let mut offset = 0;
            // History is newest first: the first version of a resource met is its current one.
            let mut met = std::collections::HashSet::new();
            loop {
                let page = self
                    .store
                    .history(&HistoryQuery {
                        scope: HistoryScope::Type(rtype.to_string()),
                        since: Some(since),
                        count: PAGE,
                        offset,
                        scope_filter: None,
                    })
                    .await?;
                for r in &page {
                    if !met.insert(r.id.clone()) {
                        continue;
                    }
                    let key = (r.rtype.clone(), r.id.clone(), r.version);
                    if follower.seen.insert(key, r.last_updated).is_none() {
                        self.access
                            .observe(&r.rtype, &r.id, (!r.deleted).then_some(&r.body[..]));
                        taken += 1;
                    }
                }
                if page.len() < PAGE {
                    break;
                }
                offset += PAGE;
            }
        }
        follower.seen.retain(|_, at| *at >= since);
        follower.last_round = started;
        Ok(taken)
    }
}

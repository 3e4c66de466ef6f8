//! History: every version of one resource, one type, or the whole system, newest first.

use std::collections::BTreeMap;

use kring_access::Action;
use kring_fhir::IssueCode;
use kring_store::{HistoryQuery, HistoryScope};

use crate::search::parse::whole_number;
use crate::{target, target_of, Caller, Record, RecordError, Result};

/// A history request (`_since`, `_at` is not supported, `_count`, `_offset`).
#[derive(Debug, Clone)]
pub struct HistoryRequest {
    pub rtype: Option<String>,
    pub id: Option<String>,
    pub params: Vec<(String, String)>,
}

/// One version in a history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub version: crate::Versioned,
    pub deleted: bool,
}

/// A page of history.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    pub count: usize,
    pub offset: usize,
    pub more: bool,
}

impl Record {
    pub async fn history(&self, caller: &Caller, req: &HistoryRequest) -> Result<HistoryPage> {
        let scope = match (&req.rtype, &req.id) {
            (Some(t), Some(id)) => {
                self.check_type(t)?;
                self.check_id(id)?;
                HistoryScope::Instance(t.clone(), id.clone())
            }
            (Some(t), None) => {
                self.check_type(t)?;
                HistoryScope::Type(t.clone())
            }
            _ => HistoryScope::System,
        };
        let mut count = self.limits.default_count;
        let mut offset = 0;
        let mut since = None;
        for (k, v) in &req.params {
            match k.as_str() {
                "_count" => count = whole_number(k, v)?,
                "_offset" => offset = whole_number(k, v)?,
                "_since" => {
                    since = Some(
                        kring_fhir::datetime::parse_range(v)
                            .ok_or_else(|| {
                                RecordError::bad_request(
                                    IssueCode::Invalid,
                                    "_since is an instant such as 2024-01-31T10:00:00Z",
                                )
                            })?
                            .low,
                    )
                }
                "_format" | "_pretty" => {}
                other => {
                    return Err(RecordError::bad_request(
                        IssueCode::NotSupported,
                        format!("history does not support the parameter {other}"),
                    ))
                }
            }
        }
        let count = count.min(self.limits.max_count);
        let query = HistoryQuery {
            scope,
            since,
            count: count + 1,
            offset,
            // History across types is filtered row by row below; a type's history uses its scope.
            scope_filter: self
                .access
                .search_scope(&caller.subject, req.rtype.as_deref().unwrap_or("Patient"))
                .map(|mut s| {
                    if req.rtype.is_none() {
                        // Clients seen only partly still show their other types' history.
                        for (clients, _) in std::mem::take(&mut s.partial) {
                            let mut all = s.clients.to_vec();
                            all.extend(clients);
                            s.clients = all.into();
                        }
                    }
                    s
                }),
        };
        let mut rows = self.store.history(&query).await?;
        let more = rows.len() > count;
        rows.truncate(count);
        if let (Some(t), Some(id), true) = (&req.rtype, &req.id, rows.is_empty()) {
            self.record_outcome(
                caller,
                Action::History,
                "history-instance",
                "not-found",
                &target(t, Some(id), ""),
            )
            .await?;
            return Err(RecordError::NotFound(format!("{t}/{id}")));
        }
        let interaction = match (&req.rtype, &req.id) {
            (Some(_), Some(_)) => "history-instance",
            (Some(_), None) => "history-type",
            _ => "history-system",
        };
        // One decision per version; one log entry per client whose data is in the page.
        let decisions: Vec<_> = rows
            .iter()
            .map(|r| {
                self.access
                    .decide(&caller.subject, Action::History, &target_of(r))
            })
            .collect();
        let allowed: Vec<bool> = decisions.iter().map(|d| d.permit).collect();
        let mut by_client: BTreeMap<(String, bool), Vec<usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            by_client
                .entry((r.client_key.clone(), allowed[i]))
                .or_default()
                .push(i);
        }
        let mut entries = Vec::new();
        for ((_, permit), idx) in &by_client {
            let mut t = target_of(&rows[idx[0]]);
            t.id = Some(
                idx.iter()
                    .map(|i| format!("{}/{}", rows[*i].rtype, rows[*i].id))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            entries.push(self.entry(
                caller,
                Action::History,
                interaction,
                if *permit { "success" } else { "denied" },
                &t,
                &decisions[idx[0]].reasons,
            ));
        }
        if let (Some(t), Some(id), false) = (&req.rtype, &req.id, allowed.iter().any(|a| *a)) {
            // Nothing of this resource may be seen: say so as if it did not exist.
            self.record(entries).await?;
            return Err(RecordError::NotFound(format!("{t}/{id}")));
        }
        self.record(entries).await?;
        let entries = rows
            .into_iter()
            .zip(allowed)
            .filter(|(_, ok)| *ok)
            .map(|(r, _)| HistoryEntry {
                deleted: r.deleted,
                version: crate::Versioned::from_stored(r),
            })
            .collect();
        Ok(HistoryPage {
            entries,
            count,
            offset,
            more,
        })
    }
}

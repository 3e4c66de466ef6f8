//! Reading the access log: "who looked at my file" for clients and their representatives, the
//! views per client and per user for privacy officers, and FHIR `AuditEvent` read and search —
//! each through the decision point, and each read itself logged before it is answered.
//!
//! Owns: who may read which entries (as the decision point says: the client's own entries,
//! a child's for a parent with authority, the entries of an organisation's clients and users
//! for its privacy officer) and the log entries of reading the log.

use std::collections::BTreeSet;

use kring_access::{Action, Category, Subject, Target};
use kring_audit::{AccessEntry, LogQuery};

use crate::{Caller, Record, RecordError, Result};

/// A question to the log. `client` or `user` picks one view; neither searches everything the
/// caller may read.
#[derive(Debug, Clone, Default)]
pub struct LogRequest {
    /// Entries about this client (Patient id).
    pub client: Option<String>,
    /// Entries by this user (`account/…`) acting for this organisation (`Organization` id).
    pub user: Option<(String, String)>,
    /// Any of these outcomes (`success`, `denied` …).
    pub outcome: Vec<String>,
    /// The acting user: an account id (`account/…`) or person (`Practitioner/…`).
    pub agent: Option<String>,
    pub purpose: Option<String>,
    pub action: Option<String>,
    /// The data: a resource type, and optionally its id.
    pub data_type: Option<String>,
    pub data_id: Option<String>,
    /// The network address the requests came from.
    pub address: Option<String>,
    /// Any of these roles acted (`PractitionerRole/…`): the staff of a location.
    pub roles: Option<Vec<String>>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub count: usize,
    pub offset: usize,
}

fn log_target(client: &str, owner: Option<String>) -> Target {
    let mut t = Target::new("AuditEvent", None, client, Category::AccessLog);
    t.owner = owner;
    t
}

impl Record {
    /// Entries as the caller may read them, newest first; the reading itself is logged (one
    /// entry per client whose entries are returned) before the entries are returned.
    pub async fn read_log(
        &self,
        caller: &Caller,
        req: &LogRequest,
        interaction: &str,
    ) -> Result<Vec<AccessEntry>> {
        let mut q = LogQuery {
            outcome: req.outcome.clone(),
            agent: req.agent.clone(),
            purpose: req.purpose.clone(),
            action: req.action.clone(),
            data_type: req.data_type.clone(),
            data_id: req.data_id.clone(),
            address: req.address.clone(),
            roles: req.roles.clone(),
            from_ms: req.from_ms,
            to_ms: req.to_ms,
            limit: req.count.max(1),
            offset: req.offset,
            ..LogQuery::default()
        };
        let target;
        let decision;
        if let Some(client) = &req.client {
            target = log_target(client, None);
            decision = self
                .decide(caller, Action::Search, interaction, &target)
                .await?;
            q.client = Some(client.clone());
        } else if let Some((user, org)) = &req.user {
            target = log_target("", Some(org.clone()));
            decision = self
                .decide(caller, Action::Search, interaction, &target)
                .await?;
            q.user = Some(user.clone());
            q.user_org = Some(format!("Organization/{org}"));
        } else {
            target = log_target("", None);
            decision = kring_access::Decision::permit(kring_access::Reason::SearchScope);
            match self.access.search_scope(&caller.subject, "AuditEvent") {
                None => {}
                Some(scope) => {
                    q.clients = Some(scope.clients.iter().cloned().collect());
                    if let Subject::Officer { organisation, .. } = &caller.subject {
                        q.user_org = Some(format!("Organization/{organisation}"));
                    }
                }
            }
        }
        let entries = self.log.query(&q).await.map_err(RecordError::from)?;
        let entries = self.without_withheld(caller, entries).await?;
        self.log_reading(caller, interaction, &target, &decision.reasons, &entries)
            .await?;
        Ok(entries)
    }

    /// For the client and their parents: the entries that would tell of something withheld
    /// from them left out — accesses under a withheld sharing grant, and the writing and
    /// reading of a withheld sharing decision or open meldcode case. Everyone else reads them.
    async fn without_withheld(
        &self,
        caller: &Caller,
        entries: Vec<AccessEntry>,
    ) -> Result<Vec<AccessEntry>> {
        if !matches!(
            caller.subject,
            Subject::Client { .. } | Subject::Representative { .. } | Subject::Supporter { .. }
        ) {
            return Ok(entries);
        }
        let today = chrono::Utc::now().date_naive();
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let under_withheld_grant = e.grounds.iter().any(|g| {
                g.strip_prefix("Consent/")
                    .is_some_and(|id| self.access.grant_withheld(id))
            });
            if under_withheld_grant {
                continue;
            }
            if matches!(e.data.category.as_str(), "sharing" | "safety") && !e.data.id.is_empty() {
                // Searches log `Type/id`, reads the id alone.
                let id = e.data.id.rsplit('/').next().unwrap_or_default();
                let body = self
                    .store
                    .read(&e.data.resource_type, id)
                    .await?
                    .map(|r| r.body);
                if body.is_some_and(|b| kring_access::sharing::withheld_from_client(&b, today)) {
                    continue;
                }
            }
            out.push(e);
        }
        Ok(out)
    }

    /// A page of the whole log, oldest first, for an export by those who may export it (the
    /// operator); each client whose entries leave is logged first.
    pub async fn export_log_page(
        &self,
        caller: &Caller,
        first: u64,
        limit: usize,
    ) -> Result<Vec<AccessEntry>> {
        let target = log_target("", None);
        let d = self
            .decide(caller, Action::Export, "export", &target)
            .await?;
        let entries = self
            .log
            .entries_from(first, limit)
            .await
            .map_err(RecordError::from)?;
        if !entries.is_empty() {
            self.log_reading(caller, "export", &target, &d.reasons, &entries)
                .await?;
        }
        Ok(entries)
    }

    /// One entry of the log by id, if the caller may read it (otherwise: not found).
    pub async fn read_log_entry(&self, caller: &Caller, id: u64) -> Result<AccessEntry> {
        let what = format!("AuditEvent/{id}");
        let found = self
            .log
            .query(&LogQuery {
                id: Some(id),
                limit: 1,
                ..LogQuery::default()
            })
            .await
            .map_err(RecordError::from)?;
        let found = self.without_withheld(caller, found).await?.pop();
        let Some(entry) = found else {
            let t = log_target("", None);
            self.record(vec![self.entry(
                caller,
                Action::Read,
                "read",
                "not-found",
                &t,
                &[],
            )])
            .await?;
            return Err(RecordError::NotFound(what));
        };
        // Readable as an entry about the client, or as an entry by a user of the reader's
        // organisation (what the searches show, too).
        let mut about_client = log_target(&entry.client, None);
        about_client.id = Some(id.to_string());
        let by_user = entry
            .user
            .organisation
            .strip_prefix("Organization/")
            .map(|org| {
                let mut t = log_target("", Some(org.to_string()));
                t.id = Some(id.to_string());
                t
            });
        let mut decision = if entry.client.is_empty() {
            None
        } else {
            Some(
                self.access
                    .decide(&caller.subject, Action::Read, &about_client),
            )
        };
        if !decision.as_ref().is_some_and(|d| d.permit) {
            if let Some(t) = &by_user {
                let d = self.access.decide(&caller.subject, Action::Read, t);
                if d.permit || decision.is_none() {
                    decision = Some(d);
                }
            }
        }
        let d = decision
            .unwrap_or_else(|| kring_access::Decision::deny(kring_access::Reason::DenyByDefault));
        let target = if entry.client.is_empty() {
            by_user.unwrap_or(about_client)
        } else {
            about_client
        };
        if !d.permit {
            self.record(vec![self.entry(
                caller,
                Action::Read,
                "read",
                "denied",
                &target,
                &d.reasons,
            )])
            .await?;
            return Err(RecordError::NotFound(what));
        }
        self.record(vec![self.entry(
            caller,
            Action::Read,
            "read",
            "success",
            &target,
            &d.reasons,
        )])
        .await?;
        Ok(entry)
    }

    /// Logs that `caller` read these entries: one entry per client they concern (IHE BALP),
    /// or one for the question when they concern none.
    async fn log_reading(
        &self,
        caller: &Caller,
        interaction: &str,
        target: &Target,
        reasons: &[kring_access::Reason],
        entries: &[AccessEntry],
    ) -> Result<()> {
        let clients: BTreeSet<&str> = entries
            .iter()
            .map(|e| e.client.as_str())
            .filter(|c| !c.is_empty())
            .collect();
        let mut out = Vec::new();
        let action = if interaction == "export" {
            Action::Export
        } else {
            Action::Search
        };
        for c in &clients {
            let t = log_target(c, None);
            out.push(self.entry(caller, action, interaction, "success", &t, reasons));
        }
        if out.is_empty() {
            out.push(self.entry(caller, action, interaction, "success", target, reasons));
        }
        self.record(out).await
    }
}

//! The record store: every FHIR interaction on the shared client record.
//!
//! Owns: the meaning of read, vread, create, update, patch, delete, history, search, batch and
//! transaction Bundles and `$everything` — versioning, validation, indexing, the client each
//! resource belongs to — and the rule that each of them first asks the decision point
//! (`kring-access`) and records the access in the log (`kring-audit`) before any data is
//! returned. Must never: speak HTTP, or reach the store except through this crate's operations.

mod access_log;
mod bundle;
mod client;
pub mod contributions;
mod emergency;
mod error;
mod everything;
pub mod follow;
mod history;
mod ids;
pub mod logging;
pub mod medication;
pub mod messages;
pub mod meta;
pub mod output;
pub mod plan;
mod read;
pub mod reports;
pub mod rules;
pub mod search;
pub mod sharing;
mod write;

use std::sync::Arc;

use kring_access::{AccessDecision, Action, Decision, Subject, Target};
use kring_audit::{AccessEntry, AccessLog};

pub use kring_audit;
use kring_fhir::Definitions;
use kring_store::Store;

pub use access_log::LogRequest;
pub use bundle::{parse_etag, BundleKind};
pub use emergency::{EmergencyClient, EmergencyError, MAX_REASON_CHARS, MIN_REASON_CHARS};
pub use error::{RecordError, Refusal, RuleText};
pub use history::HistoryRequest;
pub use search::{Handling, SearchRequest};
pub use write::{Preference, WriteResult};

pub type Result<T, E = RecordError> = std::result::Result<T, E>;

/// Who is calling, and from where (for the decision and the log).
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
    /// Network address, or `cli`.
    pub source: String,
    /// The user's own name for the log (a professional's name; empty when unknown).
    pub name: String,
    /// The system the request came through: `kring-api`, `kring-web`, `kring-cli`, or the
    /// partner system's `client/…`.
    pub system: String,
    /// The HTTP User-Agent, when there is one.
    pub user_agent: String,
}

impl Caller {
    /// A caller through the FHIR API.
    pub fn new(subject: Subject, source: &str) -> Caller {
        let system = match &subject {
            Subject::Partner { client_id, .. } => format!("client/{client_id}"),
            _ => "kring-api".into(),
        };
        Caller {
            subject,
            source: source.to_string(),
            name: String::new(),
            system,
            user_agent: String::new(),
        }
    }

    /// The installation's operator (command line, or in-process tests and benchmarks).
    pub fn operator(source: &str) -> Caller {
        let mut c = Caller::new(Subject::Operator, source);
        if source == "cli" {
            c.system = "kring-cli".into();
        }
        c
    }

    pub fn with_name(mut self, name: &str) -> Caller {
        self.name = name.to_string();
        self
    }

    pub fn with_system(mut self, system: &str) -> Caller {
        self.system = system.to_string();
        self
    }

    pub fn with_user_agent(mut self, user_agent: &str) -> Caller {
        // Bounded: a header is the caller's to choose.
        self.user_agent = user_agent.chars().take(200).collect();
        self
    }
}

/// One version of a resource, as returned to a caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub rtype: String,
    pub id: String,
    pub version: i64,
    /// ms since the epoch.
    pub last_updated: i64,
    /// The exact stored JSON.
    pub body: Vec<u8>,
}

impl Versioned {
    pub(crate) fn from_stored(s: kring_store::StoredResource) -> Self {
        Versioned {
            rtype: s.rtype,
            id: s.id,
            version: s.version,
            last_updated: s.last_updated,
            body: s.body,
        }
    }
    /// The weak ETag of this version.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
    /// `Type/id/_history/v`.
    pub fn versioned_path(&self) -> String {
        format!("{}/{}/_history/{}", self.rtype, self.id, self.version)
    }
}

/// Limits on requests.
#[derive(Debug, Clone)]
pub struct Limits {
    pub default_count: usize,
    pub max_count: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_count: 20,
            max_count: 1000,
        }
    }
}

/// The record: the store behind the decision point and the access log.
#[derive(Clone)]
pub struct Record {
    store: Arc<dyn Store>,
    access: Arc<dyn AccessDecision>,
    log: Arc<dyn AccessLog>,
    defs: &'static Definitions,
    pub limits: Limits,
    /// Which medication needs a double check (configurable).
    high_risk: Arc<medication::HighRisk>,
}

impl Record {
    pub fn new(
        store: Arc<dyn Store>,
        access: Arc<dyn AccessDecision>,
        log: Arc<dyn AccessLog>,
    ) -> Record {
        Record {
            store,
            access,
            log,
            defs: kring_fhir::definitions(),
            limits: Limits::default(),
            high_risk: Arc::new(medication::HighRisk::default()),
        }
    }

    /// The same record with this list of high-risk medication (names and `atc:` prefixes).
    pub fn with_high_risk(mut self, high_risk: medication::HighRisk) -> Record {
        self.high_risk = Arc::new(high_risk);
        self
    }

    /// The list of medication that needs a double check.
    pub fn high_risk(&self) -> &medication::HighRisk {
        &self.high_risk
    }

    /// The access log (checkpoints and proofs hold hashes only; entries are read through
    /// [`Record::read_log`]).
    pub fn access_log(&self) -> &Arc<dyn AccessLog> {
        &self.log
    }

    pub fn definitions(&self) -> &'static Definitions {
        self.defs
    }

    /// Feeds the decision point the current content of every resource type it watches
    /// (circles, consents, clients …). Run once when the record is opened.
    pub async fn load_access_facts(&self) -> Result<usize> {
        let mut n = 0;
        for rtype in kring_access::facts::WATCHED_TYPES {
            let mut after: Option<String> = None;
            loop {
                let rows = self.store.scan(rtype, after.as_deref(), 1000).await?;
                let Some(last) = rows.last() else { break };
                after = Some(last.id.clone());
                for r in &rows {
                    self.access
                        .observe(&r.rtype, &r.id, (!r.deleted).then_some(&r.body[..]));
                }
                n += rows.len();
            }
        }
        Ok(n)
    }

    /// After a commit: tells the decision point the committed state of the watched resources
    /// the entries name, so the next request is decided on it.
    pub(crate) async fn observe_committed(&self, entries: &[AccessEntry]) {
        for e in entries {
            let (rtype, id) = (&e.data.resource_type, &e.data.id);
            if !self.access.watches(rtype) || !matches!(e.action.as_str(), "C" | "U" | "D") {
                continue;
            }
            match self.store.read(rtype, id).await {
                Ok(current) => {
                    let body = current.as_ref().filter(|r| !r.deleted).map(|r| &r.body[..]);
                    self.access.observe(rtype, id, body);
                }
                Err(err) => {
                    tracing::error!(error = %err, "could not re-read a committed resource for the access decision")
                }
            }
        }
    }

    /// Asks the decision point; a denial is logged and becomes an error.
    pub(crate) async fn decide(
        &self,
        caller: &Caller,
        action: Action,
        interaction: &str,
        target: &Target,
    ) -> Result<Decision> {
        self.decide_in(
            &kring_access::Pending::NONE,
            caller,
            action,
            interaction,
            target,
        )
        .await
    }

    /// [`Record::decide`] inside a write transaction, on the facts as that transaction has
    /// changed them so far.
    pub(crate) async fn decide_in(
        &self,
        pending: &kring_access::Pending,
        caller: &Caller,
        action: Action,
        interaction: &str,
        target: &Target,
    ) -> Result<Decision> {
        let d = self
            .access
            .decide_pending(pending, &caller.subject, action, target);
        if !d.permit {
            self.record(vec![self.entry(
                caller,
                action,
                interaction,
                "denied",
                target,
                &d.reasons,
            )])
            .await?;
            return Err(RecordError::Forbidden(
                self.refusal(pending, caller, target, &d),
            ));
        }
        Ok(d)
    }

    /// What a refused caller is told: the rules that refused, when the caller may see the
    /// client the data is about (or the data is shared); nothing more than for a client that
    /// does not exist otherwise.
    fn refusal(
        &self,
        pending: &kring_access::Pending,
        caller: &Caller,
        target: &Target,
        d: &Decision,
    ) -> error::Refusal {
        let client = &target.client_key;
        let sees_client = client.is_empty()
            || self
                .access
                .decide_pending(
                    pending,
                    &caller.subject,
                    Action::Read,
                    &target_body("Patient", Some(client), client, b""),
                )
                .permit;
        if !sees_client {
            return error::Refusal::silent();
        }
        let text = |r: &kring_access::Reason, lang: &str| match r {
            kring_access::Reason::Rule(id) => self.access.rule_text(id, lang),
            other => other.explanation(lang).map(str::to_string),
        };
        let rules = d
            .reasons
            .iter()
            .filter_map(|r| {
                Some(error::RuleText {
                    reason: r.clone(),
                    nl: text(r, "nl")?,
                    en: text(r, "en")?,
                })
            })
            .collect();
        error::Refusal { rules, entry: None }
    }

    /// What the decision point says about `caller` doing `action` on data of `rtype` (and,
    /// for a type with several categories, with this `body`) of `client`, without reading or
    /// returning any data: for "why can I see this?", and for pages that offer an action only
    /// to those who may take it.
    pub fn explain(
        &self,
        caller: &Caller,
        action: Action,
        rtype: &str,
        client: &str,
        body: &[u8],
    ) -> Decision {
        self.access.decide(
            &caller.subject,
            action,
            &target_body(rtype, None, client, body),
        )
    }

    /// The plain-language explanation of a rule, in `lang` (`nl` or `en`).
    pub fn rule_text(&self, rule: &str, lang: &str) -> Option<String> {
        self.access.rule_text(rule, lang)
    }

    /// A partner system may only touch the resource types its scopes name: outside them the
    /// answer is 403 before any data is looked at (so it reveals nothing about the data).
    pub(crate) async fn check_scopes(
        &self,
        caller: &Caller,
        action: Action,
        interaction: &str,
        rtype: &str,
    ) -> Result<()> {
        if let Subject::Partner { scopes, .. } = &caller.subject {
            if !scopes.allows(rtype, action) {
                let reason = kring_access::Reason::OutOfScope {
                    rtype: rtype.to_string(),
                    action,
                };
                self.record(vec![self.entry(
                    caller,
                    action,
                    interaction,
                    "denied",
                    &target(rtype, None, ""),
                    &[reason],
                )])
                .await?;
                return Err(RecordError::OutOfScope(format!(
                    "this client's scopes do not allow {} on {rtype}",
                    action.name()
                )));
            }
        }
        Ok(())
    }

    /// Logs an access that ended without data (not found, invalid …).
    pub(crate) async fn record_outcome(
        &self,
        caller: &Caller,
        action: Action,
        interaction: &str,
        outcome: &'static str,
        target: &Target,
    ) -> Result<()> {
        self.record(vec![self.entry(
            caller,
            action,
            interaction,
            outcome,
            target,
            &[],
        )])
        .await
    }
}

/// Builds a target for a resource whose content is not at hand (its category follows from the
/// type alone).
pub(crate) fn target(rtype: &str, id: Option<&str>, client_key: &str) -> Target {
    target_body(rtype, id, client_key, b"")
}

/// Builds a target for a resource with its content (a CarePlan's category depends on it).
pub(crate) fn target_body(rtype: &str, id: Option<&str>, client_key: &str, body: &[u8]) -> Target {
    let category = kring_access::category::category_of(rtype, !client_key.is_empty(), body);
    let mut t = Target::new(rtype, id, client_key, category);
    if category == kring_access::Category::Messages {
        t.parties = kring_access::category::message_parties(body);
    }
    if matches!(
        category,
        kring_access::Category::Sharing | kring_access::Category::Safety
    ) {
        t.withheld =
            kring_access::sharing::withheld_from_client(body, chrono::Utc::now().date_naive());
    }
    t
}

/// Builds the target of a stored resource.
pub(crate) fn target_of(r: &kring_store::StoredResource) -> Target {
    target_body(&r.rtype, Some(&r.id), &r.client_key, &r.body)
}

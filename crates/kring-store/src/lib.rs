//! The storage interface of the record: one [`Store`] trait that both backends implement.
//!
//! Owns: what a stored resource is, the write and read operations, the search plan (what to
//! find, independent of SQL), and the SQL text both backends share (`sql`).
//! Must never: know about HTTP, JSON parsing of bodies, or access rules. It stores exact bytes
//! and index rows that the record layer computed.

pub mod accounts;
pub mod backup;
mod error;
pub mod ops;
pub mod pending;
pub mod search;
pub mod sql;

use async_trait::async_trait;
pub use error::StoreError;
pub use kring_fhir::index::{IndexEntry, IndexValue};
pub use search::{SearchPlan, SearchResult};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The writing of a transaction's access-log entries: `true` once they are durable.
pub type LogWrite<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL with the Citus extension (a coordinator): the same SQL, the tables
    /// distributed over the workers (`kring_store_postgres::citus`).
    Citus,
}

/// The client key of resources that belong to no client (organisations, practitioners …).
/// These rows form Citus reference data.
pub const SHARED_KEY: &str = "";

/// One version of a resource as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub rtype: String,
    pub id: String,
    pub version: i64,
    /// `meta.lastUpdated`, as ms since the epoch.
    pub last_updated: i64,
    pub deleted: bool,
    /// The Patient id this resource belongs to, or [`SHARED_KEY`].
    pub client_key: String,
    /// The exact JSON bytes (empty for a deletion).
    pub body: Vec<u8>,
}

/// The current version of a resource, as seen inside a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub version: i64,
    pub deleted: bool,
    pub client_key: String,
}

/// A new version to write.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub rtype: String,
    pub id: String,
    pub version: i64,
    pub last_updated: i64,
    pub client_key: String,
    /// `None` writes a deletion (the history keeps every earlier version).
    pub body: Option<Vec<u8>>,
    pub index: Vec<IndexEntry>,
    /// The current version as the writer already read it in this transaction, which saves the
    /// store reading it again; `Prior::Unread` lets the store look.
    pub prior: Prior,
}

/// What a writer knows of the version a new one replaces.
#[derive(Debug, Clone, PartialEq)]
pub enum Prior {
    /// Not read in this transaction: the store reads it.
    Unread,
    /// Read in this transaction (which holds the writer): `None` if there was none.
    Read(Option<Current>),
}

/// What a history request covers.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryScope {
    System,
    Type(String),
    Instance(String, String),
}

#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub scope: HistoryScope,
    /// Only versions written at or after this instant (ms).
    pub since: Option<i64>,
    pub count: usize,
    pub offset: usize,
    /// Restricts to these client keys (plus shared resources when `include_shared`).
    pub scope_filter: Option<search::ClientScope>,
}

/// A (type, id) pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub rtype: String,
    pub id: String,
}

/// A partner system registered for OAuth2 client credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerClient {
    pub client_id: String,
    /// The organisation (Organization id) the system acts for.
    pub organisation: String,
    /// SMART v2 system scopes, space-separated.
    pub scopes: String,
    /// The argon2id hash of the client secret (PHC string); empty for a client that signs
    /// its requests with a key instead.
    pub secret_hash: String,
    /// The public keys (JWK Set JSON) of a client using private_key_jwt.
    pub jwks: Option<String>,
    /// ms since the epoch.
    pub created: i64,
}

/// The record's storage: resources, their versions and their search index. Implemented by
/// `kring-store-sqlite` and `kring-store-postgres`; only `kring-record` holds one, so every
/// read and write of client data passes its decision point and access log.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Brings the schema up to date. Safe to run on every start.
    async fn migrate(&self) -> Result<()>;

    /// The current version (possibly a deletion) of a resource.
    async fn read(&self, rtype: &str, id: &str) -> Result<Option<StoredResource>>;

    /// Several current versions at once; missing and deleted ones are left out.
    async fn read_many(&self, keys: &[ResourceKey]) -> Result<Vec<StoredResource>>;

    /// One version of a resource.
    async fn vread(&self, rtype: &str, id: &str, version: i64) -> Result<Option<StoredResource>>;

    /// Versions, newest first.
    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StoredResource>>;

    /// Runs a search.
    async fn search(&self, plan: &SearchPlan) -> Result<SearchResult>;

    /// References held by `from` resources through any of the reference parameters `params`
    /// (for `_include`).
    async fn references_from(
        &self,
        from: &[ResourceKey],
        params: &[String],
    ) -> Result<Vec<ResourceKey>>;

    /// Resources of `rtype` that refer to one of `to` through `param` (for `_revinclude`).
    async fn referrers_to(
        &self,
        rtype: &str,
        param: &str,
        to: &[ResourceKey],
    ) -> Result<Vec<ResourceKey>>;

    /// Current, non-deleted resources of one type ordered by id, after `after_id` (for export).
    async fn scan(
        &self,
        rtype: &str,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredResource>>;

    /// Current, non-deleted resources of one client (its compartment), ordered by type and id.
    async fn client_resources(
        &self,
        client_key: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<StoredResource>>;

    /// Resource types that have at least one current resource.
    async fn types_in_use(&self) -> Result<Vec<String>>;

    /// Starts a write transaction. Writes become visible together at commit, or not at all.
    async fn begin(&self) -> Result<Box<dyn StoreTx>>;
}

/// Who may sign in, kept beside the record in the same database but apart from it: people's
/// accounts and sessions, and registered partner systems. Holds no client data; the server's
/// sign-in and token endpoints use it, the record never does.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Registers (or replaces) a partner system.
    async fn put_partner(&self, partner: &PartnerClient) -> Result<()>;

    /// A registered partner system.
    async fn partner(&self, client_id: &str) -> Result<Option<PartnerClient>>;

    /// Stores an account's document (see `kring-server`'s auth module).
    async fn put_account(&self, username: &str, data: &str) -> Result<()>;

    /// An account's document.
    async fn account(&self, username: &str) -> Result<Option<String>>;

    /// Stores a session's document under the hash of its cookie.
    async fn put_session(&self, id_hash: &str, username: &str, data: &str) -> Result<()>;

    /// A session: (username, document).
    async fn session(&self, id_hash: &str) -> Result<Option<(String, String)>>;

    /// Ends one session.
    async fn delete_session(&self, id_hash: &str) -> Result<()>;

    /// Ends every session of an account ("sign out everywhere").
    async fn delete_sessions_of(&self, username: &str) -> Result<()>;

    /// The partner systems registered for an organisation, oldest first.
    async fn partners_of(&self, organisation: &str) -> Result<Vec<PartnerClient>>;
}

/// One database holding both the record and the accounts: what a backend is, and what the
/// command line opens. Hand the record its [`Store`] and the server its [`AccountStore`].
pub trait Database: Store + AccountStore + backup::Backup {}

impl<T: Store + AccountStore + backup::Backup> Database for T {}

/// A write transaction. Dropping it without `commit` rolls it back.
#[async_trait]
pub trait StoreTx: Send {
    /// The current version of a resource, locked against concurrent writers until commit.
    async fn current(&mut self, rtype: &str, id: &str) -> Result<Option<Current>>;

    /// The current version of a resource as this transaction sees it. Reads inside a
    /// transaction must use this, not [`Store::read`]: a second connection from the pool while
    /// holding one can exhaust the pool under load.
    async fn read(&mut self, rtype: &str, id: &str) -> Result<Option<StoredResource>>;

    /// Serialises transactions that use the same key (e.g. conditional creates with the same
    /// criteria), until this transaction ends.
    async fn lock(&mut self, key: i64) -> Result<()>;

    /// Runs a search inside the transaction (for conditional interactions).
    async fn search(&mut self, plan: &SearchPlan) -> Result<SearchResult>;

    /// Writes a new version. Fails with [`StoreError::Conflict`] if that version exists.
    async fn put(&mut self, version: NewVersion) -> Result<()>;

    /// Tells the store that `rtype/id` is an id this transaction has just made up (a fresh
    /// random UUID for a create), so it has no current version: a later `current` answers
    /// `None` without asking the database. Only a saving — a duplicate would still fail at
    /// commit on the key's unique constraint.
    fn new_id(&mut self, _rtype: &str, _id: &str) {}

    /// Reads the current versions of resources this transaction is about to write, in a few
    /// queries, so that the `current` of each is answered without another round trip (and
    /// locked as `current` locks). Only a saving: without it every `current` still answers.
    async fn prefetch(&mut self, _keys: &[(String, String)]) -> Result<()> {
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()>;

    /// Commits once `logged` — the writing of this transaction's access-log entries — ends
    /// with `true`; when it ends with `false` nothing is committed. A backend may let the next
    /// transaction start while the log is being written, so that concurrent writers share the
    /// log's fsync, as long as nothing is committed before the entries it depends on are
    /// durable. This default writes the log first, then commits.
    async fn commit_logged<'a>(self: Box<Self>, logged: LogWrite<'a>) -> Result<()> {
        if logged.await {
            self.commit().await
        } else {
            Err(StoreError::not_logged())
        }
    }
}

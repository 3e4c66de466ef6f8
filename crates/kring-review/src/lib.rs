//! The privacy officer's review of Kring's own access log.
//!
//! [`store`] keeps, in its own SQLite file beside the access log, a compact mirror of the log
//! for screening, the screening runs, the cases with their decisions, and the warnings sent to
//! staff. [`live`] screens the live log with the oversight engine (nightly and on demand).
//! [`report`] turns a month into the figures and charts a NEN 7510 auditor asks for, as a page
//! and as a PDF.

pub mod breach;
pub mod live;
pub mod report;
pub mod store;

pub use live::{screen_live, RunSummary};
pub use store::{CaseRow, Decision, Review, Warning};

/// What can go wrong in the review.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("the review store is not available: {0}")]
    Store(#[from] sqlx::Error),
    #[error("the access log cannot be read: {0}")]
    Log(#[from] kring_audit::AuditError),
    #[error("the record cannot be read: {0}")]
    Record(#[from] kring_record::RecordError),
    #[error("no such case")]
    NoSuchCase,
    #[error("not a decision: {0} (justified, unjustified, warn or escalate)")]
    NotADecision(String),
    #[error("a warning needs a message")]
    EmptyWarning,
    #[error("the screening stopped: {0}")]
    Screening(String),
}

pub type Result<T> = std::result::Result<T, ReviewError>;

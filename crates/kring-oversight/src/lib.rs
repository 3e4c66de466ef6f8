//! Oversight of access logs: which accesses does nothing explain, and how risky are they?
//!
//! The engine reads any record system's log as FHIR `AuditEvent`s ([`audit`]) and what it knows
//! of the care network as FHIR resources ([`context`]), explains every access it can (a circle
//! membership, a shared location, an appointment, documented care work, a role, covering,
//! closing work, emergency with a reason — [`explain`]), then judges the rest by risk signals
//! ([`signals`]) and writes one [`Finding`] per access for the review queue. [`cases`] groups
//! findings into cases (user × client × episode) for the privacy officer. [`synthetic`] makes
//! realistic care-network logs with planted violations, [`rivierenland`] is a second,
//! independent generator written from another description, and [`quality`] scores the engine
//! on both (precision and recall per kind). [`calibration`] turns a finding's risk into the chance
//! that it was a violation.

pub mod audit;
pub mod calibration;
pub mod cases;
pub mod context;
pub mod explain;
pub mod finding;
pub mod quality;
pub mod rivierenland;
pub mod roles;
pub mod screen;
pub mod signals;
pub mod synthetic;
mod time;

pub use audit::{Access, AccessLog, Action, Emergency};
pub use cases::{group_cases, Case};
pub use context::Context;
pub use finding::{Finding, Reason};
pub use roles::{RoleKind, RoleMap};
pub use screen::{screen, screen_explaining, Explained, Screening, Stats};

/// What can go wrong reading the engine's input.
#[derive(Debug, thiserror::Error)]
pub enum OversightError {
    #[error("cannot read {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the roles file is not valid: {0}")]
    Roles(String),
}

/// A line of input that could not be used, by line number (1-based); the text is not kept,
/// since it may hold personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: u64,
    pub problem: String,
}

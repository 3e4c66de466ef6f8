//! FHIR R4 knowledge for Kring.
//!
//! Owns: the official definitions (distilled at build time from the HL7 package, see `build.rs`),
//! validation of resources against them, extraction of search index values with FHIRPath,
//! `OperationOutcome`, references, FHIR dates, and Dutch identifiers (`Bsn`).
//! Must never: perform I/O or know about storage, HTTP or access rules.

pub mod bsn;
pub mod datetime;
pub mod definitions;
pub mod index;
pub mod outcome;
pub mod package;
pub mod reference;
pub mod text;
pub mod validate;

pub use bsn::Bsn;
pub use definitions::{definitions, Definitions, SearchParamDef, SearchParamType};
pub use outcome::{Issue, IssueCode, OperationOutcome, Severity};

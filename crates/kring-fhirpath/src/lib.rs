//! FHIRPath (N1 normative subset plus the functions FHIR search parameters use) over FHIR JSON.
//!
//! Owns: parsing an expression once ([`Expr::parse`]) and evaluating it against a resource
//! ([`Expr::evaluate`]). Knows nothing about FHIR definitions itself: the element types it needs
//! for `is`, `as` and `ofType` come from a [`TypeModel`] that the caller supplies.
//! Must never: panic on any input (every error is a [`FhirPathError`]), or touch I/O.

mod ast;
mod eval;
mod lexer;
mod parser;
mod value;

pub use ast::Expr;
pub use eval::{has_member, EvalContext, NoTypeModel, TypeModel};
pub use value::{Item, Primitive};

/// Something went wrong parsing or evaluating an expression.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum FhirPathError {
    #[error("FHIRPath syntax error at {pos}: {msg}")]
    Syntax { pos: usize, msg: String },
    #[error("FHIRPath evaluation error: {0}")]
    Eval(String),
}

pub type Result<T> = std::result::Result<T, FhirPathError>;

impl Expr {
    /// Parses an expression.
    pub fn parse(src: &str) -> Result<Expr> {
        parser::parse(src)
    }
}

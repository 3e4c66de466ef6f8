//! The parsed form of an expression.

/// A parsed FHIRPath expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// The empty collection `{}`.
    Empty,
    Literal(crate::Primitive),
    /// A quantity literal such as `4 'mg'` or `3 days`.
    Quantity(f64, String),
    /// `%resource`, `%context`, `%ucum` …
    Env(String),
    /// `$this`, `$index`, `$total`
    Special(String),
    /// A name at the start of a path: a type name or a member of the input.
    Ident(String),
    /// `left.name`
    Member(Box<Expr>, String),
    /// `left.fn(args)` (or `fn(args)` with left = `$this`)
    Call(Option<Box<Expr>>, String, Vec<Expr>),
    Index(Box<Expr>, Box<Expr>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    /// `is` / `as` with a type specifier.
    TypeOp(&'static str, Box<Expr>, String),
}

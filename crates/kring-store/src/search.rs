//! The search plan: what a search must find, independent of SQL and of HTTP parameter syntax.
//!
//! The record layer turns `?name=…&birthdate=ge2010` into a [`SearchPlan`]; each backend turns
//! the plan into SQL through [`crate::sql`]. The plan carries the caller's [`ClientScope`] so
//! that access restrictions are applied inside the query, before paging and counting.

use crate::StoredResource;

/// How a date, number or quantity is compared (FHIR search prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

impl Prefix {
    /// Splits a prefix off a value (`ge2020` → `Ge`, `2020`).
    pub fn split(value: &str) -> (Prefix, &str) {
        let p = match value.get(..2) {
            Some("eq") => Prefix::Eq,
            Some("ne") => Prefix::Ne,
            Some("gt") => Prefix::Gt,
            Some("lt") => Prefix::Lt,
            Some("ge") => Prefix::Ge,
            Some("le") => Prefix::Le,
            Some("sa") => Prefix::Sa,
            Some("eb") => Prefix::Eb,
            Some("ap") => Prefix::Ap,
            _ => return (Prefix::Eq, value),
        };
        (p, &value[2..])
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StringMatch {
    /// Starts with, case and accent insensitive (the default).
    StartsWith,
    Exact,
    Contains,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenMatch {
    /// `code` in any system.
    Code(String),
    /// `system|code`; an empty system (`|code`) means "no system".
    SystemCode(Option<String>, String),
    /// `system|`: any code in the system.
    System(String),
    /// `:text`: the display/text starts with (normalised).
    Text(String),
}

/// One condition on one search parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Id(String),
    LastUpdated {
        prefix: Prefix,
        low: i64,
        high: i64,
    },
    String {
        param: String,
        value: String,
        how: StringMatch,
    },
    Token {
        param: String,
        what: TokenMatch,
    },
    Reference {
        param: String,
        target_type: Option<String>,
        target_id: Option<String>,
        url: Option<String>,
    },
    Date {
        param: String,
        prefix: Prefix,
        low: i64,
        high: i64,
    },
    Number {
        param: String,
        prefix: Prefix,
        low: f64,
        high: f64,
    },
    Quantity {
        param: String,
        prefix: Prefix,
        low: f64,
        high: f64,
        system: Option<String>,
        code: Option<String>,
    },
    Uri {
        param: String,
        value: String,
        below: bool,
    },
    /// `:missing=true|false`; `table` is the index table of the parameter's type.
    Missing {
        param: String,
        table: IndexTable,
        missing: bool,
    },
    /// `param:Type.chained=…`: the referenced resource matches `inner`.
    Chain {
        param: String,
        target_type: String,
        inner: Box<Filter>,
    },
    /// `_has:Type:param:…`: some resource of `rtype` refers here through `param` and matches.
    Has {
        rtype: String,
        param: String,
        inner: Box<Filter>,
    },
}

impl Cond {
    /// The search parameter whose index rows the condition reads, where it reads one.
    pub fn param_mut(&mut self) -> Option<&mut String> {
        match self {
            Cond::String { param, .. }
            | Cond::Token { param, .. }
            | Cond::Reference { param, .. }
            | Cond::Date { param, .. }
            | Cond::Number { param, .. }
            | Cond::Quantity { param, .. }
            | Cond::Uri { param, .. }
            | Cond::Missing { param, .. }
            | Cond::Chain { param, .. } => Some(param),
            Cond::Id(_) | Cond::LastUpdated { .. } | Cond::Has { .. } => None,
        }
    }
}

/// A condition group: all `all` must hold; each entry is an OR of conditions (one parameter,
/// comma-separated values). `negate` wraps an OR group in NOT (for `:not`, `ne`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub all: Vec<AnyOf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnyOf {
    pub conds: Vec<Cond>,
    pub negate: bool,
}

/// The index table a parameter type is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexTable {
    String,
    Token,
    Reference,
    Date,
    Number,
    Quantity,
    Uri,
}

/// How results are ordered.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Id {
        desc: bool,
    },
    LastUpdated {
        desc: bool,
    },
    /// By the lowest (highest, descending) value of the parameter; `params` are the
    /// parameters whose index rows hold its values (itself, or the members of a union).
    Param {
        params: Vec<String>,
        table: IndexTable,
        desc: bool,
    },
}

/// The clients a caller may see: access restriction applied inside the query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientScope {
    /// Client keys (Patient ids) whose resources are visible. Shared, because a remembered
    /// scope is handed to every search of its asker without copying a long list.
    pub clients: std::sync::Arc<[String]>,
    /// Whether resources that belong to no client (organisations …) are visible.
    pub include_shared: bool,
    /// Clients of whom only some resources of the type are visible: those matching the
    /// condition (a care plan that is the crisis plan …).
    pub partial: Vec<(Vec<String>, AnyOf)>,
    /// The scopes of the other types a chained parameter or `_has` reaches; a type missing
    /// here shows nothing.
    pub linked: std::collections::BTreeMap<String, ClientScope>,
}

impl ClientScope {
    /// The clients the scope names, wholly or in part (one seen both ways comes twice).
    pub fn every_client(&self) -> impl Iterator<Item = &String> {
        self.clients
            .iter()
            .chain(self.partial.iter().flat_map(|(clients, _)| clients))
    }
}

/// What to search for, how to order it, which page.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPlan {
    pub rtype: String,
    pub filter: Filter,
    pub sort: Vec<SortKey>,
    pub count: usize,
    pub offset: usize,
    pub want_total: bool,
    pub scope: Option<ClientScope>,
}

impl SearchPlan {
    /// The same plan restricted to `scope`.
    pub fn scoped(mut self, scope: ClientScope) -> Self {
        self.scope = Some(scope);
        self
    }

    pub fn new(rtype: &str) -> Self {
        SearchPlan {
            rtype: rtype.to_string(),
            filter: Filter::default(),
            sort: vec![],
            count: 20,
            offset: 0,
            want_total: false,
            scope: None,
        }
    }
}

/// One page of matches.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    pub matches: Vec<StoredResource>,
    /// Whether more matches exist after this page.
    pub more: bool,
    /// The number of all matches, when asked for.
    pub total: Option<u64>,
}

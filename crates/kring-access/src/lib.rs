//! The access decision point: every access to client data asks [`AccessDecision::decide`] first.
//!
//! Owns: who the caller is ([`Subject`]), what they want ([`Action`], [`Target`]), and the answer
//! with its reasons ([`Decision`]). For searches it also answers *which clients* the caller may
//! see ([`AccessDecision::search_scope`]), so the restriction runs inside the database query.
//! Must never: read or write the record itself, or be bypassed: the record layer calls it on
//! every path (read, search, write, history, export, import).
//!
//! This foundation ships one policy, [`TrustedOperator`], for an installation without sign-in:
//! only the operator of the installation reaches it (the server binds to loopback by default).
//! The need-to-know policy (circles, consent, emergency access) replaces it.

use kring_store::search::ClientScope;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The person operating this installation from its own machine (CLI, loopback API).
    Operator,
}

impl Subject {
    /// A stable identifier for the access log (never a name or BSN).
    pub fn log_id(&self) -> String {
        match self {
            Subject::Operator => "operator".into(),
        }
    }
}

/// What the subject wants to do (NEN 7513 actions map onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Search,
    Create,
    Update,
    Delete,
    History,
    Export,
    Import,
}

impl Action {
    /// The NEN 7513 / AuditEvent action code: C, R, U, D or E.
    pub fn code(self) -> &'static str {
        match self {
            Action::Create | Action::Import => "C",
            Action::Read | Action::Search | Action::History => "R",
            Action::Update => "U",
            Action::Delete => "D",
            Action::Export => "E",
        }
    }
}

/// The data concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub rtype: String,
    pub id: Option<String>,
    /// The client (Patient id) the data belongs to; empty for shared data.
    pub client_key: String,
}

/// The answer, with the reasons a privacy officer can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub permit: bool,
    /// Which rule, membership or consent decided (never personal data).
    pub reasons: Vec<String>,
}

impl Decision {
    pub fn permit(reason: impl Into<String>) -> Self {
        Decision {
            permit: true,
            reasons: vec![reason.into()],
        }
    }
    pub fn deny(reason: impl Into<String>) -> Self {
        Decision {
            permit: false,
            reasons: vec![reason.into()],
        }
    }
}

/// The decision point.
pub trait AccessDecision: Send + Sync + 'static {
    /// May `subject` do `action` on `target`?
    fn decide(&self, subject: &Subject, action: Action, target: &Target) -> Decision;

    /// Which clients' data a search by `subject` may return; `None` means no restriction.
    fn search_scope(&self, subject: &Subject) -> Option<ClientScope>;
}

/// The policy of an installation without sign-in: the operator may do everything, and every
/// decision says so. Deny-by-default still holds for any other subject.
pub struct TrustedOperator;

pub const OPERATOR_REASON: &str =
    "no sign-in is configured: the operator of this installation has full access";

impl AccessDecision for TrustedOperator {
    fn decide(&self, subject: &Subject, _action: Action, _target: &Target) -> Decision {
        match subject {
            Subject::Operator => Decision::permit(OPERATOR_REASON),
        }
    }

    fn search_scope(&self, subject: &Subject) -> Option<ClientScope> {
        match subject {
            Subject::Operator => None,
        }
    }
}

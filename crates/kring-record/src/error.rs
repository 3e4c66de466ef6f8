//! Errors of record operations. Each knows its HTTP status and renders as an
//! `OperationOutcome`; none carries resource contents or personal data.

use kring_fhir::{Issue, IssueCode, OperationOutcome};
use kring_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The request itself is malformed (400).
    #[error("bad request")]
    BadRequest(OperationOutcome),
    /// The resource is not valid FHIR R4 (422).
    #[error("invalid resource")]
    Invalid(OperationOutcome),
    #[error("{0} is not known")]
    NotFound(String),
    #[error("{0} has been deleted")]
    Gone(String),
    /// `If-Match` names an older version, or a conditional interaction matched several (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// Two writers raced (409).
    #[error("{0}")]
    Conflict(String),
    /// The decision point refused (403); what the caller is told is in the [`Refusal`].
    #[error("access denied")]
    Forbidden(Refusal),
    /// The partner system's scopes do not cover the interaction (403); says which, nothing else.
    #[error("{0}")]
    OutOfScope(String),
    /// A rule of the domain refuses the write (a consent given by someone who may not give it
    /// …) (422); the sentence says why.
    #[error("{0}")]
    Unprocessable(String),
    /// A medication rule refuses the administration (a high-risk dose without its double
    /// check …) (422).
    #[error("{0}")]
    Medication(crate::medication::MedicationRefusal),
    /// A rule of daily work refuses the write (a member changing another's agreement, a
    /// report corrected by someone other than its author) (422).
    #[error("{0}")]
    Work(crate::rules::WorkRefusal),
    /// A write by a client or representative that breaks a rule of what they write (see
    /// [`crate::contributions`]).
    #[error("{0}")]
    Contribution(crate::contributions::ContributionRefusal),
    /// A sharing decision or grant that breaks the rules of [`crate::sharing`] (a grant
    /// without an aid answer behind it …) (422).
    #[error("{0}")]
    Sharing(crate::sharing::SharingRefusal),
    /// A meldcode case step that breaks its rules (out of order, a changed earlier step …)
    /// (422).
    #[error("{0}")]
    Meldcode(crate::sharing::meldcode::CaseRefusal),
    /// A message that breaks its rules (not in one's own name …) (422).
    #[error("{0}")]
    Message(crate::messages::MessageRefusal),
    /// The access log cannot be written, so nothing may be returned (503).
    #[error("the access log is unavailable")]
    LogUnavailable,
    #[error("the database is unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// A question the log cannot answer as asked is the caller's (400); a log that cannot be read
/// means nothing may be answered (503).
impl From<kring_audit::AuditError> for RecordError {
    fn from(e: kring_audit::AuditError) -> Self {
        match e {
            kring_audit::AuditError::Invalid(s) => {
                RecordError::bad_request(kring_fhir::outcome::IssueCode::Invalid, s)
            }
            kring_audit::AuditError::Unavailable(s) => {
                tracing::error!(error = %s, "access log unusable");
                RecordError::LogUnavailable
            }
        }
    }
}

/// What a refused caller is told: the rules that refused — unless the caller may not see the
/// client the data is about, who is told exactly what a caller is told about a client that
/// does not exist — and, in a Bundle, the entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusal {
    /// Why: the rules that refused (or that none permits), each with its explanation; empty
    /// when the caller may not be told.
    pub rules: Vec<RuleText>,
    /// The refused entry of a Bundle: its position and `METHOD url`.
    pub entry: Option<(usize, String)>,
}

/// A reason of a refusal, with its explanation in Dutch and English (a rule's `@nl` and
/// `@en`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleText {
    pub reason: kring_access::Reason,
    pub nl: String,
    pub en: String,
}

impl Refusal {
    /// A refusal that tells nothing (a client the caller may not see, or a caller who is not
    /// the kind of user the action is for).
    pub fn silent() -> Refusal {
        Refusal::default()
    }

    /// The sentence for the caller, in English (the API's language).
    pub fn diagnostics(&self) -> String {
        let why = if self.rules.is_empty() {
            "you do not have access to this".to_string()
        } else {
            let rules: Vec<String> = self
                .rules
                .iter()
                .map(|r| match &r.reason {
                    kring_access::Reason::Rule(id) => format!("rule '{id}': {}", r.en),
                    _ => r.en.clone(),
                })
                .collect();
            format!("refused by the access rules — {}", rules.join("; "))
        };
        match &self.entry {
            Some((i, what)) => format!("entry {i} ({what}): {why}"),
            None => why,
        }
    }
}

impl RecordError {
    /// A denial of a read by id answers as "not known": it must not reveal that the data exists.
    pub(crate) fn hiding(self, what: &str) -> Self {
        match self {
            RecordError::Forbidden(_) => RecordError::NotFound(what.to_string()),
            other => other,
        }
    }

    /// The same error, naming the Bundle entry it happened at (`Bundle.entry[i]`, `METHOD url`)
    /// in every issue.
    pub(crate) fn at_entry(self, index: usize, what: &str) -> Self {
        let locate = |mut oo: OperationOutcome| {
            for i in &mut oo.issues {
                i.diagnostics = format!("entry {index} ({what}): {}", i.diagnostics);
                if i.expression.is_none() {
                    i.expression = Some(format!("Bundle.entry[{index}]"));
                }
            }
            oo
        };
        match self {
            RecordError::Invalid(oo) => RecordError::Invalid(locate(oo)),
            RecordError::BadRequest(oo) => RecordError::BadRequest(locate(oo)),
            RecordError::Forbidden(r) => RecordError::Forbidden(Refusal {
                entry: Some((index, what.to_string())),
                ..r
            }),
            other => other,
        }
    }

    pub fn bad_request(code: IssueCode, msg: impl Into<String>) -> Self {
        RecordError::BadRequest(OperationOutcome::single(Issue::error(code, msg)))
    }

    pub fn status(&self) -> u16 {
        match self {
            RecordError::BadRequest(_) => 400,
            RecordError::Invalid(_) => 422,
            RecordError::NotFound(_) => 404,
            RecordError::Gone(_) => 410,
            RecordError::PreconditionFailed(_) => 412,
            RecordError::Conflict(_) => 409,
            RecordError::Forbidden(_) | RecordError::OutOfScope(_) => 403,
            RecordError::Unprocessable(_)
            | RecordError::Medication(_)
            | RecordError::Work(_)
            | RecordError::Contribution(_)
            | RecordError::Sharing(_)
            | RecordError::Meldcode(_)
            | RecordError::Message(_) => 422,
            RecordError::LogUnavailable | RecordError::Unavailable(_) => 503,
            RecordError::Internal(_) => 500,
        }
    }

    /// The outcome told to the caller. Internal details stay in the server's own log.
    pub fn outcome(&self) -> OperationOutcome {
        match self {
            RecordError::BadRequest(o) | RecordError::Invalid(o) => o.clone(),
            RecordError::NotFound(what) => OperationOutcome::single(Issue::error(IssueCode::NotFound, format!("{what} is not known, or you do not have access to it"))),
            RecordError::Gone(what) => OperationOutcome::single(Issue::error(IssueCode::Deleted, format!("{what} has been deleted"))),
            RecordError::PreconditionFailed(m) => OperationOutcome::single(Issue::error(IssueCode::Conflict, m.clone())),
            RecordError::Conflict(m) => OperationOutcome::single(Issue::error(IssueCode::Conflict, m.clone())),
            RecordError::Forbidden(r) => {
                let issue = Issue::error(IssueCode::Forbidden, r.diagnostics());
                OperationOutcome::single(match &r.entry {
                    Some((i, _)) => issue.at(format!("Bundle.entry[{i}]")),
                    None => issue,
                })
            }
            RecordError::OutOfScope(m) => OperationOutcome::single(Issue::error(IssueCode::Forbidden, m.clone())),
            RecordError::Unprocessable(m) => OperationOutcome::single(Issue::error(IssueCode::Processing, m.clone())),
            RecordError::Medication(r) => OperationOutcome::single(Issue::error(IssueCode::BusinessRule, r.to_string())),
            RecordError::Work(r) => OperationOutcome::single(Issue::error(IssueCode::BusinessRule, r.to_string())),
            RecordError::Contribution(r) => OperationOutcome::single(Issue::error(IssueCode::BusinessRule, r.to_string())),
            RecordError::Sharing(r) => OperationOutcome::single(Issue::error(IssueCode::BusinessRule, r.to_string())),
            RecordError::Meldcode(r) => OperationOutcome::single(Issue::error(IssueCode::BusinessRule, r.to_string())),
            RecordError::Message(r) => OperationOutcome::single(Issue::error(IssueCode::BusinessRule, r.to_string())),
            RecordError::LogUnavailable => OperationOutcome::single(Issue::error(
                IssueCode::Transient,
                "the access log cannot be written at the moment, so no data is released; try again later",
            )),
            RecordError::Unavailable(_) => {
                OperationOutcome::single(Issue::error(IssueCode::Transient, "the database is temporarily unavailable; try again later"))
            }
            RecordError::Internal(_) => OperationOutcome::single(Issue::error(IssueCode::Exception, "an internal error occurred; it has been logged")),
        }
    }
}

impl From<StoreError> for RecordError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => RecordError::Conflict(
                "another request changed this resource at the same time; read it again and retry"
                    .into(),
            ),
            StoreError::Unavailable(m) => RecordError::Unavailable(m),
            StoreError::Database(m) | StoreError::Migration(m) => {
                tracing::error!(error = %m, "database error");
                RecordError::Internal(m)
            }
        }
    }
}

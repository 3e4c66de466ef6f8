//! The access decision point: every access to client data asks [`AccessDecision::decide`] first.
//!
//! Owns: who the caller is ([`Subject`]), what they want ([`Action`], [`Target`]), and the answer
//! with its reasons ([`Decision`]); the facts it weighs ([`facts`]: circles, consents, age,
//! emergency declarations) and the rules ([`policy`], in Cedar, in `policies/`). For searches
//! it also answers *which clients* the caller may see ([`AccessDecision::search_scope`]), so the
//! restriction runs inside the database query, before paging.
//! Must never: read or write the record itself, or be bypassed: the record layer calls it on
//! every path (read, search, write, history, export, import).

pub mod category;
pub mod circle;
pub mod consent;
pub mod emergency;
pub mod facts;
mod need_to_know;
pub mod policy;
mod reason;
pub mod scopes;
mod subject;

use kring_store::search::ClientScope;

pub use category::Category;
pub use need_to_know::NeedToKnow;
pub use reason::{NotAReason, Reason, EMERGENCY_RULE};
pub use scopes::Scopes;
pub use subject::{Action, Decision, Subject, Target};

/// The decision point.
pub trait AccessDecision: Send + Sync + 'static {
    /// May `subject` do `action` on `target`?
    fn decide(&self, subject: &Subject, action: Action, target: &Target) -> Decision;

    /// Which clients' data of `rtype` a search by `subject` may return; `None` means no
    /// restriction (the operator).
    fn search_scope(&self, subject: &Subject, rtype: &str) -> Option<ClientScope>;

    /// Whether the decision depends on the content of resources of `rtype`.
    fn watches(&self, _rtype: &str) -> bool {
        false
    }

    /// Takes in a committed write (`None`: deleted) of a watched type.
    fn observe(&self, _rtype: &str, _id: &str, _body: Option<&[u8]>) {}

    /// The plain-language explanation of a rule (`nl` or `en`).
    fn rule_text(&self, _rule: &str, _lang: &str) -> Option<String> {
        None
    }

    /// Domain rules on what may be written at all (who may give a consent …): `Err` is a
    /// sentence for the caller.
    fn check_write(&self, _subject: &Subject, _rtype: &str, _body: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

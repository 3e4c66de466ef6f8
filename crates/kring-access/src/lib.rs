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
pub mod sharing;
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

    /// Domain rules on what may be written at all (who may give a consent …), with the
    /// transaction's own earlier writes taken in: `Err` is a sentence for the caller.
    fn check_write(
        &self,
        _subject: &Subject,
        _action: Action,
        _rtype: &str,
        _body: &[u8],
        _pending: &Pending,
    ) -> Result<(), String> {
        Ok(())
    }

    /// [`AccessDecision::decide`] inside a write transaction: on the committed facts plus
    /// what the transaction itself wrote before (a client it registered, the circle that
    /// registration started), so that its later entries are decided on them.
    fn decide_pending(
        &self,
        _pending: &Pending,
        subject: &Subject,
        action: Action,
        target: &Target,
    ) -> Decision {
        self.decide(subject, action, target)
    }

    /// What the decision's facts say about sharing `categories` of `client` with `recipient`
    /// (`Organization/…`, `Practitioner/…`, `PractitionerRole/…`): the sharing aid's answers
    /// from the record. Unknown (`None`) where the decision keeps no such facts.
    fn sharing_facts(
        &self,
        _client: &str,
        _recipient: &str,
        _categories: &[Category],
    ) -> sharing::SharingFacts {
        sharing::SharingFacts::default()
    }

    /// Whether the sharing grant `id` (a Consent) is withheld from the client today.
    fn grant_withheld(&self, _id: &str) -> bool {
        false
    }

    /// The sharing grants naming `subject` (or their organisation) that run today.
    fn running_grants(&self, _subject: &Subject) -> Vec<sharing::Grant> {
        vec![]
    }

    /// The emergency accesses of `subject` that run now: (client, declared at in ms).
    fn running_emergencies(&self, _subject: &Subject) -> Vec<(String, i64)> {
        vec![]
    }

    /// Takes in a write of a watched type (`None`: deleted) for the rest of its transaction
    /// only; the committed facts learn of it through [`AccessDecision::observe`] at commit.
    fn observe_pending(
        &self,
        _pending: &mut Pending,
        _rtype: &str,
        _id: &str,
        _body: Option<&[u8]>,
    ) {
    }
}

/// The facts as one write transaction sees them: its own earlier writes of watched types on
/// top of the committed facts (a copy that shares everything unchanged with them). Empty until
/// the transaction writes a watched type.
#[derive(Debug, Default)]
pub struct Pending(Option<facts::Facts>);

impl Pending {
    /// Nothing written yet.
    pub const NONE: Pending = Pending(None);

    /// Whether the transaction has written nothing the decision watches.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

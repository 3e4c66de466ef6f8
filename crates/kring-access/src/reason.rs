//! Why a decision came out as it did: [`Reason`], a typed value that the record writes into the
//! access log (as its stable text form) and that pages render in words.
//!
//! Owns: every kind of reason and ground the decision point gives, their one text form
//! (`rule:circle-membership`, `membership:CareTeam/c1#2`, `consent:Consent/k1` …) and reading
//! that form back from the log. Must never: hold personal data — only ids and rule names.

use std::fmt;
use std::str::FromStr;

use crate::subject::Action;

/// One reason of a decision: a rule that decided, or a ground (membership, consent, emergency
/// declaration, parental authority, sharing grant) that a permit rests on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A rule of `policies/kring.cedar` that permitted or forbade, by its `@id`.
    Rule(String),
    /// No rule permits: what is not explicitly allowed is not allowed.
    DenyByDefault,
    /// The rules could not be evaluated (a fault, logged); the answer is deny.
    RulesFailed,
    /// A professional or partner system has no running membership in the client's circle.
    NoRunningMembership,
    /// A running membership: the circle (CareTeam id) and the participant's position.
    Membership { circle: String, index: usize },
    /// A consent (Consent id) that permits or denies.
    Consent(String),
    /// A running emergency declaration (Communication id).
    Emergency(String),
    /// Emergency access being declared by this very request.
    EmergencyDeclared,
    /// Parental authority of a representative (RelatedPerson id).
    Authority(String),
    /// A sharing grant (Consent id of the grant) that a sharing decision created.
    Grant(String),
    /// A partner system's scopes lack this interaction on this type.
    OutOfScope { rtype: String, action: Action },
    /// A search restricted to what the decision point lets the caller see.
    SearchScope,
}

impl Reason {
    /// The rule, when this reason is one.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Reason::Rule(r) => Some(r),
            _ => None,
        }
    }

    /// The ground this reason names, as a FHIR reference (with `#n` for a membership's
    /// participant): what the access log lists under `grounds`.
    pub fn ground(&self) -> Option<String> {
        match self {
            Reason::Membership { circle, index } => Some(format!("CareTeam/{circle}#{index}")),
            Reason::Consent(id) => Some(format!("Consent/{id}")),
            Reason::Emergency(id) => Some(format!("Communication/{id}")),
            Reason::Authority(id) => Some(format!("RelatedPerson/{id}")),
            Reason::Grant(id) => Some(format!("Consent/{id}")),
            _ => None,
        }
    }

    /// The plain-language explanation of a reason that is the decision point's own, not a
    /// rule of the policy file (whose `@nl`/`@en` explain those): `lang` is `nl` or `en`.
    pub fn explanation(&self, lang: &str) -> Option<&'static str> {
        let (nl, en) = match self {
            Reason::DenyByDefault => (
                "Geen enkele regel geeft u toegang: wat niet uitdrukkelijk mag, mag niet.",
                "No rule gives you access: what is not explicitly allowed, is not allowed.",
            ),
            Reason::RulesFailed => (
                "De toegangsregels konden niet worden toegepast; daarom is de toegang geweigerd.",
                "The access rules could not be applied, so access was refused.",
            ),
            Reason::NoRunningMembership => (
                "U heeft geen lopend lidmaatschap in de kring van deze cliënt.",
                "You have no running membership in this client's circle.",
            ),
            _ => return None,
        };
        Some(if lang == "en" { en } else { nl })
    }

    /// Whether this is an emergency access (declared now, or running).
    pub fn is_emergency(&self) -> bool {
        matches!(self, Reason::Emergency(_) | Reason::EmergencyDeclared)
            || self.rule() == Some(EMERGENCY_RULE)
    }
}

/// The rule that permits emergency access.
pub const EMERGENCY_RULE: &str = "emergency-access";

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Rule(r) => write!(f, "rule:{r}"),
            Reason::DenyByDefault => f.write_str("rule:deny-by-default"),
            Reason::RulesFailed => f.write_str("rule:rule-error"),
            Reason::NoRunningMembership => f.write_str("no-running-membership"),
            Reason::Membership { circle, index } => {
                write!(f, "membership:CareTeam/{circle}#{index}")
            }
            Reason::Consent(id) => write!(f, "consent:Consent/{id}"),
            Reason::Emergency(id) => write!(f, "emergency:Communication/{id}"),
            Reason::EmergencyDeclared => f.write_str("emergency:declared"),
            Reason::Authority(id) => write!(f, "authority:RelatedPerson/{id}"),
            Reason::Grant(id) => write!(f, "grant:Consent/{id}"),
            Reason::OutOfScope { rtype, action } => {
                write!(f, "scope:system/{rtype} lacks {}", action.name())
            }
            Reason::SearchScope => f.write_str("rule:search-scope"),
        }
    }
}

/// A text that is not a reason's form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a decision reason")]
pub struct NotAReason(pub String);

impl FromStr for Reason {
    type Err = NotAReason;

    /// Reads the text form back (from the access log); the inverse of `Display`.
    fn from_str(s: &str) -> Result<Reason, NotAReason> {
        let bad = || NotAReason(s.to_string());
        let id = |rest: &str, prefix: &str| {
            rest.strip_prefix(prefix)
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .ok_or_else(bad)
        };
        if s == "no-running-membership" {
            return Ok(Reason::NoRunningMembership);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        Ok(match kind {
            "rule" => match rest {
                "deny-by-default" => Reason::DenyByDefault,
                "rule-error" => Reason::RulesFailed,
                "search-scope" => Reason::SearchScope,
                "" => return Err(bad()),
                r => Reason::Rule(r.to_string()),
            },
            "membership" => {
                let (circle, index) = rest
                    .strip_prefix("CareTeam/")
                    .and_then(|r| r.rsplit_once('#'))
                    .ok_or_else(bad)?;
                Reason::Membership {
                    circle: circle.to_string(),
                    index: index.parse().map_err(|_| bad())?,
                }
            }
            "consent" => Reason::Consent(id(rest, "Consent/")?),
            "emergency" if rest == "declared" => Reason::EmergencyDeclared,
            "emergency" => Reason::Emergency(id(rest, "Communication/")?),
            "authority" => Reason::Authority(id(rest, "RelatedPerson/")?),
            "grant" => Reason::Grant(id(rest, "Consent/")?),
            "scope" => {
                let (rtype, action) = rest
                    .strip_prefix("system/")
                    .and_then(|r| r.split_once(" lacks "))
                    .ok_or_else(bad)?;
                let action = Action::ALL
                    .into_iter()
                    .find(|a| a.name() == action)
                    .ok_or_else(bad)?;
                Reason::OutOfScope {
                    rtype: rtype.to_string(),
                    action,
                }
            }
            _ => return Err(bad()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_its_text() {
        let all = [
            Reason::Rule("circle-membership".into()),
            Reason::DenyByDefault,
            Reason::RulesFailed,
            Reason::NoRunningMembership,
            Reason::Membership {
                circle: "client-0003-circle".into(),
                index: 2,
            },
            Reason::Consent("k1".into()),
            Reason::Emergency("e1".into()),
            Reason::EmergencyDeclared,
            Reason::Authority("rp1".into()),
            Reason::Grant("g1".into()),
            Reason::OutOfScope {
                rtype: "Observation".into(),
                action: Action::Delete,
            },
            Reason::SearchScope,
        ];
        for r in all {
            let text = r.to_string();
            assert_eq!(text.parse::<Reason>(), Ok(r.clone()), "{text}");
        }
    }

    #[test]
    fn texts_that_are_no_reason_are_refused() {
        for s in [
            "",
            "rule:",
            "membership:CareTeam/x",
            "membership:CareTeam/x#y",
            "consent:Patient/x",
            "scope:system/Patient lacks fly",
            "whatever",
        ] {
            assert!(s.parse::<Reason>().is_err(), "{s}");
        }
    }

    #[test]
    fn grounds_are_references() {
        assert_eq!(
            Reason::Membership {
                circle: "c".into(),
                index: 1
            }
            .ground()
            .as_deref(),
            Some("CareTeam/c#1")
        );
        assert_eq!(Reason::Rule("x".into()).ground(), None);
        assert!(Reason::Rule(EMERGENCY_RULE.into()).is_emergency());
    }
}

//! SMART on FHIR v2 system scopes of partner systems: `system/Patient.rs`,
//! `system/CarePlan.cruds`, `system/*.r` (v1 forms `system/Patient.read`, `.write` and `.*`
//! are read as their v2 equivalents).

use std::fmt;

use crate::subject::Action;

/// One scope: a resource type (or `*`) and the permitted interactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub rtype: String,
    /// Subset of `cruds`.
    pub perms: String,
}

/// The scopes granted to a partner system.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(pub Vec<Scope>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a SMART system scope (expected e.g. system/Patient.rs or system/*.cruds)")]
pub struct ScopeError(pub String);

impl Scopes {
    /// Parses a space-separated scope string; rejects anything that is not a system scope.
    pub fn parse(text: &str) -> Result<Scopes, ScopeError> {
        text.split_whitespace()
            .map(parse_one)
            .collect::<Result<_, _>>()
            .map(Scopes)
    }

    /// Whether the scopes allow `action` on resources of `rtype`.
    pub fn allows(&self, rtype: &str, action: Action) -> bool {
        let need = match action {
            Action::Create | Action::Import => 'c',
            Action::Read | Action::History | Action::Export => 'r',
            Action::Update => 'u',
            Action::Delete => 'd',
            Action::Search => 's',
        };
        self.0
            .iter()
            .any(|s| (s.rtype == "*" || s.rtype == rtype) && s.perms.contains(need))
    }

    /// Keeps only the scopes also in `wanted` (a token request may ask for less).
    pub fn narrowed_to(&self, wanted: &Scopes) -> Scopes {
        Scopes(
            wanted
                .0
                .iter()
                .filter_map(|w| {
                    let perms: String = w
                        .perms
                        .chars()
                        .filter(|p| {
                            self.0.iter().any(|g| {
                                (g.rtype == "*" || g.rtype == w.rtype) && g.perms.contains(*p)
                            })
                        })
                        .collect();
                    (!perms.is_empty()).then(|| Scope {
                        rtype: w.rtype.clone(),
                        perms,
                    })
                })
                .collect(),
        )
    }
}

fn parse_one(s: &str) -> Result<Scope, ScopeError> {
    let err = || ScopeError(s.to_string());
    let rest = s.strip_prefix("system/").ok_or_else(err)?;
    let (rtype, perms) = rest.split_once('.').ok_or_else(err)?;
    let valid_type = rtype == "*"
        || (rtype.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && rtype.chars().all(|c| c.is_ascii_alphanumeric()));
    if !valid_type {
        return Err(err());
    }
    let perms = match perms {
        "read" => "rs".to_string(),
        "write" => "cud".to_string(),
        "*" => "cruds".to_string(),
        p if !p.is_empty() && is_ordered_subset(p) => p.to_string(),
        _ => return Err(err()),
    };
    Ok(Scope {
        rtype: rtype.to_string(),
        perms,
    })
}

/// SMART v2 requires the letters in the order c, r, u, d, s, each at most once.
fn is_ordered_subset(p: &str) -> bool {
    let order = "cruds";
    let mut last = None;
    for c in p.chars() {
        let Some(i) = order.find(c) else { return false };
        if last.is_some_and(|l| i <= l) {
            return false;
        }
        last = Some(i);
    }
    true
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "system/{}.{}", s.rtype, s.perms)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_and_v1_scopes() {
        let s = Scopes::parse("system/Patient.rs system/CarePlan.cruds system/Observation.read")
            .unwrap();
        assert!(s.allows("Patient", Action::Read));
        assert!(s.allows("Patient", Action::Search));
        assert!(!s.allows("Patient", Action::Create));
        assert!(s.allows("CarePlan", Action::Delete));
        assert!(s.allows("Observation", Action::Search));
        assert!(!s.allows("Observation", Action::Update));
        assert!(!s.allows("Goal", Action::Read));
        assert_eq!(
            s.to_string(),
            "system/Patient.rs system/CarePlan.cruds system/Observation.rs"
        );
    }

    #[test]
    fn malformed_scopes_are_refused() {
        for bad in [
            "patient/Patient.rs",
            "system/Patient",
            "system/Patient.sr",
            "system/patient.r",
            "system/Patient.x",
            "openid",
        ] {
            assert!(Scopes::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_token_never_gets_more_than_the_client_has() {
        let granted = Scopes::parse("system/Patient.rs system/*.r").unwrap();
        let asked = Scopes::parse("system/Patient.cruds system/Goal.rs").unwrap();
        assert_eq!(
            granted.narrowed_to(&asked).to_string(),
            "system/Patient.rs system/Goal.r"
        );
    }
}

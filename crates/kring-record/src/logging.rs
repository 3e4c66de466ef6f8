//! What the record writes into the access log: one [`AccessEntry`] per access, with the NEN
//! 7513 fields taken from the caller and the decision.
//!
//! Owns: the mapping from a [`Caller`] and a decision's reasons to the entry's user, purpose
//! and grounds, and the rule that an entry that cannot be stored fails the request.

use kring_access::{Action, Reason, Subject, Target};
use kring_audit::{AccessEntry, Actor, Data, Origin};

use crate::{Caller, Record, RecordError, Result};

/// The user of an entry.
pub fn actor_of(caller: &Caller) -> Actor {
    let (person, role, organisation) = match &caller.subject {
        Subject::Operator => (String::new(), "operator".to_string(), String::new()),
        Subject::Professional {
            practitioner,
            role,
            organisation,
            ..
        } => (
            format!("Practitioner/{practitioner}"),
            format!("PractitionerRole/{role}"),
            organisation.clone(),
        ),
        Subject::Partner { organisation, .. } => {
            (String::new(), "partner-system".into(), organisation.clone())
        }
        Subject::Client { patient, .. } => {
            (format!("Patient/{patient}"), "client".into(), String::new())
        }
        Subject::Representative { related_person, .. } => (
            format!("RelatedPerson/{related_person}"),
            "representative".into(),
            String::new(),
        ),
        Subject::Supporter { related_person, .. } => (
            format!("RelatedPerson/{related_person}"),
            "supporter".into(),
            String::new(),
        ),
        Subject::Officer { organisation, .. } => (
            String::new(),
            "privacy-officer".into(),
            organisation.clone(),
        ),
        Subject::Administrator { organisation, .. } => {
            (String::new(), "administrator".into(), organisation.clone())
        }
    };
    Actor {
        id: caller.subject.log_id(),
        person,
        name: caller.name.clone(),
        role,
        organisation: if organisation.is_empty() {
            organisation
        } else {
            format!("Organization/{organisation}")
        },
    }
}

/// The purpose of use (v3 ActReason) of an access with these reasons.
pub fn purpose_of(subject: &Subject, reasons: &[Reason]) -> &'static str {
    if reasons.iter().any(Reason::is_emergency) {
        return "ETREAT";
    }
    match subject {
        Subject::Operator => "HSYSADMIN",
        Subject::Professional { .. } | Subject::Partner { .. } => "TREAT",
        Subject::Client { .. } | Subject::Representative { .. } | Subject::Supporter { .. } => {
            "PATRQT"
        }
        Subject::Officer { .. } | Subject::Administrator { .. } => "HOPERAT",
    }
}

/// The grounds a decision rests on, by id: memberships, consents, emergency declarations,
/// parental authority.
pub fn grounds_of(reasons: &[Reason]) -> Vec<String> {
    reasons.iter().filter_map(Reason::ground).collect()
}

/// An entry for `caller` doing `interaction` (`action`) on `target`, before its id is known.
pub fn entry_for(
    caller: &Caller,
    action: &str,
    interaction: &str,
    outcome: &str,
    target: &Target,
    reasons: &[Reason],
) -> AccessEntry {
    AccessEntry {
        id: 0,
        recorded: kring_audit::now(),
        action: action.to_string(),
        interaction: interaction.to_string(),
        outcome: outcome.to_string(),
        user: actor_of(caller),
        on_behalf_of: match &caller.subject {
            Subject::Representative { patient, .. } | Subject::Supporter { patient, .. } => {
                format!("Patient/{patient}")
            }
            _ => String::new(),
        },
        client: target.client_key.clone(),
        data: Data {
            resource_type: target.rtype.clone(),
            id: target.id.clone().unwrap_or_default(),
            category: target.category.code().to_string(),
        },
        source: Origin {
            system: caller.system.clone(),
            address: caller.source.clone(),
            user_agent: caller.user_agent.clone(),
        },
        purpose: purpose_of(&caller.subject, reasons).to_string(),
        grounds: grounds_of(reasons),
        reasons: reasons.iter().map(Reason::to_string).collect(),
        stated_reason: String::new(),
    }
}

impl Record {
    /// A log entry for one access.
    pub(crate) fn entry(
        &self,
        caller: &Caller,
        action: Action,
        interaction: &str,
        outcome: &str,
        target: &Target,
        reasons: &[Reason],
    ) -> AccessEntry {
        entry_for(caller, action.code(), interaction, outcome, target, reasons)
    }

    /// Records entries durably; if that fails, the request fails and nothing is returned.
    pub(crate) async fn record(&self, entries: Vec<AccessEntry>) -> Result<()> {
        self.log.record(entries).await.map_err(|e| {
            tracing::error!(error = %e, "access log unavailable; refusing the request");
            RecordError::LogUnavailable
        })
    }

    /// Records an event that is not a FHIR interaction: sign-in, sign-out, a failed sign-in,
    /// an account change, a page or download. `entry` is completed with the time; if it cannot
    /// be stored, the caller must not go on (503).
    pub async fn log_event(&self, entry: AccessEntry) -> Result<()> {
        self.record(vec![AccessEntry {
            recorded: kring_audit::now(),
            ..entry
        }])
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kring_access::Category;

    #[test]
    fn an_emergency_entry_names_its_declaration_and_purpose() {
        let caller = Caller::new(
            Subject::Professional {
                account: "a1".into(),
                practitioner: "pr1".into(),
                role: "r1".into(),
                organisation: "ggz".into(),
            },
            "10.1.2.3",
        )
        .with_name("Jan de Vries");
        let t = Target::new("CarePlan", Some("cp1"), "p1", Category::CrisisPlan);
        let e = entry_for(
            &caller,
            "R",
            "read",
            "success",
            &t,
            &[
                Reason::Rule("emergency-access".into()),
                Reason::Emergency("e1".into()),
            ],
        );
        assert_eq!(e.purpose, "ETREAT");
        assert_eq!(e.grounds, vec!["Communication/e1".to_string()]);
        assert_eq!(e.user.person, "Practitioner/pr1");
        assert_eq!(e.user.role, "PractitionerRole/r1");
        assert_eq!(e.user.organisation, "Organization/ggz");
        assert_eq!(e.user.name, "Jan de Vries");
        assert_eq!(e.data.category, "crisis-plan");
        assert_eq!(e.source.address, "10.1.2.3");
    }
}

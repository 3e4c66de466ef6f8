//! Emergency access ("break the glass"): a professional outside a client's circle states a
//! reason and opens the crisis plan, medication and contacts for four hours. The declaration
//! is a Communication to the case director(s) and the client's organisation (its privacy
//! officer), written by Kring itself so nobody can back-date or forge one, and logged with the
//! reason as stated, which the client and the privacy officer read.
//!
//! The client is found by BSN, or by name and date of birth together — an exact match of one
//! client only, never a list to choose from (which would show who else exists).

use chrono::NaiveDate;
use kring_access::emergency::{declaration, EMERGENCY_HOURS};
use kring_access::{Action, Reason, Subject};
use kring_fhir::bsn::{Bsn, BsnError};
use kring_store::search::{AnyOf, Cond, Prefix, SearchPlan};

use crate::search::bsn_condition;
use crate::{target, Caller, Record, RecordError};

/// A stated reason must say something …
pub const MIN_REASON_CHARS: usize = 10;
/// … and fit on a page and in the access log.
pub const MAX_REASON_CHARS: usize = 500;

/// Whom the emergency access is for.
#[derive(Debug, Clone)]
pub enum EmergencyClient {
    /// By citizen service number.
    Bsn(String),
    /// By full name (as written in the record, any case) and date of birth, together.
    NameAndBirth { name: String, birth: String },
}

/// Why emergency access could not be declared: each a sentence for the page, in the page's
/// own words.
#[derive(Debug, thiserror::Error)]
pub enum EmergencyError {
    #[error("emergency access is for care professionals")]
    NotAProfessional,
    #[error("state the reason (at least {MIN_REASON_CHARS} characters)")]
    ReasonTooShort,
    #[error("the reason is too long (at most {MAX_REASON_CHARS} characters)")]
    ReasonTooLong,
    #[error("{0}")]
    Bsn(BsnError),
    #[error("give the name and the date of birth together")]
    NameOrBirthMissing,
    #[error("the date of birth is not a date")]
    BadBirthDate,
    #[error("no client matches")]
    NotFound,
    #[error("more than one client matches: use the BSN")]
    Ambiguous,
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// A name as compared: lower case, single spaces.
fn normalised(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Record {
    /// Declares emergency access to a client; returns the client's id.
    pub async fn declare_emergency(
        &self,
        caller: &Caller,
        who: &EmergencyClient,
        reason: &str,
    ) -> Result<String, EmergencyError> {
        let Subject::Professional { practitioner, .. } = &caller.subject else {
            return Err(EmergencyError::NotAProfessional);
        };
        let reason = reason.trim();
        let chars = reason.chars().count();
        if chars < MIN_REASON_CHARS {
            return Err(EmergencyError::ReasonTooShort);
        }
        if chars > MAX_REASON_CHARS {
            return Err(EmergencyError::ReasonTooLong);
        }
        let mut plan = SearchPlan::new("Patient");
        plan.count = 50;
        let wanted_name = match who {
            EmergencyClient::Bsn(bsn) => {
                let bsn = Bsn::parse(bsn.trim()).map_err(EmergencyError::Bsn)?;
                plan.filter.all.push(AnyOf {
                    conds: vec![bsn_condition(bsn.expose())],
                    negate: false,
                });
                None
            }
            EmergencyClient::NameAndBirth { name, birth } => {
                if normalised(name).is_empty() || birth.trim().is_empty() {
                    return Err(EmergencyError::NameOrBirthMissing);
                }
                let day = NaiveDate::parse_from_str(birth.trim(), "%Y-%m-%d")
                    .map_err(|_| EmergencyError::BadBirthDate)?;
                let range = kring_fhir::datetime::parse_range(&day.to_string())
                    .ok_or(EmergencyError::BadBirthDate)?;
                plan.filter.all.push(AnyOf {
                    conds: vec![Cond::Date {
                        param: "birthdate".into(),
                        prefix: Prefix::Eq,
                        low: range.low,
                        high: range.high,
                    }],
                    negate: false,
                });
                Some(normalised(name))
            }
        };
        let found = self.store.search(&plan).await.map_err(RecordError::from)?;
        let matches: Vec<_> = found
            .matches
            .into_iter()
            .filter(|p| match &wanted_name {
                None => true,
                Some(n) => {
                    let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap_or_default();
                    names_of(&v)
                        .iter()
                        .any(|candidate| normalised(candidate) == *n)
                }
            })
            .collect();
        let patient = match &matches[..] {
            [one] => one.clone(),
            many => {
                // The look-up is an attempt whether or not it finds anyone: logged, naming no
                // client (and no BSN or name).
                self.record_outcome(
                    caller,
                    Action::Read,
                    "break-the-glass",
                    "not-found",
                    &target("Patient", None, ""),
                )
                .await?;
                return Err(if many.is_empty() {
                    EmergencyError::NotFound
                } else {
                    EmergencyError::Ambiguous
                });
            }
        };
        let client = patient.client_key.clone();
        // Recipients: the case director(s) of the client's circle and the client's organisation.
        let mut recipients = Vec::new();
        let circles = self
            .store
            .search(&{
                let mut p = SearchPlan::new("CareTeam");
                p.count = 20;
                p.filter.all.push(AnyOf {
                    conds: vec![Cond::Reference {
                        param: "subject".into(),
                        target_type: Some("Patient".into()),
                        target_id: Some(client.clone()),
                        url: None,
                    }],
                    negate: false,
                });
                p
            })
            .await
            .map_err(RecordError::from)?;
        for c in circles.matches {
            let v: serde_json::Value = serde_json::from_slice(&c.body).unwrap_or_default();
            let circle = kring_access::circle::Circle::from_json(&c.id, &v);
            for m in circle.memberships.iter().filter(|m| m.director) {
                recipients.push(m.member.clone());
            }
        }
        let p: serde_json::Value = serde_json::from_slice(&patient.body).unwrap_or_default();
        if let Some(org) = p["managingOrganization"]["reference"].as_str() {
            recipients.push(org.to_string());
        }
        let value = declaration(
            practitioner,
            &client,
            reason,
            &recipients,
            chrono::Utc::now(),
        );
        let id = crate::ids::new_resource_id();
        let mut tx = self.store.begin().await.map_err(RecordError::from)?;
        let mut work = crate::write::Work::default();
        self.system_put(
            &mut *tx,
            caller,
            &mut work,
            "Communication",
            &id,
            &client,
            value,
            "break-the-glass",
            &[Reason::EmergencyDeclared, Reason::Emergency(id.clone())],
        )
        .await?;
        // The stated reason goes into the log with the declaration.
        if let Some(e) = work.entries.last_mut() {
            e.stated_reason = reason.to_string();
        }
        self.finish(tx, work, caller).await?;
        tracing::warn!(declaration = %id, "emergency access declared");
        Ok(client)
    }

    /// The caller's running emergency accesses: (client, when declared in ms, until in ms).
    pub fn running_emergencies(&self, caller: &Caller) -> Vec<(String, i64, i64)> {
        self.access
            .running_emergencies(&caller.subject)
            .into_iter()
            .map(|(client, declared)| (client, declared, declared + EMERGENCY_HOURS * 3_600_000))
            .collect()
    }
}

/// Every way a Patient's name is written (text, and given + family).
fn names_of(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for n in v["name"].as_array().into_iter().flatten() {
        if let Some(t) = n["text"].as_str() {
            out.push(t.to_string());
        }
        let given: Vec<&str> = n["given"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g.as_str())
            .collect();
        if let Some(f) = n["family"].as_str() {
            out.push(format!("{} {f}", given.join(" ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_or_extra_spaces() {
        assert_eq!(normalised("  Jan   de Vries "), "jan de vries");
        let v = serde_json::json!({"name": [{"family": "de Vries", "given": ["Jan", "Pieter"]}]});
        assert!(names_of(&v)
            .iter()
            .any(|n| normalised(n) == normalised("jan pieter DE VRIES")));
    }
}

//! Emergency access ("break the glass"): a professional outside a client's circle states a
//! reason and opens the crisis plan, medication and contacts for four hours. The declaration
//! is a Communication to the case director(s) and the client's organisation (its privacy
//! officer), written by Kring itself so nobody can back-date or forge one, and logged.

use kring_access::emergency::declaration;
use kring_access::{Action, Subject};
use kring_fhir::bsn::{Bsn, BSN_SYSTEM};
use kring_fhir::IssueCode;
use kring_store::search::{AnyOf, Cond, SearchPlan, TokenMatch};

use crate::{target, Caller, Record, RecordError, Result};

/// A stated reason must say something.
pub const MIN_REASON_CHARS: usize = 10;

impl Record {
    /// Declares emergency access to the client with this BSN; returns the client's id.
    pub async fn declare_emergency(
        &self,
        caller: &Caller,
        bsn: &str,
        reason: &str,
    ) -> Result<String> {
        let Subject::Professional { practitioner, .. } = &caller.subject else {
            return Err(RecordError::Forbidden(crate::Refusal::silent()));
        };
        let reason = reason.trim();
        if reason.chars().count() < MIN_REASON_CHARS {
            return Err(RecordError::bad_request(
                IssueCode::Required,
                format!("state the reason for emergency access (at least {MIN_REASON_CHARS} characters)"),
            ));
        }
        let bsn = Bsn::parse(bsn.trim())
            .map_err(|e| RecordError::bad_request(IssueCode::Value, e.to_string()))?;
        let mut plan = SearchPlan::new("Patient");
        plan.count = 2;
        plan.filter.all.push(AnyOf {
            conds: vec![Cond::Token {
                param: "identifier".into(),
                what: TokenMatch::SystemCode(Some(BSN_SYSTEM.into()), bsn.expose().to_string()),
            }],
            negate: false,
        });
        let found = self.store.search(&plan).await?;
        let Some(patient) = found.matches.into_iter().next() else {
            self.record_outcome(
                caller,
                Action::Read,
                "break-the-glass",
                "not-found",
                &target("Patient", None, ""),
            )
            .await?;
            return Err(RecordError::NotFound("the client with this BSN".into()));
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
            .await?;
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
        let mut tx = self.store.begin().await?;
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
            &[
                kring_access::Reason::EmergencyDeclared,
                kring_access::Reason::Emergency(id.clone()),
            ],
        )
        .await?;
        self.finish(tx, work, caller).await?;
        tracing::warn!(declaration = %id, "emergency access declared");
        Ok(client)
    }
}

//! `Patient/{id}/$everything`: the client's whole record — every resource whose client key is
//! this Patient (one indexed query, thanks to the client key) plus the shared resources they
//! refer to (practitioners, organisations …).

use kring_access::Action;
use kring_fhir::IssueCode;
use kring_store::ResourceKey;

use crate::search::parse::whole_number;
use crate::search::{SearchOutcome, Summary};
use crate::{target, Caller, Record, RecordError, Result, Versioned};

impl Record {
    pub async fn everything(
        &self,
        caller: &Caller,
        patient_id: &str,
        params: &[(String, String)],
    ) -> Result<SearchOutcome> {
        self.check_id(patient_id)?;
        let mut count = self.limits.default_count;
        let mut offset = 0usize;
        for (k, v) in params {
            match k.as_str() {
                "_count" => count = whole_number(k, v)?,
                "_offset" => offset = whole_number(k, v)?,
                "_format" | "_pretty" => {}
                other => {
                    return Err(RecordError::bad_request(
                        IssueCode::NotSupported,
                        format!("$everything does not support '{other}'"),
                    ))
                }
            }
        }
        let count = count.min(self.limits.max_count);
        let Some(patient) = self
            .store
            .read("Patient", patient_id)
            .await?
            .filter(|p| !p.deleted)
        else {
            self.record_outcome(
                caller,
                Action::Read,
                "operation-everything",
                "not-found",
                &target("Patient", Some(patient_id), ""),
            )
            .await?;
            return Err(RecordError::NotFound(format!("Patient/{patient_id}")));
        };
        self.decide(
            caller,
            Action::Read,
            "operation-everything",
            &target("Patient", Some(patient_id), &patient.client_key),
        )
        .await
        .map_err(|e| e.hiding(&format!("Patient/{patient_id}")))?;
        let mut rows = self
            .store
            .client_resources(&patient.client_key, offset, count + 1)
            .await?;
        let more = rows.len() > count;
        rows.truncate(count);
        let rows = self.permitted(caller, rows);
        let keys: Vec<ResourceKey> = rows
            .iter()
            .map(|r| ResourceKey {
                rtype: r.rtype.clone(),
                id: r.id.clone(),
            })
            .collect();
        let refs = self.references_in(&rows, &self.reference_params(&keys));
        let shared: Vec<ResourceKey> = refs.into_iter().filter(|k| !keys.contains(k)).collect();
        let included: Vec<_> = self
            .permitted(caller, self.store.read_many(&shared).await?)
            .into_iter()
            .filter(|r| r.client_key.is_empty())
            .collect();
        self.log_returned(
            caller,
            Action::Read,
            "operation-everything",
            "Patient",
            &rows,
            &included,
            vec![],
        )
        .await?;
        Ok(SearchOutcome {
            rtype: "Patient".into(),
            matches: rows.into_iter().map(Versioned::from_stored).collect(),
            included: included.into_iter().map(Versioned::from_stored).collect(),
            total: None,
            count,
            offset,
            more,
            summary: Summary::False,
            elements: None,
            ignored: vec![],
            applied: vec![],
        })
    }
}

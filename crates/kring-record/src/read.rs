//! Reads: `read` and `vread`.

use kring_access::Action;
use kring_fhir::IssueCode;

use crate::{target, target_of, Caller, Record, RecordError, Result, Versioned};

impl Record {
    /// `GET /Type/id`: the current version (410 when deleted).
    pub async fn read(&self, caller: &Caller, rtype: &str, id: &str) -> Result<Versioned> {
        self.check_type(rtype)?;
        self.check_scopes(caller, Action::Read, "read", rtype)
            .await?;
        self.check_id(id)?;
        let Some(stored) = self.store.read(rtype, id).await? else {
            self.record_outcome(
                caller,
                Action::Read,
                "read",
                "not-found",
                &target(rtype, Some(id), ""),
            )
            .await?;
            return Err(RecordError::NotFound(format!("{rtype}/{id}")));
        };
        let t = target_of(&stored);
        let d = self
            .decide(caller, Action::Read, "read", &t)
            .await
            .map_err(|e| e.hiding(&format!("{rtype}/{id}")))?;
        if stored.deleted {
            self.record(vec![self.entry(
                caller,
                Action::Read,
                "read",
                "deleted",
                &t,
                &d.reasons,
            )])
            .await?;
            return Err(RecordError::Gone(format!("{rtype}/{id}")));
        }
        self.record(vec![self.entry(
            caller,
            Action::Read,
            "read",
            "success",
            &t,
            &d.reasons,
        )])
        .await?;
        Ok(Versioned::from_stored(stored))
    }

    /// `GET /Type/id/_history/vid`: one version (410 when that version is a deletion).
    pub async fn vread(
        &self,
        caller: &Caller,
        rtype: &str,
        id: &str,
        version: &str,
    ) -> Result<Versioned> {
        self.check_type(rtype)?;
        self.check_scopes(caller, Action::Read, "vread", rtype)
            .await?;
        self.check_id(id)?;
        let Ok(v) = version.parse::<i64>() else {
            return Err(RecordError::bad_request(
                IssueCode::Invalid,
                "a version id is a whole number",
            ));
        };
        let Some(stored) = self.store.vread(rtype, id, v).await? else {
            self.record_outcome(
                caller,
                Action::Read,
                "vread",
                "not-found",
                &target(rtype, Some(id), ""),
            )
            .await?;
            return Err(RecordError::NotFound(format!(
                "version {v} of {rtype}/{id}"
            )));
        };
        let t = target_of(&stored);
        let d = self
            .decide(caller, Action::Read, "vread", &t)
            .await
            .map_err(|e| e.hiding(&format!("version {v} of {rtype}/{id}")))?;
        let outcome = if stored.deleted { "deleted" } else { "success" };
        self.record(vec![self.entry(
            caller,
            Action::Read,
            "vread",
            outcome,
            &t,
            &d.reasons,
        )])
        .await?;
        if stored.deleted {
            return Err(RecordError::Gone(format!("version {v} of {rtype}/{id}")));
        }
        Ok(Versioned::from_stored(stored))
    }
}

impl Record {
    /// Whether `caller` may see anything at all of client `id`: where a page about a client
    /// starts. A caller who may see nothing is logged as a denied attempt on that client (when
    /// it exists; otherwise as a look-up that found nothing) and must be answered exactly as
    /// for an id that names no client.
    pub async fn open_client(&self, caller: &Caller, id: &str, interaction: &str) -> Result<bool> {
        use kring_access::{Category, Target};
        let kinds = Category::GRANTABLE
            .into_iter()
            .chain([Category::Circle, Category::Consent]);
        let mut last = None;
        for c in kinds {
            let d = self.access.decide(
                &caller.subject,
                Action::Read,
                &Target::new("Patient", Some(id), id, c),
            );
            if d.permit {
                return Ok(true);
            }
            last.get_or_insert(d);
        }
        self.check_id(id)?;
        let exists = self
            .store
            .read("Patient", id)
            .await?
            .is_some_and(|p| !p.deleted);
        let reasons = last.map(|d| d.reasons).unwrap_or_default();
        let entry = if exists {
            self.entry(
                caller,
                Action::Read,
                interaction,
                "denied",
                &target("Patient", Some(id), id),
                &reasons,
            )
        } else {
            self.entry(
                caller,
                Action::Read,
                interaction,
                "not-found",
                &target("Patient", None, ""),
                &[],
            )
        };
        self.record(vec![entry]).await?;
        Ok(false)
    }

    /// One page of current resources of a type, for export: decided and logged (action E) per
    /// client before the data leaves.
    pub async fn export_page(
        &self,
        caller: &Caller,
        rtype: &str,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Versioned>> {
        self.check_type(rtype)?;
        let rows = self.store.scan(rtype, after_id, limit).await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| {
                self.access
                    .decide(&caller.subject, Action::Export, &target_of(r))
                    .permit
            })
            .collect();
        if !rows.is_empty() {
            self.log_returned(caller, Action::Export, "export", rtype, &rows, &[], vec![])
                .await?;
        }
        Ok(rows.into_iter().map(Versioned::from_stored).collect())
    }

    /// Resource types that hold at least one current resource.
    pub async fn types_in_use(&self) -> Result<Vec<String>> {
        Ok(self.store.types_in_use().await?)
    }
}

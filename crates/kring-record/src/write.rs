//! Writes: create, update (and update-as-create), conditional create/update/delete, JSON Patch,
//! delete, and restoring an exported version. All of them funnel into [`Record::put_in`], which
//! also serves transaction Bundles, so the rules live in one place.

use kring_access::Action;
use kring_audit::AccessEntry;
use kring_fhir::reference::is_valid_id;
use kring_fhir::{index, validate, Issue, IssueCode, OperationOutcome};
use kring_store::{NewVersion, Prior, StoreTx};
use serde_json::Value;

use crate::search::SearchRequest;
use crate::{
    client, meta, target, target_body, target_of, Caller, Record, RecordError, Result, Versioned,
};

/// What the caller wants back from a write (`Prefer: return=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preference {
    Minimal,
    #[default]
    Representation,
    OperationOutcome,
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct WriteResult {
    /// The version written (or found, for a conditional create that matched); `None` after a
    /// delete.
    pub resource: Option<Versioned>,
    /// A new resource was created (201).
    pub created: bool,
    /// Nothing changed (a conditional create that matched, a delete of a deleted resource).
    pub unchanged: bool,
}

/// What a write transaction has done so far: its access-log entries, recorded before it
/// commits, and its own earlier writes of the types the decision watches, which its later
/// entries are decided on (a client registered, then that client's data).
#[derive(Default)]
pub(crate) struct Work {
    pub entries: Vec<AccessEntry>,
    pub pending: kring_access::Pending,
}

/// What to write.
pub(crate) enum Body {
    Put(Prepared),
    Delete,
    /// Bytes exported earlier, with their own `meta` (import/restore).
    Restore(Vec<u8>, Prepared),
}

/// A validated resource with its search index computed: the CPU work of a write, done before
/// the write transaction starts so that it does not hold the database's writer.
pub(crate) struct Prepared {
    pub value: Value,
    pub index: Vec<kring_fhir::index::IndexEntry>,
}

/// A new client registered by a partner system without a managing organisation is managed
/// by that system's organisation: `Ok` with the completed body, `Err` with it unchanged.
fn registered_by_partner(
    caller: &Caller,
    rtype: &str,
    cur: &Option<kring_store::Current>,
    mut value: Value,
) -> std::result::Result<Value, Value> {
    let kring_access::Subject::Partner { organisation, .. } = &caller.subject else {
        return Err(value);
    };
    let new = cur.as_ref().is_none_or(|c| c.deleted);
    if rtype != "Patient" || !new || value.get("managingOrganization").is_some() {
        return Err(value);
    }
    value["managingOrganization"] =
        serde_json::json!({"reference": format!("Organization/{organisation}")});
    Ok(value)
}

/// Who a version a caller writes is by: the professional's role, the client, the
/// representative, or a partner system's organisation (the operator imports records as they
/// were and stamps nobody).
fn changer(caller: &Caller) -> Option<String> {
    use kring_access::Subject;
    match &caller.subject {
        Subject::Professional { role, .. } => Some(format!("PractitionerRole/{role}")),
        Subject::Client { patient, .. } => Some(format!("Patient/{patient}")),
        Subject::Representative { related_person, .. }
        | Subject::Supporter { related_person, .. } => {
            Some(format!("RelatedPerson/{related_person}"))
        }
        Subject::Partner { organisation, .. }
        | Subject::Officer { organisation, .. }
        | Subject::Administrator { organisation, .. } => {
            Some(format!("Organization/{organisation}"))
        }
        Subject::Operator => None,
    }
}

/// Today's date (Dutch calendar) as a FHIR date.
fn chrono_today() -> String {
    kring_fhir::datetime::dutch_date(chrono::Utc::now()).to_string()
}

fn now_ms() -> i64 {
    kring_fhir::datetime::now_ms()
}

impl Record {
    /// Checks a resource body against the URL and the definitions.
    pub(crate) fn check_body(&self, value: &Value, rtype: &str, id: Option<&str>) -> Result<()> {
        let body_type = value.get("resourceType").and_then(Value::as_str);
        if !value.is_object() {
            return Err(RecordError::bad_request(
                IssueCode::Structure,
                "the body must be a JSON object holding a FHIR resource",
            ));
        }
        match body_type {
            None => {
                return Err(RecordError::bad_request(
                    IssueCode::Required,
                    "the resource has no resourceType",
                ))
            }
            Some(t) if t != rtype => {
                return Err(RecordError::bad_request(
                    IssueCode::Invalid,
                    format!("the body is a {t}, but the URL names {rtype}"),
                ))
            }
            _ => {}
        }
        if let Some(id) = id {
            match value.get("id").and_then(Value::as_str) {
                Some(body_id) if body_id != id => {
                    return Err(RecordError::BadRequest(OperationOutcome::single(
                        Issue::error(
                            IssueCode::Invalid,
                            "the id in the body differs from the id in the URL",
                        )
                        .at(format!("{rtype}.id")),
                    )))
                }
                None => {
                    return Err(RecordError::BadRequest(OperationOutcome::single(
                        Issue::error(
                            IssueCode::Required,
                            "an update must carry the resource id in the body",
                        )
                        .at(format!("{rtype}.id")),
                    )))
                }
                _ => {}
            }
        }
        let issues = validate::validate(self.defs, value);
        if !issues.is_empty() {
            return Err(RecordError::Invalid(OperationOutcome { issues }));
        }
        Ok(())
    }

    /// Computes the search index of a checked resource.
    pub(crate) fn prepare(&self, value: Value) -> Prepared {
        let index = index::extract(self.defs, &value);
        Prepared { value, index }
    }

    pub(crate) fn check_type(&self, rtype: &str) -> Result<()> {
        if !self.defs.is_resource_type(rtype) {
            return Err(RecordError::bad_request(
                IssueCode::NotSupported,
                format!("'{rtype}' is not a FHIR R4 resource type"),
            ));
        }
        if rtype == "AuditEvent" {
            return Err(RecordError::bad_request(
                IssueCode::NotSupported,
                "AuditEvent is the access log, which Kring writes itself and nobody can change; read it at /fhir/AuditEvent",
            ));
        }
        Ok(())
    }

    pub(crate) fn check_id(&self, id: &str) -> Result<()> {
        if !is_valid_id(id) {
            return Err(RecordError::bad_request(
                IssueCode::Invalid,
                "an id has 1 to 64 letters, digits, '-' or '.'",
            ));
        }
        Ok(())
    }

    /// Writes one version inside `tx`, after the decision; pushes the log entry to `entries`.
    /// The caller records the entries and then commits.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_in(
        &self,
        tx: &mut dyn StoreTx,
        caller: &Caller,
        work: &mut Work,
        rtype: &str,
        id: &str,
        body: Body,
        if_match: Option<i64>,
        interaction: &str,
    ) -> Result<WriteResult> {
        let cur = tx.current(rtype, id).await?;
        if let Some(expected) = if_match {
            match &cur {
                Some(c) if c.version == expected && !c.deleted => {}
                Some(c) if !c.deleted => {
                    return Err(RecordError::PreconditionFailed(format!(
                        "If-Match names version {expected}, but the current version is {}; read the resource again",
                        c.version
                    )))
                }
                _ => return Err(RecordError::PreconditionFailed(format!("If-Match names version {expected}, but {rtype}/{id} does not exist"))),
            }
        }
        // The current content, read once: to notice an update that changes nothing, and to
        // decide on what the resource was before it changes.
        let old = match cur.as_ref().filter(|c| !c.deleted) {
            Some(c) => tx.read(rtype, id).await?.filter(|s| s.version == c.version),
            None => None,
        };
        if let (Body::Put(Prepared { value, .. }), Some(stored)) = (&body, &old) {
            // An update that changes nothing makes no new version (imports run again are free).
            if same_content(&stored.body, value) {
                let t = target_of(stored);
                let d = self
                    .decide_in(&work.pending, caller, Action::Update, interaction, &t)
                    .await?;
                work.entries.push(self.entry(
                    caller,
                    Action::Update,
                    interaction,
                    "unchanged",
                    &t,
                    &d.reasons,
                ));
                return Ok(WriteResult {
                    resource: Some(Versioned::from_stored(stored.clone())),
                    created: false,
                    unchanged: true,
                });
            }
        }
        let version = cur.as_ref().map(|c| c.version + 1).unwrap_or(1);
        let now = now_ms();
        let (bytes, idx, client_key, action, last_updated, version) = match body {
            Body::Put(Prepared { value, index: idx }) => {
                let (value, idx) = match registered_by_partner(caller, rtype, &cur, value) {
                    Ok(v) => {
                        let p = self.prepare(v);
                        (p.value, p.index)
                    }
                    Err(v) => (v, idx),
                };
                let key = client::client_key(self.defs, rtype, id, &idx);
                let action = if cur.as_ref().is_some_and(|c| !c.deleted) {
                    Action::Update
                } else {
                    Action::Create
                };
                (
                    Some(meta::stamp(
                        value,
                        id,
                        version,
                        now,
                        changer(caller).as_deref(),
                    )),
                    idx,
                    key,
                    action,
                    now,
                    version,
                )
            }
            Body::Restore(bytes, Prepared { value, index: idx }) => {
                let (v, t) = meta::version_of(&value).unwrap_or((version, now));
                if cur.as_ref().is_some_and(|c| c.version >= v) {
                    // Already there (an import that resumes): nothing to do.
                    return Ok(WriteResult {
                        resource: None,
                        created: false,
                        unchanged: true,
                    });
                }
                let key = client::client_key(self.defs, rtype, id, &idx);
                (Some(bytes), idx, key, Action::Import, t, v)
            }
            Body::Delete => {
                let Some(c) = &cur else {
                    return Err(RecordError::NotFound(format!("{rtype}/{id}")));
                };
                if c.deleted {
                    return Ok(WriteResult {
                        resource: None,
                        created: false,
                        unchanged: true,
                    });
                }
                (
                    None,
                    vec![],
                    c.client_key.clone(),
                    Action::Delete,
                    now,
                    version,
                )
            }
        };
        self.check_scopes(caller, action, interaction, rtype)
            .await?;
        let t = match (&bytes, &old) {
            (Some(b), _) => target_body(rtype, Some(id), &client_key, b),
            (None, Some(o)) => target_of(o),
            (None, None) => target(rtype, Some(id), &client_key),
        };
        let decision = self
            .decide_in(&work.pending, caller, action, interaction, &t)
            .await?;
        if let Some(b) = &bytes {
            if let Err(why) =
                self.access
                    .check_write(&caller.subject, action, rtype, b, &work.pending)
            {
                return Err(RecordError::Unprocessable(why));
            }
        }
        if let (Some(b), "MedicationAdministration", false) = (
            &bytes,
            rtype,
            caller.subject == kring_access::Subject::Operator,
        ) {
            self.check_administration(tx, caller, b, old.as_ref())
                .await?;
        }
        if let (Some(b), kring_access::Subject::Professional { role, .. }) =
            (&bytes, &caller.subject)
        {
            self.check_work(&work.pending, caller, role, &t, b, old.as_ref())?;
        }
        // What a client or a parent writes in the plan: their own goals, comments, agreement
        // and requests, nothing else.
        if let (Some(b), kring_access::Category::Consent, true) = (
            &bytes,
            t.category,
            matches!(
                caller.subject,
                kring_access::Subject::Client { .. } | kring_access::Subject::Representative { .. }
            ),
        ) {
            let new: Value = serde_json::from_slice(b).unwrap_or_default();
            let before: Option<Value> = old
                .as_ref()
                .and_then(|o| serde_json::from_slice(&o.body).ok());
            crate::contributions::check_consent(before.as_ref(), &new)
                .map_err(RecordError::Contribution)?;
        }
        if let (Some(b), kring_access::Category::SupportPlan) = (&bytes, t.category) {
            let me = match &caller.subject {
                kring_access::Subject::Client { patient, .. } => Some(format!("Patient/{patient}")),
                kring_access::Subject::Representative { related_person, .. } => {
                    Some(format!("RelatedPerson/{related_person}"))
                }
                _ => None,
            };
            if let Some(me) = me {
                let new: Value = serde_json::from_slice(b).unwrap_or_default();
                let before: Option<Value> = old
                    .as_ref()
                    .and_then(|o| serde_json::from_slice(&o.body).ok());
                crate::contributions::check(rtype, &t.client_key, &me, before.as_ref(), &new)
                    .map_err(RecordError::Contribution)?;
            }
        }
        let was_sharing = old
            .as_ref()
            .is_some_and(|o| target_of(o).category == kring_access::Category::Sharing);
        let was_message = old
            .as_ref()
            .is_some_and(|o| target_of(o).category == kring_access::Category::Messages);
        if (t.category == kring_access::Category::Messages || was_message)
            && caller.subject != kring_access::Subject::Operator
        {
            self.check_message(tx, caller, &t, bytes.as_deref(), old.as_ref())
                .await?;
        }
        let case = |b: &[u8]| kring_access::sharing::is_meldcode_case_bytes(b);
        let was_case = old.as_ref().is_some_and(|o| case(&o.body));
        if bytes.as_deref().is_some_and(case) || was_case {
            match bytes.as_deref() {
                Some(b) => {
                    let new: Value = serde_json::from_slice(b).unwrap_or_default();
                    let before: Option<Value> = old
                        .as_ref()
                        .and_then(|o| serde_json::from_slice(&o.body).ok());
                    crate::sharing::meldcode::check_case(&new, before.as_ref())
                        .map_err(RecordError::Meldcode)?;
                }
                None if caller.subject != kring_access::Subject::Operator => {
                    return Err(RecordError::Meldcode(
                        crate::sharing::meldcode::CaseRefusal::Kept,
                    ));
                }
                None => {}
            }
        }
        if t.category == kring_access::Category::Sharing || was_sharing {
            self.check_sharing(
                tx,
                &work.pending,
                caller,
                &t,
                bytes.as_deref(),
                old.as_ref(),
            )
            .await?;
        }
        if let (None, Some(o), false) = (
            &bytes,
            &old,
            caller.subject == kring_access::Subject::Operator,
        ) {
            if o.rtype == "Communication"
                && serde_json::from_slice::<Value>(&o.body)
                    .is_ok_and(|v| crate::reports::is_report(&v))
            {
                return Err(RecordError::Work(crate::rules::WorkRefusal::ReportsAreKept));
            }
        }
        if let Some(o) = old.as_ref().filter(|o| {
            let before = target_of(o);
            before.client_key != t.client_key || before.category != t.category
        }) {
            // Moving data to another client or category needs the right on both.
            self.decide_in(
                &work.pending,
                caller,
                Action::Update,
                interaction,
                &target_of(o),
            )
            .await?;
        }
        work.entries.push(self.entry(
            caller,
            action,
            interaction,
            "success",
            &t,
            &decision.reasons,
        ));
        let created = cur.as_ref().is_none_or(|c| c.deleted);
        if let (true, "Patient", kring_access::Subject::Partner { organisation, .. }) =
            (created, rtype, &caller.subject)
        {
            // A client a partner system registers starts with its organisation in the circle.
            self.start_circle(tx, caller, work, id, organisation, &decision.reasons)
                .await?;
        }
        tx.put(NewVersion {
            rtype: rtype.to_string(),
            id: id.to_string(),
            version,
            last_updated,
            client_key,
            body: bytes.clone(),
            index: idx,
            prior: Prior::Read(cur),
        })
        .await?;
        self.access
            .observe_pending(&mut work.pending, rtype, id, bytes.as_deref());
        Ok(WriteResult {
            resource: bytes.map(|body| Versioned {
                rtype: rtype.to_string(),
                id: id.to_string(),
                version,
                last_updated,
                body,
            }),
            created,
            unchanged: false,
        })
    }

    /// The rules of daily work for a professional's write (see [`crate::rules`]): the support
    /// plan kept by the case director, reports in one's own name.
    fn check_work(
        &self,
        pending: &kring_access::Pending,
        caller: &Caller,
        role: &str,
        t: &kring_access::Target,
        body: &[u8],
        old: Option<&kring_store::StoredResource>,
    ) -> Result<()> {
        use kring_access::Category;
        let me = format!("PractitionerRole/{role}");
        let old: Option<Value> = old.and_then(|o| serde_json::from_slice(&o.body).ok());
        // The case director: whoever may change the client's circle.
        let director = || {
            let circle = target("CareTeam", None, &t.client_key);
            self.access
                .decide_pending(pending, &caller.subject, Action::Update, &circle)
                .permit
        };
        match (t.rtype.as_str(), t.category) {
            ("CarePlan", Category::SupportPlan) => {
                if director() {
                    return Ok(());
                }
                let Some(old) = old else {
                    return Err(RecordError::Work(
                        crate::rules::WorkRefusal::DirectorStartsPlan,
                    ));
                };
                let new: Value = serde_json::from_slice(body).unwrap_or_default();
                crate::rules::check_member_plan_update(&old, &new, &me).map_err(RecordError::Work)
            }
            ("Task", Category::SupportPlan) => {
                let new: Value = serde_json::from_slice(body).unwrap_or_default();
                let request = crate::contributions::request_kind(&new).is_some()
                    || old
                        .as_ref()
                        .is_some_and(|o| crate::contributions::request_kind(o).is_some());
                if request && !director() {
                    return Err(RecordError::Work(
                        crate::rules::WorkRefusal::DirectorAnswersRequests,
                    ));
                }
                Ok(())
            }
            ("Goal", Category::SupportPlan) if !director() => Err(RecordError::Work(
                crate::rules::WorkRefusal::DirectorKeepsGoals,
            )),
            ("Communication", Category::Reports) => {
                let new: Value = serde_json::from_slice(body).unwrap_or_default();
                if !crate::reports::is_report(&new)
                    && !old.as_ref().is_some_and(crate::reports::is_report)
                {
                    return Ok(());
                }
                crate::rules::check_report(old.as_ref(), &new, &me).map_err(RecordError::Work)
            }
            _ => Ok(()),
        }
    }

    /// The rules of sharing decisions ([`crate::sharing`]): an aid answer is kept as given and
    /// its outcome follows from its answers; a grant rests on such an answer (read here, in
    /// the transaction), covers only what its sharer may see, and is only withdrawn or
    /// shortened; neither is deleted except by the operator.
    async fn check_sharing(
        &self,
        tx: &mut dyn StoreTx,
        pending: &kring_access::Pending,
        caller: &Caller,
        t: &kring_access::Target,
        body: Option<&[u8]>,
        old: Option<&kring_store::StoredResource>,
    ) -> Result<()> {
        use crate::sharing::{check_answer, check_grant, SharingRefusal, StoredAnswer};
        let operator = caller.subject == kring_access::Subject::Operator;
        let Some(body) = body else {
            return if operator {
                Ok(())
            } else {
                Err(RecordError::Sharing(SharingRefusal::Kept))
            };
        };
        let new: Value = serde_json::from_slice(body).unwrap_or_default();
        let old: Option<Value> = old.and_then(|o| serde_json::from_slice(&o.body).ok());
        if t.rtype == "QuestionnaireResponse" {
            check_answer(&new, old.as_ref()).map_err(RecordError::Sharing)?;
            // What the answer says the record answered must be what the record says.
            if !operator {
                if let Some(a) = StoredAnswer::from_json(&new) {
                    let f = self.access.sharing_facts(
                        &t.client_key,
                        &a.request.recipient,
                        &a.request.categories,
                    );
                    let consent = f.consent.map(|given| {
                        if given {
                            crate::sharing::aid::Answer::Given
                        } else {
                            crate::sharing::aid::Answer::Refused
                        }
                    });
                    let kind = self.recipient_kind(tx, &a.request.recipient).await?;
                    if a.known.in_circle != f.in_circle
                        || a.known.consent != consent
                        || a.known.age != f.age
                        || a.known.recipient_kind != kind
                    {
                        return Err(RecordError::Sharing(SharingRefusal::RecordSaysOtherwise));
                    }
                }
            }
            return Ok(());
        }
        let evidence = match new["sourceReference"]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("QuestionnaireResponse/"))
        {
            Some(id) => match tx.read("QuestionnaireResponse", id).await? {
                Some(r) if !r.deleted => serde_json::from_slice::<Value>(&r.body)
                    .ok()
                    .and_then(|v| StoredAnswer::from_json(&v)),
                _ => None,
            },
            None => None,
        };
        check_grant(
            &new,
            old.as_ref(),
            evidence.as_ref(),
            chrono::Utc::now().date_naive(),
        )
        .map_err(RecordError::Sharing)?;
        // A grant is made in one's own name, for one's own organisation.
        if let (
            None,
            kring_access::Subject::Professional {
                role, organisation, ..
            },
        ) = (&old, &caller.subject)
        {
            if new["performer"][0]["reference"] != format!("PractitionerRole/{role}").as_str()
                || new["organization"][0]["reference"]
                    != format!("Organization/{organisation}").as_str()
            {
                return Err(RecordError::Sharing(SharingRefusal::NotInOwnName));
            }
        }
        // One shares only what one may see oneself.
        if old.is_none() && !operator {
            let grant = kring_access::sharing::Grant::from_json("new", &new);
            for c in grant.iter().flat_map(|g| g.categories.iter()) {
                let probe = kring_access::Target::new("Basic", None, &t.client_key, *c);
                if !self
                    .access
                    .decide_pending(pending, &caller.subject, Action::Read, &probe)
                    .permit
                {
                    return Err(RecordError::Sharing(SharingRefusal::NotYoursToShare));
                }
            }
        }
        Ok(())
    }

    /// The rules of a message ([`crate::messages`]), with the client's relatives read in the
    /// transaction.
    async fn check_message(
        &self,
        tx: &mut dyn StoreTx,
        caller: &Caller,
        t: &kring_access::Target,
        body: Option<&[u8]>,
        old: Option<&kring_store::StoredResource>,
    ) -> Result<()> {
        use crate::messages::{check, MessageRefusal};
        let Some(body) = body else {
            return Err(RecordError::Message(MessageRefusal::Kept));
        };
        let new: Value = serde_json::from_slice(body).unwrap_or_default();
        let old: Option<Value> = old.and_then(|o| serde_json::from_slice(&o.body).ok());
        let me = caller.subject.references();
        let mut relatives = Vec::new();
        for r in kring_access::category::message_parties(body) {
            if let Some(id) = r.strip_prefix("RelatedPerson/") {
                if let Some(stored) = tx.read("RelatedPerson", id).await? {
                    let v: Value = serde_json::from_slice(&stored.body).unwrap_or_default();
                    if v["patient"]["reference"] == format!("Patient/{}", t.client_key) {
                        relatives.push(r.clone());
                    }
                }
            }
        }
        check(
            &me,
            &t.client_key,
            &|r| relatives.iter().any(|x| x == r),
            &new,
            old.as_ref(),
        )
        .map_err(RecordError::Message)
    }

    /// What kind of organisation a recipient is (for a role: its organisation), from the
    /// directory; `None` for a practitioner without a role named, or an unknown organisation.
    async fn recipient_kind(
        &self,
        tx: &mut dyn StoreTx,
        recipient: &str,
    ) -> Result<Option<kring_access::sharing::RecipientKind>> {
        let organisation = if let Some(o) = recipient.strip_prefix("Organization/") {
            Some(o.to_string())
        } else if let Some(r) = recipient.strip_prefix("PractitionerRole/") {
            tx.read("PractitionerRole", r)
                .await?
                .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
                .and_then(|v| {
                    v["organization"]["reference"]
                        .as_str()
                        .and_then(|o| o.strip_prefix("Organization/"))
                        .map(str::to_string)
                })
        } else {
            None
        };
        let Some(o) = organisation else {
            return Ok(None);
        };
        Ok(tx
            .read("Organization", &o)
            .await?
            .filter(|r| !r.deleted)
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .map(|v| kring_access::sharing::RecipientKind::of_organisation(&v)))
    }

    /// The medication rule for an administration about to be written (see
    /// [`crate::medication`]).
    async fn check_administration(
        &self,
        tx: &mut dyn StoreTx,
        caller: &Caller,
        body: &[u8],
        old: Option<&kring_store::StoredResource>,
    ) -> Result<()> {
        use crate::medication::{check_administration, givers, verifiers};
        let new: Value = serde_json::from_slice(body).unwrap_or_default();
        let old: Option<Value> = old.and_then(|o| serde_json::from_slice(&o.body).ok());
        // High-risk when the medication the administration names is, or its schedule is
        // (flagged by the prescriber, or its medication on the list).
        let named = self.high_risk.covers(&new["medicationCodeableConcept"]);
        let scheduled = match new["request"]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("MedicationRequest/"))
        {
            Some(id) => match tx.read("MedicationRequest", id).await? {
                Some(r) if !r.deleted => serde_json::from_slice::<Value>(&r.body)
                    .is_ok_and(|v| self.high_risk.request_is_high_risk(&v)),
                _ => false,
            },
            None => false,
        };
        let high_risk = named || scheduled;
        // The practitioner of every role the performers name, to tell people apart.
        let mut roles = std::collections::HashMap::new();
        let refs: Vec<String> = givers(&new)
            .into_iter()
            .chain(verifiers(&new).into_iter().map(|v| v.0))
            .collect();
        for r in refs {
            if let Some(id) = r.strip_prefix("PractitionerRole/") {
                if let Some(stored) = tx.read("PractitionerRole", id).await? {
                    let v: Value = serde_json::from_slice(&stored.body).unwrap_or_default();
                    if let Some(p) = v["practitioner"]["reference"]
                        .as_str()
                        .and_then(|p| p.strip_prefix("Practitioner/"))
                    {
                        roles.insert(id.to_string(), p.to_string());
                    }
                }
            }
        }
        let caller_role = match &caller.subject {
            kring_access::Subject::Professional { role, .. } => Some(role.as_str()),
            _ => None,
        };
        check_administration(
            &new,
            old.as_ref(),
            caller_role,
            &|r| roles.get(r).cloned(),
            high_risk,
        )
        .map_err(RecordError::Medication)
    }

    /// Writes the first circle of a client a partner system registered: the partner's
    /// organisation, with every category except safety assessments (which need a named person),
    /// from today on. Part of the same transaction as the client.
    async fn start_circle(
        &self,
        tx: &mut dyn StoreTx,
        caller: &Caller,
        work: &mut Work,
        client: &str,
        organisation: &str,
        reasons: &[kring_access::Reason],
    ) -> Result<()> {
        use kring_access::category::{Category, CATEGORY_SYSTEM};
        let id = format!("{client}-circle");
        if tx.current("CareTeam", &id).await?.is_some() {
            return Ok(());
        }
        let today = chrono_today();
        let categories: Vec<Value> = Category::GRANTABLE
            .iter()
            .filter(|c| **c != Category::Safety)
            .map(|c| serde_json::json!({"system": CATEGORY_SYSTEM, "code": c.code()}))
            .collect();
        let circle = serde_json::json!({
            "resourceType": "CareTeam", "status": "active", "name": "Kring",
            "subject": {"reference": format!("Patient/{client}")},
            "period": {"start": today},
            "participant": [{
                "extension": [{"url": kring_access::circle::CATEGORIES_EXTENSION,
                               "valueCodeableConcept": {"coding": categories}}],
                "role": [{"text": "Aanmeldende organisatie"}],
                "member": {"reference": format!("Organization/{organisation}")},
                "onBehalfOf": {"reference": format!("Organization/{organisation}")},
                "period": {"start": today},
            }],
            "managingOrganization": [{"reference": format!("Organization/{organisation}")}],
        });
        self.system_put(
            tx, caller, work, "CareTeam", &id, client, circle, "create", reasons,
        )
        .await
    }

    /// Writes a new resource that Kring itself composes on the caller's behalf (a first circle,
    /// an emergency declaration): validated and indexed like any other, logged with the
    /// decision that allowed the request it belongs to.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn system_put(
        &self,
        tx: &mut dyn StoreTx,
        caller: &Caller,
        work: &mut Work,
        rtype: &str,
        id: &str,
        client: &str,
        value: Value,
        interaction: &str,
        reasons: &[kring_access::Reason],
    ) -> Result<()> {
        self.check_body(&value, rtype, None)?;
        let Prepared { value, index } = self.prepare(value);
        let now = now_ms();
        let body = meta::stamp(value, id, 1, now, changer(caller).as_deref());
        work.entries.push(self.entry(
            caller,
            Action::Create,
            interaction,
            "success",
            &target_body(rtype, Some(id), client, &body),
            reasons,
        ));
        tx.put(NewVersion {
            rtype: rtype.into(),
            id: id.to_string(),
            version: 1,
            last_updated: now,
            client_key: client.to_string(),
            body: Some(body.clone()),
            index,
            prior: Prior::Unread,
        })
        .await?;
        self.access
            .observe_pending(&mut work.pending, rtype, id, Some(&body));
        Ok(())
    }

    /// Records the entries, then commits: no write is acknowledged without its log entry.
    pub(crate) async fn finish(
        &self,
        tx: Box<dyn StoreTx>,
        work: Work,
        caller: &Caller,
    ) -> Result<()> {
        let entries = work.entries;
        let failed: Vec<AccessEntry> = entries
            .iter()
            .map(|e| AccessEntry {
                outcome: "failed".into(),
                ..e.clone()
            })
            .collect();
        let written: Vec<AccessEntry> = entries
            .iter()
            .filter(|e| e.outcome == "success" && self.access.watches(&e.data.resource_type))
            .cloned()
            .collect();
        // The store commits only once the entries are durable; SQLite lets the next writer
        // start meanwhile, so concurrent writers share the log's fsync.
        let logged = std::sync::Mutex::new(None);
        let log = async {
            let result = self.record(entries).await;
            let ok = result.is_ok();
            *logged.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            ok
        };
        let committed = tx.commit_logged(Box::pin(log)).await;
        if let Some(Err(e)) = logged.into_inner().unwrap_or_else(|e| e.into_inner()) {
            // Nothing was committed: no write without its log entry.
            return Err(e);
        }
        if let Err(e) = committed {
            tracing::error!(error = %e, source = %caller.source, "commit failed after logging; recording the failure");
            let _ = self.log.record(failed).await;
            return Err(e.into());
        }
        self.observe_committed(&written).await;
        Ok(())
    }

    /// `POST /Type`: creates with a server-assigned id; with `if_none_exist`, only when no
    /// resource matches those search parameters (then the match is returned, unchanged).
    pub async fn create(
        &self,
        caller: &Caller,
        rtype: &str,
        value: Value,
        if_none_exist: Option<&str>,
    ) -> Result<WriteResult> {
        self.check_type(rtype)?;
        let mut value = value;
        if let Some(obj) = value.as_object_mut() {
            // The server assigns the id of a created resource; a client-supplied one is ignored.
            obj.shift_remove("id");
        }
        self.check_body(&value, rtype, None)?;
        let prepared = self.prepare(value);
        let mut tx = self.store.begin().await?;
        let mut work = Work::default();
        if let Some(query) = if_none_exist {
            if let Some(found) = self
                .conditional_match(tx.as_mut(), caller, rtype, query, "create")
                .await?
            {
                drop(tx);
                return Ok(WriteResult {
                    resource: Some(found),
                    created: false,
                    unchanged: true,
                });
            }
        }
        let id = crate::ids::new_resource_id();
        tx.new_id(rtype, &id);
        let r = self
            .put_in(
                tx.as_mut(),
                caller,
                &mut work,
                rtype,
                &id,
                Body::Put(prepared),
                None,
                "create",
            )
            .await?;
        self.finish(tx, work, caller).await?;
        Ok(r)
    }

    /// Runs a conditional query in `tx`: `None` when nothing matches, the match when one does,
    /// 412 when several do.
    pub(crate) async fn conditional_match(
        &self,
        tx: &mut dyn StoreTx,
        caller: &Caller,
        rtype: &str,
        query: &str,
        what: &str,
    ) -> Result<Option<Versioned>> {
        let req = SearchRequest::from_query(rtype, query.trim_start_matches('?'));
        if req.params.is_empty() {
            return Err(RecordError::bad_request(
                IssueCode::Required,
                format!("a conditional {what} needs search parameters"),
            ));
        }
        let mut plan = self.plan(caller, &req, true)?.plan;
        plan.count = 2;
        plan.offset = 0;
        tx.lock(lock_key(rtype, query)).await?;
        let found = tx.search(&plan).await?;
        match found.matches.len() {
            0 => Ok(None),
            1 => {
                let m = found.matches.into_iter().next().expect("one match");
                let t = target_of(&m);
                let d = self.decide(caller, Action::Read, &format!("conditional-{what}"), &t).await?;
                self.record(vec![self.entry(caller, Action::Read, &format!("conditional-{what}"), "success", &t, &d.reasons)]).await?;
                Ok(Some(Versioned::from_stored(m)))
            }
            _ => Err(RecordError::PreconditionFailed(format!("the conditional {what} matched more than one {rtype}; make the criteria more specific"))),
        }
    }

    /// `PUT /Type/id`: a new version, or a new resource with this id (update as create).
    pub async fn update(
        &self,
        caller: &Caller,
        rtype: &str,
        id: &str,
        value: Value,
        if_match: Option<i64>,
    ) -> Result<WriteResult> {
        self.check_type(rtype)?;
        self.check_id(id)?;
        self.check_body(&value, rtype, Some(id))?;
        let prepared = self.prepare(value);
        let mut tx = self.store.begin().await?;
        let mut work = Work::default();
        let r = self
            .put_in(
                tx.as_mut(),
                caller,
                &mut work,
                rtype,
                id,
                Body::Put(prepared),
                if_match,
                "update",
            )
            .await?;
        self.finish(tx, work, caller).await?;
        Ok(r)
    }

    /// `PUT /Type?criteria`: updates the one match, or creates when none matches.
    pub async fn conditional_update(
        &self,
        caller: &Caller,
        rtype: &str,
        query: &str,
        mut value: Value,
        if_match: Option<i64>,
    ) -> Result<WriteResult> {
        self.check_type(rtype)?;
        let mut tx = self.store.begin().await?;
        let id = match self
            .conditional_match(tx.as_mut(), caller, rtype, query, "update")
            .await?
        {
            Some(found) => {
                if let Some(body_id) = value.get("id").and_then(Value::as_str) {
                    if body_id != found.id {
                        return Err(RecordError::bad_request(
                            IssueCode::Invalid,
                            "the id in the body differs from the resource the criteria matched",
                        ));
                    }
                }
                found.id
            }
            None => match value.get("id").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => {
                    let id = crate::ids::new_resource_id();
                    tx.new_id(rtype, &id);
                    id
                }
            },
        };
        if let Some(obj) = value.as_object_mut() {
            obj.insert("id".into(), Value::String(id.clone()));
        }
        self.check_id(&id)?;
        self.check_body(&value, rtype, Some(&id))?;
        let mut work = Work::default();
        let r = self
            .put_in(
                tx.as_mut(),
                caller,
                &mut work,
                rtype,
                &id,
                Body::Put(self.prepare(value)),
                if_match,
                "update",
            )
            .await?;
        self.finish(tx, work, caller).await?;
        Ok(r)
    }

    /// `PATCH /Type/id` with a JSON Patch document.
    pub async fn patch(
        &self,
        caller: &Caller,
        rtype: &str,
        id: &str,
        patch: Value,
        if_match: Option<i64>,
    ) -> Result<WriteResult> {
        self.check_type(rtype)?;
        self.check_id(id)?;
        let patch: json_patch::Patch = serde_json::from_value(patch).map_err(|e| {
            RecordError::bad_request(
                IssueCode::Structure,
                format!("the body is not a JSON Patch document: {e}"),
            )
        })?;
        let mut tx = self.store.begin().await?;
        let (prepared, version) = match self.patched(tx.as_mut(), caller, rtype, id, &patch).await {
            Err(RecordError::NotFound(what)) => {
                drop(tx);
                self.record_outcome(
                    caller,
                    Action::Update,
                    "patch",
                    "not-found",
                    &target(rtype, Some(id), ""),
                )
                .await?;
                return Err(RecordError::NotFound(what));
            }
            other => other?,
        };
        let mut work = Work::default();
        let r = self
            .put_in(
                tx.as_mut(),
                caller,
                &mut work,
                rtype,
                id,
                Body::Put(prepared),
                if_match.or(Some(version)),
                "patch",
            )
            .await?;
        self.finish(tx, work, caller).await?;
        Ok(r)
    }

    /// Reads the current version inside `tx`, applies a JSON Patch and checks the result;
    /// returns it ready to write, with the version it was patched from. Reading the current
    /// version in order to patch it is itself an access, and is decided as one.
    pub(crate) async fn patched(
        &self,
        tx: &mut dyn StoreTx,
        caller: &Caller,
        rtype: &str,
        id: &str,
        patch: &json_patch::Patch,
    ) -> Result<(Prepared, i64)> {
        let Some(stored) = tx.read(rtype, id).await?.filter(|s| !s.deleted) else {
            return Err(RecordError::NotFound(format!("{rtype}/{id}")));
        };
        self.decide(caller, Action::Read, "patch", &target_of(&stored))
            .await
            .map_err(|e| e.hiding(&format!("{rtype}/{id}")))?;
        let mut value: Value = serde_json::from_slice(&stored.body)
            .map_err(|e| RecordError::Internal(e.to_string()))?;
        json_patch::patch(&mut value, patch).map_err(|e| {
            RecordError::bad_request(
                IssueCode::Processing,
                format!("the patch cannot be applied: {e}"),
            )
        })?;
        self.check_body(&value, rtype, Some(id))?;
        Ok((self.prepare(value), stored.version))
    }

    /// `DELETE /Type/id`: a deletion version; the history keeps every earlier version.
    pub async fn delete(
        &self,
        caller: &Caller,
        rtype: &str,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<WriteResult> {
        self.check_type(rtype)?;
        self.check_id(id)?;
        let mut tx = self.store.begin().await?;
        let mut work = Work::default();
        match self
            .put_in(
                tx.as_mut(),
                caller,
                &mut work,
                rtype,
                id,
                Body::Delete,
                if_match,
                "delete",
            )
            .await
        {
            Ok(r) => {
                self.finish(tx, work, caller).await?;
                Ok(r)
            }
            Err(RecordError::NotFound(what)) => {
                drop(tx);
                self.record_outcome(
                    caller,
                    Action::Delete,
                    "delete",
                    "not-found",
                    &target(rtype, Some(id), ""),
                )
                .await?;
                Err(RecordError::NotFound(what))
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /Type?criteria`: deletes the one match (412 when several match).
    pub async fn conditional_delete(
        &self,
        caller: &Caller,
        rtype: &str,
        query: &str,
    ) -> Result<WriteResult> {
        self.check_type(rtype)?;
        let mut tx = self.store.begin().await?;
        let Some(found) = self
            .conditional_match(tx.as_mut(), caller, rtype, query, "delete")
            .await?
        else {
            return Ok(WriteResult {
                resource: None,
                created: false,
                unchanged: true,
            });
        };
        let mut work = Work::default();
        let r = self
            .put_in(
                tx.as_mut(),
                caller,
                &mut work,
                rtype,
                &found.id,
                Body::Delete,
                None,
                "delete",
            )
            .await?;
        self.finish(tx, work, caller).await?;
        Ok(r)
    }

    /// Restores exported resources (their `meta` kept, bytes unchanged) in one transaction;
    /// versions already present are skipped, so an interrupted import can simply run again.
    /// Returns, per line, the write result or the reason it was rejected.
    pub async fn restore(
        &self,
        caller: &Caller,
        lines: Vec<Vec<u8>>,
    ) -> Result<Vec<Result<WriteResult>>> {
        // Parse, check and index every line before the transaction takes the writer.
        let checked: Vec<Result<(String, String, Body)>> = lines
            .into_iter()
            .map(|bytes| {
                let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    RecordError::bad_request(IssueCode::Structure, format!("not valid JSON: {e}"))
                })?;
                let rtype = value
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.check_type(&rtype)?;
                let Some(id) = value.get("id").and_then(Value::as_str).map(str::to_string) else {
                    return Err(RecordError::bad_request(
                        IssueCode::Required,
                        "an exported resource carries its id",
                    ));
                };
                self.check_id(&id)?;
                self.check_body(&value, &rtype, Some(&id))?;
                let body = if meta::version_of(&value).is_some() {
                    Body::Restore(bytes, self.prepare(value))
                } else {
                    Body::Put(self.prepare(value))
                };
                Ok((rtype, id, body))
            })
            .collect();
        let mut tx = self.store.begin().await?;
        let mut work = Work::default();
        let mut results = Vec::with_capacity(checked.len());
        for item in checked {
            let r = match item {
                Ok((rtype, id, body)) => {
                    self.put_in(
                        tx.as_mut(),
                        caller,
                        &mut work,
                        &rtype,
                        &id,
                        body,
                        None,
                        "import",
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            if let Err(
                RecordError::LogUnavailable
                | RecordError::Unavailable(_)
                | RecordError::Internal(_),
            ) = &r
            {
                return Err(r.expect_err("checked"));
            }
            results.push(r);
        }
        self.finish(tx, work, caller).await?;
        Ok(results)
    }
}

/// Whether a stored body and a new one differ only in `meta.versionId`/`meta.lastUpdated`.
fn same_content(stored: &[u8], new: &Value) -> bool {
    let Ok(mut old) = serde_json::from_slice::<Value>(stored) else {
        return false;
    };
    let mut new = new.clone();
    for v in [&mut old, &mut new] {
        if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut) {
            meta.remove("versionId");
            meta.remove("lastUpdated");
            meta::without_changed_by(meta);
            if meta.is_empty() {
                v.as_object_mut().map(|o| o.remove("meta"));
            }
        }
    }
    old == new
}

/// A lock key for conditional interactions with the same criteria: FNV-1a, stable across
/// builds, so every server process on one database computes the same key.
fn lock_key(rtype: &str, query: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rtype.bytes().chain([0]).chain(query.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

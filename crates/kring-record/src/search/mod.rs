//! Search: planning ([`parse`]), running the plan inside the database with the caller's
//! access scope, `_include`/`_revinclude`, and one access-log entry per client whose data is
//! returned (as IHE BALP prescribes).

pub mod parse;

use std::collections::{BTreeMap, BTreeSet};

use kring_access::Action;
use kring_fhir::SearchParamType;
use kring_store::{ResourceKey, StoredResource};

pub use parse::{Include, Planned, Summary};

use crate::{target, target_of, Caller, Record, Result, Versioned};

/// How unknown parameters are treated (`Prefer: handling=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handling {
    Strict,
    #[default]
    Lenient,
}

/// A search as the caller asked for it.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub rtype: String,
    pub params: Vec<(String, String)>,
}

impl SearchRequest {
    /// From a URL query string (`a=1&b=2`, percent-encoded).
    pub fn from_query(rtype: &str, query: &str) -> Self {
        SearchRequest {
            rtype: rtype.to_string(),
            params: form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        }
    }
}

/// The result of a search, ready to be rendered as a Bundle.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    pub rtype: String,
    pub matches: Vec<Versioned>,
    pub included: Vec<Versioned>,
    pub total: Option<u64>,
    pub count: usize,
    pub offset: usize,
    pub more: bool,
    pub summary: Summary,
    pub elements: Option<Vec<String>>,
    pub ignored: Vec<String>,
    pub applied: Vec<(String, String)>,
}

impl Record {
    /// Plans a search for `caller`, with their access scope applied inside the query.
    pub(crate) fn plan(
        &self,
        caller: &Caller,
        req: &SearchRequest,
        strict: bool,
    ) -> Result<Planned> {
        self.check_type(&req.rtype)?;
        let mut planned = parse::plan(self.defs, &self.limits, &req.rtype, &req.params, strict)?;
        planned.plan.scope = self.scope_for(caller, &req.rtype, &planned.plan.filter);
        Ok(planned)
    }

    /// The clients the decision point lets the caller see now, wholly or in part (their
    /// circles, emergency accesses and sharing grants), from its memory: ids only, so that a
    /// page can ask for its parts of them at once, each through a search that is decided and
    /// logged. `None` for a caller not limited to clients (the operator).
    pub fn clients_in_view(&self, caller: &Caller) -> Option<Vec<String>> {
        let scope = self.access.search_scope(&caller.subject, "Patient")?;
        let mut ids: Vec<String> = scope.every_client().cloned().collect();
        ids.sort();
        ids.dedup();
        Some(ids)
    }

    /// The caller's scope for a search of `rtype`, with the scopes of the types its chained
    /// parameters and `_has` reach.
    pub(crate) fn scope_for(
        &self,
        caller: &Caller,
        rtype: &str,
        filter: &kring_store::search::Filter,
    ) -> Option<kring_store::search::ClientScope> {
        let mut scope = self.access.search_scope(&caller.subject, rtype)?;
        let mut types = BTreeSet::new();
        linked_types(filter, &mut types);
        for t in types {
            if let Some(s) = self.access.search_scope(&caller.subject, &t) {
                scope.linked.insert(t, s);
            }
        }
        Some(scope)
    }

    /// `GET /Type?…` and `POST /Type/_search`.
    pub async fn search(
        &self,
        caller: &Caller,
        req: &SearchRequest,
        handling: Handling,
    ) -> Result<SearchOutcome> {
        self.check_type(&req.rtype)?;
        self.check_scopes(caller, Action::Search, "search-type", &req.rtype)
            .await?;
        let planned = self.plan(caller, req, handling == Handling::Strict)?;
        let attempts = self.attempts(caller, &planned.plan).await?;
        let result = self.store.search(&planned.plan).await?;
        let matches = self.permitted(caller, result.matches);
        let included = self.includes(caller, &matches, &planned.includes).await?;
        self.log_returned(
            caller,
            Action::Search,
            "search-type",
            &req.rtype,
            &matches,
            &included,
            attempts,
        )
        .await?;
        Ok(SearchOutcome {
            rtype: req.rtype.clone(),
            matches: matches.into_iter().map(Versioned::from_stored).collect(),
            included: included.into_iter().map(Versioned::from_stored).collect(),
            total: result.total,
            count: planned.plan.count,
            offset: planned.plan.offset,
            more: result.more,
            summary: planned.summary,
            elements: planned.elements,
            ignored: planned.ignored,
            applied: planned.applied,
        })
    }

    /// Keeps the resources the decision point permits (the scope already did the work inside
    /// the query; this is the per-resource check on the way out).
    pub(crate) fn permitted(
        &self,
        caller: &Caller,
        rows: Vec<StoredResource>,
    ) -> Vec<StoredResource> {
        rows.into_iter()
            .filter(|r| {
                self.access
                    .decide(&caller.subject, Action::Read, &target_of(r))
                    .permit
            })
            .collect()
    }

    /// The clients a search names (by id, by a reference to them, or by BSN) that exist but
    /// lie wholly outside the caller's scope: each is an attempt on that client, logged as a
    /// denied access to it. The search itself answers as if they did not exist.
    async fn attempts(
        &self,
        caller: &Caller,
        plan: &kring_store::SearchPlan,
    ) -> Result<Vec<kring_audit::AccessEntry>> {
        let Some(scope) = &plan.scope else {
            return Ok(vec![]);
        };
        let (mut ids, bsns) = named_clients(self.defs, &plan.rtype, &plan.filter);
        for bsn in bsns {
            let mut p = kring_store::SearchPlan::new("Patient");
            p.count = 2;
            p.filter.all.push(kring_store::search::AnyOf {
                conds: vec![bsn_condition(&bsn)],
                negate: false,
            });
            ids.extend(
                self.store
                    .search(&p)
                    .await?
                    .matches
                    .into_iter()
                    .map(|m| m.id),
            );
        }
        ids.sort();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            let visible =
                scope.clients.contains(&id) || scope.partial.iter().any(|(cs, _)| cs.contains(&id));
            if visible || id.is_empty() {
                continue;
            }
            let exists = self
                .store
                .read("Patient", &id)
                .await?
                .is_some_and(|p| !p.deleted);
            if !exists {
                continue;
            }
            let t = target(&plan.rtype, None, &id);
            let d = self.access.decide(&caller.subject, Action::Search, &t);
            out.push(self.entry(
                caller,
                Action::Search,
                "search-type",
                "denied",
                &t,
                &d.reasons,
            ));
        }
        Ok(out)
    }

    /// Logs one entry per client whose data is returned, with the attempts on clients the
    /// caller may not see, before anything is returned.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn log_returned(
        &self,
        caller: &Caller,
        action: Action,
        interaction: &str,
        rtype: &str,
        matches: &[StoredResource],
        included: &[StoredResource],
        attempts: Vec<kring_audit::AccessEntry>,
    ) -> Result<()> {
        let mut by_client: BTreeMap<&str, Vec<&StoredResource>> = BTreeMap::new();
        for r in matches.iter().chain(included) {
            by_client.entry(r.client_key.as_str()).or_default().push(r);
        }
        let mut entries = attempts;
        if by_client.is_empty() && entries.is_empty() {
            entries.push(self.entry(
                caller,
                action,
                interaction,
                "success",
                &target(rtype, None, ""),
                &[],
            ));
        }
        for rows in by_client.into_values() {
            let mut t = target_of(rows[0]);
            let d = self.access.decide(&caller.subject, action, &t);
            t.rtype = rtype.to_string();
            t.id = Some(
                rows.iter()
                    .map(|r| format!("{}/{}", r.rtype, r.id))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            entries.push(self.entry(caller, action, interaction, "success", &t, &d.reasons));
        }
        self.record(entries).await
    }

    /// Resolves `_include` and `_revinclude` (with `:iterate` one level further).
    async fn includes(
        &self,
        caller: &Caller,
        matches: &[StoredResource],
        includes: &[Include],
    ) -> Result<Vec<StoredResource>> {
        if includes.is_empty() || matches.is_empty() {
            return Ok(vec![]);
        }
        let mut seen: BTreeSet<ResourceKey> = matches
            .iter()
            .map(|m| ResourceKey {
                rtype: m.rtype.clone(),
                id: m.id.clone(),
            })
            .collect();
        let mut out = Vec::new();
        let mut frontier: Vec<StoredResource> = matches.to_vec();
        for round in 0..2 {
            let mut found = Vec::new();
            for inc in includes.iter().filter(|i| round == 0 || i.iterate) {
                // `_include` starts from resources of its source type; `_revinclude` from the
                // resources referred to, whatever their type.
                let sources: Vec<&StoredResource> = frontier
                    .iter()
                    .filter(|r| {
                        inc.reverse || inc.source_type.is_empty() || r.rtype == inc.source_type
                    })
                    .collect();
                if sources.is_empty() {
                    continue;
                }
                let source_keys: Vec<ResourceKey> = sources
                    .iter()
                    .map(|r| ResourceKey {
                        rtype: r.rtype.clone(),
                        id: r.id.clone(),
                    })
                    .collect();
                let keys: Vec<ResourceKey> = if inc.reverse {
                    match &inc.param {
                        Some(p) => {
                            self.store
                                .referrers_to(&inc.source_type, p, &source_keys)
                                .await?
                        }
                        None => vec![],
                    }
                } else {
                    let params = match &inc.param {
                        Some(p) => vec![p.clone()],
                        None => self.reference_params(&source_keys),
                    };
                    let mut keys: Vec<ResourceKey> = self
                        .references_in(sources.iter().copied(), &params)
                        .into_iter()
                        .collect();
                    if let Some(t) = &inc.target_type {
                        keys.retain(|k| &k.rtype == t);
                    }
                    keys
                };
                found.extend(keys.into_iter().filter(|k| seen.insert(k.clone())));
            }
            if found.is_empty() {
                break;
            }
            let rows = self.permitted(caller, self.store.read_many(&found).await?);
            frontier = rows.clone();
            out.extend(rows);
        }
        Ok(out)
    }

    /// The references of `rows` under the reference parameters `params`, from their bodies by
    /// the same FHIRPath extraction that filled the index when they were written. Asking the
    /// index instead (`(res_type, res_id) = … OR …`) makes the database walk every reference
    /// of those types, as the index is ordered by type and parameter first.
    pub(crate) fn references_in<'a>(
        &self,
        rows: impl IntoIterator<Item = &'a StoredResource>,
        params: &[String],
    ) -> BTreeSet<ResourceKey> {
        let mut refs = BTreeSet::new();
        for r in rows {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
                continue;
            };
            for e in kring_fhir::index::extract(self.defs, &v) {
                if let kring_fhir::index::IndexValue::Reference {
                    target_type: Some(rtype),
                    target_id: Some(id),
                    ..
                } = e.value
                {
                    if params.contains(&e.param) {
                        refs.insert(ResourceKey { rtype, id });
                    }
                }
            }
        }
        refs
    }

    /// Every reference parameter of the types among `keys`.
    pub(crate) fn reference_params(&self, keys: &[ResourceKey]) -> Vec<String> {
        let types: BTreeSet<&str> = keys.iter().map(|k| k.rtype.as_str()).collect();
        let mut params: BTreeSet<String> = BTreeSet::new();
        for t in types {
            for p in self
                .defs
                .search_params(t)
                .iter()
                .filter(|p| p.kind == SearchParamType::Reference)
            {
                params.insert(p.code.clone());
            }
        }
        params.into_iter().collect()
    }
}

/// The clients a search names in its conditions (not negated): Patient ids (`Patient?_id=`,
/// `Observation?subject=Patient/x`, `subject:Patient._id=`) and BSNs (`Patient?identifier=
/// <bsn system>|…`, `subject:Patient.identifier=…`).
fn named_clients(
    defs: &kring_fhir::Definitions,
    rtype: &str,
    filter: &kring_store::search::Filter,
) -> (Vec<String>, Vec<String>) {
    use kring_store::search::{Cond, TokenMatch};
    let (mut ids, mut bsns) = (Vec::new(), Vec::new());
    let compartment = defs.patient_compartment_params(rtype);
    let of_patient = |c: &Cond, ids: &mut Vec<String>, bsns: &mut Vec<String>| match c {
        Cond::Id(id) => ids.push(id.clone()),
        Cond::Token {
            param,
            what: TokenMatch::SystemCode(Some(system), code),
        } if param == "identifier" && system == kring_fhir::bsn::BSN_SYSTEM => {
            bsns.push(code.clone())
        }
        _ => {}
    };
    for group in filter.all.iter().filter(|g| !g.negate) {
        for c in &group.conds {
            if rtype == "Patient" {
                of_patient(c, &mut ids, &mut bsns);
                continue;
            }
            match c {
                Cond::Reference {
                    param,
                    target_type,
                    target_id: Some(id),
                    ..
                } if compartment.contains(param)
                    && target_type.as_deref().is_none_or(|t| t == "Patient") =>
                {
                    ids.push(id.clone())
                }
                Cond::Chain {
                    param,
                    target_type,
                    inner,
                } if compartment.contains(param) && target_type == "Patient" => {
                    for g in inner.all.iter().filter(|g| !g.negate) {
                        for c in &g.conds {
                            of_patient(c, &mut ids, &mut bsns);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (ids, bsns)
}

/// The condition that finds a client by BSN.
pub(crate) fn bsn_condition(bsn: &str) -> kring_store::search::Cond {
    kring_store::search::Cond::Token {
        param: "identifier".into(),
        what: kring_store::search::TokenMatch::SystemCode(
            Some(kring_fhir::bsn::BSN_SYSTEM.into()),
            bsn.to_string(),
        ),
    }
}

/// The resource types a filter reaches through chained parameters and `_has`.
fn linked_types(filter: &kring_store::search::Filter, out: &mut BTreeSet<String>) {
    use kring_store::search::Cond;
    for group in &filter.all {
        for c in &group.conds {
            match c {
                Cond::Chain {
                    target_type, inner, ..
                } => {
                    out.insert(target_type.clone());
                    linked_types(inner, out);
                }
                Cond::Has { rtype, inner, .. } => {
                    out.insert(rtype.clone());
                    linked_types(inner, out);
                }
                _ => {}
            }
        }
    }
}

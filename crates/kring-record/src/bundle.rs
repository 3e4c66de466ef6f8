//! `batch` and `transaction` Bundles.
//!
//! A transaction is all or nothing: its writes run in one store transaction, in the order the
//! specification gives (DELETE, POST, PUT/PATCH, then GET), with `urn:uuid:` and other
//! `fullUrl` references between entries resolved to the ids the server assigns. A batch runs
//! each entry on its own; a failed entry does not affect the others.

use std::collections::HashMap;

use base64::Engine;

use kring_fhir::{Issue, IssueCode, OperationOutcome};
use serde_json::{json, Value};

use crate::search::SearchRequest;
use crate::write::{Body, Preference, Prepared};
use crate::{Caller, Handling, Record, RecordError, Result, Versioned, WriteResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    Batch,
    Transaction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Method {
    Delete,
    Post,
    Put,
    Patch,
    Get,
}

struct Entry {
    index: usize,
    method: Method,
    url: String,
    full_url: Option<String>,
    resource: Option<Value>,
    if_match: Option<i64>,
    if_none_exist: Option<String>,
}

impl Entry {
    /// The entry as its caller wrote it, for messages: `POST Observation`, `PUT Patient/1`,
    /// `DELETE Patient?…` (a query is never repeated: it may hold a BSN).
    fn what(&self) -> String {
        let method = match self.method {
            Method::Delete => "DELETE",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Get => "GET",
        };
        match self.url.split_once('?') {
            Some((path, _)) => format!("{method} {path}?…"),
            None => format!("{method} {}", self.url),
        }
    }
}

fn entry_error(index: usize, msg: impl Into<String>) -> RecordError {
    RecordError::BadRequest(OperationOutcome::single(
        Issue::error(IssueCode::Invalid, msg).at(format!("Bundle.entry[{index}]")),
    ))
}

fn parse_entries(bundle: &Value) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (index, e) in bundle
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let req = e.get("request").ok_or_else(|| {
            entry_error(
                index,
                "every entry of a batch or transaction needs a request",
            )
        })?;
        let method = match req.get("method").and_then(Value::as_str) {
            Some("DELETE") => Method::Delete,
            Some("POST") => Method::Post,
            Some("PUT") => Method::Put,
            Some("PATCH") => Method::Patch,
            Some("GET") | Some("HEAD") => Method::Get,
            _ => {
                return Err(entry_error(
                    index,
                    "request.method must be GET, HEAD, POST, PUT, PATCH or DELETE",
                ))
            }
        };
        let url = req
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| entry_error(index, "request.url is required"))?
            .trim_start_matches('/')
            .to_string();
        let if_match = match req.get("ifMatch").and_then(Value::as_str) {
            Some(tag) => Some(
                parse_etag(tag)
                    .ok_or_else(|| entry_error(index, "ifMatch must be an ETag such as W/\"3\""))?,
            ),
            None => None,
        };
        out.push(Entry {
            index,
            method,
            url,
            full_url: e.get("fullUrl").and_then(Value::as_str).map(str::to_string),
            resource: e.get("resource").cloned(),
            if_match,
            if_none_exist: req
                .get("ifNoneExist")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    Ok(out)
}

/// `W/"3"` or `"3"` or `3` → 3.
pub fn parse_etag(tag: &str) -> Option<i64> {
    tag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()
}

/// Replaces every `reference` that names a `fullUrl` of the Bundle with the local reference.
fn rewrite_references(v: &mut Value, map: &HashMap<String, String>) {
    match v {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get_mut("reference") {
                if let Some(new) = map.get(r.as_str()) {
                    *r = new.clone();
                }
            }
            for (_, child) in obj.iter_mut() {
                rewrite_references(child, map);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| rewrite_references(c, map)),
        _ => {}
    }
}

/// Collects references of the form `Type?search`.
fn conditional_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get("reference") {
                if let Some((t, q)) = r.split_once('?') {
                    if !t.is_empty() && !q.is_empty() && t.bytes().all(|b| b.is_ascii_alphabetic())
                    {
                        out.push(r.clone());
                    }
                }
            }
            obj.values().for_each(|c| conditional_references(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| conditional_references(c, out)),
        _ => {}
    }
}

fn unresolved_urn(v: &Value) -> Option<String> {
    match v {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get("reference") {
                if r.starts_with("urn:uuid:") || r.starts_with("urn:oid:") {
                    return Some(r.clone());
                }
            }
            obj.values().find_map(unresolved_urn)
        }
        Value::Array(a) => a.iter().find_map(unresolved_urn),
        _ => None,
    }
}

fn split_url(url: &str) -> (String, Option<String>, Option<String>) {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (url, None),
    };
    let mut parts = path.split('/');
    let t = parts.next().unwrap_or("").to_string();
    let id = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
    (t, id, query)
}

fn status_line(code: u16) -> &'static str {
    match code {
        200 => "200 OK",
        201 => "201 Created",
        204 => "204 No Content",
        400 => "400 Bad Request",
        403 => "403 Forbidden",
        404 => "404 Not Found",
        409 => "409 Conflict",
        410 => "410 Gone",
        412 => "412 Precondition Failed",
        422 => "422 Unprocessable Entity",
        503 => "503 Service Unavailable",
        _ => "500 Internal Server Error",
    }
}

fn resource_json(v: &Versioned) -> Value {
    serde_json::from_slice(&v.body).unwrap_or(Value::Null)
}

fn write_response(r: &WriteResult, pref: Preference) -> Value {
    let status = if r.created {
        201
    } else if r.resource.is_none() {
        204
    } else {
        200
    };
    let mut resp = json!({"status": status_line(status)});
    let mut entry = json!({});
    if let Some(v) = &r.resource {
        resp["location"] = json!(v.versioned_path());
        resp["etag"] = json!(v.etag());
        resp["lastModified"] = json!(kring_fhir::datetime::format_instant(v.last_updated));
        if pref == Preference::Representation {
            entry["resource"] = resource_json(v);
        }
    }
    if r.unchanged {
        resp["outcome"] =
            kring_fhir::OperationOutcome::single(Issue::information("unchanged")).to_json();
    }
    entry["response"] = resp;
    entry
}

fn error_response(e: &RecordError) -> Value {
    json!({"response": {"status": status_line(e.status()), "outcome": e.outcome().to_json()}})
}

impl Record {
    /// Processes a `batch` or `transaction` Bundle and returns the response Bundle.
    pub async fn process_bundle(
        &self,
        caller: &Caller,
        bundle: Value,
        base: &str,
        pref: Preference,
    ) -> Result<Value> {
        if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Err(RecordError::bad_request(
                IssueCode::Invalid,
                "POST to the base URL takes a Bundle of type batch or transaction",
            ));
        }
        let kind = match bundle.get("type").and_then(Value::as_str) {
            Some("transaction") => BundleKind::Transaction,
            Some("batch") => BundleKind::Batch,
            _ => {
                return Err(RecordError::BadRequest(OperationOutcome::single(
                    Issue::error(
                        IssueCode::Invalid,
                        "the Bundle type must be batch or transaction",
                    )
                    .at("Bundle.type"),
                )))
            }
        };
        let entries = parse_entries(&bundle)?;
        let responses = match kind {
            BundleKind::Transaction => self.transaction(caller, entries, base, pref).await?,
            BundleKind::Batch => self.batch(caller, entries, base, pref).await,
        };
        Ok(json!({
            "resourceType": "Bundle",
            "id": uuid::Uuid::new_v4().to_string(),
            "type": if kind == BundleKind::Transaction { "transaction-response" } else { "batch-response" },
            "entry": responses,
        }))
    }

    async fn run_get(&self, caller: &Caller, url: &str, base: &str) -> Result<Value> {
        let (t, id, query) = split_url(url);
        match id {
            Some(id) => {
                let v = self.read(caller, &t, &id).await?;
                Ok(
                    json!({"resource": resource_json(&v), "response": {"status": "200 OK", "etag": v.etag()}}),
                )
            }
            None => {
                let req = SearchRequest::from_query(&t, query.as_deref().unwrap_or(""));
                let out = self.search(caller, &req, Handling::Lenient).await?;
                let bytes = crate::output::search_bundle(self.defs, base, &t, &out);
                Ok(
                    json!({"resource": serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null), "response": {"status": "200 OK"}}),
                )
            }
        }
    }

    async fn batch(
        &self,
        caller: &Caller,
        entries: Vec<Entry>,
        base: &str,
        pref: Preference,
    ) -> Vec<Value> {
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let (t, id, query) = split_url(&e.url);
            let r: Result<Value> = async {
                match e.method {
                    Method::Get => self.run_get(caller, &e.url, base).await,
                    Method::Post => {
                        let body = e
                            .resource
                            .ok_or_else(|| entry_error(e.index, "a POST entry needs a resource"))?;
                        Ok(write_response(
                            &self
                                .create(caller, &t, body, e.if_none_exist.as_deref())
                                .await?,
                            pref,
                        ))
                    }
                    Method::Put => {
                        let body = e
                            .resource
                            .ok_or_else(|| entry_error(e.index, "a PUT entry needs a resource"))?;
                        match (id, query) {
                            (Some(id), _) => Ok(write_response(
                                &self.update(caller, &t, &id, body, e.if_match).await?,
                                pref,
                            )),
                            (None, Some(q)) => Ok(write_response(
                                &self
                                    .conditional_update(caller, &t, &q, body, e.if_match)
                                    .await?,
                                pref,
                            )),
                            _ => Err(entry_error(
                                e.index,
                                "a PUT entry needs Type/id or Type?criteria",
                            )),
                        }
                    }
                    Method::Patch => {
                        let id =
                            id.ok_or_else(|| entry_error(e.index, "a PATCH entry needs Type/id"))?;
                        let patch = patch_document(e.resource, e.index)?;
                        Ok(write_response(
                            &self.patch(caller, &t, &id, patch, e.if_match).await?,
                            pref,
                        ))
                    }
                    Method::Delete => match (id, query) {
                        (Some(id), _) => Ok(write_response(
                            &self.delete(caller, &t, &id, e.if_match).await?,
                            pref,
                        )),
                        (None, Some(q)) => Ok(write_response(
                            &self.conditional_delete(caller, &t, &q).await?,
                            pref,
                        )),
                        _ => Err(entry_error(
                            e.index,
                            "a DELETE entry needs Type/id or Type?criteria",
                        )),
                    },
                }
            }
            .await;
            out.push(r.unwrap_or_else(|e| error_response(&e)));
        }
        out
    }

    async fn transaction(
        &self,
        caller: &Caller,
        mut entries: Vec<Entry>,
        base: &str,
        pref: Preference,
    ) -> Result<Vec<Value>> {
        // Conditional entries need the transaction from the start; otherwise it begins only
        // after every resource is checked and indexed, so that work does not hold the writer.
        let conditional_refs: Vec<String> = {
            let mut refs = Vec::new();
            for e in &entries {
                if let Some(r) = &e.resource {
                    conditional_references(r, &mut refs);
                }
            }
            refs.sort();
            refs.dedup();
            refs
        };
        let conditional = !conditional_refs.is_empty()
            || entries.iter().any(|e| {
                e.if_none_exist.is_some() || (e.method != Method::Get && e.url.contains('?'))
            });
        let mut early_tx = if conditional {
            Some(self.store.begin().await?)
        } else {
            None
        };
        // 1. Resolve ids: POSTs get new ids (or the match of their ifNoneExist), PUTs keep theirs.
        let mut id_map: HashMap<String, String> = HashMap::new();
        let mut assigned: HashMap<usize, (String, bool)> = HashMap::new(); // index → (id, matched existing)
        for e in entries.iter() {
            let (t, id, query) = split_url(&e.url);
            if e.method != Method::Get && e.method != Method::Delete {
                self.check_type(&t)
                    .map_err(|err| err.at_entry(e.index, &e.what()))?;
            }
            let resolved = match e.method {
                Method::Post => {
                    if let Some(q) = &e.if_none_exist {
                        match self
                            .conditional_match(
                                early_tx
                                    .as_mut()
                                    .expect("begun for conditional entries")
                                    .as_mut(),
                                caller,
                                &t,
                                q,
                                "create",
                            )
                            .await
                            .map_err(|err| err.at_entry(e.index, &e.what()))?
                        {
                            Some(found) => Some((found.id, true)),
                            None => Some((crate::ids::new_resource_id(), false)),
                        }
                    } else {
                        Some((crate::ids::new_resource_id(), false))
                    }
                }
                Method::Put => match (id, query) {
                    (Some(id), _) => Some((id, false)),
                    (None, Some(q)) => match self
                        .conditional_match(
                            early_tx
                                .as_mut()
                                .expect("begun for conditional entries")
                                .as_mut(),
                            caller,
                            &t,
                            &q,
                            "update",
                        )
                        .await
                        .map_err(|err| err.at_entry(e.index, &e.what()))?
                    {
                        Some(found) => Some((found.id, false)),
                        None => Some((
                            e.resource
                                .as_ref()
                                .and_then(|r| r.get("id"))
                                .and_then(Value::as_str)
                                .map(str::to_string)
                                .unwrap_or_else(crate::ids::new_resource_id),
                            false,
                        )),
                    },
                    _ => {
                        return Err(entry_error(
                            e.index,
                            "a PUT entry needs Type/id or Type?criteria",
                        ))
                    }
                },
                _ => None,
            };
            if let Some((id, matched)) = resolved {
                if let Some(full) = &e.full_url {
                    id_map.insert(full.clone(), format!("{t}/{id}"));
                }
                assigned.insert(e.index, (id, matched));
            }
        }
        // 2. Resolve conditional references (`Patient?identifier=…`) by search: exactly one
        //    match, or the transaction fails. Then rewrite references between entries.
        for r in &conditional_refs {
            let (t, q) = r
                .split_once('?')
                .expect("a conditional reference has a query");
            let tx = early_tx
                .as_mut()
                .expect("begun for conditional references")
                .as_mut();
            let found = self
                .conditional_match(tx, caller, t, q, "reference")
                .await?;
            let Some(found) = found else {
                let msg = format!(
                    "the conditional reference to a {t} matches no resource; nothing was written"
                );
                return Err(RecordError::PreconditionFailed(msg));
            };
            id_map.insert(r.clone(), format!("{t}/{}", found.id));
        }
        for e in entries.iter_mut() {
            if let Some(r) = e.resource.as_mut() {
                rewrite_references(r, &id_map);
                if e.method != Method::Patch {
                    if let Some(urn) = unresolved_urn(r) {
                        return Err(entry_error(
                            e.index,
                            format!("the reference {urn} names no entry of this transaction"),
                        ));
                    }
                }
            }
        }
        // Check and index every created or updated resource before writing any.
        let mut prepared: HashMap<usize, Prepared> = HashMap::new();
        for e in entries
            .iter()
            .filter(|e| matches!(e.method, Method::Post | Method::Put))
        {
            let (id, matched) = assigned
                .get(&e.index)
                .cloned()
                .expect("ids were assigned above");
            if matched {
                continue;
            }
            let (t, _, _) = split_url(&e.url);
            let mut body = e
                .resource
                .clone()
                .ok_or_else(|| entry_error(e.index, "a POST or PUT entry needs a resource"))?;
            if let Some(obj) = body.as_object_mut() {
                obj.insert("id".into(), Value::String(id.clone()));
            }
            self.check_id(&id)
                .map_err(|err| err.at_entry(e.index, &e.what()))?;
            self.check_body(&body, &t, Some(&id))
                .map_err(|err| err.at_entry(e.index, &e.what()))?;
            prepared.insert(e.index, self.prepare(body));
        }
        let mut tx = match early_tx {
            Some(tx) => tx,
            None => self.store.begin().await?,
        };
        // The current versions of everything the Bundle writes, in one go.
        let keys: Vec<(String, String)> = entries
            .iter()
            .filter_map(|e| {
                let (t, id, _) = split_url(&e.url);
                match e.method {
                    Method::Post | Method::Put => {
                        assigned.get(&e.index).map(|(id, _)| (t, id.clone()))
                    }
                    Method::Delete => id.map(|id| (t, id)),
                    _ => None,
                }
            })
            .collect();
        tx.prefetch(&keys).await?;
        // 3. Writes, in the order the specification gives.
        // Within one method, what the decision watches goes first: a client registered, its
        // circle, roles, parents and consents are then known when the entries about that
        // client are decided.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|i| {
            let e = &entries[*i];
            (e.method, decision_rank(&split_url(&e.url).0), *i)
        });
        let mut log = crate::write::Work::default();
        let mut responses: Vec<Option<Value>> = vec![None; entries.len()];
        for i in order.iter().copied() {
            let e = &entries[i];
            let (t, id, query) = split_url(&e.url);
            let written: Option<WriteResult> = match e.method {
                Method::Get => None,
                Method::Delete => {
                    let id = match (id, query) {
                        (Some(id), _) => Some(id),
                        (None, Some(q)) => self
                            .conditional_match(tx.as_mut(), caller, &t, &q, "delete")
                            .await
                            .map_err(|err| err.at_entry(e.index, &e.what()))?
                            .map(|v| v.id),
                        _ => {
                            return Err(entry_error(
                                e.index,
                                "a DELETE entry needs Type/id or Type?criteria",
                            ))
                        }
                    };
                    match id {
                        Some(id) => match self
                            .put_in(
                                tx.as_mut(),
                                caller,
                                &mut log,
                                &t,
                                &id,
                                Body::Delete,
                                e.if_match,
                                "delete",
                            )
                            .await
                        {
                            Ok(r) => Some(r),
                            Err(RecordError::NotFound(_)) => Some(WriteResult {
                                resource: None,
                                created: false,
                                unchanged: true,
                            }),
                            Err(err) => return Err(err.at_entry(e.index, &e.what())),
                        },
                        None => Some(WriteResult {
                            resource: None,
                            created: false,
                            unchanged: true,
                        }),
                    }
                }
                Method::Post | Method::Put => {
                    let (id, matched) = assigned
                        .get(&e.index)
                        .cloned()
                        .expect("ids were assigned above");
                    if matched {
                        let v = tx.read(&t, &id).await?.map(Versioned::from_stored);
                        Some(WriteResult {
                            resource: v,
                            created: false,
                            unchanged: true,
                        })
                    } else {
                        let body = prepared.remove(&e.index).expect("prepared above");
                        let interaction = if e.method == Method::Post {
                            "create"
                        } else {
                            "update"
                        };
                        Some(
                            self.put_in(
                                tx.as_mut(),
                                caller,
                                &mut log,
                                &t,
                                &id,
                                Body::Put(body),
                                e.if_match,
                                interaction,
                            )
                            .await
                            .map_err(|err| err.at_entry(e.index, &e.what()))?,
                        )
                    }
                }
                Method::Patch => {
                    let id =
                        id.ok_or_else(|| entry_error(e.index, "a PATCH entry needs Type/id"))?;
                    let patch: json_patch::Patch =
                        serde_json::from_value(patch_document(e.resource.clone(), e.index)?)
                            .map_err(|err| {
                                entry_error(e.index, format!("not a JSON Patch document: {err}"))
                            })?;
                    let (prepared, version) = self
                        .patched(tx.as_mut(), caller, &t, &id, &patch)
                        .await
                        .map_err(|err| err.at_entry(e.index, &e.what()))?;
                    Some(
                        self.put_in(
                            tx.as_mut(),
                            caller,
                            &mut log,
                            &t,
                            &id,
                            Body::Put(prepared),
                            e.if_match.or(Some(version)),
                            "patch",
                        )
                        .await
                        .map_err(|err| err.at_entry(e.index, &e.what()))?,
                    )
                }
            };
            if let Some(w) = written {
                let mut resp = write_response(&w, pref);
                if w.unchanged && e.method == Method::Post {
                    resp["response"]["status"] = json!("200 OK");
                }
                responses[i] = Some(resp);
            }
        }
        self.finish(tx, log, caller).await?;
        // 4. Reads, after the writes.
        for i in order {
            if entries[i].method == Method::Get {
                responses[i] = Some(
                    self.run_get(caller, &entries[i].url, base)
                        .await
                        .unwrap_or_else(|e| error_response(&e)),
                );
            }
        }
        Ok(responses
            .into_iter()
            .map(|r| r.unwrap_or(Value::Null))
            .collect())
    }
}

/// Where a type's writes go among those of one method: the facts the decision point weighs
/// (clients, roles, parents, circles, consents) before the data decided on them.
fn decision_rank(rtype: &str) -> u8 {
    match rtype {
        "Patient" => 0,
        "PractitionerRole" => 1,
        "RelatedPerson" => 2,
        "CareTeam" => 3,
        "Consent" => 4,
        _ => 5,
    }
}

/// A PATCH entry carries its JSON Patch as a Binary resource (base64 data) or directly as an
/// array.
fn patch_document(resource: Option<Value>, index: usize) -> Result<Value> {
    match resource {
        Some(Value::Array(a)) => Ok(Value::Array(a)),
        Some(r) if r.get("resourceType").and_then(Value::as_str) == Some("Binary") => {
            let data = r
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| entry_error(index, "the Binary has no data"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|_| entry_error(index, "the Binary data is not base64"))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| entry_error(index, format!("the Binary data is not JSON: {e}")))
        }
        _ => Err(entry_error(
            index,
            "a PATCH entry needs a JSON Patch, as a Binary resource",
        )),
    }
}

//! Rendering results as FHIR JSON: search and history Bundles (written around the exact stored
//! bytes, never re-serialising a resource), `_summary` and `_elements` subsets, and `_pretty`.

use std::io::Write;

use kring_fhir::Definitions;
use serde_json::{Map, Value};

use crate::history::HistoryPage;
use crate::search::{SearchOutcome, Summary};
use crate::Versioned;

fn push_str(buf: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *buf, s).expect("a string serialises");
}

fn bundle_head(buf: &mut Vec<u8>, kind: &str, total: Option<u64>) {
    buf.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"id\":");
    push_str(buf, &uuid::Uuid::new_v4().to_string());
    buf.extend_from_slice(b",\"meta\":{\"lastUpdated\":");
    push_str(
        buf,
        &kring_fhir::datetime::format_instant(kring_fhir::datetime::now_ms()),
    );
    buf.extend_from_slice(b"},\"type\":");
    push_str(buf, kind);
    if let Some(t) = total {
        write!(buf, ",\"total\":{t}").expect("write to Vec");
    }
}

fn links(buf: &mut Vec<u8>, links: &[(&str, String)]) {
    buf.extend_from_slice(b",\"link\":[");
    for (i, (rel, url)) in links.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"relation\":");
        push_str(buf, rel);
        buf.extend_from_slice(b",\"url\":");
        push_str(buf, url);
        buf.push(b'}');
    }
    buf.push(b']');
}

fn page_url(
    base: &str,
    path: &str,
    applied: &[(String, String)],
    count: usize,
    offset: usize,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in applied {
        q.append_pair(k, v);
    }
    q.append_pair("_count", &count.to_string());
    q.append_pair("_offset", &offset.to_string());
    format!("{base}/{path}?{}", q.finish())
}

/// A `searchset` Bundle.
pub fn search_bundle(defs: &Definitions, base: &str, path: &str, out: &SearchOutcome) -> Vec<u8> {
    let mut buf = Vec::with_capacity(
        1024 + out
            .matches
            .iter()
            .map(|m| m.body.len() + 128)
            .sum::<usize>(),
    );
    bundle_head(&mut buf, "searchset", out.total);
    let count = out.count.max(1);
    let mut l = vec![(
        "self",
        page_url(base, path, &out.applied, out.count, out.offset),
    )];
    if out.count > 0 {
        l.push(("first", page_url(base, path, &out.applied, out.count, 0)));
        if out.offset > 0 {
            l.push((
                "previous",
                page_url(
                    base,
                    path,
                    &out.applied,
                    out.count,
                    out.offset.saturating_sub(count),
                ),
            ));
        }
        if out.more {
            l.push((
                "next",
                page_url(base, path, &out.applied, out.count, out.offset + count),
            ));
        }
    }
    links(&mut buf, &l);
    let mut entries: Vec<(&Versioned, &str)> = out.matches.iter().map(|m| (m, "match")).collect();
    entries.extend(out.included.iter().map(|m| (m, "include")));
    let has_outcome = !out.ignored.is_empty();
    if !entries.is_empty() || has_outcome {
        buf.extend_from_slice(b",\"entry\":[");
        let mut first = true;
        for (v, mode) in entries {
            if !std::mem::take(&mut first) {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"fullUrl\":");
            push_str(&mut buf, &format!("{base}/{}/{}", v.rtype, v.id));
            buf.extend_from_slice(b",\"resource\":");
            if out.summary == Summary::False && out.elements.is_none() {
                buf.extend_from_slice(&v.body);
            } else {
                buf.extend_from_slice(&subset(defs, &v.body, out.summary, out.elements.as_deref()));
            }
            buf.extend_from_slice(b",\"search\":{\"mode\":");
            push_str(&mut buf, mode);
            buf.extend_from_slice(b"}}");
        }
        if has_outcome {
            if !first {
                buf.push(b',');
            }
            let oo = kring_fhir::OperationOutcome::single(kring_fhir::Issue::warning(
                kring_fhir::IssueCode::NotSupported,
                format!(
                    "these search parameters are not known and were ignored: {}",
                    out.ignored.join(", ")
                ),
            ));
            buf.extend_from_slice(b"{\"resource\":");
            serde_json::to_writer(&mut buf, &oo.to_json()).expect("serialises");
            buf.extend_from_slice(b",\"search\":{\"mode\":\"outcome\"}}");
        }
        buf.push(b']');
    }
    buf.push(b'}');
    buf
}

/// A `history` Bundle.
pub fn history_bundle(base: &str, path: &str, page: &HistoryPage) -> Vec<u8> {
    let mut buf = Vec::with_capacity(
        1024 + page
            .entries
            .iter()
            .map(|e| e.version.body.len() + 256)
            .sum::<usize>(),
    );
    bundle_head(&mut buf, "history", None);
    let mut l = vec![("self", page_url(base, path, &[], page.count, page.offset))];
    if page.more {
        l.push((
            "next",
            page_url(base, path, &[], page.count, page.offset + page.count.max(1)),
        ));
    }
    if page.offset > 0 {
        l.push((
            "previous",
            page_url(
                base,
                path,
                &[],
                page.count,
                page.offset.saturating_sub(page.count.max(1)),
            ),
        ));
    }
    links(&mut buf, &l);
    if !page.entries.is_empty() {
        buf.extend_from_slice(b",\"entry\":[");
        for (i, e) in page.entries.iter().enumerate() {
            let v = &e.version;
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"fullUrl\":");
            push_str(&mut buf, &format!("{base}/{}/{}", v.rtype, v.id));
            if !e.deleted {
                buf.extend_from_slice(b",\"resource\":");
                buf.extend_from_slice(&v.body);
            }
            let (method, url, status) = if e.deleted {
                ("DELETE", format!("{}/{}", v.rtype, v.id), "204 No Content")
            } else if v.version == 1 {
                ("POST", v.rtype.clone(), "201 Created")
            } else {
                ("PUT", format!("{}/{}", v.rtype, v.id), "200 OK")
            };
            buf.extend_from_slice(b",\"request\":{\"method\":");
            push_str(&mut buf, method);
            buf.extend_from_slice(b",\"url\":");
            push_str(&mut buf, &url);
            buf.extend_from_slice(b"},\"response\":{\"status\":");
            push_str(&mut buf, status);
            buf.extend_from_slice(b",\"etag\":");
            push_str(&mut buf, &v.etag());
            buf.extend_from_slice(b",\"lastModified\":");
            push_str(
                &mut buf,
                &kring_fhir::datetime::format_instant(v.last_updated),
            );
            buf.extend_from_slice(b"}}");
        }
        buf.push(b']');
    }
    buf.push(b'}');
    buf
}

/// The subset of a resource that `_summary` or `_elements` asks for, marked `SUBSETTED`.
pub fn subset(
    defs: &Definitions,
    body: &[u8],
    summary: Summary,
    elements: Option<&[String]>,
) -> Vec<u8> {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    let rtype = obj
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let keep = |key: &str| -> bool {
        if matches!(key, "resourceType" | "id" | "meta") {
            return true;
        }
        let base = defs
            .children(&rtype)
            .iter()
            .find(|n| {
                n.as_str() == key || n.strip_suffix("[x]").is_some_and(|b| key.starts_with(b))
            })
            .cloned();
        let el = base
            .as_ref()
            .and_then(|n| defs.element(&format!("{rtype}.{n}")));
        if let Some(list) = elements {
            let name = base
                .as_deref()
                .map(|n| n.trim_end_matches("[x]"))
                .unwrap_or(key);
            return list.iter().any(|e| e == name || e == key) || el.is_some_and(|e| e.min > 0);
        }
        match summary {
            Summary::True => el.is_some_and(|e| e.summary),
            Summary::Text => key == "text" || el.is_some_and(|e| e.min > 0),
            Summary::Data => key != "text",
            _ => true,
        }
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if keep(&k) {
            out.insert(k, v);
        }
    }
    let meta = out
        .entry("meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = meta {
        let tags = m.entry("tag").or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(a) = tags {
            a.push(serde_json::json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}));
        }
    }
    serde_json::to_vec(&Value::Object(out)).unwrap_or_else(|_| body.to_vec())
}

/// Re-indents JSON for `_pretty=true`.
pub fn pretty(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => serde_json::to_vec_pretty(&v).unwrap_or_else(|_| body.to_vec()),
        Err(_) => body.to_vec(),
    }
}

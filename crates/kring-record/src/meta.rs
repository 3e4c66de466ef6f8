//! Stamping `id`, `meta.versionId`, `meta.lastUpdated` and who made the version onto a resource
//! before it is stored.

/// The extension on `meta` that names who made a version (`PractitionerRole/…`, `Patient/…`,
/// `RelatedPerson/…`, or the `Organization/…` of a partner system): every version says who
/// changed it, so a history shows who changed what, when.
pub const CHANGED_BY: &str = "https://kring.example/fhir/StructureDefinition/changed-by";

use serde_json::{Map, Value};

/// Sets id and version metadata — and, when given, who made this version — placing
/// `resourceType`, `id` and `meta` first, and returns the exact bytes to store.
pub fn stamp(
    value: Value,
    id: &str,
    version: i64,
    last_updated: i64,
    changed_by: Option<&str>,
) -> Vec<u8> {
    let Value::Object(mut obj) = value else {
        return Vec::new();
    };
    let mut out = Map::new();
    if let Some(rt) = obj.shift_remove("resourceType") {
        out.insert("resourceType".into(), rt);
    }
    obj.shift_remove("id");
    out.insert("id".into(), Value::String(id.to_string()));
    let mut meta = match obj.shift_remove("meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.shift_remove("versionId");
    meta.shift_remove("lastUpdated");
    // Who made an earlier version is not who makes this one; a caller cannot name someone
    // else.
    without_changed_by(&mut meta);
    let mut new_meta = Map::new();
    new_meta.insert("versionId".into(), Value::String(version.to_string()));
    new_meta.insert(
        "lastUpdated".into(),
        Value::String(kring_fhir::datetime::format_instant(last_updated)),
    );
    if let Some(who) = changed_by {
        let mut ext = match meta.shift_remove("extension") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        ext.push(serde_json::json!({"url": CHANGED_BY, "valueReference": {"reference": who}}));
        meta.insert("extension".into(), Value::Array(ext));
    }
    new_meta.extend(meta);
    out.insert("meta".into(), Value::Object(new_meta));
    out.extend(obj);
    serde_json::to_vec(&Value::Object(out)).unwrap_or_default()
}

/// `meta.versionId` and `meta.lastUpdated` (ms) of a resource, when both are present and valid.
pub fn version_of(value: &Value) -> Option<(i64, i64)> {
    let meta = value.get("meta")?;
    let v = meta.get("versionId")?.as_str()?.parse().ok()?;
    let t = kring_fhir::datetime::parse_range(meta.get("lastUpdated")?.as_str()?)?.low;
    Some((v, t))
}

/// Removes the changed-by extension from a `meta` object (and `extension` when it empties).
pub fn without_changed_by(meta: &mut Map<String, Value>) {
    if let Some(Value::Array(ext)) = meta.get_mut("extension") {
        ext.retain(|e| e["url"] != CHANGED_BY);
        if ext.is_empty() {
            meta.shift_remove("extension");
        }
    }
}

/// Who made a stored version, from its `meta` (see [`CHANGED_BY`]).
pub fn changed_by(value: &Value) -> Option<&str> {
    value["meta"]["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == CHANGED_BY)?["valueReference"]["reference"]
        .as_str()
}

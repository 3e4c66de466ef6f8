//! Stamping `id`, `meta.versionId` and `meta.lastUpdated` onto a resource before it is stored.

use serde_json::{Map, Value};

/// Sets id and version metadata, placing `resourceType`, `id` and `meta` first, and returns the
/// exact bytes to store.
pub fn stamp(value: Value, id: &str, version: i64, last_updated: i64) -> Vec<u8> {
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
    let mut new_meta = Map::new();
    new_meta.insert("versionId".into(), Value::String(version.to_string()));
    new_meta.insert(
        "lastUpdated".into(),
        Value::String(kring_fhir::datetime::format_instant(last_updated)),
    );
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

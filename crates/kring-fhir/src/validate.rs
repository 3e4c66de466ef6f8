//! Validation of a resource against the R4 StructureDefinitions.
//!
//! Checks element names, JSON and FHIR data types, cardinality, required bindings, the form of
//! references, and the eleven test of every BSN. Each problem is an [`Issue`] whose expression
//! names the element (`Patient.birthDate`, `Patient.identifier[0].value`). Values never appear in
//! diagnostics, so a rejected BSN is not echoed back.

use serde_json::{Map, Value};

use crate::bsn::{passes_eleven_test, BSN_SYSTEM};
use crate::datetime;
use crate::definitions::{Definitions, ElementDef};
use crate::outcome::{Issue, IssueCode};
use crate::reference::{self, Reference};

/// Validates a resource; an empty result means it is valid.
pub fn validate(defs: &Definitions, resource: &Value) -> Vec<Issue> {
    let mut v = Validator {
        defs,
        issues: Vec::new(),
    };
    v.resource(resource, None);
    v.issues
}

struct Validator<'d> {
    defs: &'d Definitions,
    issues: Vec<Issue>,
}

/// Whether `suffix` is the type `code` with its first letter in capitals (`valueQuantity`
/// carries a `Quantity`, `valueString` a `string`).
fn is_capitalized(code: &str, suffix: &str) -> bool {
    let mut c = code.chars();
    match c.next() {
        Some(f) => {
            let mut s = suffix.chars();
            s.next()
                .is_some_and(|g| f.to_uppercase().eq(std::iter::once(g)))
                && s.as_str() == c.as_str()
        }
        None => suffix.is_empty(),
    }
}

/// Appends `[i]` to a path.
fn push_index(at: &mut String, i: usize) {
    use std::fmt::Write;
    let _ = write!(at, "[{i}]");
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'d> Validator<'d> {
    fn err(&mut self, code: IssueCode, at: &str, msg: impl Into<String>) {
        self.issues.push(Issue::error(code, msg).at(at));
    }

    fn resource(&mut self, v: &Value, at: Option<&str>) {
        let Some(obj) = v.as_object() else {
            self.err(
                IssueCode::Structure,
                at.unwrap_or("Resource"),
                format!("a resource must be a JSON object, not {}", json_kind(v)),
            );
            return;
        };
        let Some(rt) = obj.get("resourceType").and_then(Value::as_str) else {
            self.err(
                IssueCode::Required,
                at.unwrap_or("Resource"),
                "the resource has no resourceType",
            );
            return;
        };
        if !self.defs.is_resource_type(rt) {
            self.err(
                IssueCode::NotSupported,
                at.unwrap_or("Resource"),
                format!("'{rt}' is not a FHIR R4 resource type"),
            );
            return;
        }
        let mut path = at.map(str::to_string).unwrap_or_else(|| rt.to_string());
        self.object(rt, obj, &mut path, true);
    }

    /// Validates the members of an object whose definition lives at `def_path`. `at` is the
    /// object's path; it grows by a member's name while that member is checked, so that a path
    /// is written out only for an issue, and is as it was on return.
    fn object(
        &mut self,
        def_path: &str,
        obj: &Map<String, Value>,
        at: &mut String,
        is_resource: bool,
    ) {
        let defs = self.defs;
        let names = defs.children(def_path);
        let mut choices_seen: Vec<&'d str> = Vec::new();
        let len = at.len();
        for (key, val) in obj {
            if is_resource && key == "resourceType" {
                continue;
            }
            if key == "fhir_comments" {
                continue;
            }
            self.member(def_path, names, obj, (key, val), at, &mut choices_seen);
            at.truncate(len);
        }
        for (name, min) in defs.required_children(def_path) {
            let present = if let Some(base) = name.strip_suffix("[x]") {
                obj.keys().any(|k| {
                    k.strip_prefix(base)
                        .is_some_and(|s| s.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
                })
            } else {
                obj.contains_key(name.as_str()) || obj.contains_key(&format!("_{name}"))
            };
            if !present {
                let n = name.trim_end_matches("[x]");
                at.push('.');
                at.push_str(n);
                self.err(
                    IssueCode::Required,
                    at,
                    format!("'{n}' is required (minimum cardinality {min})"),
                );
                at.truncate(len);
            }
        }
    }

    /// Validates one member `key` of `obj` (at `at`, which it may leave longer).
    fn member(
        &mut self,
        def_path: &str,
        names: &[String],
        obj: &Map<String, Value>,
        (key, val): (&String, &Value),
        at: &mut String,
        choices_seen: &mut Vec<&'d str>,
    ) {
        let (base_key, primitive_ext) = match key.strip_prefix('_') {
            Some(k) => (k, true),
            None => (key.as_str(), false),
        };
        let Some((el, code)) = self.find_element(def_path, names, base_key) else {
            at.push('.');
            at.push_str(key);
            self.err(IssueCode::Structure, at, format!("unknown element '{key}'"));
            return;
        };
        at.push('.');
        if el.is_choice() && !primitive_ext {
            if choices_seen.contains(&el.path.as_str()) {
                at.push_str(base_key);
                self.err(
                    IssueCode::Structure,
                    at,
                    format!("only one type of '{}' may be given", el.name()),
                );
                return;
            }
            choices_seen.push(&el.path);
        }
        if primitive_ext {
            // `_name`: the id/extensions of a primitive (an array of them for repeating ones).
            at.push_str(key);
            let key_len = at.len();
            let items: Vec<&Value> = match val {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for (i, it) in items.into_iter().enumerate() {
                match it {
                    Value::Null => {}
                    Value::Object(m) => {
                        push_index(at, i);
                        self.object("Element", m, at, false);
                        at.truncate(key_len);
                    }
                    other => self.err(
                        IssueCode::Structure,
                        at,
                        format!("must be an object, not {}", json_kind(other)),
                    ),
                }
            }
            return;
        }
        at.push_str(base_key);
        match val {
            Value::Array(items) => {
                if !el.is_array() {
                    self.err(
                        IssueCode::Structure,
                        at,
                        format!("'{base_key}' has at most one value; it must not be an array"),
                    );
                    return;
                }
                if items.is_empty() {
                    self.err(IssueCode::Structure, at, "an array must not be empty");
                }
                if let Some(max) = el.max {
                    if items.len() > max as usize {
                        self.err(
                            IssueCode::Structure,
                            at,
                            format!("at most {max} values are allowed"),
                        );
                    }
                }
                let child_len = at.len();
                for (i, it) in items.iter().enumerate() {
                    // A null item is allowed where `_key` gives that item its id/extensions.
                    if it.is_null()
                        && obj
                            .get(&format!("_{key}"))
                            .and_then(Value::as_array)
                            .is_some_and(|e| e.get(i).is_some_and(|x| !x.is_null()))
                    {
                        continue;
                    }
                    push_index(at, i);
                    self.value(el, code, it, at);
                    at.truncate(child_len);
                }
            }
            other => {
                if el.is_array() {
                    self.err(
                        IssueCode::Structure,
                        at,
                        format!("'{base_key}' repeats, so it must be an array"),
                    );
                    return;
                }
                self.value(el, code, other, at);
            }
        }
    }

    /// Finds the element a JSON key names, and the type it carries (for choices, from the key).
    fn find_element(
        &self,
        def_path: &str,
        names: &[String],
        key: &str,
    ) -> Option<(&'d ElementDef, &'d str)> {
        let defs = self.defs;
        if let Some(el) = defs.child(def_path, key) {
            let code = el
                .types
                .first()
                .map(|t| t.code.as_str())
                .unwrap_or("BackboneElement");
            return Some((el, code));
        }
        for n in names {
            let Some(base) = n.strip_suffix("[x]") else {
                continue;
            };
            let Some(suffix) = key.strip_prefix(base) else {
                continue;
            };
            let el = defs.child(def_path, n)?;
            if let Some(t) = el.types.iter().find(|t| is_capitalized(&t.code, suffix)) {
                return Some((el, t.code.as_str()));
            }
        }
        None
    }

    fn value(&mut self, el: &ElementDef, code: &str, v: &Value, at: &mut String) {
        if v.is_null() {
            self.err(IssueCode::Structure, at, "null is not allowed here");
            return;
        }
        if self.defs.is_primitive(code) {
            self.primitive(el, code, v, at);
            return;
        }
        if code == "Resource" {
            self.resource(v, Some(at));
            return;
        }
        let Some(obj) = v.as_object() else {
            self.err(
                IssueCode::Structure,
                at,
                format!("must be an object of type {code}, not {}", json_kind(v)),
            );
            return;
        };
        let content = self.defs.content_path(el, code);
        self.object(content, obj, at, false);
        match code {
            "Reference" => self.reference(el, obj, at),
            "Identifier" => self.identifier(obj, at),
            "Coding" => {
                if let Some(vs) = &el.binding {
                    self.coding_binding(vs, &[v], at, false);
                }
            }
            "CodeableConcept" => {
                if let Some(vs) = &el.binding {
                    let codings: Vec<&Value> = obj
                        .get("coding")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().collect())
                        .unwrap_or_default();
                    self.coding_binding(vs, &codings, at, true);
                }
            }
            _ => {}
        }
    }

    fn primitive(&mut self, el: &ElementDef, code: &str, v: &Value, at: &str) {
        let bad = |what: &str| format!("is not a valid {code}: {what}");
        match code {
            "boolean" => {
                if !v.is_boolean() {
                    self.err(
                        IssueCode::Value,
                        at,
                        format!(
                            "must be a JSON boolean (true or false), not {}",
                            json_kind(v)
                        ),
                    );
                }
            }
            "integer" | "positiveInt" | "unsignedInt" => {
                let Some(n) = v.as_number() else {
                    self.err(
                        IssueCode::Value,
                        at,
                        format!("must be a JSON number, not {}", json_kind(v)),
                    );
                    return;
                };
                let text = n.to_string();
                match text.parse::<i64>() {
                    Ok(i) if i >= i32::MIN as i64 && i <= i32::MAX as i64 => {
                        if code == "positiveInt" && i < 1 {
                            self.err(
                                IssueCode::Value,
                                at,
                                "must be a positive integer (1 or more)",
                            );
                        }
                        if code == "unsignedInt" && i < 0 {
                            self.err(IssueCode::Value, at, "must not be negative");
                        }
                    }
                    _ => self.err(
                        IssueCode::Value,
                        at,
                        bad("a whole number within 32 bits is expected"),
                    ),
                }
            }
            "decimal" => {
                if !v.is_number() {
                    self.err(
                        IssueCode::Value,
                        at,
                        format!("must be a JSON number, not {}", json_kind(v)),
                    );
                }
            }
            _ => {
                let Some(s) = v.as_str() else {
                    self.err(
                        IssueCode::Value,
                        at,
                        format!("must be a JSON string, not {}", json_kind(v)),
                    );
                    return;
                };
                if s.is_empty() {
                    self.err(IssueCode::Value, at, "must not be an empty string");
                    return;
                }
                let ok = match code {
                    "date" => datetime::is_date(s),
                    "dateTime" => datetime::is_datetime(s),
                    "instant" => datetime::is_instant(s),
                    "time" => datetime::is_time(s),
                    "id" => reference::is_valid_id(s),
                    "code" => s.trim() == s && !s.contains("  "),
                    "uri" | "url" | "canonical" | "oid" | "uuid" => {
                        !s.chars().any(char::is_whitespace)
                    }
                    "base64Binary" => s.bytes().all(|b| {
                        b.is_ascii_alphanumeric()
                            || matches!(b, b'+' | b'/' | b'=' | b'\n' | b'\r' | b' ')
                    }),
                    _ => true,
                };
                if !ok {
                    let hint = match code {
                        "date" => "use YYYY, YYYY-MM or YYYY-MM-DD",
                        "dateTime" => "use YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss with a timezone",
                        "instant" => "use YYYY-MM-DDThh:mm:ss(.sss) with a timezone",
                        "time" => "use hh:mm:ss",
                        "id" => "1 to 64 letters, digits, '-' or '.'",
                        _ => "unexpected whitespace or characters",
                    };
                    self.err(IssueCode::Value, at, bad(hint));
                    return;
                }
                if code == "code" {
                    if let Some(vs) = &el.binding {
                        if let Some(set) = self.defs.value_set(vs) {
                            if !set.iter().any(|(_, c)| c == s) {
                                self.err(
                                    IssueCode::CodeInvalid,
                                    at,
                                    format!("the code is not in the required value set {vs}"),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn coding_binding(&mut self, vs: &str, codings: &[&Value], at: &str, concept: bool) {
        let Some(set) = self.defs.value_set(vs) else {
            return;
        };
        let pairs: Vec<(Option<&str>, Option<&str>)> = codings
            .iter()
            .map(|c| {
                (
                    c.get("system").and_then(Value::as_str),
                    c.get("code").and_then(Value::as_str),
                )
            })
            .filter(|(_, c)| c.is_some())
            .collect();
        if pairs.is_empty() {
            return;
        }
        let in_set = |(s, c): &(Option<&str>, Option<&str>)| {
            let c = c.unwrap_or("");
            match s {
                Some(s) => set.contains(&(s.to_string(), c.to_string())),
                None => set.iter().any(|(_, x)| x == c),
            }
        };
        let ok = if concept {
            pairs.iter().any(in_set)
        } else {
            pairs.iter().all(in_set)
        };
        if !ok {
            self.err(
                IssueCode::CodeInvalid,
                at,
                format!("no coding is from the required value set {vs}"),
            );
        }
    }

    fn reference(&mut self, el: &ElementDef, obj: &Map<String, Value>, at: &str) {
        let Some(r) = obj.get("reference").and_then(Value::as_str) else {
            return;
        };
        match reference::parse(r, |t| self.defs.is_resource_type(t)) {
            None => self.err(
                IssueCode::Value,
                &format!("{at}.reference"),
                "is not a valid reference: use Type/id, an absolute URL, urn:uuid:…, or #id",
            ),
            Some(Reference::Local { rtype, .. }) => {
                let targets: Vec<&String> = el
                    .types
                    .iter()
                    .filter(|t| t.code == "Reference")
                    .flat_map(|t| t.targets.iter())
                    .collect();
                let open = targets.is_empty() || targets.iter().any(|t| *t == "Resource");
                if !open && !targets.iter().any(|t| **t == rtype) {
                    let allowed: Vec<&str> = targets.iter().map(|t| t.as_str()).collect();
                    self.err(
                        IssueCode::Value,
                        &format!("{at}.reference"),
                        format!("may refer to {} only, not to {rtype}", allowed.join(", ")),
                    );
                }
            }
            Some(_) => {}
        }
    }

    fn identifier(&mut self, obj: &Map<String, Value>, at: &str) {
        if obj.get("system").and_then(Value::as_str) != Some(BSN_SYSTEM) {
            return;
        }
        match obj.get("value").and_then(Value::as_str) {
            Some(v) if passes_eleven_test(v) => {}
            Some(_) => self.err(
                IssueCode::Value,
                &format!("{at}.value"),
                "is not a valid BSN: a BSN has 9 digits and passes the eleven test (elfproef)",
            ),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions;
    use serde_json::json;

    fn issues(v: Value) -> Vec<String> {
        validate(definitions(), &v)
            .into_iter()
            .map(|i| format!("{} {}", i.expression.unwrap_or_default(), i.diagnostics))
            .collect()
    }

    #[test]
    fn a_valid_patient_passes() {
        let p = json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "de Vries", "given": ["Anna"]}],
            "gender": "female", "birthDate": "2011-04-02",
            "identifier": [{"system": BSN_SYSTEM, "value": "999990019"}],
            "managingOrganization": {"reference": "Organization/o1"}});
        assert_eq!(issues(p), Vec::<String>::new());
    }

    #[test]
    fn names_the_element_that_is_wrong() {
        let got = issues(
            json!({"resourceType": "Patient", "birthDate": "02-04-2011", "gender": "vrouw", "colour": "blue",
            "name": {"family": "x"}, "active": "yes",
            "identifier": [{"system": BSN_SYSTEM, "value": "123456789"}],
            "managingOrganization": {"reference": "Patient/p2"}}),
        );
        let joined = got.join("\n");
        for want in [
            "Patient.birthDate is not a valid date",
            "Patient.gender the code is not in",
            "Patient.colour unknown element",
            "Patient.name 'name' repeats",
            "Patient.active must be a JSON boolean",
            "Patient.identifier[0].value is not a valid BSN",
            "Patient.managingOrganization.reference may refer to Organization only",
        ] {
            assert!(joined.contains(want), "missing '{want}' in:\n{joined}");
        }
        assert!(!joined.contains("123456789"), "the BSN must not be echoed");
    }

    #[test]
    fn cardinality_and_choices() {
        let got = issues(
            json!({"resourceType": "Observation", "code": {"text": "x"}, "valueQuantity": {"value": 3}, "valueString": "x"}),
        );
        assert!(
            got.iter()
                .any(|g| g.starts_with("Observation.status 'status' is required")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|g| g.contains("only one type of 'value[x]'")),
            "{got:?}"
        );
        let ok = issues(
            json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": 3.5, "unit": "kg"}}),
        );
        assert!(ok.is_empty(), "{ok:?}");
        let bad = issues(
            json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueBanana": 1}),
        );
        assert!(bad[0].contains("unknown element 'valueBanana'"));
    }
}

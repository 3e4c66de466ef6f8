//! Search index values of a resource, computed from each search parameter's FHIRPath.
//!
//! Owns: turning a resource into [`IndexEntry`]s, one per value a search parameter can match,
//! already normalised for the comparison its type needs. The storage backends only store them.

use kring_fhirpath::{has_member, EvalContext, Expr, Item};
use serde_json::Value;

use crate::datetime::{self, Range, OPEN_HIGH, OPEN_LOW};
use crate::definitions::{Definitions, SearchParamType};
use crate::reference::{self, Reference};
use crate::text::normalize;

/// One searchable value.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// `norm` is case/accent-folded for default matching; `exact` as written.
    String {
        norm: String,
        exact: String,
    },
    /// `text` holds the normalised display/text for `:text`.
    Token {
        system: Option<String>,
        code: Option<String>,
        text: Option<String>,
    },
    Reference {
        target_type: Option<String>,
        target_id: Option<String>,
        url: Option<String>,
    },
    Date(Range),
    /// The interval implied by the value's precision (`1.5` is `[1.45, 1.55]`).
    Number {
        low: f64,
        high: f64,
    },
    Quantity {
        system: Option<String>,
        code: Option<String>,
        low: f64,
        high: f64,
    },
    Uri(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub param: String,
    pub value: IndexValue,
}

/// Computes the index entries of a resource for every search parameter of its type.
pub fn extract(defs: &Definitions, resource: &Value) -> Vec<IndexEntry> {
    let Some(rt) = resource.get("resourceType").and_then(Value::as_str) else {
        return vec![];
    };
    let ctx = EvalContext::new(defs);
    let mut out = Vec::new();
    for p in defs.search_params(rt) {
        // `_id` and `_lastUpdated` live in the resource table itself.
        // A union of other parameters is searched in their rows.
        if p.code == "_id" || p.code == "_lastUpdated" || !p.union_of.is_empty() {
            continue;
        }
        let Some(expr) = &p.parsed else { continue };
        if let Some(members) = &p.entry_members {
            if !members.iter().any(|m| has_member(resource, m)) {
                continue;
            }
        }
        let Ok(items) = expr.evaluate(&ctx, resource) else {
            continue;
        };
        let before = out.len();
        for it in &items {
            values_of(defs, p.kind, it, &mut |value| {
                out.push(IndexEntry {
                    param: p.code.clone(),
                    value,
                })
            });
        }
        dedup_tail(&mut out, before);
    }
    out
}

/// The members of a resource of type `rt` that `expr` starts from, where the expression is
/// certain to be empty for a resource that has none of them: a union of paths `rt.member…`
/// continued only by steps that keep an empty collection empty (members, `as`, `where`,
/// `ofType`, `resolve`, `first`, `last`, indexes). `None` for any other expression, such as
/// `Patient.deceased.exists() and …`, which has a value when the member is absent.
///
/// Most search parameters of a type name members that a given resource lacks, so checking
/// this before evaluating skips most of the FHIRPath work of indexing.
pub fn entry_members(expr: &Expr, rt: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    collect_entry_members(expr, rt, &mut out)?;
    out.sort();
    out.dedup();
    Some(out)
}

fn collect_entry_members(expr: &Expr, rt: &str, out: &mut Vec<String>) -> Option<()> {
    match expr {
        Expr::Member(left, name) => match left.as_ref() {
            Expr::Ident(t) if t == rt => {
                out.push(name.clone());
                Some(())
            }
            other => collect_entry_members(other, rt, out),
        },
        Expr::Binary("|", a, b) => {
            collect_entry_members(a, rt, out)?;
            collect_entry_members(b, rt, out)
        }
        Expr::TypeOp("as", left, _) | Expr::Index(left, _) => collect_entry_members(left, rt, out),
        Expr::Call(Some(left), name, _)
            if matches!(
                name.as_str(),
                "where" | "ofType" | "as" | "resolve" | "first" | "last"
            ) =>
        {
            collect_entry_members(left, rt, out)
        }
        _ => None,
    }
}

fn dedup_tail(out: &mut Vec<IndexEntry>, from: usize) {
    let mut i = from;
    while i < out.len() {
        if out[from..i].contains(&out[i]) {
            out.remove(i);
        } else {
            i += 1;
        }
    }
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// The precision interval of a decimal written as `text`.
pub fn number_range(text: &str) -> Option<(f64, f64)> {
    let v: f64 = text.parse().ok()?;
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let decimals = mantissa.split('.').nth(1).map(str::len).unwrap_or(0) as i32;
    let half = 0.5 * 10f64.powi(-decimals);
    Some((v - half, v + half))
}

fn values_of(
    defs: &Definitions,
    kind: SearchParamType,
    item: &Item<'_>,
    emit: &mut dyn FnMut(IndexValue),
) {
    let (value, ty) = match item {
        Item::Node { value, ty } => (*value, ty.as_deref().unwrap_or("")),
        // A token computed by the expression itself, such as Patient's `deceased`
        // (`Patient.deceased.exists() and Patient.deceased != false`): true or false.
        Item::Prim(kring_fhirpath::Primitive::Boolean(b)) if kind == SearchParamType::Token => {
            emit(IndexValue::Token {
                system: None,
                code: Some(b.to_string()),
                text: None,
            });
            return;
        }
        _ => return,
    };
    match kind {
        SearchParamType::String => match value {
            Value::String(text) => emit(IndexValue::String {
                norm: normalize(text),
                exact: text.clone(),
            }),
            Value::Object(_) => {
                let keys: &[&str] = match ty {
                    "HumanName" => &["family", "given", "prefix", "suffix", "text"],
                    "Address" => &[
                        "line",
                        "city",
                        "district",
                        "state",
                        "postalCode",
                        "country",
                        "text",
                    ],
                    _ => &["text", "display", "value", "name"],
                };
                for k in keys {
                    match value.get(*k) {
                        Some(Value::String(t)) => emit(IndexValue::String {
                            norm: normalize(t),
                            exact: t.clone(),
                        }),
                        Some(Value::Array(a)) => {
                            for t in a.iter().filter_map(Value::as_str) {
                                emit(IndexValue::String {
                                    norm: normalize(t),
                                    exact: t.to_string(),
                                })
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        },
        SearchParamType::Token => match value {
            Value::String(code) => emit(IndexValue::Token {
                system: None,
                code: Some(code.clone()),
                text: None,
            }),
            Value::Bool(b) => emit(IndexValue::Token {
                system: None,
                code: Some(b.to_string()),
                text: None,
            }),
            Value::Object(_) => match ty {
                "CodeableConcept" => {
                    let text = s(value, "text").map(|t| normalize(&t));
                    let mut any = false;
                    for c in value
                        .get("coding")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        any = true;
                        emit(IndexValue::Token {
                            system: s(c, "system"),
                            code: s(c, "code"),
                            text: s(c, "display")
                                .map(|d| normalize(&d))
                                .or_else(|| text.clone()),
                        });
                    }
                    if let (false, Some(t)) = (any, text) {
                        emit(IndexValue::Token {
                            system: None,
                            code: None,
                            text: Some(t),
                        });
                    } else if let Some(t) = s(value, "text") {
                        emit(IndexValue::Token {
                            system: None,
                            code: None,
                            text: Some(normalize(&t)),
                        });
                    }
                }
                "Identifier" => emit(IndexValue::Token {
                    system: s(value, "system"),
                    code: s(value, "value"),
                    text: value
                        .get("type")
                        .and_then(|t| t.get("text"))
                        .and_then(Value::as_str)
                        .map(normalize),
                }),
                "ContactPoint" => emit(IndexValue::Token {
                    system: s(value, "system"),
                    code: s(value, "value"),
                    text: None,
                }),
                _ => emit(IndexValue::Token {
                    system: s(value, "system"),
                    code: s(value, "code"),
                    text: s(value, "display").map(|d| normalize(&d)),
                }),
            },
            _ => {}
        },
        SearchParamType::Reference => {
            let (r, explicit_type) = match value {
                Value::String(t) => (Some(t.clone()), None),
                Value::Object(_) => (s(value, "reference"), s(value, "type")),
                _ => (None, None),
            };
            let Some(r) = r else { return };
            match reference::parse(&r, |t| defs.is_resource_type(t)) {
                Some(Reference::Local { rtype, id, .. }) => emit(IndexValue::Reference {
                    target_type: Some(rtype),
                    target_id: Some(id),
                    url: None,
                }),
                Some(Reference::External(url)) => emit(IndexValue::Reference {
                    target_type: explicit_type,
                    target_id: None,
                    url: Some(url),
                }),
                Some(Reference::Contained(_)) => {}
                None => emit(IndexValue::Reference {
                    target_type: explicit_type,
                    target_id: None,
                    url: Some(r),
                }),
            }
        }
        SearchParamType::Date => match value {
            Value::String(t) => {
                if let Some(r) = datetime::parse_range(t) {
                    emit(IndexValue::Date(r))
                }
            }
            Value::Object(_) if ty == "Period" => {
                let low = s(value, "start")
                    .and_then(|x| datetime::parse_range(&x))
                    .map(|r| r.low)
                    .unwrap_or(OPEN_LOW);
                let high = s(value, "end")
                    .and_then(|x| datetime::parse_range(&x))
                    .map(|r| r.high)
                    .unwrap_or(OPEN_HIGH);
                if low != OPEN_LOW || high != OPEN_HIGH {
                    emit(IndexValue::Date(Range { low, high }))
                }
            }
            Value::Object(_) if ty == "Timing" => {
                for e in value
                    .get("event")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some(r) = datetime::parse_range(e) {
                        emit(IndexValue::Date(r))
                    }
                }
            }
            _ => {}
        },
        SearchParamType::Number => {
            if let Value::Number(n) = value {
                if let Some((low, high)) = number_range(&n.to_string()) {
                    emit(IndexValue::Number { low, high })
                }
            }
        }
        SearchParamType::Quantity => {
            let Some(n) = value.get("value").and_then(Value::as_number) else {
                return;
            };
            let Some((low, high)) = number_range(&n.to_string()) else {
                return;
            };
            let (system, code) = if ty == "Money" {
                (
                    Some("urn:iso:std:iso:4217".to_string()),
                    s(value, "currency"),
                )
            } else {
                (
                    s(value, "system"),
                    s(value, "code").or_else(|| s(value, "unit")),
                )
            };
            emit(IndexValue::Quantity {
                system,
                code,
                low,
                high,
            });
            // Also findable by its human unit when the code differs.
            if let (Some(unit), Some(code)) = (s(value, "unit"), s(value, "code")) {
                if unit != code {
                    emit(IndexValue::Quantity {
                        system: None,
                        code: Some(unit),
                        low,
                        high,
                    });
                }
            }
        }
        SearchParamType::Uri => {
            if let Value::String(u) = value {
                emit(IndexValue::Uri(u.clone()))
            }
        }
        SearchParamType::Composite | SearchParamType::Special => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions;
    use serde_json::json;

    #[test]
    fn only_expressions_empty_without_their_members_are_skipped() {
        let parse = |e: &str| Expr::parse(e).unwrap();
        assert_eq!(
            entry_members(
                &parse("Observation.subject.where(resolve() is Patient)"),
                "Observation"
            ),
            Some(vec!["subject".to_string()])
        );
        assert_eq!(
            entry_members(
                &parse(
                    "(Observation.value as Quantity) | (Observation.component.value as Quantity)"
                ),
                "Observation"
            ),
            Some(vec!["component".to_string(), "value".to_string()])
        );
        // Has a value (false) when the member is absent: always evaluated.
        let deceased = parse("Patient.deceased.exists() and Patient.deceased != false");
        assert_eq!(entry_members(&deceased, "Patient"), None);
        let deceased_of = |p: Value| -> Vec<IndexValue> {
            extract(definitions(), &p)
                .into_iter()
                .filter(|e| e.param == "deceased")
                .map(|e| e.value)
                .collect()
        };
        let token = |code: &str| IndexValue::Token {
            system: None,
            code: Some(code.into()),
            text: None,
        };
        assert_eq!(
            deceased_of(json!({"resourceType": "Patient", "id": "p1"})),
            [token("false")]
        );
        assert_eq!(
            deceased_of(
                json!({"resourceType": "Patient", "id": "p1", "deceasedDateTime": "2020-01-02"})
            ),
            [token("true")]
        );
        // A choice member is found by its typed key.
        assert!(has_member(&json!({"valueQuantity": {"value": 1}}), "value"));
        assert!(!has_member(&json!({"valueset": 1}), "value"));
    }

    #[test]
    fn unions_of_other_parameters_are_found_and_not_indexed() {
        let defs = definitions();
        let union_of = |rt: &str, code: &str| defs.search_param(rt, code).unwrap().union_of.clone();
        assert_eq!(
            union_of("Observation", "combo-code"),
            ["code", "component-code"]
        );
        assert_eq!(
            union_of("Observation", "combo-value-quantity"),
            ["component-value-quantity", "value-quantity"]
        );
        assert!(union_of("Observation", "code").is_empty());
        // `patient` is `subject` where it is a Patient: not the same values, so indexed.
        assert!(union_of("Observation", "patient").is_empty());
        // Across all types only Observation's four combo-* parameters are such unions today.
        let mut unions = Vec::new();
        for rt in defs.resource_types() {
            for p in defs.search_params(rt) {
                if !p.union_of.is_empty() {
                    unions.push(format!("{rt}.{}", p.code));
                }
            }
        }
        assert_eq!(
            unions,
            [
                "Observation.combo-code",
                "Observation.combo-data-absent-reason",
                "Observation.combo-value-concept",
                "Observation.combo-value-quantity"
            ]
        );
        let obs = json!({"resourceType": "Observation", "id": "o", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "valueQuantity": {"value": 62, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
            "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                           "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]});
        let params: Vec<String> = extract(defs, &obs).into_iter().map(|e| e.param).collect();
        assert!(
            params.iter().all(|p| !p.starts_with("combo-")),
            "{params:?}"
        );
        for member in [
            "code",
            "component-code",
            "value-quantity",
            "component-value-quantity",
        ] {
            assert!(params.iter().any(|p| p == member), "{member}: {params:?}");
        }
    }

    #[test]
    fn patient_values() {
        let p = json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Müller", "given": ["Ëlif"]}],
            "birthDate": "2011-04", "gender": "female", "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999990019"}],
            "generalPractitioner": [{"reference": "Practitioner/gp1"}]});
        let e = extract(definitions(), &p);
        let has = |param: &str, f: &dyn Fn(&IndexValue) -> bool| {
            e.iter().any(|x| x.param == param && f(&x.value))
        };
        assert!(has(
            "family",
            &|v| matches!(v, IndexValue::String { norm, .. } if norm == "muller")
        ));
        assert!(has(
            "name",
            &|v| matches!(v, IndexValue::String { norm, .. } if norm == "elif")
        ));
        assert!(has(
            "gender",
            &|v| matches!(v, IndexValue::Token { code: Some(c), .. } if c == "female")
        ));
        assert!(has(
            "identifier",
            &|v| matches!(v, IndexValue::Token { system: Some(s), .. } if s.ends_with("bsn"))
        ));
        assert!(has(
            "general-practitioner",
            &|v| matches!(v, IndexValue::Reference { target_id: Some(i), .. } if i == "gp1")
        ));
        assert!(has(
            "birthdate",
            &|v| matches!(v, IndexValue::Date(r) if datetime::format_instant(r.high) == "2011-04-30T23:59:59.999Z")
        ));
    }

    #[test]
    fn observation_values_through_choice_types() {
        let o = json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-01T10:00:00Z",
            "valueQuantity": {"value": 70.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}});
        let e = extract(definitions(), &o);
        assert!(e.iter().any(|x| x.param == "patient" && matches!(&x.value, IndexValue::Reference { target_id: Some(i), .. } if i == "p1")), "{e:?}");
        assert!(e.iter().any(|x| x.param == "value-quantity" && matches!(&x.value, IndexValue::Quantity { low, .. } if (*low - 70.45).abs() < 1e-9)), "{e:?}");
        assert!(e.iter().any(|x| x.param == "date"));
        assert!(e.iter().any(|x| x.param == "code"
            && matches!(&x.value, IndexValue::Token { text: Some(t), .. } if t == "body weight")));
    }
}

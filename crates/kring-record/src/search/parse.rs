//! From FHIR search parameters (`name:modifier=prefixvalue,value`) to a [`SearchPlan`].

use kring_fhir::datetime;
use kring_fhir::index::number_range;
use kring_fhir::{
    Definitions, Issue, IssueCode, OperationOutcome, SearchParamDef, SearchParamType,
};
use kring_store::search::{
    AnyOf, Cond, Filter, IndexTable, Prefix, SearchPlan, SortKey, StringMatch, TokenMatch,
};

use crate::{Limits, RecordError, Result};

/// `_summary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Summary {
    #[default]
    False,
    True,
    Text,
    Data,
    Count,
}

/// One `_include` or `_revinclude`.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    pub source_type: String,
    /// `None` for `*` (every reference parameter).
    pub param: Option<String>,
    pub target_type: Option<String>,
    pub iterate: bool,
    pub reverse: bool,
}

/// A search, planned.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: SearchPlan,
    pub includes: Vec<Include>,
    pub summary: Summary,
    pub elements: Option<Vec<String>>,
    /// Parameters that were not understood and ignored (lenient handling).
    pub ignored: Vec<String>,
    /// The parameters that were applied, for the self link.
    pub applied: Vec<(String, String)>,
}

pub(crate) enum ParamError {
    Unknown(String),
    Invalid(String),
}

/// Parses a whole-number control parameter such as `_count` or `_offset`.
pub(crate) fn whole_number(name: &str, value: &str) -> Result<usize> {
    value
        .parse()
        .map_err(|_| bad(format!("{name} is a whole number")))
}

fn bad(msg: impl Into<String>) -> RecordError {
    RecordError::BadRequest(OperationOutcome::single(Issue::error(
        IssueCode::Invalid,
        msg,
    )))
}

/// Splits on commas not escaped with a backslash, and unescapes `\,` `\|` `\$` `\\`.
pub fn split_values(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.last_mut().expect("non-empty").push(n);
                }
            }
            ',' => out.push(String::new()),
            c => out.last_mut().expect("non-empty").push(c),
        }
    }
    out
}

/// Splits `a|b` on the first unescaped `|`.
fn split_pipe(v: &str) -> Option<(&str, &str)> {
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == b'|' {
            return Some((&v[..i], &v[i + 1..]));
        }
        i += 1;
    }
    None
}

pub(crate) fn table_of(kind: SearchParamType) -> Option<IndexTable> {
    Some(match kind {
        SearchParamType::String => IndexTable::String,
        SearchParamType::Token => IndexTable::Token,
        SearchParamType::Reference => IndexTable::Reference,
        SearchParamType::Date => IndexTable::Date,
        SearchParamType::Number => IndexTable::Number,
        SearchParamType::Quantity => IndexTable::Quantity,
        SearchParamType::Uri => IndexTable::Uri,
        SearchParamType::Composite | SearchParamType::Special => return None,
    })
}

fn date_cond(param: &str, raw: &str) -> std::result::Result<Cond, ParamError> {
    let (prefix, v) = Prefix::split(raw);
    let r = datetime::parse_range(v).ok_or_else(|| {
        ParamError::Invalid(format!("'{param}' needs a date such as 2024, 2024-05-31 or 2024-05-31T10:00:00Z, optionally after a prefix (ge, lt …)"))
    })?;
    Ok(if param == "_lastUpdated" {
        Cond::LastUpdated {
            prefix,
            low: r.low,
            high: r.high,
        }
    } else {
        Cond::Date {
            param: param.to_string(),
            prefix,
            low: r.low,
            high: r.high,
        }
    })
}

/// Parses one parameter (name with modifier or chain) against a resource type.
pub(crate) fn parse_param(
    defs: &Definitions,
    rtype: &str,
    name: &str,
    value: &str,
) -> std::result::Result<AnyOf, ParamError> {
    if let Some(rest) = name.strip_prefix("_has:") {
        // _has:Type:param:inner
        let mut parts = rest.splitn(3, ':');
        let (Some(src), Some(param), Some(inner)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ParamError::Invalid(
                "_has takes the form _has:Type:parameter:criterion".into(),
            ));
        };
        if !defs.is_resource_type(src) {
            return Err(ParamError::Invalid(format!(
                "_has names '{src}', which is not a resource type"
            )));
        }
        match defs.search_param(src, param) {
            Some(p) if p.kind == SearchParamType::Reference => {}
            _ => {
                return Err(ParamError::Invalid(format!(
                    "_has: '{param}' is not a reference parameter of {src}"
                )))
            }
        }
        let inner = parse_param(defs, src, inner, value)?;
        return Ok(AnyOf {
            conds: vec![Cond::Has {
                rtype: src.to_string(),
                param: param.to_string(),
                inner: Box::new(Filter { all: vec![inner] }),
            }],
            negate: false,
        });
    }
    let (head, chain) = match name.split_once('.') {
        Some((h, c)) => (h, Some(c)),
        None => (name, None),
    };
    let (pname, modifier) = match head.split_once(':') {
        Some((p, m)) => (p, Some(m)),
        None => (head, None),
    };
    let values = split_values(value);
    if pname == "_id" {
        if modifier.is_some() || chain.is_some() {
            return Err(ParamError::Invalid("_id takes no modifier".into()));
        }
        return Ok(AnyOf {
            conds: values.into_iter().map(Cond::Id).collect(),
            negate: false,
        });
    }
    if pname == "_lastUpdated" {
        let conds = values
            .iter()
            .map(|v| date_cond("_lastUpdated", v))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(AnyOf {
            conds,
            negate: false,
        });
    }
    let Some(def) = defs.search_param(rtype, pname) else {
        return Err(ParamError::Unknown(name.to_string()));
    };
    let Some(table) = table_of(def.kind) else {
        return Err(ParamError::Invalid(format!(
            "'{pname}' is a {} parameter, which this server does not search on",
            def.kind.as_str()
        )));
    };
    if let Some(chain) = chain {
        if def.kind != SearchParamType::Reference {
            return Err(ParamError::Invalid(format!(
                "'{pname}' is not a reference, so it cannot be chained"
            )));
        }
        let inner_name = chain.split(['.', ':']).next().unwrap_or(chain);
        let candidates: Vec<String> = match modifier {
            Some(t) => {
                if !defs.is_resource_type(t) {
                    return Err(ParamError::Invalid(format!("'{t}' is not a resource type")));
                }
                vec![t.to_string()]
            }
            // Every target type that knows the chained parameter; one condition per type.
            None => def
                .targets
                .iter()
                .filter(|t| {
                    inner_name.starts_with("_has")
                        || matches!(inner_name, "_id" | "_lastUpdated")
                        || defs.search_param(t, inner_name).is_some()
                })
                .cloned()
                .collect(),
        };
        if candidates.is_empty() {
            return Err(ParamError::Invalid(format!(
                "no type that '{pname}' can refer to has a search parameter '{inner_name}'"
            )));
        }
        let mut conds = Vec::new();
        for target_type in candidates {
            let inner = parse_param(defs, &target_type, chain, value)?;
            conds.push(Cond::Chain {
                param: pname.to_string(),
                target_type,
                inner: Box::new(Filter { all: vec![inner] }),
            });
        }
        return Ok(AnyOf {
            conds,
            negate: false,
        });
    }
    if modifier == Some("missing") {
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ParamError::Invalid(format!(
                    "'{pname}:missing' takes true or false"
                )))
            }
        };
        // Missing means missing from every parameter holding the values: NOT (present in any).
        let conds = rows_of(def)
            .into_iter()
            .map(|param| Cond::Missing {
                param,
                table,
                missing: missing && def.union_of.is_empty(),
            })
            .collect();
        return Ok(AnyOf {
            conds,
            negate: missing && !def.union_of.is_empty(),
        });
    }
    let mut negate = false;
    let mut conds = Vec::new();
    for v in &values {
        let cond = value_cond(defs, def, modifier, v, &mut negate)?;
        if def.union_of.is_empty() {
            conds.push(cond);
            continue;
        }
        // A union's value is found in the rows of any of its members.
        for member in &def.union_of {
            let mut c = cond.clone();
            if let Some(param) = c.param_mut() {
                *param = member.clone();
            }
            conds.push(c);
        }
    }
    Ok(AnyOf { conds, negate })
}

/// The parameters whose index rows hold `def`'s values: itself, or the members of the union it
/// is (see [`SearchParamDef::union_of`]).
fn rows_of(def: &SearchParamDef) -> Vec<String> {
    if def.union_of.is_empty() {
        vec![def.code.clone()]
    } else {
        def.union_of.clone()
    }
}

fn value_cond(
    defs: &Definitions,
    def: &SearchParamDef,
    modifier: Option<&str>,
    v: &str,
    negate: &mut bool,
) -> std::result::Result<Cond, ParamError> {
    let param = def.code.clone();
    let unsupported = |m: &str| {
        ParamError::Invalid(format!(
            "the modifier ':{m}' is not supported on the {} parameter '{param}'",
            def.kind.as_str()
        ))
    };
    Ok(match def.kind {
        SearchParamType::String => {
            let how = match modifier {
                None => StringMatch::StartsWith,
                Some("exact") => StringMatch::Exact,
                Some("contains") => StringMatch::Contains,
                Some(m) => return Err(unsupported(m)),
            };
            Cond::String {
                param,
                value: v.to_string(),
                how,
            }
        }
        SearchParamType::Token => {
            let what = match modifier {
                Some("text") => TokenMatch::Text(v.to_string()),
                None | Some("not") => {
                    *negate = modifier == Some("not");
                    match split_pipe(v) {
                        None => TokenMatch::Code(v.to_string()),
                        Some(("", code)) => TokenMatch::SystemCode(None, code.to_string()),
                        Some((system, "")) => TokenMatch::System(system.to_string()),
                        Some((system, code)) => {
                            TokenMatch::SystemCode(Some(system.to_string()), code.to_string())
                        }
                    }
                }
                Some(m) => return Err(unsupported(m)),
            };
            Cond::Token { param, what }
        }
        SearchParamType::Reference => {
            let type_mod = match modifier {
                None => None,
                Some(t) if defs.is_resource_type(t) => Some(t.to_string()),
                Some(m) => return Err(unsupported(m)),
            };
            if v.contains("://") || v.starts_with("urn:") {
                Cond::Reference {
                    param,
                    target_type: type_mod,
                    target_id: None,
                    url: Some(v.to_string()),
                }
            } else {
                let parts: Vec<&str> = v.split('/').collect();
                let (t, id) = match parts.as_slice() {
                    [id] => (type_mod, id.to_string()),
                    [t, id] | [t, id, "_history", _] => {
                        if !defs.is_resource_type(t) {
                            return Err(ParamError::Invalid(format!(
                                "'{param}' expects Type/id, and '{t}' is not a resource type"
                            )));
                        }
                        (Some(t.to_string()), id.to_string())
                    }
                    _ => {
                        return Err(ParamError::Invalid(format!(
                            "'{param}' expects an id, Type/id or an absolute URL"
                        )))
                    }
                };
                Cond::Reference {
                    param,
                    target_type: t,
                    target_id: Some(id),
                    url: None,
                }
            }
        }
        SearchParamType::Date => {
            if let Some(m) = modifier {
                return Err(unsupported(m));
            }
            date_cond(&param, v)?
        }
        SearchParamType::Number => {
            if let Some(m) = modifier {
                return Err(unsupported(m));
            }
            let (prefix, n) = Prefix::split(v);
            let (low, high) = number_range(n).ok_or_else(|| {
                ParamError::Invalid(format!(
                    "'{param}' needs a number, optionally after a prefix"
                ))
            })?;
            Cond::Number {
                param,
                prefix,
                low,
                high,
            }
        }
        SearchParamType::Quantity => {
            if let Some(m) = modifier {
                return Err(unsupported(m));
            }
            let (prefix, rest) = Prefix::split(v);
            let mut parts = rest.splitn(3, '|');
            let n = parts.next().unwrap_or("");
            let system = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
            let code = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
            let (low, high) = number_range(n).ok_or_else(|| {
                ParamError::Invalid(format!("'{param}' needs [prefix]number|system|code"))
            })?;
            Cond::Quantity {
                param,
                prefix,
                low,
                high,
                system,
                code,
            }
        }
        SearchParamType::Uri => {
            let below = match modifier {
                None => false,
                Some("below") => true,
                Some(m) => return Err(unsupported(m)),
            };
            Cond::Uri {
                param,
                value: v.to_string(),
                below,
            }
        }
        SearchParamType::Composite | SearchParamType::Special => {
            return Err(ParamError::Invalid(format!("'{param}' cannot be searched")))
        }
    })
}

fn parse_include(defs: &Definitions, name: &str, value: &str) -> Result<Include> {
    let reverse = name.starts_with("_revinclude");
    let iterate = name.ends_with(":iterate") || name.ends_with(":recurse");
    if value == "*" {
        return Ok(Include {
            source_type: String::new(),
            param: None,
            target_type: None,
            iterate,
            reverse,
        });
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (src, param, target) = match parts.as_slice() {
        [s, p] => (*s, *p, None),
        [s, p, t] => (*s, *p, Some(t.to_string())),
        _ => {
            return Err(bad(format!(
                "{name} takes Type:parameter or Type:parameter:TargetType"
            )))
        }
    };
    if !defs.is_resource_type(src) {
        return Err(bad(format!("{name}: '{src}' is not a resource type")));
    }
    if param == "*" {
        return Ok(Include {
            source_type: src.to_string(),
            param: None,
            target_type: target,
            iterate,
            reverse,
        });
    }
    match defs.search_param(src, param) {
        Some(p) if p.kind == SearchParamType::Reference => {}
        _ => {
            return Err(bad(format!(
                "{name}: '{param}' is not a reference parameter of {src}"
            )))
        }
    }
    Ok(Include {
        source_type: src.to_string(),
        param: Some(param.to_string()),
        target_type: target,
        iterate,
        reverse,
    })
}

fn parse_sort(defs: &Definitions, rtype: &str, value: &str) -> Result<Vec<SortKey>> {
    let mut keys = Vec::new();
    for item in value.split(',').filter(|s| !s.is_empty()) {
        let (desc, name) = match item.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, item),
        };
        keys.push(match name {
            "_id" => SortKey::Id { desc },
            "_lastUpdated" => SortKey::LastUpdated { desc },
            _ => {
                let def = defs.search_param(rtype, name).ok_or_else(|| {
                    bad(format!(
                        "cannot sort on '{name}': {rtype} has no such search parameter"
                    ))
                })?;
                let table = table_of(def.kind).ok_or_else(|| {
                    bad(format!(
                        "cannot sort on the {} parameter '{name}'",
                        def.kind.as_str()
                    ))
                })?;
                SortKey::Param {
                    params: rows_of(def),
                    table,
                    desc,
                }
            }
        });
    }
    Ok(keys)
}

/// Plans a search of `rtype` with `params`.
pub(crate) fn plan(
    defs: &Definitions,
    limits: &Limits,
    rtype: &str,
    params: &[(String, String)],
    strict: bool,
) -> Result<Planned> {
    let mut plan = SearchPlan::new(rtype);
    plan.count = limits.default_count;
    let mut planned = Planned {
        plan: plan.clone(),
        includes: vec![],
        summary: Summary::False,
        elements: None,
        ignored: vec![],
        applied: vec![],
    };
    let mut filter = Filter::default();
    let mut total = None;
    let mut problems = Vec::new();
    for (name, value) in params {
        let applied = match name.as_str() {
            "_count" => {
                plan.count = whole_number(name, value)?.min(limits.max_count);
                false
            }
            "_offset" => {
                plan.offset = whole_number(name, value)?;
                false
            }
            "_sort" => {
                plan.sort = parse_sort(defs, rtype, value)?;
                true
            }
            "_summary" => {
                planned.summary = match value.as_str() {
                    "true" => Summary::True,
                    "text" => Summary::Text,
                    "data" => Summary::Data,
                    "count" => Summary::Count,
                    "false" => Summary::False,
                    _ => return Err(bad("_summary is one of true, text, data, count, false")),
                };
                true
            }
            "_elements" => {
                planned.elements = Some(
                    value
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                );
                true
            }
            "_total" => {
                total = Some(match value.as_str() {
                    "none" => false,
                    "estimate" | "accurate" => true,
                    _ => return Err(bad("_total is one of none, estimate, accurate")),
                });
                true
            }
            n if n.starts_with("_include") || n.starts_with("_revinclude") => {
                planned.includes.push(parse_include(defs, n, value)?);
                true
            }
            "_format" | "_pretty" => false,
            n => match parse_param(defs, rtype, n, value) {
                Ok(group) => {
                    filter.all.push(group);
                    true
                }
                Err(ParamError::Unknown(p)) => {
                    if strict {
                        problems.push(Issue::error(
                            IssueCode::NotSupported,
                            format!("unknown search parameter '{p}' for {rtype}"),
                        ));
                    } else {
                        planned.ignored.push(p);
                    }
                    false
                }
                Err(ParamError::Invalid(msg)) => {
                    problems.push(Issue::error(IssueCode::Invalid, msg));
                    false
                }
            },
        };
        if applied {
            planned.applied.push((name.clone(), value.clone()));
        }
    }
    if !problems.is_empty() {
        return Err(RecordError::BadRequest(OperationOutcome {
            issues: problems,
        }));
    }
    if planned.summary == Summary::Count {
        plan.count = 0;
        plan.want_total = true;
    }
    if let Some(t) = total {
        plan.want_total = t;
    }
    plan.filter = filter;
    planned.plan = plan;
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &[(&str, &str)], strict: bool) -> Result<Planned> {
        let params: Vec<(String, String)> = q
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        plan(
            kring_fhir::definitions(),
            &Limits::default(),
            "Patient",
            &params,
            strict,
        )
    }

    #[test]
    fn escaped_commas_stay_in_the_value() {
        assert_eq!(split_values(r"a\,b,c"), vec!["a,b", "c"]);
    }

    #[test]
    fn unknown_parameters_are_strict_or_lenient() {
        assert!(matches!(
            p(&[("colour", "red")], true),
            Err(RecordError::BadRequest(_))
        ));
        let lenient = p(&[("colour", "red"), ("family", "jansen")], false).unwrap();
        assert_eq!(lenient.ignored, vec!["colour".to_string()]);
        assert_eq!(lenient.plan.filter.all.len(), 1);
    }

    #[test]
    fn chains_and_has_are_understood() {
        let c = plan(
            kring_fhir::definitions(),
            &Limits::default(),
            "Observation",
            &[("subject:Patient.identifier".into(), "sys|1".into())],
            true,
        )
        .unwrap();
        assert!(
            matches!(&c.plan.filter.all[0].conds[0], Cond::Chain { target_type, .. } if target_type == "Patient")
        );
        let h = p(&[("_has:Observation:patient:code", "1234-5")], true).unwrap();
        assert!(
            matches!(&h.plan.filter.all[0].conds[0], Cond::Has { rtype, .. } if rtype == "Observation")
        );
    }

    #[test]
    fn bad_values_are_explained() {
        let e = p(&[("birthdate", "yesterday")], true).unwrap_err();
        assert!(e.outcome().issues[0].diagnostics.contains("needs a date"));
    }
}

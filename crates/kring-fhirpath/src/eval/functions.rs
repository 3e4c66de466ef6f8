//! The function library (`where`, `exists`, `ofType`, `substring`, `toInteger` …) and the
//! argument helpers and conversions it uses.

use std::cmp::Ordering;

use serde_json::Value;

use super::*;
use crate::value::{is_calendar_unit, Item, Primitive};

pub(super) fn string_arg(c: &[Item<'_>]) -> Result<Option<String>> {
    Ok(match single_prim(c)? {
        Some(Primitive::String(s)) => Some(s),
        Some(p) => Some(p.render()),
        None => None,
    })
}

pub(super) fn int_arg(c: &[Item<'_>]) -> Result<Option<i64>> {
    Ok(match single_prim(c)? {
        Some(Primitive::Integer(n)) => Some(n),
        Some(Primitive::Decimal(d)) if d.fract() == 0.0 => Some(d as i64),
        Some(p) => return err(format!("expected an integer, found {}", p.type_name())),
        None => None,
    })
}

pub(super) fn convert_to(p: &Primitive, target: &str) -> Option<Primitive> {
    use Primitive::*;
    match (target, p) {
        ("String", _) => Some(String(p.render())),
        ("Integer", Integer(n)) => Some(Integer(*n)),
        ("Integer", Boolean(b)) => Some(Integer(*b as i64)),
        ("Integer", String(s)) => s.parse().ok().map(Integer),
        ("Decimal", Integer(n)) => Some(Decimal(*n as f64)),
        ("Decimal", Decimal(d)) => Some(Decimal(*d)),
        ("Decimal", Boolean(b)) => Some(Decimal(if *b { 1.0 } else { 0.0 })),
        ("Decimal", String(s)) => {
            if s.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
                && !s.is_empty()
            {
                s.parse().ok().map(Decimal)
            } else {
                None
            }
        }
        ("Boolean", Boolean(b)) => Some(Boolean(*b)),
        ("Boolean", String(s)) => match s.to_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(Boolean(true)),
            "false" | "f" | "no" | "n" | "0" | "0.0" => Some(Boolean(false)),
            _ => None,
        },
        ("Boolean", Integer(n)) => match n {
            0 => Some(Boolean(false)),
            1 => Some(Boolean(true)),
            _ => None,
        },
        ("Boolean", Decimal(d)) => {
            if *d == 0.0 {
                Some(Boolean(false))
            } else if *d == 1.0 {
                Some(Boolean(true))
            } else {
                None
            }
        }
        ("Date", Date(s)) => Some(Date(s.clone())),
        ("Date", DateTime(s)) => Some(Date(s.split('T').next().unwrap_or(s).to_string())),
        ("Date", String(s)) => looks_like_date(s).then(|| Date(s.clone())),
        ("DateTime", Date(s) | DateTime(s)) => Some(DateTime(s.clone())),
        ("DateTime", String(s)) => looks_like_date(s).then(|| DateTime(s.clone())),
        ("Time", Time(s)) => Some(Time(s.clone())),
        ("Time", String(s)) => (s.len() >= 2
            && s.as_bytes()[0].is_ascii_digit()
            && s.chars().nth(2).is_none_or(|c| c == ':'))
        .then(|| Time(s.clone())),
        ("Quantity", Quantity(v, u)) => Some(Quantity(*v, u.clone())),
        ("Quantity", Integer(_) | Decimal(_)) => Some(Quantity(p.as_f64(), "1".into())),
        ("Quantity", String(s)) => parse_quantity(s),
        ("Quantity", Boolean(b)) => Some(Quantity(if *b { 1.0 } else { 0.0 }, "1".into())),
        _ => None,
    }
}

pub(super) fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4 && b[..4].iter().all(u8::is_ascii_digit) && (b.len() == 4 || b[4] == b'-')
}

pub(super) fn parse_quantity(s: &str) -> Option<Primitive> {
    let s = s.trim();
    let (num, rest) = match s.find(' ') {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    let v: f64 = num.parse().ok()?;
    let unit = if rest.is_empty() {
        "1".to_string()
    } else if let Some(u) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        u.to_string()
    } else {
        let w = rest.trim_end_matches('s');
        if is_calendar_unit(w) {
            w.to_string()
        } else {
            return None;
        }
    };
    Some(Primitive::Quantity(v, unit))
}

impl<'c, 'm, 'a> Evaluator<'c, 'm, 'a> {
    pub(super) fn call(
        &self,
        name: &str,
        focus: Coll<'a>,
        args: &[Expr],
        input: &Coll<'a>,
        scope: &Scope<'a>,
    ) -> Result<Coll<'a>> {
        // Arguments evaluated against the original input (not per item).
        let arg = |i: usize| -> Result<Coll<'a>> {
            match args.get(i) {
                Some(a) => self.eval(a, input, scope),
                None => err(format!("{name}() needs argument {}", i + 1)),
            }
        };
        let per_item = |item: &Item<'a>, idx: usize, e: &Expr| -> Result<Coll<'a>> {
            let inner = Scope {
                this: vec![item.clone()],
                index: Some(idx as i64),
                total: scope.total.clone(),
            };
            let sub = Evaluator {
                ctx: self.ctx,
                root: self.root.clone(),
                depth: self.depth + 1,
            };
            sub.eval(e, &inner.this.clone(), &inner)
        };
        let type_name_arg = |i: usize| -> Result<String> {
            match args.get(i) {
                Some(Expr::Ident(n)) => Ok(n.clone()),
                Some(Expr::Member(l, n)) => match l.as_ref() {
                    Expr::Ident(ns) => Ok(format!("{ns}.{n}")),
                    _ => err("bad type name"),
                },
                _ => err(format!("{name}() needs a type name")),
            }
        };
        let str_fn = |f: &dyn Fn(&str) -> Result<Coll<'a>>| -> Result<Coll<'a>> {
            match single_prim(&focus)? {
                None => Ok(vec![]),
                Some(Primitive::String(s)) => f(&s),
                Some(p) => f(&p.render()),
            }
        };
        let s = |v: String| vec![Item::Prim(Primitive::String(v))];
        Ok(match name {
            "empty" => boolean(focus.is_empty()),
            "exists" => match args.first() {
                None => boolean(!focus.is_empty()),
                Some(e) => {
                    let mut any = false;
                    for (i, it) in focus.iter().enumerate() {
                        if to_bool(&per_item(it, i, e)?)? == Some(true) {
                            any = true;
                            break;
                        }
                    }
                    boolean(any)
                }
            },
            "all" => {
                let e = args
                    .first()
                    .ok_or_else(|| FhirPathError::Eval("all() needs a criterion".into()))?;
                let mut all = true;
                for (i, it) in focus.iter().enumerate() {
                    if to_bool(&per_item(it, i, e)?)? != Some(true) {
                        all = false;
                        break;
                    }
                }
                boolean(all)
            }
            "allTrue" | "anyTrue" | "allFalse" | "anyFalse" => {
                let bools: Vec<bool> = focus
                    .iter()
                    .filter_map(|i| match i.to_primitive() {
                        Some(Primitive::Boolean(b)) => Some(b),
                        _ => None,
                    })
                    .collect();
                boolean(match name {
                    "allTrue" => bools.iter().all(|b| *b),
                    "anyTrue" => bools.iter().any(|b| *b),
                    "allFalse" => bools.iter().all(|b| !*b),
                    _ => bools.iter().any(|b| !*b),
                })
            }
            "subsetOf" => {
                let other = arg(0)?;
                boolean(focus.iter().all(|x| other.iter().any(|y| x.same(y))))
            }
            "supersetOf" => {
                let other = arg(0)?;
                boolean(other.iter().all(|x| focus.iter().any(|y| x.same(y))))
            }
            "count" => vec![Item::Prim(Primitive::Integer(focus.len() as i64))],
            "distinct" => distinct(focus),
            "isDistinct" => {
                let n = focus.len();
                boolean(distinct(focus).len() == n)
            }
            "where" => {
                let e = args
                    .first()
                    .ok_or_else(|| FhirPathError::Eval("where() needs a criterion".into()))?;
                let mut out = Vec::new();
                for (i, it) in focus.into_iter().enumerate() {
                    if to_bool(&per_item(&it, i, e)?)? == Some(true) {
                        out.push(it);
                    }
                }
                out
            }
            "select" => {
                let e = args
                    .first()
                    .ok_or_else(|| FhirPathError::Eval("select() needs a projection".into()))?;
                let mut out = Vec::new();
                for (i, it) in focus.iter().enumerate() {
                    out.extend(per_item(it, i, e)?);
                }
                out
            }
            "repeat" => {
                let e = args
                    .first()
                    .ok_or_else(|| FhirPathError::Eval("repeat() needs a projection".into()))?;
                let mut out: Coll<'a> = Vec::new();
                let mut frontier = focus;
                let mut rounds = 0;
                while !frontier.is_empty() && rounds < 100 {
                    rounds += 1;
                    let mut next = Vec::new();
                    for (i, it) in frontier.iter().enumerate() {
                        for n in per_item(it, i, e)? {
                            if !out.iter().any(|o| o.same(&n)) {
                                out.push(n.clone());
                                next.push(n);
                            }
                        }
                    }
                    frontier = next;
                }
                out
            }
            "ofType" => {
                let ty = type_name_arg(0)?;
                focus
                    .into_iter()
                    .filter(|it| type_matches(self.model(), it, &ty))
                    .collect()
            }
            "as" => {
                let ty = type_name_arg(0)?;
                focus
                    .into_iter()
                    .filter(|it| type_matches(self.model(), it, &ty))
                    .collect()
            }
            "is" => {
                let ty = type_name_arg(0)?;
                match single(&focus)? {
                    None => vec![],
                    Some(it) => boolean(type_matches(self.model(), it, &ty)),
                }
            }
            "single" => match focus.len() {
                0 | 1 => focus,
                _ => return err("single() found more than one item"),
            },
            "first" => focus.into_iter().take(1).collect(),
            "last" => focus.into_iter().last().into_iter().collect(),
            "tail" => focus.into_iter().skip(1).collect(),
            "skip" => {
                let n = int_arg(&arg(0)?)?.unwrap_or(0).max(0) as usize;
                focus.into_iter().skip(n).collect()
            }
            "take" => {
                let n = int_arg(&arg(0)?)?.unwrap_or(0).max(0) as usize;
                focus.into_iter().take(n).collect()
            }
            "intersect" => {
                let other = arg(0)?;
                distinct(
                    focus
                        .into_iter()
                        .filter(|x| other.iter().any(|y| x.same(y)))
                        .collect(),
                )
            }
            "exclude" => {
                let other = arg(0)?;
                focus
                    .into_iter()
                    .filter(|x| !other.iter().any(|y| x.same(y)))
                    .collect()
            }
            "union" => distinct(focus.into_iter().chain(arg(0)?).collect()),
            "combine" => focus.into_iter().chain(arg(0)?).collect(),
            "iif" => {
                if focus.len() > 1 {
                    return err("iif() works on a single item");
                }
                // The criterion and the results see the focus as $this.
                let inner = Scope {
                    this: focus.clone(),
                    index: scope.index,
                    total: scope.total.clone(),
                };
                let cond = match args.first() {
                    Some(e) => match self.eval(e, &focus, &inner)?.as_slice() {
                        [] => None,
                        [one] => match one.to_primitive() {
                            Some(Primitive::Boolean(b)) => Some(b),
                            _ => return err("the criterion of iif() must be a boolean"),
                        },
                        _ => return err("the criterion of iif() must be a single boolean"),
                    },
                    None => return err("iif() needs a condition"),
                };
                let pick = if cond == Some(true) {
                    args.get(1)
                } else {
                    args.get(2)
                };
                match pick {
                    Some(e) => self.eval(e, &focus, &inner)?,
                    None => vec![],
                }
            }
            "sort" => {
                // Sort keys: each argument (`-expr` for descending); no argument sorts the items.
                let desc: Vec<bool> = args
                    .iter()
                    .map(|a| matches!(a, Expr::Unary("-", _)))
                    .collect();
                let mut keyed: Vec<(Vec<Option<Primitive>>, Item<'a>)> = Vec::new();
                for (i, it) in focus.into_iter().enumerate() {
                    let mut keys = Vec::new();
                    if args.is_empty() {
                        keys.push(it.to_primitive());
                    }
                    for a in args {
                        let e = match a {
                            Expr::Unary("-", inner) => inner.as_ref(),
                            other => other,
                        };
                        keys.push(per_item(&it, i, e)?.first().and_then(Item::to_primitive));
                    }
                    keyed.push((keys, it));
                }
                keyed.sort_by(|(a, _), (b, _)| {
                    for (k, (x, y)) in a.iter().zip(b).enumerate() {
                        let o = match (x, y) {
                            (Some(x), Some(y)) => {
                                prim_cmp(x, y).ok().flatten().unwrap_or(Ordering::Equal)
                            }
                            (None, Some(_)) => Ordering::Less,
                            (Some(_), None) => Ordering::Greater,
                            (None, None) => Ordering::Equal,
                        };
                        let o = if desc.get(k).copied().unwrap_or(false) {
                            o.reverse()
                        } else {
                            o
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                });
                keyed.into_iter().map(|(_, it)| it).collect()
            }
            "not" => opt_bool(to_bool(&focus)?.map(|b| !b)),
            "trace" => focus,
            "children" => {
                let mut out = Vec::new();
                for it in &focus {
                    if let Item::Node {
                        value: Value::Object(map),
                        ..
                    } = it
                    {
                        for (k, _) in map
                            .iter()
                            .filter(|(k, _)| !k.starts_with('_') && *k != "resourceType")
                        {
                            children(self.model(), it, k, &mut out);
                        }
                    }
                }
                out
            }
            "descendants" => {
                let mut out = Vec::new();
                let mut frontier = focus;
                while !frontier.is_empty() {
                    let next = self.call("children", frontier, &[], input, scope)?;
                    out.extend(next.iter().cloned());
                    frontier = next;
                }
                out
            }
            "resolve" => focus
                .iter()
                .filter_map(|it| match it {
                    Item::Node { value, .. } => {
                        let r = value
                            .get("reference")
                            .and_then(Value::as_str)
                            .or_else(|| value.as_str())?;
                        let parts: Vec<&str> = r.trim_end_matches('/').split('/').collect();
                        let ty = if parts.len() >= 4 && parts[parts.len() - 2] == "_history" {
                            parts[parts.len() - 4]
                        } else if parts.len() >= 2 {
                            parts[parts.len() - 2]
                        } else {
                            return None;
                        };
                        Some(Item::Resolved(ty.to_string()))
                    }
                    _ => None,
                })
                .collect(),
            "extension" => {
                let url = string_arg(&arg(0)?)?.unwrap_or_default();
                let mut exts = Vec::new();
                for it in &focus {
                    children(self.model(), it, "extension", &mut exts);
                }
                exts.into_iter()
                    .filter(|e| matches!(e, Item::Node { value, .. } if value.get("url").and_then(Value::as_str) == Some(url.as_str())))
                    .collect()
            }
            "hasValue" => {
                boolean(matches!(single(&focus)?, Some(it) if it.to_primitive().is_some()))
            }
            "getValue" => focus
                .into_iter()
                .filter(|i| i.to_primitive().is_some())
                .collect(),
            "memberOf" | "conformsTo" | "htmlChecks" => {
                return err(format!(
                    "{name}() needs a terminology service, which this evaluator does not have"
                ))
            }
            "toString" => match single_prim(&focus)? {
                Some(p) => s(p.render()),
                None => vec![],
            },
            "toInteger" | "toDecimal" | "toBoolean" | "toDate" | "toDateTime" | "toTime"
            | "toQuantity" => {
                let target = &name[2..];
                match single_prim(&focus)? {
                    Some(p) => convert_to(&p, target).map(Item::Prim).into_iter().collect(),
                    None => vec![],
                }
            }
            "convertsToInteger" | "convertsToDecimal" | "convertsToBoolean"
            | "convertsToString" | "convertsToDate" | "convertsToDateTime" | "convertsToTime"
            | "convertsToQuantity" => {
                let target = &name[10..];
                match single_prim(&focus)? {
                    Some(p) => boolean(convert_to(&p, target).is_some()),
                    None => vec![],
                }
            }
            "startsWith" | "endsWith" | "contains" | "indexOf" | "matches" | "replaceMatches"
            | "replace" | "substring" | "upper" | "lower" | "length" | "toChars" | "trim"
            | "split" | "encode" | "decode" => {
                let a0 = if args.is_empty() { None } else { Some(arg(0)?) };
                let a1 = if args.len() > 1 { Some(arg(1)?) } else { None };
                let sarg = |c: &Option<Coll<'a>>| -> Result<Option<String>> {
                    match c {
                        Some(c) => string_arg(c),
                        None => Ok(None),
                    }
                };
                let p0 = sarg(&a0)?;
                let p1 = sarg(&a1)?;
                if !args.is_empty() && p0.is_none() {
                    return Ok(vec![]);
                }
                str_fn(&|text: &str| -> Result<Coll<'a>> {
                    let p0 = p0.clone().unwrap_or_default();
                    Ok(match name {
                        "startsWith" => boolean(text.starts_with(&p0)),
                        "endsWith" => boolean(text.ends_with(&p0)),
                        "contains" => boolean(text.contains(&p0)),
                        "indexOf" => vec![Item::Prim(Primitive::Integer(
                            text.find(&p0)
                                .map(|b| text[..b].chars().count() as i64)
                                .unwrap_or(-1),
                        ))],
                        "matches" => {
                            let re = regex_lite::Regex::new(&format!("(?s)^(?:{p0})$"))
                                .map_err(|e| FhirPathError::Eval(format!("bad regex: {e}")))?;
                            boolean(re.is_match(text))
                        }
                        "replaceMatches" => {
                            let re = regex_lite::Regex::new(&p0)
                                .map_err(|e| FhirPathError::Eval(format!("bad regex: {e}")))?;
                            let Some(rep) = p1.clone() else {
                                return Ok(vec![]);
                            };
                            s(re.replace_all(text, rep.as_str()).into_owned())
                        }
                        "replace" => {
                            let Some(rep) = p1.clone() else {
                                return Ok(vec![]);
                            };
                            if p0.is_empty() {
                                let mut out = rep.clone();
                                for c in text.chars() {
                                    out.push(c);
                                    out.push_str(&rep);
                                }
                                s(out)
                            } else {
                                s(text.replace(&p0, &rep))
                            }
                        }
                        "substring" => {
                            let start = a0
                                .as_ref()
                                .map(|c| int_arg(c))
                                .transpose()?
                                .flatten()
                                .unwrap_or(0);
                            let chars: Vec<char> = text.chars().collect();
                            if start < 0 || start as usize >= chars.len() {
                                return Ok(vec![]);
                            }
                            let len = match &a1 {
                                Some(c) => int_arg(c)?.unwrap_or(chars.len() as i64),
                                None => chars.len() as i64,
                            }
                            .max(0) as usize;
                            s(chars[start as usize..].iter().take(len).collect())
                        }
                        "upper" => s(text.to_uppercase()),
                        "lower" => s(text.to_lowercase()),
                        "trim" => s(text.trim().to_string()),
                        "length" => {
                            vec![Item::Prim(Primitive::Integer(text.chars().count() as i64))]
                        }
                        "toChars" => text
                            .chars()
                            .map(|c| Item::Prim(Primitive::String(c.to_string())))
                            .collect(),
                        "split" => text
                            .split(p0.as_str())
                            .map(|p| Item::Prim(Primitive::String(p.into())))
                            .collect(),
                        _ => return err(format!("{name}() is not supported")),
                    })
                })?
            }
            "abs" | "ceiling" | "floor" | "round" | "sqrt" | "exp" | "ln" | "truncate" | "log"
            | "power" => {
                let Some(p) = single_prim(&focus)? else {
                    return Ok(vec![]);
                };
                let v = p.as_f64();
                if v.is_nan() {
                    return err(format!("{name}() needs a number"));
                }
                let int = |x: f64| Item::Prim(Primitive::Integer(x as i64));
                let dec = |x: f64| {
                    if x.is_finite() {
                        vec![Item::Prim(Primitive::Decimal(x))]
                    } else {
                        vec![]
                    }
                };
                match name {
                    "abs" => match p {
                        Primitive::Integer(n) => vec![Item::Prim(Primitive::Integer(n.abs()))],
                        Primitive::Quantity(q, u) => {
                            vec![Item::Prim(Primitive::Quantity(q.abs(), u))]
                        }
                        _ => dec(v.abs()),
                    },
                    "ceiling" => vec![int(v.ceil())],
                    "floor" => vec![int(v.floor())],
                    "truncate" => vec![int(v.trunc())],
                    "round" => {
                        let digits = if args.is_empty() {
                            0
                        } else {
                            int_arg(&arg(0)?)?.unwrap_or(0)
                        };
                        let f = 10f64.powi(digits as i32);
                        let r = (v * f).round() / f;
                        if digits == 0 && matches!(p, Primitive::Integer(_)) {
                            vec![int(r)]
                        } else {
                            dec(r)
                        }
                    }
                    "sqrt" => dec(v.sqrt()),
                    "exp" => dec(v.exp()),
                    "ln" => dec(v.ln()),
                    "log" => {
                        let base = single_prim(&arg(0)?)?
                            .map(|b| b.as_f64())
                            .unwrap_or(f64::NAN);
                        dec(v.ln() / base.ln())
                    }
                    _ => {
                        let exp = single_prim(&arg(0)?)?;
                        match (p, exp) {
                            (Primitive::Integer(b), Some(Primitive::Integer(e))) if e >= 0 => {
                                vec![Item::Prim(Primitive::Integer(b.pow(e as u32)))]
                            }
                            (_, Some(e)) => dec(v.powf(e.as_f64())),
                            _ => vec![],
                        }
                    }
                }
            }
            "now" => vec![Item::Prim(Primitive::DateTime(
                chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
                    .to_string(),
            ))],
            "today" => vec![Item::Prim(Primitive::Date(
                chrono::Utc::now().format("%Y-%m-%d").to_string(),
            ))],
            "timeOfDay" => vec![Item::Prim(Primitive::Time(
                chrono::Utc::now().format("%H:%M:%S%.3f").to_string(),
            ))],
            "aggregate" => {
                let e = args
                    .first()
                    .ok_or_else(|| FhirPathError::Eval("aggregate() needs an aggregator".into()))?;
                let mut total = if args.len() > 1 { arg(1)? } else { vec![] };
                for (i, it) in focus.iter().enumerate() {
                    let inner = Scope {
                        this: vec![it.clone()],
                        index: Some(i as i64),
                        total: Some(total.clone()),
                    };
                    total = self.eval(e, &inner.this.clone(), &inner)?;
                }
                total
            }
            "lowBoundary" | "highBoundary" | "precision" | "comparable" => {
                return err(format!("{name}() is not supported"))
            }
            other => return err(format!("unknown function {other}()")),
        })
    }
}

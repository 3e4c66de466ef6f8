//! Evaluates an [`Expr`] against FHIR JSON.
//!
//! Collections are `Vec<Item>`; an empty collection is FHIRPath's "empty", and boolean logic is
//! three-valued as the specification defines it.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

use crate::ast::Expr;
use crate::value::{is_calendar_unit, Item, Primitive, FHIR_PRIMITIVES};
use crate::{FhirPathError, Result};

type Coll<'a> = Vec<Item<'a>>;

/// What the evaluator needs to know about FHIR types.
pub trait TypeModel: Sync {
    /// The FHIR type of element `name` on a node of type `parent` (a type name, or the path of a
    /// backbone element such as `Patient.contact`). `None` when unknown.
    fn child_type(&self, parent: &str, name: &str) -> Option<String>;
    /// Whether `ty` is `base` or derives from it (`Patient` is a `DomainResource`).
    fn is_a(&self, ty: &str, base: &str) -> bool {
        ty == base
    }
}

/// A model that knows no types: navigation still works, type tests fall back to JSON shape.
pub struct NoTypeModel;
impl TypeModel for NoTypeModel {
    fn child_type(&self, _parent: &str, _name: &str) -> Option<String> {
        None
    }
}

/// The environment of one evaluation.
pub struct EvalContext<'m> {
    pub model: &'m dyn TypeModel,
    /// Extra `%name` variables, as primitives.
    pub vars: HashMap<String, Primitive>,
}

impl<'m> EvalContext<'m> {
    pub fn new(model: &'m dyn TypeModel) -> Self {
        EvalContext {
            model,
            vars: HashMap::new(),
        }
    }
}

impl Expr {
    /// Evaluates this expression with `resource` as `%resource`, `%context` and the input.
    pub fn evaluate<'a>(
        &self,
        ctx: &EvalContext<'_>,
        resource: &'a Value,
    ) -> Result<Vec<Item<'a>>> {
        let root_ty = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .map(str::to_string);
        let root = Item::node(resource, root_ty);
        let ev = Evaluator {
            ctx,
            root: root.clone(),
            depth: 0,
        };
        let scope = Scope {
            this: vec![root],
            index: None,
            total: None,
        };
        ev.eval(self, &scope.this.clone(), &scope)
    }
}

#[derive(Clone)]
struct Scope<'a> {
    this: Coll<'a>,
    index: Option<i64>,
    total: Option<Coll<'a>>,
}

struct Evaluator<'c, 'm, 'a> {
    ctx: &'c EvalContext<'m>,
    root: Item<'a>,
    depth: usize,
}

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(FhirPathError::Eval(msg.into()))
}

fn boolean<'a>(b: bool) -> Coll<'a> {
    vec![Item::Prim(Primitive::Boolean(b))]
}

fn opt_bool<'a>(b: Option<bool>) -> Coll<'a> {
    b.map(boolean).unwrap_or_default()
}

/// Singleton evaluation of a collection as a boolean.
fn to_bool(c: &[Item<'_>]) -> Result<Option<bool>> {
    match c {
        [] => Ok(None),
        [one] => match one.to_primitive() {
            Some(Primitive::Boolean(b)) => Ok(Some(b)),
            _ => Ok(Some(true)),
        },
        _ => err("expected a single boolean but found a collection"),
    }
}

fn single<'b, 'a>(c: &'b [Item<'a>]) -> Result<Option<&'b Item<'a>>> {
    match c {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => err("expected a single item but found a collection"),
    }
}

fn single_prim(c: &[Item<'_>]) -> Result<Option<Primitive>> {
    Ok(single(c)?.and_then(Item::to_primitive))
}

fn choice_type(suffix: &str) -> String {
    let lower = {
        let mut cs = suffix.chars();
        match cs.next() {
            Some(f) => f.to_lowercase().collect::<String>() + cs.as_str(),
            None => String::new(),
        }
    };
    if FHIR_PRIMITIVES.contains(&lower.as_str()) {
        lower
    } else {
        suffix.to_string()
    }
}

/// Children of one node named `name`, following FHIR's JSON rules for choice elements.
fn children<'a>(model: &dyn TypeModel, item: &Item<'a>, name: &str, out: &mut Coll<'a>) {
    let Item::Node {
        value: Value::Object(map),
        ty,
    } = item
    else {
        return;
    };
    let push = |v: &'a Value, t: Option<String>, out: &mut Coll<'a>| {
        let resolved_ty = |v: &'a Value| {
            v.get("resourceType")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| t.clone())
        };
        match v {
            Value::Array(items) => {
                for v in items {
                    if !v.is_null() {
                        out.push(Item::node(v, resolved_ty(v)));
                    }
                }
            }
            Value::Null => {}
            v => out.push(Item::node(v, resolved_ty(v))),
        }
    };
    if let Some(v) = map.get(name) {
        let t = ty.as_deref().and_then(|p| model.child_type(p, name));
        push(v, t, out);
        return;
    }
    for (key, v) in map {
        if let Some(suffix) = choice_suffix(key, name) {
            push(v, Some(choice_type(suffix)), out);
        }
    }
}

/// The type part of a choice key for member `name` (`Quantity` of `valueQuantity`), if `key`
/// is one.
fn choice_suffix<'k>(key: &'k str, name: &str) -> Option<&'k str> {
    key.strip_prefix(name).filter(|suffix| {
        suffix
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
    })
}

/// Whether the object `value` has member `name` as a path step reads it: the key itself or a
/// choice key (`value` is `valueQuantity`, `valueString` …). A step on a value without it finds
/// nothing.
pub fn has_member(value: &Value, name: &str) -> bool {
    value.as_object().is_some_and(|map| {
        map.contains_key(name) || map.keys().any(|k| choice_suffix(k, name).is_some())
    })
}

fn type_matches(model: &dyn TypeModel, item: &Item<'_>, wanted: &str) -> bool {
    let wanted = wanted.strip_prefix("FHIR.").unwrap_or(wanted);
    if let Some(sys) = wanted.strip_prefix("System.") {
        return match item {
            Item::Prim(p) => p.type_name() == sys,
            _ => false,
        };
    }
    match item {
        Item::Prim(p) => {
            // System types answer to their FHIRPath names.
            p.type_name() == wanted
        }
        Item::Resolved(t) => {
            model.is_a(t, wanted)
                || t == wanted
                || wanted == "Resource"
                || wanted == "DomainResource"
        }
        Item::Node { value, ty } => match ty {
            Some(t) => {
                t == wanted
                    || model.is_a(t, wanted)
                    || (wanted == "Resource" && value.get("resourceType").is_some())
            }
            None => match value {
                Value::Object(_) => {
                    value.get("resourceType").and_then(Value::as_str) == Some(wanted)
                }
                Value::Bool(_) => wanted == "boolean" || wanted == "Boolean",
                Value::String(_) => wanted == "string" || wanted == "String",
                _ => false,
            },
        },
    }
}

pub(crate) fn prim_equal(a: &Primitive, b: &Primitive) -> Option<bool> {
    use Primitive::*;
    Some(match (a, b) {
        (Integer(x), Integer(y)) => x == y,
        (Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => {
            (a.as_f64() - b.as_f64()).abs() < 1e-9
        }
        (String(x), String(y)) => x == y,
        (Boolean(x), Boolean(y)) => x == y,
        (Date(x) | DateTime(x), Date(y) | DateTime(y)) | (Time(x), Time(y)) => {
            return datetime_cmp(x, y).map(|o| o == Ordering::Equal)
        }
        (Quantity(x, u), Quantity(y, v)) => {
            let (x, u) = normalize_unit(*x, u);
            let (y, v) = normalize_unit(*y, v);
            if u != v {
                return None;
            }
            (x - y).abs() < 1e-9
        }
        _ => false,
    })
}

fn normalize_unit(v: f64, u: &str) -> (f64, String) {
    match u {
        "year" | "a" => (v, "year".into()),
        "month" | "mo" => (v, "month".into()),
        "week" | "wk" => (v * 7.0, "day".into()),
        "day" | "d" => (v, "day".into()),
        "hour" | "h" => (v, "hour".into()),
        "minute" | "min" => (v, "minute".into()),
        "second" | "s" => (v, "second".into()),
        "millisecond" | "ms" => (v / 1000.0, "second".into()),
        "g" => (v, "g".into()),
        "mg" => (v / 1000.0, "g".into()),
        "kg" => (v * 1000.0, "g".into()),
        "m" => (v, "m".into()),
        "cm" => (v / 100.0, "m".into()),
        "mm" => (v / 1000.0, "m".into()),
        other => (v, other.into()),
    }
}

/// Splits a date/time text into comparable components (year, month, …, fraction) and an optional
/// timezone offset in minutes.
fn dt_parts(s: &str) -> (Vec<f64>, Option<i64>) {
    let (body, tz) = split_tz(s);
    let mut parts = Vec::new();
    for (i, piece) in body.split(['-', 'T', ':']).enumerate() {
        if piece.is_empty() {
            continue;
        }
        if i >= 5 {
            if let Ok(sec) = piece.parse::<f64>() {
                parts.push(sec);
            }
        } else if let Ok(n) = piece.parse::<f64>() {
            parts.push(n);
        }
    }
    (parts, tz)
}

fn split_tz(s: &str) -> (&str, Option<i64>) {
    if let Some(b) = s.strip_suffix('Z') {
        return (b, Some(0));
    }
    if let Some(t) = s.find('T') {
        let time = &s[t..];
        if let Some(p) = time.rfind(['+', '-']) {
            let off = &time[p + 1..];
            let sign = if &time[p..p + 1] == "-" { -1 } else { 1 };
            let mut it = off.split(':');
            let h: i64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            let m: i64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            return (&s[..t + p], Some(sign * (h * 60 + m)));
        }
    }
    (s, None)
}

/// Compares two partial dates/times; `None` when the answer depends on missing precision.
pub(crate) fn datetime_cmp(a: &str, b: &str) -> Option<Ordering> {
    let (mut pa, ta) = dt_parts(a);
    let (mut pb, tb) = dt_parts(b);
    if let (Some(x), Some(y)) = (ta, tb) {
        if x != y && pa.len() >= 5 && pb.len() >= 5 {
            shift_minutes(&mut pa, -x);
            shift_minutes(&mut pb, -y);
        }
    }
    // Seconds with and without fraction compare at second precision as one level.
    let n = pa.len().min(pb.len());
    for i in 0..n {
        match pa[i].partial_cmp(&pb[i])? {
            Ordering::Equal => continue,
            o => return Some(o),
        }
    }
    if pa.len() == pb.len() {
        Some(Ordering::Equal)
    } else {
        None
    }
}

fn shift_minutes(parts: &mut [f64], minutes: i64) {
    // Only adjust hour/minute; enough for comparing instants written with offsets on one day.
    let total = parts[3] * 60.0 + parts[4] + minutes as f64;
    parts[3] = (total / 60.0).floor();
    parts[4] = total.rem_euclid(60.0);
}

fn prim_cmp(a: &Primitive, b: &Primitive) -> Result<Option<Ordering>> {
    use Primitive::*;
    Ok(match (a, b) {
        (Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => a.as_f64().partial_cmp(&b.as_f64()),
        (String(x), String(y)) => Some(x.cmp(y)),
        (Date(x) | DateTime(x), Date(y) | DateTime(y)) | (Time(x), Time(y)) => datetime_cmp(x, y),
        (Quantity(x, u), Quantity(y, v)) => {
            let (x, u) = normalize_unit(*x, u);
            let (y, v) = normalize_unit(*y, v);
            if u != v {
                return Ok(None);
            }
            x.partial_cmp(&y)
        }
        _ => {
            return err(format!(
                "cannot compare {} with {}",
                a.type_name(),
                b.type_name()
            ))
        }
    })
}

fn equivalent(a: &Item<'_>, b: &Item<'_>) -> bool {
    match (a.to_primitive(), b.to_primitive()) {
        (Some(Primitive::String(x)), Some(Primitive::String(y))) => {
            let norm = |s: &str| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            };
            norm(&x) == norm(&y)
        }
        (
            Some(x @ (Primitive::Decimal(_) | Primitive::Integer(_))),
            Some(y @ (Primitive::Decimal(_) | Primitive::Integer(_))),
        ) => {
            let prec = |p: &Primitive| match p {
                Primitive::Decimal(d) => {
                    let s = format!("{d}");
                    s.split('.').nth(1).map(str::len).unwrap_or(0)
                }
                _ => 0,
            };
            let digits = prec(&x).min(prec(&y)) as i32;
            let f = 10f64.powi(digits);
            (x.as_f64() * f).round() == (y.as_f64() * f).round()
        }
        (
            Some(Primitive::Date(x) | Primitive::DateTime(x)),
            Some(Primitive::Date(y) | Primitive::DateTime(y)),
        ) => datetime_cmp(&x, &y) == Some(Ordering::Equal),
        (Some(x), Some(y)) => prim_equal(&x, &y) == Some(true),
        _ => a.same(b),
    }
}

fn coll_equal(a: &[Item<'_>], b: &[Item<'_>]) -> Option<bool> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a.len() != b.len() {
        return Some(false);
    }
    let mut all = true;
    for (x, y) in a.iter().zip(b) {
        match (x.to_primitive(), y.to_primitive()) {
            (Some(p), Some(q)) => match prim_equal(&p, &q) {
                Some(true) => {}
                Some(false) => all = false,
                None => return None,
            },
            _ => {
                if !x.same(y) {
                    all = false
                }
            }
        }
    }
    Some(all)
}

fn coll_equiv(a: &[Item<'_>], b: &[Item<'_>]) -> bool {
    if a.is_empty() && b.is_empty() {
        return true;
    }
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| equivalent(x, y)))
}

fn distinct<'a>(c: Coll<'a>) -> Coll<'a> {
    let mut out: Coll<'a> = Vec::new();
    for it in c {
        if !out.iter().any(|o| o.same(&it)) {
            out.push(it);
        }
    }
    out
}

fn string_arg(c: &[Item<'_>]) -> Result<Option<String>> {
    Ok(match single_prim(c)? {
        Some(Primitive::String(s)) => Some(s),
        Some(p) => Some(p.render()),
        None => None,
    })
}

fn int_arg(c: &[Item<'_>]) -> Result<Option<i64>> {
    Ok(match single_prim(c)? {
        Some(Primitive::Integer(n)) => Some(n),
        Some(Primitive::Decimal(d)) if d.fract() == 0.0 => Some(d as i64),
        Some(p) => return err(format!("expected an integer, found {}", p.type_name())),
        None => None,
    })
}

fn convert_to(p: &Primitive, target: &str) -> Option<Primitive> {
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

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4 && b[..4].iter().all(u8::is_ascii_digit) && (b.len() == 4 || b[4] == b'-')
}

fn parse_quantity(s: &str) -> Option<Primitive> {
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
    fn model(&self) -> &dyn TypeModel {
        self.ctx.model
    }

    fn eval(&self, e: &Expr, input: &Coll<'a>, scope: &Scope<'a>) -> Result<Coll<'a>> {
        if self.depth > 200 {
            return err("expression nests too deeply");
        }
        Ok(match e {
            Expr::Empty => vec![],
            Expr::Literal(p) => vec![Item::Prim(p.clone())],
            Expr::Quantity(v, u) => vec![Item::Prim(Primitive::Quantity(*v, u.clone()))],
            Expr::Env(name) => match name.as_str() {
                "resource" | "context" | "rootResource" => vec![self.root.clone()],
                "ucum" => vec![Item::Prim(Primitive::String(
                    "http://unitsofmeasure.org".into(),
                ))],
                "sct" => vec![Item::Prim(Primitive::String(
                    "http://snomed.info/sct".into(),
                ))],
                "loinc" => vec![Item::Prim(Primitive::String("http://loinc.org".into()))],
                other => match self.ctx.vars.get(other) {
                    Some(p) => vec![Item::Prim(p.clone())],
                    None if other.starts_with("vs-") || other.starts_with("ext-") => {
                        vec![Item::Prim(Primitive::String(other.to_string()))]
                    }
                    None => return err(format!("unknown variable %{other}")),
                },
            },
            Expr::Special(name) => match name.as_str() {
                "$this" => scope.this.clone(),
                "$index" => scope
                    .index
                    .map(|i| vec![Item::Prim(Primitive::Integer(i))])
                    .unwrap_or_default(),
                _ => scope.total.clone().unwrap_or_default(),
            },
            Expr::Ident(name) => {
                // A type name at the start of a path selects the input if it is of that type.
                let typed: Coll<'a> = input
                    .iter()
                    .filter(|it| matches!(it, Item::Node { value, .. } if value.get("resourceType").and_then(Value::as_str) == Some(name.as_str())))
                    .cloned()
                    .collect();
                if !typed.is_empty() {
                    typed
                } else if name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && input.iter().any(|it| matches!(it, Item::Node { value, .. } if value.get("resourceType").is_some()))
                    && !input.iter().any(|it| matches!(it, Item::Node { value, .. } if value.get(name.as_str()).is_some()))
                {
                    // `Observation.value` against a Patient: nothing, not an error.
                    vec![]
                } else {
                    self.member(input, name)
                }
            }
            Expr::Member(left, name) => {
                let l = self.eval(left, input, scope)?;
                self.member(&l, name)
            }
            Expr::Index(left, idx) => {
                let l = self.eval(left, input, scope)?;
                let i = int_arg(&self.eval(idx, input, scope)?)?;
                match i {
                    Some(i) if i >= 0 => l.into_iter().nth(i as usize).into_iter().collect(),
                    _ => vec![],
                }
            }
            Expr::Unary(op, inner) => {
                let v = self.eval(inner, input, scope)?;
                match single_prim(&v)? {
                    None => vec![],
                    Some(Primitive::Integer(n)) => {
                        vec![Item::Prim(Primitive::Integer(if *op == "-" {
                            -n
                        } else {
                            n
                        }))]
                    }
                    Some(Primitive::Decimal(d)) => {
                        vec![Item::Prim(Primitive::Decimal(if *op == "-" {
                            -d
                        } else {
                            d
                        }))]
                    }
                    Some(Primitive::Quantity(d, u)) => vec![Item::Prim(Primitive::Quantity(
                        if *op == "-" { -d } else { d },
                        u,
                    ))],
                    Some(p) => return err(format!("cannot negate {}", p.type_name())),
                }
            }
            Expr::TypeOp(op, left, ty) => {
                let l = self.eval(left, input, scope)?;
                if *op == "is" {
                    match single(&l)? {
                        None => vec![],
                        Some(it) => boolean(type_matches(self.model(), it, ty)),
                    }
                } else {
                    l.into_iter()
                        .filter(|it| type_matches(self.model(), it, ty))
                        .collect()
                }
            }
            Expr::Binary(op, l, r) => self.binary(op, l, r, input, scope)?,
            Expr::Call(target, name, args) => {
                let focus = match target {
                    Some(t) => self.eval(t, input, scope)?,
                    None => input.clone(),
                };
                self.call(name, focus, args, input, scope)?
            }
        })
    }

    fn member(&self, input: &Coll<'a>, name: &str) -> Coll<'a> {
        let mut out = Vec::new();
        for it in input {
            children(self.model(), it, name, &mut out);
        }
        out
    }

    fn binary(
        &self,
        op: &str,
        l: &Expr,
        r: &Expr,
        input: &Coll<'a>,
        scope: &Scope<'a>,
    ) -> Result<Coll<'a>> {
        // Logic operators short-circuit where the specification allows.
        match op {
            "and" | "or" | "xor" | "implies" => {
                let a = to_bool(&self.eval(l, input, scope)?)?;
                if op == "and" && a == Some(false) {
                    return Ok(boolean(false));
                }
                if op == "or" && a == Some(true) {
                    return Ok(boolean(true));
                }
                if op == "implies" && a == Some(false) {
                    return Ok(boolean(true));
                }
                let b = to_bool(&self.eval(r, input, scope)?)?;
                return Ok(opt_bool(match op {
                    "and" => match (a, b) {
                        (Some(true), Some(true)) => Some(true),
                        (_, Some(false)) => Some(false),
                        _ => None,
                    },
                    "or" => match (a, b) {
                        (_, Some(true)) => Some(true),
                        (Some(false), Some(false)) => Some(false),
                        _ => None,
                    },
                    "xor" => match (a, b) {
                        (Some(x), Some(y)) => Some(x != y),
                        _ => None,
                    },
                    _ => match (a, b) {
                        (Some(true), Some(y)) => Some(y),
                        (None, Some(true)) => Some(true),
                        (Some(true), None) | (None, _) => None,
                        (Some(false), _) => Some(true),
                    },
                }));
            }
            _ => {}
        }
        let a = self.eval(l, input, scope)?;
        let b = self.eval(r, input, scope)?;
        Ok(match op {
            "|" => distinct(a.into_iter().chain(b).collect()),
            "=" => opt_bool(coll_equal(&a, &b)),
            "!=" => opt_bool(coll_equal(&a, &b).map(|x| !x)),
            "~" => boolean(coll_equiv(&a, &b)),
            "!~" => boolean(!coll_equiv(&a, &b)),
            "in" => match single(&a)? {
                None => vec![],
                Some(x) => boolean(b.iter().any(|y| x.same(y))),
            },
            "contains" => match single(&b)? {
                None => vec![],
                Some(y) => boolean(a.iter().any(|x| x.same(y))),
            },
            "<" | ">" | "<=" | ">=" => {
                let (Some(x), Some(y)) = (single_prim(&a)?, single_prim(&b)?) else {
                    return Ok(vec![]);
                };
                // A string compared with a date is read as a date.
                let (x, y) = coerce_pair(x, y);
                match prim_cmp(&x, &y)? {
                    None => vec![],
                    Some(o) => boolean(match op {
                        "<" => o == Ordering::Less,
                        ">" => o == Ordering::Greater,
                        "<=" => o != Ordering::Greater,
                        _ => o != Ordering::Less,
                    }),
                }
            }
            "&" => {
                let s = |c: &Coll<'a>| -> Result<String> { Ok(string_arg(c)?.unwrap_or_default()) };
                vec![Item::Prim(Primitive::String(s(&a)? + &s(&b)?))]
            }
            _ => {
                let (Some(x), Some(y)) = (single_prim(&a)?, single_prim(&b)?) else {
                    return Ok(vec![]);
                };
                arithmetic(op, x, y)?.map(Item::Prim).into_iter().collect()
            }
        })
    }

    fn call(
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

fn coerce_pair(x: Primitive, y: Primitive) -> (Primitive, Primitive) {
    match (&x, &y) {
        (Primitive::String(s), Primitive::Date(_) | Primitive::DateTime(_))
            if looks_like_date(s) =>
        {
            (Primitive::DateTime(s.clone()), y)
        }
        (Primitive::Date(_) | Primitive::DateTime(_), Primitive::String(s))
            if looks_like_date(s) =>
        {
            let s = s.clone();
            (x, Primitive::DateTime(s))
        }
        _ => (x, y),
    }
}

fn arithmetic(op: &str, x: Primitive, y: Primitive) -> Result<Option<Primitive>> {
    use Primitive::*;
    Ok(Some(match (op, &x, &y) {
        ("+", String(a), String(b)) => String(format!("{a}{b}")),
        ("+" | "-", Date(d) | DateTime(d), Quantity(v, u)) => {
            let sign = if op == "-" { -1.0 } else { 1.0 };
            match add_to_date(d, sign * v, u) {
                Some(r) => {
                    if matches!(x, Date(_)) {
                        Date(r)
                    } else {
                        DateTime(r)
                    }
                }
                None => return Ok(None),
            }
        }
        ("+" | "-" | "*", Integer(a), Integer(b)) => Integer(
            match op {
                "+" => a.checked_add(*b),
                "-" => a.checked_sub(*b),
                _ => a.checked_mul(*b),
            }
            .ok_or_else(|| FhirPathError::Eval("integer overflow".into()))?,
        ),
        ("div", Integer(a), Integer(b)) => {
            if *b == 0 {
                return Ok(None);
            }
            Integer(
                a.div_euclid(*b)
                    + if (*a < 0) != (*b < 0) && a % b != 0 {
                        1
                    } else {
                        0
                    },
            )
        }
        ("mod", Integer(a), Integer(b)) => {
            if *b == 0 {
                return Ok(None);
            }
            Integer(a % b)
        }
        ("+" | "-", Quantity(a, u), Quantity(b, v)) if u == v => {
            Quantity(if op == "+" { a + b } else { a - b }, u.clone())
        }
        ("*", Quantity(a, u), Integer(_) | Decimal(_)) => Quantity(a * y.as_f64(), u.clone()),
        ("/", Quantity(a, u), Integer(_) | Decimal(_)) => Quantity(a / y.as_f64(), u.clone()),
        (_, Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => {
            let (a, b) = (x.as_f64(), y.as_f64());
            match op {
                "+" => Decimal(a + b),
                "-" => Decimal(a - b),
                "*" => Decimal(a * b),
                "/" => {
                    if b == 0.0 {
                        return Ok(None);
                    }
                    Decimal(a / b)
                }
                "div" => {
                    if b == 0.0 {
                        return Ok(None);
                    }
                    Integer((a / b).trunc() as i64)
                }
                "mod" => {
                    if b == 0.0 {
                        return Ok(None);
                    }
                    Decimal(a % b)
                }
                _ => return err(format!("unknown operator {op}")),
            }
        }
        _ => {
            return err(format!(
                "cannot apply {op} to {} and {}",
                x.type_name(),
                y.type_name()
            ))
        }
    }))
}

fn add_to_date(d: &str, v: f64, unit: &str) -> Option<String> {
    use chrono::{DateTime, Duration};
    let unit = match unit {
        "year" | "years" => "year",
        "month" | "months" => "month",
        "week" | "weeks" | "wk" => "week",
        "day" | "days" | "d" => "day",
        "hour" | "hours" | "h" => "hour",
        "minute" | "minutes" | "min" => "minute",
        "second" | "seconds" | "s" => "second",
        "millisecond" | "milliseconds" | "ms" => "millisecond",
        // UCUM 'a' and 'mo' are not calendar durations: date arithmetic with them is empty.
        _ => return None,
    };
    if d.contains('T') && d.len() > 16 {
        // A full date-time: shift the instant, keeping its offset and precision.
        let parsed = DateTime::parse_from_rfc3339(d).ok()?;
        let ms = match unit {
            "week" => v * 7.0 * 86_400_000.0,
            "day" => v * 86_400_000.0,
            "hour" => v * 3_600_000.0,
            "minute" => v * 60_000.0,
            "second" => v.trunc() * 1000.0,
            "millisecond" => v,
            _ => return add_calendar(d, v, unit),
        };
        let shifted = parsed + Duration::milliseconds(ms as i64);
        let fmt = if d.contains('.') {
            "%Y-%m-%dT%H:%M:%S%.3f%:z"
        } else {
            "%Y-%m-%dT%H:%M:%S%:z"
        };
        return Some(shifted.format(fmt).to_string());
    }
    add_calendar(d, v, unit)
}

fn add_calendar(d: &str, v: f64, unit: &str) -> Option<String> {
    use chrono::{Datelike, Duration, NaiveDate};
    let date_part = &d[..d.len().min(10)];
    let rest = &d[date_part.len()..];
    let precision = date_part.len();
    let full = match precision {
        4 => format!("{date_part}-01-01"),
        7 => format!("{date_part}-01"),
        _ => date_part.to_string(),
    };
    let date = NaiveDate::parse_from_str(&full, "%Y-%m-%d").ok()?;
    let n = v.trunc() as i64;
    let shifted = match unit {
        "year" => date.with_year(date.year() + n as i32)?,
        "month" => {
            let months = date.year() as i64 * 12 + date.month0() as i64 + n;
            let (y, m) = (
                months.div_euclid(12) as i32,
                months.rem_euclid(12) as u32 + 1,
            );
            NaiveDate::from_ymd_opt(y, m, date.day())
                .or_else(|| NaiveDate::from_ymd_opt(y, m + 1, 1).map(|d| d - Duration::days(1)))?
        }
        "week" => date + Duration::days(7 * n),
        "day" => date + Duration::days(n),
        _ => return None,
    };
    let text = shifted.format("%Y-%m-%d").to_string();
    Some(format!("{}{}", &text[..precision.min(10)], rest))
}

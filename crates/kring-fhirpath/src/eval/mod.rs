//! Evaluates an [`Expr`] against FHIR JSON.
//!
//! Collections are `Vec<Item>`; an empty collection is FHIRPath's "empty", and boolean logic is
//! three-valued as the specification defines it. This module holds the evaluator, path
//! navigation and the operators; the function library is in [`functions`], equality,
//! equivalence and ordering in [`compare`], arithmetic (dates and quantities included) in
//! [`arithmetic`].

mod arithmetic;
mod compare;
mod functions;

use arithmetic::coerce_pair;
pub(crate) use compare::prim_equal;
use compare::*;
use functions::*;

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

use crate::ast::Expr;
use crate::value::{Item, Primitive, FHIR_PRIMITIVES};
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
                arithmetic::arithmetic(op, x, y)?
                    .map(Item::Prim)
                    .into_iter()
                    .collect()
            }
        })
    }
}

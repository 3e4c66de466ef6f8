//! The FHIR R4 definitions Kring works from, distilled at build time from the official package.
//!
//! Owns: which resource and data types exist, their elements (cardinality, types, required
//! bindings), the codes of required value sets, the search parameters per resource type (with
//! their FHIRPath parsed once), and the Patient compartment. Loaded once per process.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::sync::OnceLock;

use kring_fhirpath::{Expr, TypeModel};
use serde_json::Value;

static EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/definitions.json.gz"));

/// Returns the process-wide definitions, loading them on first use.
pub fn definitions() -> &'static Definitions {
    static DEFS: OnceLock<Definitions> = OnceLock::new();
    DEFS.get_or_init(Definitions::load)
}

#[derive(Debug, Clone)]
pub struct TypeRef {
    /// The FHIR type code (`string`, `HumanName`, `Reference`, `BackboneElement` …).
    pub code: String,
    /// For references and canonicals: the allowed target resource types (empty = any).
    pub targets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ElementDef {
    pub path: String,
    pub min: u32,
    /// `None` for `*`.
    pub max: Option<u32>,
    pub types: Vec<TypeRef>,
    /// The value set of a required binding.
    pub binding: Option<String>,
    /// For elements defined by reference to another (`Questionnaire.item.item`).
    pub content_ref: Option<String>,
    /// Part of the summary view (`_summary=true`).
    pub summary: bool,
}

impl ElementDef {
    /// The element's name in its parent (`value[x]` for a choice).
    pub fn name(&self) -> &str {
        self.path.rsplit('.').next().unwrap_or(&self.path)
    }
    pub fn is_choice(&self) -> bool {
        self.path.ends_with("[x]")
    }
    pub fn is_array(&self) -> bool {
        self.max != Some(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl SearchParamType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "number" => Self::Number,
            "date" => Self::Date,
            "string" => Self::String,
            "token" => Self::Token,
            "reference" => Self::Reference,
            "composite" => Self::Composite,
            "quantity" => Self::Quantity,
            "uri" => Self::Uri,
            "special" => Self::Special,
            _ => return None,
        })
    }
    /// Whether values of this type are indexed and searched (composite and special are not).
    pub fn is_indexed(self) -> bool {
        !matches!(self, Self::Composite | Self::Special)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Date => "date",
            Self::String => "string",
            Self::Token => "token",
            Self::Reference => "reference",
            Self::Composite => "composite",
            Self::Quantity => "quantity",
            Self::Uri => "uri",
            Self::Special => "special",
        }
    }
}

/// A search parameter as it applies to one resource type.
#[derive(Debug, Clone)]
pub struct SearchParamDef {
    pub code: String,
    pub kind: SearchParamType,
    /// The part of the official expression that applies to this resource type.
    pub expression: Option<String>,
    pub parsed: Option<Expr>,
    pub targets: Vec<String>,
    /// The resource's own members the expression starts from, where it is certain to find
    /// nothing in a resource that has none of them (see [`crate::index::entry_members`]).
    pub entry_members: Option<Vec<String>>,
    /// The other parameters of the type whose expressions, united, are exactly this one's
    /// (Observation's `combo-code` is `code` and `component-code`); empty for most. Such a
    /// parameter is not indexed: a search on it reads its members' index rows, which hold the
    /// same values (a quarter of an Observation's rows fewer to write).
    pub union_of: Vec<String>,
}

#[derive(Debug, Clone)]
struct TypeInfo {
    kind: String,
    base: String,
}

/// Fills [`SearchParamDef::union_of`] for the parameters of one type: a parameter whose
/// expression is a union (`a | b`) of exactly the terms of other parameters of its type and
/// kind, each of which is not such a union itself. Composite and special parameters, which are
/// not indexed, are never unions.
fn find_unions(list: &mut [SearchParamDef]) {
    fn terms<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match e {
            Expr::Binary("|", l, r) => {
                terms(l, out);
                terms(r, out);
            }
            other => out.push(other),
        }
    }
    let terms_of: Vec<Vec<&Expr>> = list
        .iter()
        .map(|p| {
            let mut out = Vec::new();
            if let Some(e) = &p.parsed {
                terms(e, &mut out);
            }
            out
        })
        .collect();
    let mut found = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let mine = &terms_of[i];
        if mine.len() < 2 || !p.kind.is_indexed() {
            continue;
        }
        let parts: Vec<usize> = (0..list.len())
            .filter(|&j| {
                let theirs = &terms_of[j];
                j != i
                    && list[j].kind == p.kind
                    && !theirs.is_empty()
                    && theirs.len() < mine.len()
                    && theirs.iter().all(|t| mine.contains(t))
            })
            .collect();
        let covered = mine
            .iter()
            .all(|t| parts.iter().any(|&j| terms_of[j].contains(t)));
        if covered && !parts.is_empty() {
            let mut names: Vec<String> = parts.iter().map(|&j| list[j].code.clone()).collect();
            names.sort();
            found.push((i, names));
        }
    }
    // A union of unions would read rows no one writes: such a parameter stays indexed.
    let unions: Vec<String> = found.iter().map(|(i, _)| list[*i].code.clone()).collect();
    for (i, names) in found {
        if !names.iter().any(|n| unions.contains(n)) {
            list[i].union_of = names;
        }
    }
}

/// All definitions. Obtain with [`definitions()`].
pub struct Definitions {
    resource_types: BTreeSet<String>,
    types: HashMap<String, TypeInfo>,
    elements: HashMap<String, ElementDef>,
    children: HashMap<String, Vec<String>>,
    /// The children with a minimum cardinality above 0, with that minimum, in definition order.
    required: HashMap<String, Vec<(String, u32)>>,
    valuesets: HashMap<String, HashSet<(String, String)>>,
    params: HashMap<String, Vec<SearchParamDef>>,
    compartment: HashMap<String, Vec<String>>,
    /// Search parameter expressions that failed to parse (reported by the CapabilityStatement).
    pub unparsed_params: Vec<String>,
}

impl Definitions {
    fn load() -> Definitions {
        let mut text = String::new();
        flate2::read::GzDecoder::new(EMBEDDED)
            .read_to_string(&mut text)
            .expect("embedded definitions are valid gzip");
        let raw: Value = serde_json::from_str(&text).expect("embedded definitions are valid JSON");
        let resource_types: BTreeSet<String> = raw["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let mut types = HashMap::new();
        for (name, t) in raw["types"].as_object().into_iter().flatten() {
            types.insert(
                name.clone(),
                TypeInfo {
                    kind: t["kind"].as_str().unwrap_or("").to_string(),
                    base: t["base"].as_str().unwrap_or("").to_string(),
                },
            );
        }
        let mut elements = HashMap::new();
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for (path, e) in raw["elements"].as_object().into_iter().flatten() {
            let max = e["max"].as_str().and_then(|m| m.parse().ok());
            let types = e["types"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| TypeRef {
                    code: t[0].as_str().unwrap_or("").to_string(),
                    targets: t[1]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                })
                .collect();
            let def = ElementDef {
                path: path.clone(),
                min: e["min"].as_u64().unwrap_or(0) as u32,
                max,
                types,
                binding: e["binding"].as_str().map(str::to_string),
                content_ref: e["ref"].as_str().map(str::to_string),
                summary: e["summary"].as_bool().unwrap_or(false),
            };
            if let Some((parent, name)) = path.rsplit_once('.') {
                children
                    .entry(parent.to_string())
                    .or_default()
                    .push(name.to_string());
            }
            elements.insert(path.clone(), def);
        }
        let mut valuesets = HashMap::new();
        for (url, codes) in raw["valuesets"].as_object().into_iter().flatten() {
            let set: HashSet<(String, String)> = codes
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p[0].as_str().unwrap_or("").to_string(),
                        p[1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            valuesets.insert(url.clone(), set);
        }
        let mut compartment = HashMap::new();
        for (rt, ps) in raw["compartment"].as_object().into_iter().flatten() {
            compartment.insert(
                rt.clone(),
                ps.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect(),
            );
        }
        // R4's Patient compartment leaves Task out, yet a Task for a client (a referral, the
        // client's own request under the AVG) is about that client: in Kring it belongs to
        // the client its `for` names, like any other part of their record.
        compartment
            .entry("Task".to_string())
            .or_insert_with(|| vec!["patient".to_string()]);
        let mut required: HashMap<String, Vec<(String, u32)>> = HashMap::new();
        for (parent, names) in &children {
            for name in names {
                match elements.get(&format!("{parent}.{name}")) {
                    Some(ElementDef { min, .. }) if *min > 0 => required
                        .entry(parent.clone())
                        .or_default()
                        .push((name.clone(), *min)),
                    _ => {}
                }
            }
        }
        let mut defs = Definitions {
            resource_types,
            types,
            elements,
            children,
            required,
            valuesets,
            params: HashMap::new(),
            compartment,
            unparsed_params: Vec::new(),
        };
        let mut params: HashMap<String, Vec<SearchParamDef>> = HashMap::new();
        let mut unparsed = Vec::new();
        for p in raw["params"].as_array().into_iter().flatten() {
            let Some(kind) = p["type"].as_str().and_then(SearchParamType::parse) else {
                continue;
            };
            let code = p["code"].as_str().unwrap_or("").to_string();
            let targets: Vec<String> = p["target"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
            for base in p["base"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let applies_to: Vec<String> = match base {
                    "Resource" => defs.resource_types.iter().cloned().collect(),
                    "DomainResource" => defs
                        .resource_types
                        .iter()
                        .filter(|t| defs.is_a(t, "DomainResource"))
                        .cloned()
                        .collect(),
                    other => vec![other.to_string()],
                };
                for rt in applies_to {
                    let expression = p["expr"]
                        .as_str()
                        .and_then(|e| expression_for(e, base, &rt));
                    let parsed = match &expression {
                        Some(e) => match Expr::parse(e) {
                            Ok(x) => Some(x),
                            Err(_) => {
                                unparsed.push(format!("{rt}.{code}"));
                                None
                            }
                        },
                        None => None,
                    };
                    let entry_members = parsed
                        .as_ref()
                        .and_then(|x| crate::index::entry_members(x, &rt));
                    params.entry(rt).or_default().push(SearchParamDef {
                        code: code.clone(),
                        kind,
                        expression,
                        parsed,
                        targets: targets.clone(),
                        entry_members,
                        union_of: Vec::new(),
                    });
                }
            }
        }
        for list in params.values_mut() {
            find_unions(list);
        }
        defs.params = params;
        defs.unparsed_params = unparsed;
        defs
    }

    /// Every concrete resource type, sorted.
    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resource_types.iter().map(String::as_str)
    }

    pub fn is_resource_type(&self, name: &str) -> bool {
        self.resource_types.contains(name)
    }

    /// Whether `name` is a primitive data type (`string`, `date` …).
    pub fn is_primitive(&self, name: &str) -> bool {
        self.types
            .get(name)
            .is_some_and(|t| t.kind == "primitive-type")
    }

    /// `ty` is `base` or one of its specialisations.
    pub fn is_a(&self, ty: &str, base: &str) -> bool {
        let mut cur = ty;
        for _ in 0..10 {
            if cur == base {
                return true;
            }
            match self.types.get(cur) {
                Some(t) if !t.base.is_empty() => cur = &t.base,
                _ => return false,
            }
        }
        false
    }

    pub fn element(&self, path: &str) -> Option<&ElementDef> {
        self.elements.get(path)
    }

    /// The element `name` directly below `parent`: [`Definitions::element`] of `parent.name`,
    /// without building that path anew for every lookup (validation and FHIRPath ask this for
    /// every member of every resource).
    pub fn child(&self, parent: &str, name: &str) -> Option<&ElementDef> {
        thread_local! {
            static PATH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        PATH.with(|path| {
            let mut path = path.borrow_mut();
            path.clear();
            path.push_str(parent);
            path.push('.');
            path.push_str(name);
            self.elements.get(path.as_str())
        })
    }

    /// The elements directly below `path` that must be present, with their minimum count.
    pub fn required_children(&self, path: &str) -> &[(String, u32)] {
        self.required.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Names of the elements directly below `path` (a type name or a backbone path).
    pub fn children(&self, path: &str) -> &[String] {
        self.children.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The definition path whose children describe values of `element` with type `code`.
    pub fn content_path<'a>(&self, element: &'a ElementDef, code: &'a str) -> &'a str {
        if let Some(r) = &element.content_ref {
            return r;
        }
        if code == "BackboneElement" || code == "Element" {
            return &element.path;
        }
        code
    }

    /// The codes of a required value set; `None` if the set could not be expanded from the
    /// package (its codes are then not checked).
    pub fn value_set(&self, url: &str) -> Option<&HashSet<(String, String)>> {
        self.valuesets.get(url)
    }

    /// The search parameters of a resource type (including `Resource`/`DomainResource` ones).
    pub fn search_params(&self, resource_type: &str) -> &[SearchParamDef] {
        self.params
            .get(resource_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn search_param(&self, resource_type: &str, code: &str) -> Option<&SearchParamDef> {
        self.search_params(resource_type)
            .iter()
            .find(|p| p.code == code)
    }

    /// The search parameters linking a resource type to its Patient (the Patient compartment).
    pub fn patient_compartment_params(&self, resource_type: &str) -> &[String] {
        self.compartment
            .get(resource_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Keeps the parts of a (possibly multi-type) expression that apply to `rt`, with `Resource.`
/// and `DomainResource.` rewritten to `rt.`.
fn expression_for(expr: &str, base: &str, rt: &str) -> Option<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = expr.as_bytes();
    let mut in_str = false;
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'\'' => in_str = !in_str,
            b'(' if !in_str => depth += 1,
            b')' if !in_str => depth -= 1,
            b'|' if !in_str && depth == 0 => {
                parts.push(expr[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(expr[start..].trim());
    let kept: Vec<String> = parts
        .into_iter()
        .filter_map(|p| {
            let inner = p.trim_start_matches('(');
            let head = inner.split(['.', ' ', ')']).next().unwrap_or("");
            if head == rt {
                Some(p.to_string())
            } else if head == base && (base == "Resource" || base == "DomainResource") {
                Some(p.replacen(base, rt, 1))
            } else {
                None
            }
        })
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join(" | "))
    }
}

impl TypeModel for Definitions {
    fn child_type(&self, parent: &str, name: &str) -> Option<String> {
        let el = self.child(parent, name)?;
        if el.types.len() != 1 {
            if let Some(r) = &el.content_ref {
                return Some(r.clone());
            }
            return None;
        }
        Some(self.content_path(el, &el.types[0].code).to_string())
    }

    fn is_a(&self, ty: &str, base: &str) -> bool {
        if ty.contains('.') {
            return base == "BackboneElement" || base == "Element";
        }
        Definitions::is_a(self, ty, base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_every_r4_resource_type() {
        let d = definitions();
        let n = d.resource_types().count();
        assert!((145..=150).contains(&n), "{n} resource types");
        assert!(d.is_resource_type("Patient") && d.is_resource_type("CareTeam"));
        assert!(!d.is_resource_type("DomainResource"));
        assert!(d.is_a("Patient", "DomainResource"));
    }

    #[test]
    fn search_params_are_split_per_type() {
        let d = definitions();
        let p = d.search_param("Observation", "patient").unwrap();
        let e = p.expression.as_deref().unwrap();
        assert!(e.starts_with("Observation.subject"), "{e}");
        assert!(!e.contains("AllergyIntolerance"));
        assert!(d
            .search_param("Patient", "_lastUpdated")
            .unwrap()
            .expression
            .as_deref()
            .unwrap()
            .starts_with("Patient.meta"));
        assert!(d.unparsed_params.is_empty(), "{:?}", d.unparsed_params);
    }

    #[test]
    fn required_value_sets_are_expanded() {
        let d = definitions();
        let gender = d
            .value_set("http://hl7.org/fhir/ValueSet/administrative-gender")
            .unwrap();
        assert!(gender.contains(&(
            "http://hl7.org/fhir/administrative-gender".into(),
            "female".into()
        )));
        assert_eq!(
            d.element("Patient.gender").unwrap().binding.as_deref(),
            Some("http://hl7.org/fhir/ValueSet/administrative-gender")
        );
    }
}

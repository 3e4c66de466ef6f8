//! Distils the official FHIR R4 package (read in place from `../shared/data/fhir/`, or from the
//! file named by `KRING_FHIR_PACKAGE`) into the compact definitions Kring embeds: element
//! definitions, search parameters, the codes of required value sets, the Patient compartment.
//! Nothing from the package is copied into the repository; the result lives in `OUT_DIR`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::PathBuf;

use serde_json::{json, Map, Value};

fn main() {
    println!("cargo:rerun-if-env-changed=KRING_FHIR_PACKAGE");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let package = std::env::var("KRING_FHIR_PACKAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            manifest.join("../../../shared/data/fhir/hl7.fhir.r4.examples-4.0.1.tgz")
        });
    println!("cargo:rerun-if-changed={}", package.display());
    let file = std::fs::File::open(&package).unwrap_or_else(|e| {
        panic!(
            "cannot open the FHIR R4 package at {} ({e}); set KRING_FHIR_PACKAGE to its path",
            package.display()
        )
    });
    let mut wanted: HashMap<String, Vec<u8>> = HashMap::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().to_string();
        let name = path.trim_start_matches("package/").to_string();
        if matches!(
            name.as_str(),
            "Bundle-resources.json"
                | "Bundle-types.json"
                | "Bundle-valuesets.json"
                | "Bundle-v3-valuesets.json"
                | "Bundle-v2-valuesets.json"
                | "Bundle-searchParams.json"
                | "CompartmentDefinition-patient.json"
        ) {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).unwrap();
            wanted.insert(name, buf);
        }
    }
    let load = |n: &str| -> Value {
        serde_json::from_slice(
            wanted
                .get(n)
                .unwrap_or_else(|| panic!("{n} missing from the package")),
        )
        .unwrap()
    };
    let entries = |b: &Value| -> Vec<Value> {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .collect()
    };

    // --- StructureDefinitions -------------------------------------------------------------
    let mut types = Map::new();
    let mut elements = Map::new();
    let mut required_vs = BTreeSet::new();
    let mut resources = Vec::new();
    for sd in entries(&load("Bundle-types.json"))
        .into_iter()
        .chain(entries(&load("Bundle-resources.json")))
    {
        if sd["resourceType"] != "StructureDefinition" || sd["derivation"] == "constraint" {
            continue;
        }
        let name = sd["type"].as_str().unwrap().to_string();
        if sd["derivation"] != "specialization" && sd["abstract"] != true && name != "Element" {
            continue;
        }
        let kind = sd["kind"].as_str().unwrap_or("").to_string();
        if kind == "logical" {
            continue;
        }
        let base = sd["baseDefinition"]
            .as_str()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        types.insert(
            name.clone(),
            json!({"kind": kind, "base": base, "abstract": sd["abstract"]}),
        );
        if kind == "resource" && sd["abstract"] != true {
            resources.push(name.clone());
        }
        for el in sd["snapshot"]["element"].as_array().unwrap() {
            let path = el["path"].as_str().unwrap();
            if !path.contains('.') {
                continue;
            }
            let mut def = Map::new();
            def.insert("min".into(), el["min"].clone());
            def.insert("max".into(), el["max"].clone());
            if el["isSummary"] == true {
                def.insert("summary".into(), json!(true));
            }
            if let Some(r) = el["contentReference"].as_str() {
                def.insert("ref".into(), json!(r.trim_start_matches('#')));
            }
            let mut tys = Vec::new();
            for t in el["type"].as_array().into_iter().flatten() {
                let mut code = t["code"].as_str().unwrap_or("").to_string();
                if code.starts_with("http://hl7.org/fhirpath/System.") {
                    let fhir_type = t["extension"]
                        .as_array()
                        .and_then(|a| a.iter().find_map(|e| e["valueUrl"].as_str()))
                        .unwrap_or("string");
                    code = if path.ends_with(".id")
                        && path.matches('.').count() == 1
                        && kind == "resource"
                    {
                        "id".to_string()
                    } else {
                        fhir_type.to_string()
                    };
                }
                let targets: Vec<String> = t["targetProfile"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        p.as_str()
                            .map(|p| p.rsplit('/').next().unwrap().to_string())
                    })
                    .collect();
                tys.push(json!([code, targets]));
            }
            def.insert("types".into(), Value::Array(tys));
            if el["binding"]["strength"] == "required" {
                if let Some(vs) = el["binding"]["valueSet"].as_str() {
                    let vs = vs.split('|').next().unwrap().to_string();
                    required_vs.insert(vs.clone());
                    def.insert("binding".into(), json!(vs));
                }
            }
            elements.insert(path.to_string(), Value::Object(def));
        }
    }
    resources.sort();

    // --- Value sets (only those bound as required, and only when fully resolvable) ----------
    let mut code_systems: HashMap<String, Value> = HashMap::new();
    let mut value_sets: HashMap<String, Value> = HashMap::new();
    for bundle in [
        "Bundle-valuesets.json",
        "Bundle-v3-valuesets.json",
        "Bundle-v2-valuesets.json",
    ] {
        for r in entries(&load(bundle)) {
            let url = r["url"].as_str().unwrap_or("").to_string();
            match r["resourceType"].as_str() {
                Some("CodeSystem") => {
                    code_systems.insert(url, r);
                }
                Some("ValueSet") => {
                    value_sets.insert(url, r);
                }
                _ => {}
            }
        }
    }
    let mut vs_out = BTreeMap::new();
    for url in &required_vs {
        if let Some(codes) = expand(url, &value_sets, &code_systems, 0) {
            let mut list: Vec<Value> = codes.into_iter().map(|(s, c)| json!([s, c])).collect();
            list.sort_by_key(|v| v.to_string());
            vs_out.insert(url.clone(), Value::Array(list));
        }
    }

    // --- Search parameters and the Patient compartment -------------------------------------
    let mut params = Vec::new();
    for sp in entries(&load("Bundle-searchParams.json")) {
        if sp["resourceType"] != "SearchParameter" {
            continue;
        }
        params.push(json!({
            "code": sp["code"],
            "base": sp["base"],
            "type": sp["type"],
            "expr": sp["expression"],
            "target": sp["target"].as_array().cloned().unwrap_or_default(),
        }));
    }
    let comp = load("CompartmentDefinition-patient.json");
    let mut compartment = Map::new();
    for r in comp["resource"].as_array().unwrap() {
        if let Some(p) = r["param"].as_array() {
            compartment.insert(
                r["code"].as_str().unwrap().to_string(),
                Value::Array(p.clone()),
            );
        }
    }

    let out = json!({
        "resources": resources,
        "types": types,
        "elements": elements,
        "valuesets": vs_out,
        "params": params,
        "compartment": compartment,
    });
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("definitions.json.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(dest).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(serde_json::to_string(&out).unwrap().as_bytes())
        .unwrap();
    gz.finish().unwrap();
}

fn concepts_of(cs: &Value, out: &mut BTreeSet<(String, String)>, system: &str) {
    fn walk(list: &Value, system: &str, out: &mut BTreeSet<(String, String)>) {
        for c in list.as_array().into_iter().flatten() {
            if let Some(code) = c["code"].as_str() {
                out.insert((system.to_string(), code.to_string()));
            }
            walk(&c["concept"], system, out);
        }
    }
    walk(&cs["concept"], system, out);
}

fn descendants(
    cs: &Value,
    root: &str,
    system: &str,
    include_self: bool,
) -> BTreeSet<(String, String)> {
    fn find<'v>(list: &'v Value, code: &str) -> Option<&'v Value> {
        for c in list.as_array().into_iter().flatten() {
            if c["code"] == code {
                return Some(c);
            }
            if let Some(f) = find(&c["concept"], code) {
                return Some(f);
            }
        }
        None
    }
    let mut out = BTreeSet::new();
    if let Some(node) = find(&cs["concept"], root) {
        if include_self {
            out.insert((system.to_string(), root.to_string()));
        }
        concepts_of(node, &mut out, system);
    }
    out
}

/// The (system, code) pairs of a value set; `None` when it draws on a code system that is not
/// in the package (such a binding cannot be checked here and is left open).
fn expand(
    url: &str,
    vss: &HashMap<String, Value>,
    css: &HashMap<String, Value>,
    depth: usize,
) -> Option<BTreeSet<(String, String)>> {
    if depth > 8 {
        return None;
    }
    let vs = vss.get(url)?;
    let mut out = BTreeSet::new();
    for inc in vs["compose"]["include"].as_array()? {
        for nested in inc["valueSet"].as_array().into_iter().flatten() {
            out.extend(expand(
                nested.as_str()?.split('|').next()?,
                vss,
                css,
                depth + 1,
            )?);
        }
        let Some(system) = inc["system"].as_str() else {
            continue;
        };
        if let Some(list) = inc["concept"].as_array() {
            for c in list {
                out.insert((system.to_string(), c["code"].as_str()?.to_string()));
            }
            continue;
        }
        let cs = css.get(system)?;
        if cs["content"] != "complete" {
            return None;
        }
        match inc["filter"].as_array() {
            None => concepts_of(cs, &mut out, system),
            Some(filters) => {
                for f in filters {
                    let op = f["op"].as_str()?;
                    let value = f["value"].as_str()?;
                    match op {
                        "is-a" => out.extend(descendants(cs, value, system, true)),
                        "descendent-of" => out.extend(descendants(cs, value, system, false)),
                        _ => return None,
                    }
                }
            }
        }
    }
    for exc in vs["compose"]["exclude"].as_array().into_iter().flatten() {
        let system = exc["system"].as_str().unwrap_or("");
        for c in exc["concept"].as_array().into_iter().flatten() {
            out.remove(&(
                system.to_string(),
                c["code"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

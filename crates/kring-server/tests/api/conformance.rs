//! Every valid example of the official R4 package is accepted, read back and equal to what was
//! sent (ignoring `meta`).

use std::io::Read;

use serde_json::Value;

use crate::both_backends;
use crate::harness::TestApp;

/// The examples the package itself ships invalid (see kring-fhir's tests for the reasons).
const KNOWN_INVALID: &[&str] = &[
    "Bundle-v2-valuesets.json",
    "CodeSystem-v2-0550.json",
    "DeviceMetric-example.json",
    "DeviceUseStatement-example.json",
    "ig-r4.json",
    "ImplementationGuide-fhir.json",
    "MedicationRequest-medrx0301.json",
    "Observation-clinical-gender.json",
    "Questionnaire-qs1.json",
    "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
];

fn examples() -> Vec<(String, Value)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/fhir/hl7.fhir.r4.examples-4.0.1.tgz"
    );
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(path).expect("package"),
    ));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("package/")
            .to_string();
        if !name.ends_with(".json")
            || name == "package.json"
            || name.starts_with('.')
            || name.contains('/')
        {
            continue;
        }
        if KNOWN_INVALID.contains(&name.as_str())
            || (name.starts_with("SearchParameter-") && name.contains("-extensions-"))
        {
            continue;
        }
        let mut buf = String::new();
        entry.read_to_string(&mut buf).unwrap();
        let v: Value = serde_json::from_str(&buf).unwrap();
        // The big definition Bundles are data, not examples of a client record; they are
        // validated in kring-fhir's tests and would only slow this one down.
        if name.starts_with("Bundle-") && buf.len() > 1_000_000 {
            continue;
        }
        out.push((name, v));
    }
    out
}

fn without_meta(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.shift_remove("meta");
    }
    v
}

both_backends!(official_examples_round_trip, |app: TestApp| async move {
    let examples = examples();
    assert!(examples.len() > 5000, "{}", examples.len());
    let mut failures = Vec::new();
    for (name, v) in &examples {
        let rtype = v["resourceType"].as_str().unwrap();
        let id = v["id"].as_str().unwrap();
        let uri = format!("/fhir/{rtype}/{id}");
        let r = app.put(&uri, v).await;
        if !r.status.is_success() {
            failures.push(format!("{name}: {} {}", r.status, r.diagnostics()));
            continue;
        }
        let back = app.get(&uri).await;
        if without_meta(back.body.clone()) != without_meta(v.clone()) {
            failures.push(format!("{name}: read back differs"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
});

//! Every example resource in the official R4 package passes validation, except the few that the
//! package itself ships invalid (listed with the reason).

use std::io::Read;

use kring_fhir::{definitions, validate::validate};

/// Examples that are not valid R4 as published, with the reason.
pub const KNOWN_INVALID: &[(&str, &str)] = &[
    ("Bundle-v2-valuesets.json", "v2 table 0550 has codes with two consecutive spaces, which the code type forbids"),
    ("CodeSystem-v2-0550.json", "codes with two consecutive spaces, which the code type forbids"),
    ("DeviceMetric-example.json", "DeviceMetric.parent may refer to Device only, the example refers to DeviceDefinition"),
    ("DeviceUseStatement-example.json", "reasonReference does not allow Procedure"),
    ("ig-r4.json", "ImplementationGuide without the required name and status; a reference with a 67-character id"),
    ("ImplementationGuide-fhir.json", "ImplementationGuide without the required name and status; a reference with a 67-character id"),
    ("MedicationRequest-medrx0301.json", "dispenseRequest.performer may refer to Organization only"),
    ("Observation-clinical-gender.json", "Observation.performer does not allow Encounter"),
    ("Questionnaire-qs1.json", "nested items without the required linkId"),
    ("SearchParameter-codesystem-extensions-CodeSystem-author.json", "no base, which is required"),
    ("SearchParameter-codesystem-extensions-CodeSystem-effective.json", "no base, which is required"),
    ("SearchParameter-codesystem-extensions-CodeSystem-end.json", "no base, which is required"),
    ("SearchParameter-codesystem-extensions-CodeSystem-keyword.json", "no base, which is required"),
    ("SearchParameter-codesystem-extensions-CodeSystem-workflow.json", "no base, which is required"),
    ("SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json", "id longer than 64 characters"),
    ("SearchParameter-valueset-extensions-ValueSet-author.json", "no base, which is required"),
    ("SearchParameter-valueset-extensions-ValueSet-effective.json", "no base, which is required"),
    ("SearchParameter-valueset-extensions-ValueSet-end.json", "no base, which is required"),
    ("SearchParameter-valueset-extensions-ValueSet-keyword.json", "no base, which is required"),
    ("SearchParameter-valueset-extensions-ValueSet-workflow.json", "no base, which is required"),
];

#[test]
fn official_examples_validate() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/fhir/hl7.fhir.r4.examples-4.0.1.tgz"
    );
    let file = std::fs::File::open(path).expect("the FHIR package");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let defs = definitions();
    let (mut total, mut failed) = (0, Vec::new());
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
        let mut buf = String::new();
        entry.read_to_string(&mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_str(&buf).unwrap();
        total += 1;
        let issues = validate(defs, &v);
        let known_invalid = KNOWN_INVALID.iter().any(|(n, _)| *n == name);
        // A known-invalid example that starts to pass means the list is stale.
        assert!(
            !(issues.is_empty() && known_invalid),
            "{name} is listed as invalid but validates"
        );
        if !issues.is_empty() && !known_invalid {
            failed.push(format!(
                "{name}: {}",
                issues
                    .iter()
                    .take(3)
                    .map(|i| format!(
                        "{} {}",
                        i.expression.clone().unwrap_or_default(),
                        i.diagnostics
                    ))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    eprintln!("{total} examples, {} rejected", failed.len());
    assert!(
        failed.is_empty(),
        "{} of {total} rejected:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

//! The official FHIR R4 package (`hl7.fhir.r4.examples-4.0.1.tgz`) as read in place, and what
//! is known about its examples. Used by the conformance tests; the definitions themselves are
//! embedded at build time (see `build.rs`).

use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

/// Where the package is: `KRING_FHIR_PACKAGE`, or `../shared/data/fhir/` beside the checkout.
pub fn path() -> PathBuf {
    std::env::var("KRING_FHIR_PACKAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/fhir/hl7.fhir.r4.examples-4.0.1.tgz")
        })
}

/// Examples the package ships although they are not valid R4, with the reason.
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

pub fn is_known_invalid(name: &str) -> bool {
    KNOWN_INVALID.iter().any(|(n, _)| *n == name)
}

/// Every JSON resource in the package, as (file name, text).
pub fn examples() -> std::io::Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry
            .path()?
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
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        out.push((name, text));
    }
    Ok(out)
}

/// Parses an example's text.
pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

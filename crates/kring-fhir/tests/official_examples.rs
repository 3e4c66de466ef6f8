//! Every example resource in the official R4 package passes validation, except the few that the
//! package itself ships invalid (`kring_fhir::package::KNOWN_INVALID`, with the reasons).

use kring_fhir::{definitions, package, validate::validate};

#[test]
fn official_examples_validate() {
    let defs = definitions();
    let examples = package::examples().expect("the FHIR package");
    let mut failed = Vec::new();
    for (name, text) in &examples {
        let issues = validate(defs, &package::parse(text));
        let known_invalid = package::is_known_invalid(name);
        // A known-invalid example that starts to pass means the list is stale.
        assert!(
            !(issues.is_empty() && known_invalid),
            "{name} is listed as invalid but validates"
        );
        if !issues.is_empty() && !known_invalid {
            let first: Vec<String> = issues
                .iter()
                .take(3)
                .map(|i| {
                    format!(
                        "{} {}",
                        i.expression.clone().unwrap_or_default(),
                        i.diagnostics
                    )
                })
                .collect();
            failed.push(format!("{name}: {}", first.join(" | ")));
        }
    }
    eprintln!("{} examples, {} rejected", examples.len(), failed.len());
    assert!(
        failed.is_empty(),
        "{} of {} rejected:\n{}",
        failed.len(),
        examples.len(),
        failed.join("\n")
    );
}

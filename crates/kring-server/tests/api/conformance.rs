//! Every valid example of the official R4 package is accepted, read back and equal to what was
//! sent (ignoring `meta`) — except AuditEvents: the access log is Kring's own and refuses them.

use serde_json::Value;

use crate::every_backend;
use crate::harness::TestApp;

fn examples() -> Vec<(String, Value)> {
    kring_fhir::package::examples()
        .expect("the FHIR package")
        .into_iter()
        // The package's own invalid examples, and the big definition Bundles (data, not examples
        // of a client record; kring-fhir's tests validate them) are left out.
        .filter(|(name, text)| {
            let definition_bundle = name.starts_with("Bundle-") && text.len() > 1_000_000;
            !kring_fhir::package::is_known_invalid(name) && !definition_bundle
        })
        .map(|(name, text)| (name, kring_fhir::package::parse(&text)))
        .collect()
}

fn without_meta(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.shift_remove("meta");
    }
    v
}

every_backend!(official_examples_round_trip, |app: TestApp| async move {
    let examples = examples();
    assert!(examples.len() > 5000, "{}", examples.len());
    let mut failures = Vec::new();
    for (name, v) in &examples {
        let rtype = v["resourceType"].as_str().unwrap();
        let id = v["id"].as_str().unwrap();
        let uri = format!("/fhir/{rtype}/{id}");
        let r = app.put(&uri, v).await;
        if rtype == "AuditEvent" {
            // The access log is Kring's own and append-only: nobody writes AuditEvents.
            if r.status != axum::http::StatusCode::METHOD_NOT_ALLOWED {
                failures.push(format!("{name}: an AuditEvent was accepted ({})", r.status));
            }
            continue;
        }
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

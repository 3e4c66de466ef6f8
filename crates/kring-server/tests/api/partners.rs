//! A partner system's record (an ECD) as its integrator meets Kring: registering a client and
//! writing its data in one transaction (every Synthea bundle), refusals that say which entry
//! and which rule, what a partner may delete, and clients it may register.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::every_backend;
use crate::harness::TestApp;

/// The Synthea transaction Bundles of the shared test data, in name order.
fn synthea_bundles() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/synthea");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap(),
            )
        })
        .collect()
}

/// Posts one Synthea transaction as the partner; returns the new client's id.
async fn post_synthea(app: &TestApp, token: &str, name: &str, bundle: &Value) -> String {
    let r = app
        .as_partner(Some(token), Method::POST, "/fhir", Some(bundle))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.diagnostics());
    let entries = r.body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), bundle["entry"].as_array().unwrap().len());
    assert!(entries
        .iter()
        .all(|e| e["response"]["status"].as_str().unwrap().starts_with("201")));
    let patient = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .position(|e| e["resource"]["resourceType"] == "Patient")
        .unwrap();
    entries[patient]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string()
}

// Every Synthea bundle — a new client with years of data, by `urn:uuid:` — goes in through
// the API as one partner's transaction, and the partner then reads the client's data back.
every_backend!(
    every_synthea_bundle_goes_in_through_the_api,
    |app: TestApp| async move {
        let token = app
            .partner_token("jeugdhulp-de-brug", "system/*.cruds")
            .await;
        let bundles = synthea_bundles();
        assert_eq!(bundles.len(), 94, "the shared Synthea set");
        for (name, bundle) in &bundles {
            let client = post_synthea(&app, &token, name, bundle).await;
            // The registering organisation manages the client and is in its circle.
            let r = app
                .as_partner(
                    Some(&token),
                    Method::GET,
                    &format!("/fhir/Patient/{client}"),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{name}");
            assert_eq!(
                r.body["managingOrganization"]["reference"],
                "Organization/jeugdhulp-de-brug"
            );
            let r = app
                .as_partner(
                    Some(&token),
                    Method::GET,
                    &format!("/fhir/Observation?subject=Patient/{client}&_summary=count"),
                    None,
                )
                .await;
            let expected = bundle["entry"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["resource"]["resourceType"] == "Observation")
                .count();
            assert_eq!(r.body["total"], json!(expected), "{name}");
        }
    }
);

every_backend!(
    a_client_registered_in_a_transaction_is_decided_on_its_new_circle,
    |app: TestApp| async move {
        let token = app.partner_token("org-a", "system/*.cruds").await;
        // The Observation comes first in the Bundle; the registration is still decided first.
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:8f1b6f0e-0000-4000-8000-000000000002",
             "resource": {"resourceType": "Observation", "status": "final",
                          "code": {"text": "slaap"},
                          "subject": {"reference": "urn:uuid:8f1b6f0e-0000-4000-8000-000000000001"}},
             "request": {"method": "POST", "url": "Observation"}},
            {"fullUrl": "urn:uuid:8f1b6f0e-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Patient", "name": [{"family": "Nieuw"}], "birthDate": "1990-01-01"},
             "request": {"method": "POST", "url": "Patient"}}
        ]});
        let r = app
            .as_partner(Some(&token), Method::POST, "/fhir", Some(&bundle))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.diagnostics());
        // Another organisation's partner still sees nothing of that client.
        let other = app.partner_token("org-b", "system/*.cruds").await;
        let obs = r.body["entry"][0]["response"]["location"].as_str().unwrap();
        let path = obs.split("/_history").next().unwrap();
        let r = app
            .as_partner(Some(&other), Method::GET, &format!("/fhir/{path}"), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Nothing of a refused transaction is written, and the entry is named.
        let bad = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:8f1b6f0e-0000-4000-8000-000000000003",
             "resource": {"resourceType": "Patient", "name": [{"family": "Tweede"}], "birthDate": "1990-01-01"},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                          "subject": {"reference": "Patient/someone-else"}},
             "request": {"method": "POST", "url": "Observation"}}
        ]});
        let r = app
            .as_partner(Some(&token), Method::POST, "/fhir", Some(&bad))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.diagnostics());
        let r = app
            .as_partner(
                Some(&token),
                Method::GET,
                "/fhir/Patient?family=Tweede&_summary=count",
                None,
            )
            .await;
        assert_eq!(r.body["total"], 0);
    }
);

/// A client registered by `token`'s partner, with one Observation; returns (client, obs) ids.
async fn registered(app: &TestApp, token: &str, family: &str) -> (String, String) {
    let r = app
        .as_partner(
            Some(token),
            Method::POST,
            "/fhir/Patient",
            Some(&json!({"resourceType": "Patient", "name": [{"family": family}], "birthDate": "1980-02-02"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.diagnostics());
    let client = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .as_partner(
            Some(token),
            Method::POST,
            "/fhir/Observation",
            Some(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "stemming"},
                         "subject": {"reference": format!("Patient/{client}")}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.diagnostics());
    (client, r.body["id"].as_str().unwrap().to_string())
}

every_backend!(
    a_partner_deletes_what_its_organisation_owns_and_nothing_else,
    |app: TestApp| async move {
        let a = app.partner_token("org-a", "system/*.cruds").await;
        let (client, obs) = registered(&app, &a, "Verwijder").await;
        let r = app
            .as_partner(
                Some(&a),
                Method::DELETE,
                &format!("/fhir/Observation/{obs}"),
                None,
            )
            .await;
        assert!(r.status.is_success(), "{}", r.diagnostics());
        let r = app
            .as_partner(
                Some(&a),
                Method::GET,
                &format!("/fhir/Observation/{obs}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::GONE);
        // Another organisation's system, even with every scope, deletes nothing of it, and
        // is told exactly what it is told about a client that does not exist.
        let b = app.partner_token("org-b", "system/*.cruds").await;
        let (_, obs2) = registered(&app, &a, "Ander").await;
        let theirs = app
            .as_partner(
                Some(&b),
                Method::DELETE,
                &format!("/fhir/Observation/{obs2}"),
                None,
            )
            .await;
        assert_eq!(theirs.status, StatusCode::FORBIDDEN);
        let nobody = app
            .as_partner(
                Some(&b),
                Method::POST,
                "/fhir/Observation",
                Some(
                    &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                             "subject": {"reference": "Patient/does-not-exist"}}),
                ),
            )
            .await;
        assert_eq!(nobody.status, StatusCode::FORBIDDEN);
        assert_eq!(theirs.body["issue"], nobody.body["issue"]);
        assert!(!String::from_utf8_lossy(&theirs.raw).contains("rule"));
        // Without `d` in its scopes, its own data stays: the scope is named.
        let no_d = app.partner_token("org-a", "system/*.crus").await;
        let (_, obs3) = registered(&app, &a, "Scope").await;
        let r = app
            .as_partner(
                Some(&no_d),
                Method::DELETE,
                &format!("/fhir/Observation/{obs3}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.diagnostics().contains("delete"), "{}", r.diagnostics());
        // The client it registered itself, last.
        let r = app
            .as_partner(
                Some(&a),
                Method::DELETE,
                &format!("/fhir/Patient/{client}"),
                None,
            )
            .await;
        assert!(r.status.is_success(), "{}", r.diagnostics());
    }
);

every_backend!(
    a_refusal_names_the_entry_and_the_rule_to_a_caller_who_sees_the_client,
    |app: TestApp| async move {
        let a = app.partner_token("org-a", "system/*.cruds").await;
        let (client, _) = registered(&app, &a, "Regel").await;
        // org-b joins the circle for reports only; its system then writes medication.
        let circle = app
            .as_partner(
                Some(&a),
                Method::GET,
                &format!("/fhir/CareTeam?subject=Patient/{client}"),
                None,
            )
            .await;
        let mut team = circle.body["entry"][0]["resource"].clone();
        team["participant"].as_array_mut().unwrap().push(json!({
            "extension": [{"url": "https://kring.example/fhir/StructureDefinition/data-categories",
                           "valueCodeableConcept": {"coding": [
                               {"system": "https://kring.example/fhir/CodeSystem/data-category", "code": "identity"},
                               {"system": "https://kring.example/fhir/CodeSystem/data-category", "code": "reports"}]}}],
            "member": {"reference": "Organization/org-b"},
            "onBehalfOf": {"reference": "Organization/org-b"},
            "period": {"start": "2020-01-01"}}));
        let id = team["id"].as_str().unwrap().to_string();
        let r = app
            .as_partner(
                Some(&a),
                Method::PUT,
                &format!("/fhir/CareTeam/{id}"),
                Some(&team),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.diagnostics());
        // The client (an adult) consents to sharing with org-b.
        let consent = json!({"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": format!("Patient/{client}")},
            "performer": [{"reference": format!("Patient/{client}")}],
            "provision": {"type": "permit", "actor": [{"role": {"text": "ontvanger"},
                          "reference": {"reference": "Organization/org-b"}}]}});
        let r = app
            .as_partner(Some(&a), Method::POST, "/fhir/Consent", Some(&consent))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.diagnostics());
        let b = app.partner_token("org-b", "system/*.cruds").await;
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "ok"},
                          "subject": {"reference": format!("Patient/{client}")}},
             "request": {"method": "POST", "url": "Observation"}},
            {"resource": {"resourceType": "MedicationStatement", "status": "active",
                          "medicationCodeableConcept": {"text": "lorazepam"},
                          "subject": {"reference": format!("Patient/{client}")}},
             "request": {"method": "POST", "url": "MedicationStatement"}}
        ]});
        let r = app
            .as_partner(Some(&b), Method::POST, "/fhir", Some(&bundle))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let issue = &r.body["issue"][0];
        assert_eq!(issue["expression"][0], "Bundle.entry[1]");
        let text = issue["diagnostics"].as_str().unwrap();
        assert!(
            text.starts_with("entry 1 (POST MedicationStatement)"),
            "{text}"
        );
        assert!(text.contains("No rule gives you access"), "{text}");
        // The same refusal outside a Bundle names the rule without an entry.
        let r = app
            .as_partner(
                Some(&b),
                Method::POST,
                "/fhir/MedicationStatement",
                Some(&bundle["entry"][1]["resource"]),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.diagnostics().contains("No rule gives you access"));
        assert!(r.body["issue"][0]["expression"].is_null());
    }
);

every_backend!(
    a_partner_registers_clients_for_its_own_organisation_only,
    |app: TestApp| async move {
        let a = app.partner_token("org-a", "system/*.cruds").await;
        let r = app
            .as_partner(
                Some(&a),
                Method::POST,
                "/fhir/Patient",
                Some(
                    &json!({"resourceType": "Patient", "name": [{"family": "Elders"}],
                             "managingOrganization": {"reference": "Organization/org-b"}}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.diagnostics().contains("Organization/org-a"),
            "{}",
            r.diagnostics()
        );
        let r = app
            .as_partner(
                Some(&a),
                Method::GET,
                "/fhir/Patient?family=Elders&_summary=count",
                None,
            )
            .await;
        assert_eq!(r.body["total"], 0);
        // Naming its own organisation, or none, registers the client, which it then reads.
        let r = app
            .as_partner(
                Some(&a),
                Method::POST,
                "/fhir/Patient",
                Some(
                    &json!({"resourceType": "Patient", "name": [{"family": "Eigen"}],
                             "managingOrganization": {"reference": "Organization/org-a"}}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let id = r.body["id"].as_str().unwrap();
        let r = app
            .as_partner(Some(&a), Method::GET, &format!("/fhir/Patient/{id}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
);

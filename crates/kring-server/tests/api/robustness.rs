//! Bad input gets a precise OperationOutcome, and nothing is written.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::every_backend;
use crate::harness::{Backend, TestApp};

fn is_outcome(r: &crate::harness::Resp) -> bool {
    r.body["resourceType"] == "OperationOutcome"
        && r.header("content-type")
            .starts_with("application/fhir+json")
}

every_backend!(malformed_and_mistyped_bodies, |app: TestApp| async move {
    let json_ct = [("content-type", "application/fhir+json")];
    let r = app
        .call(
            Method::POST,
            "/fhir/Patient",
            &json_ct,
            b"{\"resourceType\": \"Patient\",".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        is_outcome(&r) && r.diagnostics().contains("not valid JSON"),
        "{}",
        r.diagnostics()
    );
    let r = app
        .call(Method::POST, "/fhir/Patient", &json_ct, vec![])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .call(
            Method::POST,
            "/fhir/Patient",
            &[("content-type", "application/fhir+xml")],
            b"<Patient/>".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(is_outcome(&r) && r.diagnostics().contains("XML"));
    let r = app
        .call(
            Method::POST,
            "/fhir/Patient",
            &[("content-type", "text/plain")],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app.get("/fhir/Patient/x?_format=xml").await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert!(is_outcome(&r));
    let r = app.post("/fhir/Patient", &json!([1, 2])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .post(
            "/fhir/Patient",
            &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.diagnostics().contains("URL names Patient"));
    let r = app
        .put(
            "/fhir/Patient/a1",
            &json!({"resourceType": "Patient", "id": "a2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.diagnostics().contains("Patient.id"));
});

every_backend!(
    oversized_and_deeply_nested_bodies,
    |app: TestApp| async move {
        let big = format!(
            "{{\"resourceType\":\"Patient\",\"text\":{{\"status\":\"generated\",\"div\":\"{}\"}}}}",
            "x".repeat(9 * 1024 * 1024)
        );
        let r = app
            .call(
                Method::POST,
                "/fhir/Patient",
                &[("content-type", "application/fhir+json")],
                big.into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(is_outcome(&r) && r.diagnostics().contains("limit"));
        let deep = format!(
            "{{\"resourceType\":\"Patient\",\"extension\":{}1{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let r = app
            .call(
                Method::POST,
                "/fhir/Patient",
                &[("content-type", "application/fhir+json")],
                deep.into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.diagnostics().contains("nests"), "{}", r.diagnostics());
        assert_eq!(
            app.get("/fhir/Patient").await.body["total"],
            0,
            "nothing was written"
        );
    }
);

every_backend!(
    unknown_types_invalid_ids_and_routes,
    |app: TestApp| async move {
        let r = app.get("/fhir/Dragon/1").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.diagnostics().contains("not a FHIR R4 resource type"));
        let r = app
            .post("/fhir/Dragon", &json!({"resourceType": "Dragon"}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = app.get("/fhir/Patient/this%20id%20is%20bad").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let long = "x".repeat(65);
        assert_eq!(
            app.get(&format!("/fhir/Patient/{long}")).await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            app.get("/fhir/Patient/nobody").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("/fhir/Patient/nobody/_history/x").await.status,
            StatusCode::BAD_REQUEST
        );
        let r = app.get("/fhir/Patient/1/$purge").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(is_outcome(&r));
        let r = app.get("/nothing-here").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app
            .call(
                Method::PUT,
                "/fhir/Patient/a1",
                &[
                    ("content-type", "application/fhir+json"),
                    ("if-match", "banana"),
                ],
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
);

every_backend!(
    validation_names_the_path_and_hides_the_bsn,
    |app: TestApp| async move {
        let r = app.post("/fhir/Patient", &json!({"resourceType": "Patient", "birthDate": "31-12-2010",
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "123456789"}], "shoeSize": 44})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let d = r.diagnostics();
        assert!(
            d.contains("Patient.birthDate")
                && d.contains("Patient.identifier[0].value")
                && d.contains("eleven test")
                && d.contains("Patient.shoeSize"),
            "{d}"
        );
        assert!(
            !r.raw.windows(9).any(|w| w == b"123456789"),
            "the rejected BSN is not echoed"
        );
        assert_eq!(app.get("/fhir/Patient").await.body["total"], 0);
    }
);

every_backend!(
    metadata_states_what_is_supported,
    |app: TestApp| async move {
        let r = app.get("/fhir/metadata").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["resourceType"], "CapabilityStatement");
        assert_eq!(r.body["fhirVersion"], "4.0.1");
        let resources = r.body["rest"][0]["resource"].as_array().unwrap();
        assert!(resources.len() >= 145);
        let patient = resources.iter().find(|x| x["type"] == "Patient").unwrap();
        assert!(patient["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "birthdate" && p["type"] == "date"));
        assert!(
            !patient["searchParam"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["type"] == "composite"),
            "no composite parameters are claimed"
        );
        assert_eq!(patient["operation"][0]["name"], "everything");
    }
);

/// The access log is written before data leaves: when it cannot be written, nothing is returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_data_leaves_when_the_log_cannot_be_written() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // A log that refuses every entry, as one on a failed disk does.
        let app = TestApp::with_log(backend, false).await;
        let r = app
            .put(
                "/fhir/Patient/p1",
                &json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Geheim"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{backend:?}");
        assert!(r.diagnostics().contains("access log"));
        assert!(!String::from_utf8_lossy(&r.raw).contains("Geheim"));
        // The write was not committed either.
        assert!(
            app.store.read("Patient", "p1").await.unwrap().is_none(),
            "{backend:?}: no unlogged write"
        );
    }
}

//! Transaction and batch Bundles.

use axum::http::StatusCode;
use serde_json::json;

use crate::every_backend;
use crate::harness::TestApp;

every_backend!(
    transaction_resolves_references_atomically,
    |app: TestApp| async move {
        let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", "resource": {"resourceType": "Patient", "name": [{"family": "Kok"}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059", "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "gewicht"},
             "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}}, "request": {"method": "POST", "url": "Observation"}},
            {"resource": {"resourceType": "Organization", "id": "org-1", "name": "Wijkteam"}, "request": {"method": "PUT", "url": "Organization/org-1"}},
            {"request": {"method": "GET", "url": "Organization/org-1"}}
        ]});
        let r = app.post("/fhir", &tx).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.diagnostics());
        assert_eq!(r.body["type"], "transaction-response");
        let e = r.body["entry"].as_array().unwrap();
        assert_eq!(e[0]["response"]["status"], "201 Created");
        let pid = e[0]["response"]["location"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_string();
        let oid = e[1]["response"]["location"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_string();
        let obs = app.get(&format!("/fhir/Observation/{oid}")).await;
        assert_eq!(
            obs.body["subject"]["reference"],
            format!("Patient/{pid}"),
            "urn:uuid rewritten to the new id"
        );
        assert_eq!(
            e[3]["resource"]["name"], "Wijkteam",
            "GET runs after the writes"
        );
        // The observation belongs to the patient's record.
        let all = app.get(&format!("/fhir/Patient/{pid}/$everything")).await;
        assert_eq!(all.body["entry"].as_array().unwrap().len(), 2);
    }
);

every_backend!(
    a_transaction_with_one_bad_entry_writes_nothing,
    |app: TestApp| async move {
        let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient", "id": "ok-1", "name": [{"family": "Goed"}]}, "request": {"method": "PUT", "url": "Patient/ok-1"}},
            {"resource": {"resourceType": "Patient", "birthDate": "not a date"}, "request": {"method": "POST", "url": "Patient"}}
        ]});
        let r = app.post("/fhir", &tx).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.diagnostics().contains("entry 1") && r.diagnostics().contains("Patient.birthDate"),
            "{}",
            r.diagnostics()
        );
        assert_eq!(
            app.get("/fhir/Patient/ok-1").await.status,
            StatusCode::NOT_FOUND,
            "nothing was written"
        );
        let dangling = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"}},
         "request": {"method": "POST", "url": "Observation"}}]});
        let r = app.post("/fhir", &dangling).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.diagnostics().contains("names no entry"));
    }
);

every_backend!(batch_entries_stand_alone, |app: TestApp| async move {
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient", "id": "b1", "name": [{"family": "Een"}]}, "request": {"method": "PUT", "url": "Patient/b1"}},
        {"resource": {"resourceType": "Patient", "gender": "vrouw"}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/b1"}},
        {"request": {"method": "GET", "url": "Patient?family=een"}},
        {"request": {"method": "DELETE", "url": "Patient/nobody"}}
    ]});
    let r = app.post("/fhir", &batch).await;
    assert_eq!(r.status, StatusCode::OK);
    let e = r.body["entry"].as_array().unwrap();
    assert_eq!(e[0]["response"]["status"], "201 Created");
    assert_eq!(e[1]["response"]["status"], "422 Unprocessable Entity");
    assert!(e[1]["response"]["outcome"]["issue"][0]["expression"][0] == "Patient.gender");
    assert_eq!(e[2]["response"]["status"], "200 OK");
    assert_eq!(e[3]["resource"]["type"], "searchset");
    assert_eq!(e[4]["response"]["status"], "404 Not Found");
});

every_backend!(
    bundle_type_must_be_batch_or_transaction,
    |app: TestApp| async move {
        let r = app
            .post(
                "/fhir",
                &json!({"resourceType": "Bundle", "type": "collection"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.diagnostics().contains("Bundle.type"));
    }
);

every_backend!(
    conditional_references_are_resolved_by_search,
    |app: TestApp| async move {
        app.put("/fhir/Patient/cr1", &json!({"resourceType": "Patient", "id": "cr1", "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999990019"}]})).await;
        let tx = |reference: &str| {
            json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "lengte"}, "subject": {"reference": reference}},
         "request": {"method": "POST", "url": "Observation"}}]})
        };
        let r = app
            .post(
                "/fhir",
                &tx("Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.diagnostics());
        let oid = r.body["entry"][0]["response"]["location"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_string();
        assert_eq!(
            app.get(&format!("/fhir/Observation/{oid}")).await.body["subject"]["reference"],
            "Patient/cr1"
        );
        let none = app
            .post(
                "/fhir",
                &tx("Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990020"),
            )
            .await;
        assert_eq!(none.status, StatusCode::PRECONDITION_FAILED);
        assert!(
            !none.diagnostics().contains("999990020"),
            "the search value is not echoed"
        );
        app.put("/fhir/Patient/cr2", &json!({"resourceType": "Patient", "id": "cr2", "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999990019"}]})).await;
        let many = app
            .post(
                "/fhir",
                &tx("Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019"),
            )
            .await;
        assert_eq!(many.status, StatusCode::PRECONDITION_FAILED, "two matches");
        assert_eq!(
            app.get("/fhir/Observation?code:text=lengte").await.body["total"],
            1,
            "only the first transaction wrote"
        );
    }
);

every_backend!(transaction_patch_entries, |app: TestApp| async move {
    app.put(
        "/fhir/Patient/pt1",
        &json!({"resourceType": "Patient", "id": "pt1", "name": [{"family": "Oud"}]}),
    )
    .await;
    let patch = |data: &str, url: &str| {
        json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data},
         "request": {"method": "PATCH", "url": url}}]})
    };
    // [{"op": "replace", "path": "/name/0/family", "value": "Gepatcht"}]
    let r = app.post("/fhir", &patch("W3sib3AiOiAicmVwbGFjZSIsICJwYXRoIjogIi9uYW1lLzAvZmFtaWx5IiwgInZhbHVlIjogIkdlcGF0Y2h0In1d", "Patient/pt1")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.diagnostics());
    let now = app.get("/fhir/Patient/pt1").await;
    assert_eq!(now.body["name"][0]["family"], "Gepatcht");
    assert_eq!(now.body["meta"]["versionId"], "2");
    // [{"op": "add", "path": "/birthDate", "value": "gisteren"}]: invalid, nothing changes.
    let bad = app
        .post(
            "/fhir",
            &patch(
                "W3sib3AiOiAiYWRkIiwgInBhdGgiOiAiL2JpcnRoRGF0ZSIsICJ2YWx1ZSI6ICJnaXN0ZXJlbiJ9XQ==",
                "Patient/pt1",
            ),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.diagnostics()
    );
    assert!(
        bad.diagnostics().contains("entry 0") && bad.diagnostics().contains("Patient.birthDate"),
        "{}",
        bad.diagnostics()
    );
    let missing = app.post("/fhir", &patch("W3sib3AiOiAicmVwbGFjZSIsICJwYXRoIjogIi9uYW1lLzAvZmFtaWx5IiwgInZhbHVlIjogIkdlcGF0Y2h0In1d", "Patient/nobody")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/fhir/Patient/pt1").await.body["meta"]["versionId"],
        "2"
    );
});

every_backend!(
    a_large_transaction_of_creates_updates_moves_and_deletes_lands_whole,
    |app: TestApp| async move {
        // Writes are sent to the database in batches (kring_store::pending): a Bundle larger
        // than one batch, mixing creates, updates, a move to another client and a delete,
        // must read back exactly as if each had been written alone.
        let obs = |id: &str, patient: &str| {
            json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"text": "gewicht"}, "subject": {"reference": format!("Patient/{patient}")}})
        };
        for p in ["p1", "p2"] {
            let r = app
                .put(
                    &format!("/fhir/Patient/{p}"),
                    &json!({"resourceType": "Patient", "id": p, "name": [{"family": "Oud"}]}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        for (id, p) in [("o-move", "p1"), ("o-del", "p1")] {
            assert_eq!(
                app.put(&format!("/fhir/Observation/{id}"), &obs(id, p))
                    .await
                    .status,
                StatusCode::CREATED
            );
        }
        let mut entries: Vec<_> = (0..590)
            .map(|i| {
                let id = format!("n{i}");
                json!({"resource": obs(&id, "p2"), "request": {"method": "PUT", "url": format!("Observation/{id}")}})
            })
            .collect();
        entries.push(json!({"resource": obs("o-move", "p2"), "request": {"method": "PUT", "url": "Observation/o-move"}}));
        entries.push(json!({"resource": {"resourceType": "Patient", "id": "p1", "name": [{"family": "Nieuw"}]},
            "request": {"method": "PUT", "url": "Patient/p1", "ifMatch": "W/\"1\""}}));
        entries.push(json!({"request": {"method": "DELETE", "url": "Observation/o-del"}}));
        app.transaction(entries).await;

        let count = |q: String| {
            let app = &app;
            async move { app.get(&q).await.body["total"].as_u64().unwrap() }
        };
        assert_eq!(
            count("/fhir/Observation?subject=Patient/p2&_summary=count".into()).await,
            591
        );
        assert_eq!(
            count("/fhir/Observation?subject=Patient/p1&_summary=count".into()).await,
            0
        );
        let moved = app.get("/fhir/Observation/o-move").await;
        assert_eq!(moved.body["meta"]["versionId"], "2");
        assert_eq!(moved.body["subject"]["reference"], "Patient/p2");
        let p1 = app.get("/fhir/Patient/p1").await;
        assert_eq!(p1.body["name"][0]["family"], "Nieuw");
        assert_eq!(
            app.get("/fhir/Patient?family=nieuw&_summary=count")
                .await
                .body["total"],
            1
        );
        assert_eq!(
            app.get("/fhir/Patient?family=oud&_summary=count")
                .await
                .body["total"],
            1,
            "the old name left the index"
        );
        assert_eq!(
            app.get("/fhir/Patient/p1/_history/1").await.body["name"][0]["family"],
            "Oud"
        );
        assert_eq!(
            app.get("/fhir/Observation/o-del").await.status,
            StatusCode::GONE
        );
        assert_eq!(
            app.get("/fhir/Observation/o-del/_history").await.body["entry"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(
            app.get("/fhir/Observation/n589").await.status,
            StatusCode::OK
        );

        // The same Bundle again changes nothing; a stale If-Match at its end writes nothing.
        let mut again: Vec<_> = (0..590)
            .map(|i| {
                let id = format!("m{i}");
                json!({"resource": obs(&id, "p2"), "request": {"method": "PUT", "url": format!("Observation/{id}")}})
            })
            .collect();
        again.push(json!({"resource": {"resourceType": "Patient", "id": "p1", "name": [{"family": "Later"}]},
            "request": {"method": "PUT", "url": "Patient/p1", "ifMatch": "W/\"1\""}}));
        let r = app
            .post(
                "/fhir",
                &json!({"resourceType": "Bundle", "type": "transaction", "entry": again}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::PRECONDITION_FAILED,
            "{}",
            r.diagnostics()
        );
        assert_eq!(
            app.get("/fhir/Observation/m0").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("/fhir/Observation/m589").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            count("/fhir/Observation?subject=Patient/p2&_summary=count".into()).await,
            591
        );
        assert_eq!(
            app.get("/fhir/Patient/p1").await.body["meta"]["versionId"],
            "2"
        );
    }
);

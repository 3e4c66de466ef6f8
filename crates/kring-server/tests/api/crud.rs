//! Create, read, update, patch, delete, versions and history.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::every_backend;
use crate::harness::TestApp;

fn patient(family: &str) -> serde_json::Value {
    json!({"resourceType": "Patient", "name": [{"family": family, "given": ["Anna"]}], "birthDate": "2011-04-02",
           "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999990019"}]})
}

every_backend!(
    create_read_update_delete_keeps_history,
    |app: TestApp| async move {
        let created = app.post("/fhir/Patient", &patient("de Vries")).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}",
            created.diagnostics()
        );
        let id = created.body["id"].as_str().unwrap().to_string();
        assert_eq!(created.header("etag"), "W/\"1\"");
        assert_eq!(
            created.header("location"),
            format!("http://kring.test/fhir/Patient/{id}/_history/1")
        );
        assert_eq!(created.body["meta"]["versionId"], "1");
        assert!(created.body["meta"]["lastUpdated"]
            .as_str()
            .unwrap()
            .ends_with('Z'));

        let read = app.get(&format!("/fhir/Patient/{id}")).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.raw, created.raw, "read returns the exact stored bytes");
        assert_eq!(
            read.header("content-type"),
            "application/fhir+json; charset=utf-8"
        );
        assert!(!read.header("last-modified").is_empty());

        let mut changed = read.body.clone();
        changed["name"][0]["family"] = json!("Jansen");
        let updated = app.put(&format!("/fhir/Patient/{id}"), &changed).await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.diagnostics());
        assert_eq!(updated.header("etag"), "W/\"2\"");

        let v1 = app.get(&format!("/fhir/Patient/{id}/_history/1")).await;
        assert_eq!(v1.body["name"][0]["family"], "de Vries");
        assert_eq!(
            app.get(&format!("/fhir/Patient/{id}/_history/2"))
                .await
                .body["name"][0]["family"],
            "Jansen"
        );
        assert_eq!(
            app.get(&format!("/fhir/Patient/{id}/_history/9"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        let deleted = app
            .call(Method::DELETE, &format!("/fhir/Patient/{id}"), &[], vec![])
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get(&format!("/fhir/Patient/{id}")).await.status,
            StatusCode::GONE
        );
        // Deleting again changes nothing.
        assert_eq!(
            app.call(Method::DELETE, &format!("/fhir/Patient/{id}"), &[], vec![])
                .await
                .status,
            StatusCode::NO_CONTENT
        );

        let history = app.get(&format!("/fhir/Patient/{id}/_history")).await;
        assert_eq!(history.body["type"], "history");
        let entries = history.body["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 3, "two versions and the deletion");
        assert_eq!(entries[0]["request"]["method"], "DELETE");
        assert!(entries[0].get("resource").is_none());
        assert_eq!(entries[2]["resource"]["meta"]["versionId"], "1");
        // The old versions are still readable.
        assert_eq!(
            app.get(&format!("/fhir/Patient/{id}/_history/1"))
                .await
                .status,
            StatusCode::OK
        );

        assert!(
            app.get("/fhir/Patient/_history").await.body["entry"]
                .as_array()
                .unwrap()
                .len()
                >= 3
        );
        assert!(
            app.get("/fhir/_history?_count=2").await.body["entry"]
                .as_array()
                .unwrap()
                .len()
                == 2
        );
    }
);

every_backend!(update_as_create_and_prefer, |app: TestApp| async move {
    let mut p = patient("Bakker");
    p["id"] = json!("bakker-1");
    let r = app
        .call(
            Method::PUT,
            "/fhir/Patient/bakker-1",
            &[
                ("content-type", "application/fhir+json"),
                ("prefer", "return=minimal"),
            ],
            serde_json::to_vec(&p).unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.raw.is_empty(), "return=minimal sends no body");
    assert_eq!(
        r.header("location"),
        "http://kring.test/fhir/Patient/bakker-1/_history/1"
    );
    let r = app
        .call(
            Method::PUT,
            "/fhir/Patient/bakker-1",
            &[
                ("content-type", "application/fhir+json"),
                ("prefer", "return=OperationOutcome"),
            ],
            serde_json::to_vec(&p).unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["resourceType"], "OperationOutcome");
    // An update that changes nothing makes no new version.
    assert_eq!(r.header("etag"), "W/\"1\"");
});

every_backend!(if_match_and_concurrent_updates, |app: TestApp| async move {
    let created = app.post("/fhir/Patient", &patient("Visser")).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let mut body = created.body.clone();
    body["gender"] = json!("female");
    let uri = format!("/fhir/Patient/{id}");
    let stale = app
        .call(
            Method::PUT,
            &uri,
            &[
                ("content-type", "application/fhir+json"),
                ("if-match", "W/\"7\""),
            ],
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(
        stale.diagnostics().contains("current version is 1"),
        "{}",
        stale.diagnostics()
    );

    // Eight writers update version 1 at once: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let mut b = body.clone();
        b["name"][0]["given"] = json!([format!("Writer{i}")]);
        tasks.push(app.spawn_put(uri.clone(), &b, Some("W/\"1\"")));
    }
    let statuses: Vec<StatusCode> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK
            || *s == StatusCode::PRECONDITION_FAILED
            || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_eq!(app.get(&uri).await.body["meta"]["versionId"], "2");
});

every_backend!(
    conditional_create_update_delete,
    |app: TestApp| async move {
        let body = patient("Smit");
        let h = [
            ("content-type", "application/fhir+json"),
            (
                "if-none-exist",
                "identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019",
            ),
        ];
        let first = app
            .call(
                Method::POST,
                "/fhir/Patient",
                &h,
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let second = app
            .call(
                Method::POST,
                "/fhir/Patient",
                &h,
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
        assert_eq!(
            second.status,
            StatusCode::OK,
            "the match is returned, nothing created"
        );
        assert_eq!(second.body["id"], first.body["id"]);

        let mut changed = body.clone();
        changed["gender"] = json!("female");
        let upd = app
            .put(
                "/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019",
                &changed,
            )
            .await;
        assert_eq!(upd.status, StatusCode::OK, "{}", upd.diagnostics());
        assert_eq!(upd.body["id"], first.body["id"]);
        assert_eq!(upd.body["gender"], "female");

        // Two matches: the conditional update refuses.
        app.post("/fhir/Patient", &body).await;
        let ambiguous = app
            .put(
                "/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019",
                &changed,
            )
            .await;
        assert_eq!(ambiguous.status, StatusCode::PRECONDITION_FAILED);

        let del = app
            .call(Method::DELETE, "/fhir/Patient?family=smit", &[], vec![])
            .await;
        assert_eq!(
            del.status,
            StatusCode::PRECONDITION_FAILED,
            "two Smits match"
        );
        let id = first.body["id"].as_str().unwrap();
        let del = app
            .call(
                Method::DELETE,
                &format!("/fhir/Patient?_id={id}"),
                &[],
                vec![],
            )
            .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get(&format!("/fhir/Patient/{id}")).await.status,
            StatusCode::GONE
        );
    }
);

every_backend!(json_patch, |app: TestApp| async move {
    let created = app.post("/fhir/Patient", &patient("Mulder")).await;
    let id = created.body["id"].as_str().unwrap();
    let patch = json!([{"op": "replace", "path": "/name/0/family", "value": "Meijer"}, {"op": "add", "path": "/gender", "value": "female"}]);
    let r = app
        .call(
            Method::PATCH,
            &format!("/fhir/Patient/{id}"),
            &[("content-type", "application/json-patch+json")],
            serde_json::to_vec(&patch).unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.diagnostics());
    assert_eq!(r.body["name"][0]["family"], "Meijer");
    assert_eq!(r.body["meta"]["versionId"], "2");
    // A patch that would make the resource invalid is refused, and nothing changes.
    let bad = json!([{"op": "replace", "path": "/birthDate", "value": "gisteren"}]);
    let r = app
        .call(
            Method::PATCH,
            &format!("/fhir/Patient/{id}"),
            &[("content-type", "application/json-patch+json")],
            serde_json::to_vec(&bad).unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.diagnostics().contains("Patient.birthDate"));
    assert_eq!(
        app.get(&format!("/fhir/Patient/{id}")).await.body["meta"]["versionId"],
        "2"
    );
    let r = app
        .call(
            Method::PATCH,
            "/fhir/Patient/nobody",
            &[("content-type", "application/json-patch+json")],
            serde_json::to_vec(&patch).unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

every_backend!(
    every_access_is_logged_without_personal_data,
    |app: TestApp| async move {
        let created = app.post("/fhir/Patient", &patient("de Groot")).await;
        let id = created.body["id"].as_str().unwrap().to_string();
        app.get(&format!("/fhir/Patient/{id}")).await;
        app.get("/fhir/Patient/does-not-exist").await;
        app.get("/fhir/Patient?family=de%20groot").await;
        let lines = app.log_lines().await;
        let kinds: Vec<(String, String)> = lines
            .iter()
            .map(|l| {
                (
                    l["interaction"].as_str().unwrap().to_string(),
                    l["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            kinds.contains(&("create".into(), "success".into())),
            "{kinds:?}"
        );
        assert!(kinds.contains(&("read".into(), "success".into())));
        assert!(
            kinds.contains(&("read".into(), "not-found".into())),
            "a request for an unknown id is logged too"
        );
        assert!(kinds.contains(&("search-type".into(), "success".into())));
        let search = lines
            .iter()
            .find(|l| l["interaction"] == "search-type")
            .unwrap();
        assert_eq!(
            search["client"],
            id.as_str(),
            "one entry per client whose data was returned"
        );
        // Neither in the entries nor anywhere in the log's files on disk.
        let mut text = serde_json::to_string(&lines).unwrap();
        for suffix in ["", "-wal"] {
            let file = format!("{}{suffix}", app.log_path.display());
            text.push_str(&String::from_utf8_lossy(
                &std::fs::read(file).unwrap_or_default(),
            ));
        }
        assert!(
            !text.contains("999990019") && !text.contains("Groot"),
            "no BSN or name in the log"
        );
    }
);

every_backend!(
    more_concurrent_writers_than_connections,
    |app: TestApp| async move {
        // More writers than the PostgreSQL pool has connections: each must use only its own
        // transaction's connection, or the pool runs dry and every writer waits forever.
        let created = app.post("/fhir/Patient", &patient("Veel")).await;
        let id = created.body["id"].as_str().unwrap().to_string();
        let mut tasks = Vec::new();
        for i in 0..48 {
            let mut b = created.body.clone();
            b["name"][0]["given"] = json!([format!("Schrijver{i}")]);
            tasks.push(app.spawn_put(format!("/fhir/Patient/{id}"), &b, None));
        }
        let statuses = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            futures::future::join_all(tasks),
        )
        .await
        .expect("no writer starves");
        assert!(
            statuses
                .iter()
                .all(|s| *s.as_ref().unwrap() == StatusCode::OK),
            "{statuses:?}"
        );
        assert_eq!(
            app.get(&format!("/fhir/Patient/{id}")).await.body["meta"]["versionId"],
            "49"
        );
    }
);

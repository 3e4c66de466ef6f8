//! Search: every parameter type, modifiers, prefixes, paging, sorting, includes, chains, _has.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::every_backend;
use crate::harness::TestApp;

async fn seed(app: &TestApp) {
    let patients = [
        ("p1", "Müller", "Anna", "female", "2011-04-02", "999990019"),
        ("p2", "de Vries", "Bram", "male", "1980-12-24", "999990020"),
        ("p3", "Vries", "Cor", "male", "1955-06", "999990032"),
        ("p4", "Jansen", "Dewi", "female", "2020-01-15", "999990044"),
    ];
    for (id, family, given, gender, birth, bsn) in patients {
        let r = app
            .put(&format!("/fhir/Patient/{id}"), &json!({"resourceType": "Patient", "id": id, "name": [{"family": family, "given": [given]}],
                "gender": gender, "birthDate": birth, "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": bsn}],
                "generalPractitioner": [{"reference": "Practitioner/gp"}]}))
            .await;
        assert!(r.status.is_success(), "{}", r.diagnostics());
    }
    app.put(
        "/fhir/Practitioner/gp",
        &json!({"resourceType": "Practitioner", "id": "gp", "name": [{"family": "Dokter"}]}),
    )
    .await;
    let obs = [
        ("o1", "p1", "29463-7", 70.5, "2024-01-10T09:00:00Z"),
        ("o2", "p1", "8867-4", 62.0, "2024-02-01T09:00:00Z"),
        ("o3", "p2", "29463-7", 95.0, "2023-05-05T12:00:00+02:00"),
    ];
    for (id, subject, code, value, when) in obs {
        let r = app
            .put(&format!("/fhir/Observation/{id}"), &json!({"resourceType": "Observation", "id": id, "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": if code == "29463-7" { "Body weight" } else { "Heart rate" }}]},
                "subject": {"reference": format!("Patient/{subject}")}, "effectiveDateTime": when,
                "valueQuantity": {"value": value, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}))
            .await;
        assert!(r.status.is_success(), "{}", r.diagnostics());
    }
}

async fn ids(app: &TestApp, q: &str) -> Vec<String> {
    let r = app.get(q).await;
    assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.diagnostics());
    let mut ids = TestApp::ids(&r.body);
    ids.sort();
    ids
}

every_backend!(strings_tokens_dates, |app: TestApp| async move {
    seed(&app).await;
    assert_eq!(
        ids(&app, "/fhir/Patient?family=muller").await,
        ["p1"],
        "accent- and case-insensitive"
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?family=vries").await,
        ["p3"],
        "starts-with"
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?family:contains=vries").await,
        ["p2", "p3"]
    );
    assert_eq!(ids(&app, "/fhir/Patient?family:exact=Vries").await, ["p3"]);
    assert_eq!(
        ids(&app, "/fhir/Patient?family:exact=vries").await,
        Vec::<String>::new()
    );
    assert_eq!(ids(&app, "/fhir/Patient?name=bram").await, ["p2"]);
    assert_eq!(
        ids(&app, "/fhir/Patient?family=jansen,vries").await,
        ["p3", "p4"],
        "comma means or"
    );
    assert_eq!(ids(&app, "/fhir/Patient?gender=female").await, ["p1", "p4"]);
    assert_eq!(
        ids(&app, "/fhir/Patient?gender:not=female").await,
        ["p2", "p3"]
    );
    assert_eq!(
        ids(
            &app,
            "/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990020"
        )
        .await,
        ["p2"]
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?identifier=999990020").await,
        ["p2"]
    );
    assert_eq!(
        ids(
            &app,
            "/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|"
        )
        .await
        .len(),
        4
    );
    assert_eq!(
        ids(&app, "/fhir/Observation?code:text=body").await,
        ["o1", "o3"]
    );
    assert_eq!(
        ids(&app, "/fhir/Observation?code=http://loinc.org|8867-4").await,
        ["o2"]
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?birthdate=2011-04-02").await,
        ["p1"]
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?birthdate=1955").await,
        ["p3"],
        "a year matches a month inside it"
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?birthdate=ge2011-01-01").await,
        ["p1", "p4"]
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?birthdate=lt1981").await,
        ["p2", "p3"]
    );
    assert_eq!(
        ids(
            &app,
            "/fhir/Patient?birthdate=gt2011&birthdate=le2020-01-15"
        )
        .await,
        ["p4"]
    );
    assert_eq!(ids(&app, "/fhir/Patient?birthdate=sa2019").await, ["p4"]);
    assert_eq!(ids(&app, "/fhir/Patient?birthdate=eb1960").await, ["p3"]);
    assert_eq!(
        ids(&app, "/fhir/Patient?birthdate=ne2011-04-02").await,
        ["p2", "p3", "p4"]
    );
    assert!(ids(&app, "/fhir/Patient?birthdate=ap2011-04-01")
        .await
        .contains(&"p1".to_string()));
    assert_eq!(
        ids(&app, "/fhir/Observation?date=2023-05-05").await,
        ["o3"],
        "timezones are honoured"
    );
    assert_eq!(ids(&app, "/fhir/Patient?_id=p1,p4").await, ["p1", "p4"]);
    assert_eq!(
        ids(&app, "/fhir/Patient?_lastUpdated=gt2000-01-01")
            .await
            .len(),
        4
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?_lastUpdated=lt2000-01-01")
            .await
            .len(),
        0
    );
});

every_backend!(
    numbers_quantities_references_uris_missing,
    |app: TestApp| async move {
        seed(&app).await;
        assert_eq!(
            ids(&app, "/fhir/Observation?value-quantity=70.5").await,
            ["o1"]
        );
        assert_eq!(
            ids(&app, "/fhir/Observation?value-quantity=gt65").await,
            ["o1", "o3"]
        );
        assert_eq!(
            ids(
                &app,
                "/fhir/Observation?value-quantity=le62|http://unitsofmeasure.org|kg"
            )
            .await,
            ["o2"]
        );
        assert_eq!(
            ids(
                &app,
                "/fhir/Observation?value-quantity=70|http://unitsofmeasure.org|mg"
            )
            .await,
            Vec::<String>::new()
        );
        assert_eq!(
            ids(&app, "/fhir/Observation?subject=Patient/p1").await,
            ["o1", "o2"]
        );
        assert_eq!(
            ids(&app, "/fhir/Observation?subject:Patient=p2").await,
            ["o3"]
        );
        assert_eq!(ids(&app, "/fhir/Observation?patient=p2").await, ["o3"]);
        app.put("/fhir/ValueSet/vs1", &json!({"resourceType": "ValueSet", "id": "vs1", "status": "active", "url": "http://kring.test/fhir/ValueSet/roles"})).await;
        assert_eq!(
            ids(
                &app,
                "/fhir/ValueSet?url=http://kring.test/fhir/ValueSet/roles"
            )
            .await,
            ["vs1"]
        );
        assert_eq!(
            ids(&app, "/fhir/ValueSet?url:below=http://kring.test/fhir").await,
            ["vs1"]
        );
        app.put("/fhir/RiskAssessment/r1", &json!({"resourceType": "RiskAssessment", "id": "r1", "status": "final", "subject": {"reference": "Patient/p1"}, "prediction": [{"probabilityDecimal": 0.25}]})).await;
        assert_eq!(
            ids(&app, "/fhir/RiskAssessment?probability=0.25").await,
            ["r1"]
        );
        assert_eq!(
            ids(&app, "/fhir/RiskAssessment?probability=gt0.3").await,
            Vec::<String>::new()
        );
        assert_eq!(
            ids(&app, "/fhir/Patient?gender:missing=true").await,
            Vec::<String>::new()
        );
        // `deceased` is computed (`Patient.deceased.exists() and …`): false for the living,
        // so every patient has a value and none is deceased.
        assert_eq!(
            ids(&app, "/fhir/Patient?deceased:missing=true").await.len(),
            0
        );
        assert_eq!(ids(&app, "/fhir/Patient?deceased=false").await.len(), 4);
        assert_eq!(
            ids(&app, "/fhir/Patient?deceased=true").await,
            Vec::<String>::new()
        );
        assert_eq!(
            ids(&app, "/fhir/Patient?general-practitioner:missing=false")
                .await
                .len(),
            4
        );
    }
);

every_backend!(chains_has_includes, |app: TestApp| async move {
    seed(&app).await;
    assert_eq!(
        ids(
            &app,
            "/fhir/Observation?subject:Patient.identifier=999990020"
        )
        .await,
        ["o3"]
    );
    assert_eq!(
        ids(&app, "/fhir/Observation?subject:Patient.name=muller").await,
        ["o1", "o2"]
    );
    assert_eq!(
        ids(
            &app,
            "/fhir/Observation?patient.general-practitioner.family=dokter"
        )
        .await
        .len(),
        3,
        "two links deep"
    );
    assert_eq!(
        ids(&app, "/fhir/Patient?_has:Observation:patient:code=8867-4").await,
        ["p1"]
    );
    assert_eq!(
        ids(
            &app,
            "/fhir/Patient?_has:Observation:subject:value-quantity=gt90"
        )
        .await,
        ["p2"]
    );

    let inc = app
        .get("/fhir/Observation?code=8867-4&_include=Observation:subject")
        .await;
    let modes: Vec<(String, String)> = inc.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["search"]["mode"].as_str().unwrap().into(),
                e["resource"]["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        modes,
        [
            ("match".into(), "o2".into()),
            ("include".into(), "p1".into())
        ]
    );
    let iter = app.get("/fhir/Observation?code=8867-4&_include=Observation:subject&_include:iterate=Patient:general-practitioner").await;
    assert!(
        iter.body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["resource"]["id"] == "gp"),
        "iterate follows one more level"
    );
    let rev = app
        .get("/fhir/Patient?_id=p1&_revinclude=Observation:subject")
        .await;
    let mut got: Vec<&str> = rev.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, ["o1", "o2", "p1"]);
    let star = app.get("/fhir/Patient?_id=p2&_include=*").await;
    assert!(star.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["resource"]["id"] == "gp"));
});

every_backend!(paging_sorting_summary_elements, |app: TestApp| async move {
    seed(&app).await;
    let page1 = app.get("/fhir/Patient?_sort=birthdate&_count=2").await;
    assert_eq!(TestApp::ids(&page1.body), ["p3", "p2"]);
    let links = |b: &Value| -> Vec<(String, String)> {
        b["link"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["relation"].as_str().unwrap().into(),
                    l["url"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let next = links(&page1.body)
        .into_iter()
        .find(|(r, _)| r == "next")
        .expect("a next link")
        .1;
    let page2 = app
        .get(next.strip_prefix("http://kring.test").unwrap())
        .await;
    assert_eq!(TestApp::ids(&page2.body), ["p1", "p4"]);
    assert_eq!(page2.body["total"], 4, "the last page knows the total");
    let prev = links(&page2.body)
        .into_iter()
        .find(|(r, _)| r == "previous")
        .expect("a previous link")
        .1;
    assert_eq!(
        TestApp::ids(
            &app.get(prev.strip_prefix("http://kring.test").unwrap())
                .await
                .body
        ),
        ["p3", "p2"]
    );
    assert_eq!(
        TestApp::ids(
            &app.get("/fhir/Patient?_sort=-birthdate&_count=1")
                .await
                .body
        ),
        ["p4"]
    );
    // Sorting uses the normalised text: "de Vries" sorts under d.
    assert_eq!(
        TestApp::ids(&app.get("/fhir/Patient?_sort=family,-_id").await.body),
        ["p2", "p4", "p1", "p3"]
    );
    let count = app.get("/fhir/Patient?_summary=count").await;
    assert_eq!(count.body["total"], 4);
    assert!(count.body.get("entry").is_none());
    let total = app.get("/fhir/Patient?_count=1&_total=accurate").await;
    assert_eq!(total.body["total"], 4);
    let el = app.get("/fhir/Patient?_id=p1&_elements=birthDate").await;
    let res = &el.body["entry"][0]["resource"];
    assert_eq!(res["birthDate"], "2011-04-02");
    assert!(res.get("name").is_none());
    assert_eq!(res["meta"]["tag"][0]["code"], "SUBSETTED");
    let sum = app.get("/fhir/Patient?_id=p1&_summary=true").await;
    assert!(
        sum.body["entry"][0]["resource"].get("name").is_some(),
        "name is a summary element"
    );
    let pretty = app.get("/fhir/Patient/p1?_pretty=true").await;
    assert!(String::from_utf8(pretty.raw)
        .unwrap()
        .contains("\n  \"resourceType\""));
});

every_backend!(
    unknown_parameters_lenient_or_strict,
    |app: TestApp| async move {
        seed(&app).await;
        let lenient = app.get("/fhir/Patient?colour=red&gender=male").await;
        assert_eq!(lenient.status, StatusCode::OK);
        assert_eq!(TestApp::ids(&lenient.body).len(), 2);
        let outcome = lenient.body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["search"]["mode"] == "outcome")
            .expect("the ignored parameter is reported");
        assert!(outcome["resource"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("colour"));
        assert!(
            !lenient.body["link"][0]["url"]
                .as_str()
                .unwrap()
                .contains("colour"),
            "the self link shows what was applied"
        );
        let strict = app
            .call(
                axum::http::Method::GET,
                "/fhir/Patient?colour=red",
                &[("prefer", "handling=strict")],
                vec![],
            )
            .await;
        assert_eq!(strict.status, StatusCode::BAD_REQUEST);
        assert!(strict.diagnostics().contains("colour"));
        let bad = app.get("/fhir/Patient?birthdate=soon").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let post = app
            .call(
                axum::http::Method::POST,
                "/fhir/Patient/_search",
                &[("content-type", "application/x-www-form-urlencoded")],
                b"family=jansen".to_vec(),
            )
            .await;
        assert_eq!(TestApp::ids(&post.body), ["p4"]);
    }
);

every_backend!(everything_of_a_client, |app: TestApp| async move {
    seed(&app).await;
    let all = app.get("/fhir/Patient/p1/$everything").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.diagnostics());
    let mut got: Vec<String> = all.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                e["resource"]["id"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "Observation/o1",
            "Observation/o2",
            "Patient/p1",
            "Practitioner/gp"
        ]
    );
    assert_eq!(
        app.get("/fhir/Patient/nobody/$everything").await.status,
        StatusCode::NOT_FOUND
    );
});

/// Follows `next` links from `first` and returns each page's ids.
async fn pages(app: &TestApp, first: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    let mut at = Some(first.to_string());
    while let Some(uri) = at.take() {
        let r = app.get(&uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.diagnostics());
        out.push(TestApp::ids(&r.body));
        at = r.body["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| {
                let url = l["url"].as_str().unwrap();
                url.strip_prefix("http://kring.test").unwrap().to_string()
            });
        assert!(out.len() < 10, "paging ends");
    }
    out
}

// A search for one value is read from that value's index rows in id order (see
// `kring_store::sql`); it must answer exactly what the general query answers: each resource
// once though it carries the value twice, no deleted resource, the same pages.
every_backend!(
    one_value_searches_page_by_id_and_answer_each_resource_once,
    |app: TestApp| async move {
        let coding = |system: &str, code: &str| json!({"system": system, "code": code});
        let loinc = "http://loinc.org";
        let other = "http://example.org/codes";
        let obs = [
            ("v1", vec![coding(loinc, "1234-5")]),
            // The same code twice, and the code under another system too.
            ("v2", vec![coding(loinc, "1234-5"), coding(loinc, "1234-5")]),
            ("v3", vec![coding(other, "1234-5"), coding(loinc, "1234-5")]),
            ("v4", vec![coding(other, "1234-5")]),
            ("v5", vec![coding(loinc, "9999-9")]),
            ("v6", vec![coding(loinc, "1234-5")]),
            ("v7", vec![coding(loinc, "1234-5")]),
        ];
        for (id, codings) in obs {
            let subject = if id == "v5" { "Patient/a" } else { "Patient/b" };
            let r = app
                .put(
                    &format!("/fhir/Observation/{id}"),
                    &json!({"resourceType": "Observation", "id": id,
                    "status": "final", "code": {"coding": codings, "text": "Gewicht"},
                    "subject": {"reference": subject}}),
                )
                .await;
            assert!(r.status.is_success(), "{}", r.diagnostics());
        }
        let gone = app
            .call(
                axum::http::Method::DELETE,
                "/fhir/Observation/v6",
                &[],
                vec![],
            )
            .await;
        assert!(gone.status.is_success(), "{}", gone.diagnostics());

        let system_code = pages(
            &app,
            "/fhir/Observation?code=http://loinc.org|1234-5&_count=2",
        )
        .await;
        assert_eq!(system_code, [vec!["v1", "v2"], vec!["v3", "v7"]]);
        let code_only = pages(&app, "/fhir/Observation?code=1234-5&_count=3").await;
        assert_eq!(code_only, [vec!["v1", "v2", "v3"], vec!["v4", "v7"]]);
        let subject = pages(&app, "/fhir/Observation?subject=Patient/b&_count=4").await;
        assert_eq!(subject, [vec!["v1", "v2", "v3", "v4"], vec!["v7"]]);
        let by_id = pages(&app, "/fhir/Observation?subject=b&_count=10").await;
        assert_eq!(by_id, [vec!["v1", "v2", "v3", "v4", "v7"]]);

        // The general query (sorted, or with a second condition) agrees, and so does the count.
        for (one, general) in [
            (
                "code=http://loinc.org|1234-5",
                "code=http://loinc.org|1234-5&_sort=_id",
            ),
            ("code=1234-5", "code=1234-5&status=final"),
            ("subject=Patient/b", "subject=Patient/b&_sort=_id"),
        ] {
            let a = app
                .get(&format!("/fhir/Observation?{one}&_total=accurate"))
                .await;
            let b = app
                .get(&format!("/fhir/Observation?{general}&_total=accurate"))
                .await;
            assert_eq!(TestApp::ids(&a.body), TestApp::ids(&b.body), "{one}");
            assert_eq!(a.body["total"], b.body["total"], "{one}");
            assert_eq!(a.body["total"], TestApp::ids(&a.body).len(), "{one}");
        }
    }
);

// A search with one condition and nothing else lists only the first ids from the index rows
// before it reads any resource (see `kring_store::sql::search::first_ids`); it must answer what
// the general query answers: each patient once though two of its names match, no deleted one,
// the same pages and count.
every_backend!(
    a_prefix_search_pages_by_id_and_answers_each_resource_once,
    |app: TestApp| async move {
        let patients = [
            ("n1", "Jansen", "Piet"),
            ("n2", "Jansen", "Jansje"),
            ("n3", "Pietersen", "Anna"),
            ("n4", "Jansma", "Jan"),
            ("n5", "Jansen", "Kees"),
            ("n6", "Jansen", "Mila"),
        ];
        for (id, family, given) in patients {
            let r = app
                .put(
                    &format!("/fhir/Patient/{id}"),
                    &json!({"resourceType": "Patient", "id": id,
                    "name": [{"family": family, "given": [given]}]}),
                )
                .await;
            assert!(r.status.is_success(), "{}", r.diagnostics());
        }
        let gone = app
            .call(axum::http::Method::DELETE, "/fhir/Patient/n5", &[], vec![])
            .await;
        assert!(gone.status.is_success(), "{}", gone.diagnostics());

        let prefix = pages(&app, "/fhir/Patient?name=jans&_count=2").await;
        assert_eq!(prefix, [vec!["n1", "n2"], vec!["n4", "n6"]]);
        let contains = pages(&app, "/fhir/Patient?name:contains=ANS&_count=3").await;
        assert_eq!(contains, [vec!["n1", "n2", "n4"], vec!["n6"]]);
        for (one, general) in [
            ("name=jans", "name=jans&_sort=_id"),
            ("name:contains=ans", "name:contains=ans&_sort=_id"),
            ("given=jan", "given=jan&_sort=_id"),
        ] {
            let a = app
                .get(&format!("/fhir/Patient?{one}&_total=accurate"))
                .await;
            let b = app
                .get(&format!("/fhir/Patient?{general}&_total=accurate"))
                .await;
            assert_eq!(TestApp::ids(&a.body), TestApp::ids(&b.body), "{one}");
            assert_eq!(a.body["total"], b.body["total"], "{one}");
            assert_eq!(a.body["total"], TestApp::ids(&a.body).len(), "{one}");
        }
    }
);

// Observation's combo-* parameters are not indexed: they are searched in the rows of the
// parameters they unite (code and component-code …). Every way to search them still works.
every_backend!(
    a_union_parameter_searches_its_members_rows,
    |app: TestApp| async move {
        let quantity = |v: f64, code: &str| json!({"value": v, "system": "http://unitsofmeasure.org", "code": code});
        let loinc = |code: &str| json!({"coding": [{"system": "http://loinc.org", "code": code}]});
        let obs = [
            json!({"resourceType": "Observation", "id": "bp", "status": "final", "code": loinc("85354-9"),
            "component": [{"code": loinc("8480-6"), "valueQuantity": quantity(120.0, "mm[Hg]")},
                          {"code": loinc("8462-4"), "valueQuantity": quantity(80.0, "mm[Hg]")}]}),
            json!({"resourceType": "Observation", "id": "hr", "status": "final", "code": loinc("8867-4"),
            "valueQuantity": quantity(80.0, "/min")}),
            json!({"resourceType": "Observation", "id": "note", "status": "final",
            "code": {"text": "Gesprek"}, "valueString": "rustig"}),
        ];
        for o in obs {
            let r = app
                .put(
                    &format!("/fhir/Observation/{}", o["id"].as_str().unwrap()),
                    &o,
                )
                .await;
            assert!(r.status.is_success(), "{}", r.diagnostics());
        }
        let q = |s: &str| format!("/fhir/Observation?{s}");
        assert_eq!(
            ids(&app, &q("combo-code=8480-6")).await,
            ["bp"],
            "a component's code"
        );
        assert_eq!(
            ids(&app, &q("combo-code=http://loinc.org|85354-9")).await,
            ["bp"],
            "the code"
        );
        assert_eq!(
            ids(&app, &q("combo-code=8867-4,8462-4")).await,
            ["bp", "hr"]
        );
        assert_eq!(ids(&app, &q("combo-code:not=8480-6")).await, ["hr", "note"]);
        assert_eq!(ids(&app, &q("combo-value-quantity=80")).await, ["bp", "hr"]);
        assert_eq!(ids(&app, &q("combo-value-quantity=gt100")).await, ["bp"]);
        assert_eq!(
            ids(&app, &q("combo-value-quantity:missing=true")).await,
            ["note"]
        );
        assert_eq!(
            ids(&app, &q("combo-value-quantity:missing=false")).await,
            ["bp", "hr"]
        );
        // The note's code has only a text: present, so no observation lacks a combo-code.
        assert!(ids(&app, &q("combo-code:missing=true")).await.is_empty());
        assert_eq!(
            ids(&app, &q("combo-code:missing=false")).await,
            ["bp", "hr", "note"]
        );
        // Sorted by the lowest value among the members' rows: 80 (bp's diastolic, hr), then note.
        let sorted = app.get(&q("_sort=combo-value-quantity,-_id")).await;
        assert_eq!(TestApp::ids(&sorted.body), ["hr", "bp", "note"]);
        let desc = app.get(&q("_sort=-combo-value-quantity")).await;
        assert_eq!(
            TestApp::ids(&desc.body),
            ["bp", "hr", "note"],
            "highest first: 120"
        );
    }
);

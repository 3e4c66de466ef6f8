//! The access log through the API: who may read which entries (as FHIR AuditEvent), that
//! reading the log is itself logged, NDJSON, the proofs, that nobody can write it, and that
//! sign-in is logged.

use axum::http::{Method, StatusCode};
use base64::Engine;
use kring_server::auth::accounts::{self, Kind};
use kring_server::auth::{now_ms, sessions};
use serde_json::{json, Value};

use crate::every_backend;
use crate::harness::{Resp, TestApp};

const EXT: &str = kring_access::circle::CATEGORIES_EXTENSION;
const CAT: &str = kring_access::category::CATEGORY_SYSTEM;

/// Two clients of two organisations; org-a's partner system is in pa's circle.
async fn world(app: &TestApp) {
    for org in ["org-a", "org-b"] {
        let r = app
            .put(
                &format!("/fhir/Organization/{org}"),
                &json!({"resourceType": "Organization", "id": org, "name": org}),
            )
            .await;
        assert!(r.status.is_success());
    }
    for (pid, org) in [("pa", "org-a"), ("pb", "org-b")] {
        let r = app
            .put(
                &format!("/fhir/Patient/{pid}"),
                &json!({"resourceType": "Patient", "id": pid,
            "name": [{"family": "Geheimnaam"}], "birthDate": "1980-05-05",
            "managingOrganization": {"reference": format!("Organization/{org}")}}),
            )
            .await;
        assert!(r.status.is_success());
        let r = app.put(&format!("/fhir/CareTeam/{pid}-circle"), &json!({"resourceType": "CareTeam",
            "id": format!("{pid}-circle"), "status": "active", "subject": {"reference": format!("Patient/{pid}")},
            "participant": [{"extension": [{"url": EXT, "valueCodeableConcept": {"coding": [{"system": CAT, "code": "identity"}]}}],
                "member": {"reference": format!("Organization/{org}")}, "onBehalfOf": {"reference": format!("Organization/{org}")},
                "period": {"start": "2020-01-01"}}]})).await;
        assert!(r.status.is_success());
    }
}

/// A complete session for a new account of `kind`.
async fn session(app: &TestApp, username: &str, kind: Kind, link: &str) -> String {
    let mut a = accounts::blank(username, kind);
    match kind {
        Kind::Client => a.patient = Some(link.into()),
        _ => a.organisation = Some(link.into()),
    }
    accounts::create(&*app.accounts, a, "correct horse battery staple", true)
        .await
        .unwrap();
    sessions::start(&*app.accounts, username, true, now_ms())
        .await
        .unwrap()
        .0
}

fn events(r: &Resp) -> Vec<Value> {
    r.body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .collect()
}

fn patient_of(ev: &Value) -> Option<&str> {
    ev["entity"]
        .as_array()?
        .iter()
        .find(|e| e["role"]["code"] == "1")
        .and_then(|e| e["what"]["reference"].as_str())
}

every_backend!(
    the_log_is_read_as_audit_events_only_by_those_it_concerns,
    |app: TestApp| async move {
        world(&app).await;
        let partner = app.partner_token("org-a", "system/*.rs").await;
        let r = app
            .as_partner(Some(&partner), Method::GET, "/fhir/Patient/pa", None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        // A denied read of another organisation's client is logged as well.
        let r = app
            .as_partner(Some(&partner), Method::GET, "/fhir/Patient/pb", None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // The privacy officer of org-a: the entries about org-a's client …
        let officer = session(&app, "privacy.org-a", Kind::Officer, "org-a").await;
        let r = app
            .as_person(
                &officer,
                Method::GET,
                "/fhir/AuditEvent?patient=Patient/pa&_count=100",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let evs = events(&r);
        assert!(!evs.is_empty());
        assert!(evs.iter().all(|e| patient_of(e) == Some("Patient/pa")));
        let partner_read = evs
            .iter()
            .find(|e| {
                e["subtype"][0]["code"] == "read"
                    && e["agent"][0]["who"]["identifier"]["value"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("client/")
            })
            .expect("the partner's read is in the log");
        assert_eq!(partner_read["outcome"], "0");
        assert_eq!(
            partner_read["purposeOfEvent"][0]["coding"][0]["code"],
            "TREAT"
        );
        assert!(
            partner_read["entity"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["what"]["reference"] == "CareTeam/pa-circle"),
            "the ground (the membership) is named: {partner_read}"
        );
        // … not org-b's client: refused, and that refusal is logged too.
        let r = app
            .as_person(&officer, Method::GET, "/fhir/AuditEvent?patient=pb")
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // A search without a patient: only entries about org-a's clients or by org-a's users.
        let r = app
            .as_person(&officer, Method::GET, "/fhir/AuditEvent?_count=1000")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let all = events(&r);
        assert!(
            all.iter().any(|e| e["outcome"] == "8"),
            "the partner's denial (by an org-a user) is visible"
        );
        for e in &all {
            let org_a_user = e["agent"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["who"]["reference"] == "Organization/org-a");
            assert!(patient_of(e) == Some("Patient/pa") || org_a_user, "{e}");
        }
        // An entry about pb by the operator is hidden from this officer: 404, not 403.
        let pb_entry = app
            .log_lines()
            .await
            .into_iter()
            .find(|l| l["client"] == "pb" && l["user"]["id"] == "operator")
            .unwrap();
        let r = app
            .as_person(
                &officer,
                Method::GET,
                &format!("/fhir/AuditEvent/{}", pb_entry["id"]),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let first = &all[0];
        let r = app
            .as_person(
                &officer,
                Method::GET,
                &format!("/fhir/AuditEvent/{}", first["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(&r.body, first);

        // The client reads who looked at their own file, and nobody else's.
        let client = session(&app, "client.pa", Kind::Client, "pa").await;
        let r = app
            .as_person(&client, Method::GET, "/fhir/AuditEvent")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(events(&r)
            .iter()
            .all(|e| patient_of(e) == Some("Patient/pa")));
        assert!(!events(&r).is_empty());
        let r = app
            .as_person(&client, Method::GET, "/fhir/AuditEvent?patient=pb")
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // A partner system does not read the log at all.
        let r = app
            .as_partner(
                Some(&partner),
                Method::GET,
                "/fhir/AuditEvent?patient=pa",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .as_partner(Some(&partner), Method::GET, "/fhir/AuditEvent", None)
            .await;
        assert_eq!(events(&r).len(), 0);

        // Every read of the log is itself in the log.
        let log = app.log_lines().await;
        assert!(log
            .iter()
            .any(|l| l["user"]["id"] == "account/privacy.org-a"
                && l["data"]["type"] == "AuditEvent"
                && l["client"] == "pa"
                && l["outcome"] == "success"));
        assert!(log
            .iter()
            .any(|l| l["user"]["id"] == "account/privacy.org-a"
                && l["client"] == "pb"
                && l["outcome"] == "denied"));
        assert!(log.iter().any(|l| l["user"]["id"] == "account/client.pa"
            && l["data"]["type"] == "AuditEvent"
            && l["purpose"] == "PATRQT"));
        let text = serde_json::to_string(&log).unwrap();
        assert!(!text.contains("Geheimnaam"), "no client names in the log");
    }
);

every_backend!(
    search_parameters_ndjson_and_append_only,
    |app: TestApp| async move {
        world(&app).await;
        let officer = session(&app, "privacy.org-a", Kind::Officer, "org-a").await;
        let r = app
            .as_person(
                &officer,
                Method::GET,
                "/fhir/AuditEvent?patient=pa&action=C&outcome=0&purpose=HSYSADMIN",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let evs = events(&r);
        assert!(!evs.is_empty());
        assert!(evs
            .iter()
            .all(|e| e["action"] == "C" && e["outcome"] == "0"));
        let r = app
            .as_person(&officer, Method::GET, "/fhir/AuditEvent?patient=pa&date=ge2000-01-01&date=le2999-12-31&entity=CareTeam/pa-circle")
            .await;
        let evs = events(&r);
        assert!(!evs.is_empty());
        assert!(evs.iter().all(|e| e["entity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["what"]["reference"] == "CareTeam/pa-circle")));
        let r = app
            .as_person(
                &officer,
                Method::GET,
                "/fhir/AuditEvent?patient=pa&date=lt2000-01-01",
            )
            .await;
        assert!(events(&r).is_empty());
        // Paging.
        let r = app
            .as_person(
                &officer,
                Method::GET,
                "/fhir/AuditEvent?patient=pa&_count=1",
            )
            .await;
        assert_eq!(events(&r).len(), 1);
        assert!(r.body["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next"));
        // NDJSON.
        let r = app
            .as_person(
                &officer,
                Method::GET,
                "/fhir/AuditEvent?patient=pa&_format=application/fhir%2Bndjson",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), "application/fhir+ndjson");
        let text = String::from_utf8(r.raw.clone()).unwrap();
        assert!(text.lines().count() >= 2);
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["resourceType"], "AuditEvent");
        }
        // Clear errors for what the log is not searched by.
        let r = app
            .as_person(&officer, Method::GET, "/fhir/AuditEvent?name=x")
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.diagnostics().contains("'name' is not one of them"));
        let r = app
            .as_person(&officer, Method::GET, "/fhir/AuditEvent?outcome=7")
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // Nobody writes the log, not even the operator.
        for (method, uri) in [
            (Method::POST, "/fhir/AuditEvent"),
            (Method::PUT, "/fhir/AuditEvent/1"),
            (Method::DELETE, "/fhir/AuditEvent/1"),
        ] {
            let r = app
                .send(method, uri, &json!({"resourceType": "AuditEvent"}))
                .await;
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
            assert!(r.diagnostics().contains("append-only"));
        }
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "AuditEvent"}, "request": {"method": "POST", "url": "AuditEvent"}}]});
        let r = app.post("/fhir", &bundle).await;
        assert!(r.status.is_client_error(), "{:?}", r.body);
        // The CapabilityStatement says so.
        let cap = app.get("/fhir/metadata").await;
        let ae = cap.body["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "AuditEvent")
            .unwrap()
            .clone();
        assert_eq!(
            ae["interaction"],
            json!([{"code": "read"}, {"code": "search-type"}])
        );
    }
);

every_backend!(proofs_through_the_api_verify, |app: TestApp| async move {
    world(&app).await;
    let cp = app.log.checkpoint_now().await.unwrap().unwrap();
    let b64 = |v: &Value| -> [u8; 32] {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let r = app.get("/fhir/AuditEvent/$checkpoint").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["size"].as_u64().unwrap() >= cp.size);
    let r = app
        .get(&format!(
            "/fhir/AuditEvent/$inclusion-proof?entry=3&size={}",
            cp.size
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let proof: Vec<[u8; 32]> = r.body["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64)
        .collect();
    assert!(kring_audit::merkle::verify_inclusion(
        &b64(&r.body["leafHash"]),
        3,
        cp.size,
        &proof,
        &cp.root
    ));
    let r = app
        .get(&format!(
            "/fhir/AuditEvent/$consistency-proof?first=2&second={}",
            cp.size
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .get(&format!(
            "/fhir/AuditEvent/$inclusion-proof?entry=0&size={}",
            cp.size + 10_000
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
});

every_backend!(
    sign_in_and_failed_sign_in_are_logged,
    |app: TestApp| async move {
        let mut a = accounts::blank("client.pa", Kind::Client);
        a.patient = Some("pa".into());
        accounts::create(&*app.accounts, a, "correct horse battery staple", true)
            .await
            .unwrap();
        let form = |user: &str, pw: &str| format!("username={user}&password={pw}");
        for (user, pw) in [
            ("client.pa", "correct+horse+battery+staple"),
            ("client.pa", "wrong"),
            ("nobody.known", "999990019"),
        ] {
            app.post_password(&form(user, pw), "KringTest/1.0").await;
        }
        let log = app.log_lines().await;
        let sign_ins: Vec<&Value> = log
            .iter()
            .filter(|l| l["interaction"] == "sign-in" || l["interaction"] == "sign-in-password")
            .collect();
        assert_eq!(sign_ins.len(), 3, "{sign_ins:?}");
        // A client, too, passes the password first and then gives a second factor.
        assert_eq!(sign_ins[0]["interaction"], "sign-in-password");
        assert_eq!(sign_ins[0]["outcome"], "success");
        assert_eq!(sign_ins[0]["user"]["id"], "account/client.pa");
        assert_eq!(sign_ins[0]["source"]["user_agent"], "KringTest/1.0");
        assert_eq!(sign_ins[1]["outcome"], "failed");
        assert_eq!(sign_ins[2]["user"]["id"], "unknown");
        let text = serde_json::to_string(&log).unwrap();
        assert!(
            !text.contains("nobody.known") && !text.contains("999990019"),
            "what was typed is not kept"
        );
        // A partner system's token request is its sign-in.
        app.partner_token("org-a", "system/*.rs").await;
        let log = app.log_lines().await;
        assert!(log.iter().any(|l| l["interaction"] == "token"
            && l["outcome"] == "success"
            && l["user"]["organisation"] == "Organization/org-a"));
    }
);

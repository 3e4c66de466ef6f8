//! Access through the API: 401 without credentials, partner systems and their scopes, circles
//! applied inside searches (counts, totals, includes, chains and `_has` included), and denials
//! that reveal nothing.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::every_backend;
use crate::harness::{as_partner_at, Resp, TestApp};

const CAT: &str = "https://kring.example/fhir/CodeSystem/data-category";
const EXT: &str = "https://kring.example/fhir/StructureDefinition/data-categories";

/// `PUT /fhir/Type/id` with the id in the body, as FHIR requires.
async fn put(app: &TestApp, path: &str, mut body: Value) {
    body["id"] = json!(path.rsplit('/').next().unwrap());
    let r = app.put(&format!("/fhir/{path}"), &body).await;
    assert!(r.status.is_success(), "{path}: {:?}", r.body);
}

/// Two organisations, each with one client in whose circle only it stands, and a third client
/// whose circle includes both (with consent for the other organisation).
async fn world(app: &TestApp) {
    for org in ["org-a", "org-b"] {
        put(
            app,
            &format!("Organization/{org}"),
            json!({"resourceType": "Organization", "name": org}),
        )
        .await;
    }
    let member = |org: &str| {
        json!({"extension": [{"url": EXT, "valueCodeableConcept": {"coding": [
                  {"system": CAT, "code": "identity"}, {"system": CAT, "code": "reports"}]}}],
               "member": {"reference": format!("Organization/{org}")},
               "onBehalfOf": {"reference": format!("Organization/{org}")},
               "period": {"start": "2020-01-01"}})
    };
    for (pid, family, org, members) in [
        ("pa", "Aalders", "org-a", vec![member("org-a")]),
        ("pb", "Bakker", "org-b", vec![member("org-b")]),
        (
            "pab",
            "Claassen",
            "org-a",
            vec![member("org-a"), member("org-b")],
        ),
    ] {
        put(app, &format!("Patient/{pid}"), json!({"resourceType": "Patient", "name": [{"family": family}],
            "birthDate": "1980-05-05", "managingOrganization": {"reference": format!("Organization/{org}")}})).await;
        put(
            app,
            &format!("CareTeam/{pid}-circle"),
            json!({"resourceType": "CareTeam", "status": "active",
            "subject": {"reference": format!("Patient/{pid}")}, "participant": members}),
        )
        .await;
        for (i, code) in ["calm", "restless"].iter().enumerate() {
            put(app, &format!("Observation/{pid}-obs{i}"), json!({"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://example.org", "code": format!("{pid}-{code}")}]},
                "subject": {"reference": format!("Patient/{pid}")}})).await;
        }
    }
    // pab (18+) permits org-b to see identity and reports.
    put(app, "Consent/pab-consent", json!({"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/pab"}, "performer": [{"reference": "Patient/pab"}],
            "provision": {"type": "permit", "actor": [{"role": {"text": "ontvanger"}, "reference": {"reference": "Organization/org-b"}}]}})).await;
}

fn ids(r: &Resp) -> Vec<String> {
    let mut v: Vec<String> = r.body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                e["resource"]["id"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

every_backend!(
    without_credentials_everything_but_metadata_is_401,
    |app: TestApp| async move {
        world(&app).await;
        for uri in [
            "/fhir/Patient/pa",
            "/fhir/Patient/does-not-exist",
            "/fhir/Patient?family=Aalders",
            "/fhir/_history",
        ] {
            let r = app.as_partner(None, Method::GET, uri, None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
            assert_eq!(r.header("www-authenticate"), "Bearer realm=\"kring\"");
            assert_eq!(r.body["resourceType"], "OperationOutcome");
            assert_eq!(r.body["issue"][0]["code"], "login");
            let text = String::from_utf8_lossy(&r.raw);
            assert!(
                !text.contains("Aalders") && !text.contains("pa\"") && !text.contains("exist"),
                "{text}"
            );
        }
        // An existing and a missing client get the very same answer.
        let a = app
            .as_partner(None, Method::GET, "/fhir/Patient/pa", None)
            .await;
        let b = app
            .as_partner(None, Method::GET, "/fhir/Patient/does-not-exist", None)
            .await;
        assert_eq!(a.raw, b.raw);
        let r = app
            .as_partner(Some("forged-token"), Method::GET, "/fhir/Patient/pa", None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.header("www-authenticate").contains("invalid_token"));
        // Public: the capability statement and the SMART configuration.
        let r = app
            .as_partner(None, Method::GET, "/fhir/metadata", None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app
            .as_partner(None, Method::GET, "/.well-known/smart-configuration", None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth/token"));
    }
);

every_backend!(
    the_token_endpoint_checks_client_grant_and_scope,
    |app: TestApp| async move {
        let p = kring_server::auth::partners::register(
            &*app.accounts,
            "org-a",
            "system/Patient.rs system/Observation.rs",
        )
        .await
        .unwrap();
        let wrong = app
            .token_request(&format!(
                "grant_type=client_credentials&client_id={}&client_secret=nope",
                p.client_id
            ))
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.body["error"], "invalid_client");
        let unknown = app
            .token_request(&format!(
                "grant_type=client_credentials&client_id=nobody&client_secret={}",
                p.client_secret
            ))
            .await;
        assert_eq!(
            unknown.body, wrong.body,
            "an unknown client and a wrong secret look the same"
        );
        let grant = app
            .token_request(&format!(
                "grant_type=password&client_id={}&client_secret={}",
                p.client_id, p.client_secret
            ))
            .await;
        assert_eq!(grant.body["error"], "unsupported_grant_type");
        let narrowed = app
        .token_request(&format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=system/Patient.cruds",
            p.client_id, p.client_secret
        ))
        .await;
        assert_eq!(narrowed.status, StatusCode::OK);
        assert_eq!(
            narrowed.body["scope"], "system/Patient.rs",
            "never more than registered"
        );
        assert_eq!(narrowed.body["token_type"], "Bearer");
        assert!(narrowed.body["expires_in"].as_u64().unwrap() <= 300);
        assert_eq!(narrowed.header("cache-control"), "no-store");
        let bad = app
            .token_request(&format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=user/Patient.read",
            p.client_id, p.client_secret
        ))
            .await;
        assert_eq!(bad.body["error"], "invalid_scope");
    }
);

every_backend!(
    a_partner_sees_only_clients_whose_circle_includes_it,
    |app: TestApp| async move {
        world(&app).await;
        let a = app.partner_token("org-a", "system/*.cruds").await;
        let b = app.partner_token("org-b", "system/*.cruds").await;
        let get = |t: &str, uri: &str| {
            let t = t.to_string();
            let uri = uri.to_string();
            let app = &app;
            async move { app.as_partner(Some(&t), Method::GET, &uri, None).await }
        };
        assert_eq!(get(&a, "/fhir/Patient/pa").await.status, StatusCode::OK);
        // Another organisation's client answers exactly like a client that does not exist.
        let hidden = get(&a, "/fhir/Patient/pb").await;
        let missing = get(&a, "/fhir/Patient/pz").await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            String::from_utf8_lossy(&hidden.raw).replace("pb", "pz"),
            String::from_utf8_lossy(&missing.raw)
        );
        assert_eq!(
            get(&a, "/fhir/Patient/pb/_history").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&a, "/fhir/Patient/pb/$everything").await.status,
            StatusCode::NOT_FOUND
        );

        // Searches are restricted inside the query: full pages, honest totals.
        let r = get(&a, "/fhir/Patient?_total=accurate").await;
        assert_eq!(ids(&r), ["Patient/pa", "Patient/pab"]);
        assert_eq!(r.body["total"], 2);
        let r = get(&b, "/fhir/Patient?_total=accurate").await;
        assert_eq!(
            ids(&r),
            ["Patient/pab", "Patient/pb"],
            "org-b sees pab by its consent"
        );
        let r = get(&a, "/fhir/Observation?_count=1&_total=accurate").await;
        assert_eq!(r.body["total"], 4);
        assert_eq!(
            r.body["entry"].as_array().unwrap().len(),
            1,
            "a full page of one"
        );
        let r = get(&a, "/fhir/Patient?_summary=count").await;
        assert_eq!(r.body["total"], 2);
        // _include, _revinclude, chains and _has reveal nothing of pb.
        let r = get(&a, "/fhir/Patient?_revinclude=Observation:subject").await;
        assert!(ids(&r).iter().all(|id| !id.contains("pb")), "{:?}", ids(&r));
        let r = get(&a, "/fhir/Observation?subject:Patient.family=Bakker").await;
        assert!(ids(&r).is_empty(), "{:?}", ids(&r));
        let r = get(&a, "/fhir/Patient?_has:Observation:subject:code=pb-calm").await;
        assert!(ids(&r).is_empty(), "{:?}", ids(&r));
        let r = get(&a, "/fhir/Patient?_has:Observation:subject:code=pa-calm").await;
        assert_eq!(ids(&r), ["Patient/pa"]);
        let r = get(&a, "/fhir/Observation?code=pb-restless&_total=accurate").await;
        assert_eq!(r.body["total"], 0);
        // Shared data stays visible; the log holds one entry per client returned.
        assert_eq!(
            get(&a, "/fhir/Organization/org-b").await.status,
            StatusCode::OK
        );
        let log = app.log_lines().await;
        assert!(log
            .iter()
            .any(|e| e["outcome"] == "denied" && e["client"] == "pb"));
        let by_a = |e: &&Value| {
            e["user"]["id"]
                .as_str()
                .unwrap_or("")
                .starts_with("client/org-a-")
        };
        assert!(log
            .iter()
            .filter(by_a)
            .any(|e| e["interaction"] == "search-type" && e["client"] == "pa"));
        assert!(log
            .iter()
            .filter(by_a)
            .filter(|e| e["interaction"] == "search-type")
            .all(|e| e["client"] != "pb"));
    }
);

every_backend!(
    scopes_bound_what_a_partner_may_do,
    |app: TestApp| async move {
        world(&app).await;
        let t = app.partner_token("org-a", "system/Patient.rs").await;
        let r = app
            .as_partner(Some(&t), Method::GET, "/fhir/Observation", None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.body["issue"][0]["code"], "forbidden");
        assert!(!String::from_utf8_lossy(&r.raw).contains("pa"));
        let r = app
            .as_partner(
                Some(&t),
                Method::POST,
                "/fhir/Patient",
                Some(&json!({"resourceType": "Patient"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "no c in system/Patient.rs");
        let r = app
            .as_partner(Some(&t), Method::GET, "/fhir/Patient/pa", None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
);

every_backend!(
    a_client_a_partner_registers_gets_its_organisation_in_the_circle,
    |app: TestApp| async move {
        world(&app).await;
        let t = app.partner_token("org-b", "system/*.cruds").await;
        let r = app
        .as_partner(Some(&t), Method::POST, "/fhir/Patient", Some(&json!({"resourceType": "Patient", "name": [{"family": "Nieuw"}], "birthDate": "1990-01-01"})))
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = app
            .as_partner(Some(&t), Method::GET, &format!("/fhir/Patient/{id}"), None)
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "the new client is in its circle at once"
        );
        let r = app
            .as_partner(
                Some(&t),
                Method::GET,
                &format!("/fhir/CareTeam?subject=Patient/{id}"),
                None,
            )
            .await;
        let circle = &r.body["entry"][0]["resource"];
        assert_eq!(
            circle["participant"][0]["member"]["reference"],
            "Organization/org-b"
        );
        // Another partner does not see it.
        let other = app.partner_token("org-a", "system/*.cruds").await;
        let r = app
            .as_partner(
                Some(&other),
                Method::GET,
                &format!("/fhir/Patient/{id}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Writing into a client it cannot see is refused, and nothing is written.
        let r = app
            .as_partner(
                Some(&other),
                Method::POST,
                "/fhir/Observation",
                Some(&json!({"resourceType": "Observation", "status": "final",
            "code": {"text": "x"}, "subject": {"reference": format!("Patient/{id}")}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .get(&format!(
                "/fhir/Observation?subject=Patient/{id}&_summary=count"
            ))
            .await;
        assert_eq!(r.body["total"], 0);
    }
);

every_backend!(
    withdrawing_consent_counts_at_the_next_request,
    |app: TestApp| async move {
        world(&app).await;
        let b = app.partner_token("org-b", "system/*.cruds").await;
        assert_eq!(
            app.as_partner(Some(&b), Method::GET, "/fhir/Patient/pab", None)
                .await
                .status,
            StatusCode::OK
        );
        let mut consent: Value = app.get("/fhir/Consent/pab-consent").await.body;
        consent["status"] = json!("inactive");
        let r = app.put("/fhir/Consent/pab-consent", &consent).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(
            app.as_partner(Some(&b), Method::GET, "/fhir/Patient/pab", None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let r = app
            .as_partner(Some(&b), Method::GET, "/fhir/Patient?_total=accurate", None)
            .await;
        assert_eq!(r.body["total"], 1);
    }
);

every_backend!(
    a_partner_with_many_clients_gets_all_of_them,
    |app: TestApp| async move {
        // More clients than fit a short list: the scope is bound as one JSON array parameter.
        let member = json!({"extension": [{"url": EXT, "valueCodeableConcept": {"coding": [{"system": CAT, "code": "identity"}]}}],
        "member": {"reference": "Organization/org-m"}, "period": {"start": "2020-01-01"}});
        for i in 0..45 {
            put(
                &app,
                &format!("Patient/m{i}"),
                json!({"resourceType": "Patient", "birthDate": "1970-01-01",
            "managingOrganization": {"reference": "Organization/org-m"}}),
            )
            .await;
            if i < 40 {
                put(&app, &format!("CareTeam/m{i}-circle"), json!({"resourceType": "CareTeam", "status": "active",
                "subject": {"reference": format!("Patient/m{i}")}, "participant": [member.clone()]})).await;
            }
        }
        let t = app.partner_token("org-m", "system/*.rs").await;
        let r = app
            .as_partner(
                Some(&t),
                Method::GET,
                "/fhir/Patient?_count=100&_total=accurate",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(
            r.body["total"], 40,
            "the 40 clients in its circles, not the other 5"
        );
        assert_eq!(ids(&r).len(), 40);
    }
);

/// A signed client assertion (SMART Backend Services): ES384 with `key`, for `aud`.
fn assertion(
    key: &jsonwebtoken::EncodingKey,
    kid: &str,
    client_id: &str,
    aud: &str,
    jti: &str,
    exp_in: u64,
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        &json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "jti": jti}),
        key,
    )
    .unwrap()
}

/// A fresh P-384 key pair: the signing key and its public JWK Set.
fn es384_keys(kid: &str) -> (jsonwebtoken::EncodingKey, String) {
    use base64::Engine;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-384", "kid": kid, "alg": "ES384", "use": "sig",
        "x": b64(&point[1..49]), "y": b64(&point[49..97])}]});
    (
        jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwks.to_string(),
    )
}

every_backend!(
    private_key_jwt_clients_sign_their_token_requests,
    |app: TestApp| async move {
        world(&app).await;
        let (key, jwks) = es384_keys("k1");
        let client_id = kring_server::auth::partners::register_with_keys(
            &*app.accounts,
            "org-a",
            "system/*.rs",
            &jwks,
        )
        .await
        .unwrap();
        let aud = "http://kring.test/oauth/token";
        let form = |a: &str| {
            format!("grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={a}")
        };
        let ok = app
            .token_request(&form(&assertion(&key, "k1", &client_id, aud, "jti-1", 240)))
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
        let token = ok.body["access_token"].as_str().unwrap();
        let r = app
            .as_partner(Some(token), Method::GET, "/fhir/Patient/pa", None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        // The same assertion twice, another audience, a far expiry, another key: refused.
        let replay = app
            .token_request(&form(&assertion(&key, "k1", &client_id, aud, "jti-1", 240)))
            .await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        assert_eq!(replay.body["error"], "invalid_client");
        let wrong_aud = app
            .token_request(&form(&assertion(
                &key,
                "k1",
                &client_id,
                "https://elsewhere/token",
                "jti-2",
                240,
            )))
            .await;
        assert_eq!(wrong_aud.status, StatusCode::UNAUTHORIZED);
        let too_long = app
            .token_request(&form(&assertion(
                &key, "k1", &client_id, aud, "jti-3", 3600,
            )))
            .await;
        assert_eq!(too_long.status, StatusCode::UNAUTHORIZED);
        let (other_key, _) = es384_keys("k1");
        let forged = app
            .token_request(&form(&assertion(
                &other_key, "k1", &client_id, aud, "jti-4", 240,
            )))
            .await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
        // Such a client has no secret to guess.
        let secret = app
            .token_request(&format!(
                "grant_type=client_credentials&client_id={client_id}&client_secret="
            ))
            .await;
        assert_eq!(secret.status, StatusCode::UNAUTHORIZED);
        let r = app
            .as_partner(None, Method::GET, "/.well-known/smart-configuration", None)
            .await;
        assert!(r.body["token_endpoint_auth_methods_supported"]
            .to_string()
            .contains("private_key_jwt"));
    }
);

every_backend!(
    a_search_naming_a_hidden_client_is_a_denied_attempt_on_that_client,
    |app: TestApp| async move {
        world(&app).await;
        // pb gets a BSN.
        let mut pb = app.get("/fhir/Patient/pb").await.body;
        pb["identifier"] =
            json!([{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999990019"}]);
        put(&app, "Patient/pb", pb).await;
        let a = app.partner_token("org-a", "system/*.rs").await;
        for (hidden, missing) in [
            ("/fhir/Observation?subject=Patient/pb", "/fhir/Observation?subject=Patient/nobody"),
            ("/fhir/Patient?_id=pb", "/fhir/Patient?_id=nobody"),
            (
                "/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019",
                "/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990020",
            ),
            (
                "/fhir/Observation?subject:Patient.identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019",
                "/fhir/Observation?subject:Patient.identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990020",
            ),
        ] {
            let before = app.log_lines().await.len();
            let h = app.as_partner(Some(&a), Method::GET, hidden, None).await;
            let lines = app.log_lines().await;
            let m = app.as_partner(Some(&a), Method::GET, missing, None).await;
            assert_eq!(h.status, StatusCode::OK, "{hidden}");
            assert_eq!(h.body["total"], m.body["total"], "{hidden}");
            assert_eq!(h.body["entry"], m.body["entry"], "{hidden}");
            let attempts: Vec<&Value> = lines[before..]
                .iter()
                .filter(|e| e["outcome"] == "denied" && e["client"] == "pb")
                .collect();
            assert_eq!(attempts.len(), 1, "{hidden}: {:?}", &lines[before..]);
            // No BSN in the log.
            assert!(!serde_json::to_string(&lines[before..]).unwrap().contains("999990019"));
        }
        // A client one may see is no attempt.
        let before = app.log_lines().await.len();
        app.as_partner(
            Some(&a),
            Method::GET,
            "/fhir/Observation?subject=Patient/pa",
            None,
        )
        .await;
        let lines = app.log_lines().await;
        assert!(lines[before..].iter().all(|e| e["outcome"] != "denied"));
    }
);

every_backend!(
    a_second_server_decides_on_what_the_first_changed_after_one_round,
    |app: TestApp| async move {
        world(&app).await;
        let (second, record) = app.second_server().await;
        let mut follower = kring_record::follow::Follower::from(kring_audit::now_ms());
        // A token issued by the first server works on the second (both keep it in the
        // database).
        let token = app.partner_token("org-a", "system/*.rs").await;
        let read = |router: axum::Router| {
            let token = token.clone();
            async move {
                as_partner_at(&router, Some(&token), Method::GET, "/fhir/Patient/pa", None)
                    .await
                    .status
            }
        };
        assert_eq!(read(second.clone()).await, StatusCode::OK);
        let circle = |period: Value| {
            json!({"resourceType": "CareTeam", "status": "active",
                "subject": {"reference": "Patient/pa"},
                "participant": [{"extension": [{"url": EXT, "valueCodeableConcept": {"coding": [
                      {"system": CAT, "code": "identity"}, {"system": CAT, "code": "reports"}]}}],
                   "member": {"reference": "Organization/org-a"},
                   "onBehalfOf": {"reference": "Organization/org-a"},
                   "period": period}]})
        };
        // Through the first server, org-a's membership of the circle ends: the first server
        // refuses at once; the second did not see the write yet …
        put(
            &app,
            "CareTeam/pa-circle",
            circle(json!({"start": "2020-01-01", "end": "2020-06-30"})),
        )
        .await;
        let refused = read(app.secure.clone()).await;
        assert_ne!(refused, StatusCode::OK);
        assert_eq!(
            read(second.clone()).await,
            StatusCode::OK,
            "no round has run yet"
        );
        // … until its next round, after which it refuses exactly as the first.
        let taken = record.follow_round(&mut follower).await.unwrap();
        assert!(taken >= 1, "the ended membership is taken in");
        assert_eq!(read(second.clone()).await, refused);
        // A round with nothing new takes nothing in again.
        assert_eq!(record.follow_round(&mut follower).await.unwrap(), 0);
        // A new membership counts on the second server after a round too.
        put(
            &app,
            "CareTeam/pa-circle",
            circle(json!({"start": "2020-01-01"})),
        )
        .await;
        record.follow_round(&mut follower).await.unwrap();
        assert_eq!(read(second).await, StatusCode::OK);
    }
);

every_backend!(
    a_date_range_beside_a_callers_few_clients_finds_their_rows_only,
    |app: TestApp| async move {
        world(&app).await;
        for pid in ["pa", "pb", "pab"] {
            for (i, day) in ["2024-01-10", "2024-03-10", "2024-05-10"]
                .iter()
                .enumerate()
            {
                put(
                    &app,
                    &format!("Observation/{pid}-dated{i}"),
                    json!({"resourceType": "Observation",
                    "status": "final", "code": {"text": "weight"}, "effectiveDateTime": day,
                    "subject": {"reference": format!("Patient/{pid}")}}),
                )
                .await;
            }
        }
        let a = app.partner_token("org-a", "system/*.cruds").await;
        let b = app.partner_token("org-b", "system/*.cruds").await;
        let search = |t: &str, uri: &str| {
            let (t, uri) = (t.to_string(), uri.to_string());
            let app = &app;
            async move {
                let r = app.as_partner(Some(&t), Method::GET, &uri, None).await;
                assert_eq!(r.status, StatusCode::OK, "{uri}: {:?}", r.body);
                let mut found = ids(&r);
                found.sort();
                (found, r.body["total"].clone())
            }
        };
        // org-a's clients are pa and pab: every range finds their rows and never pb's.
        let (found, total) =
            search(&a, "/fhir/Observation?date=gt2024-02-01&_total=accurate").await;
        let want = ["pa-dated1", "pa-dated2", "pab-dated1", "pab-dated2"]
            .map(|id| format!("Observation/{id}"));
        assert_eq!(found, want);
        assert_eq!(total, 4);
        let (found, _) = search(&a, "/fhir/Observation?date=lt2024-02-01").await;
        assert_eq!(found, ["Observation/pa-dated0", "Observation/pab-dated0"]);
        let (found, _) = search(&a, "/fhir/Observation?date=ne2024-03-10&subject=Patient/pa").await;
        assert_eq!(found, ["Observation/pa-dated0", "Observation/pa-dated2"]);
        let (found, _) = search(
            &a,
            "/fhir/Observation?subject=Patient/pab&date=ge2024-03-10&date=le2024-03-10",
        )
        .await;
        assert_eq!(found, ["Observation/pab-dated1"]);
        // Another's client in the same search finds nothing, as a client that does not exist.
        let (found, _) = search(&a, "/fhir/Observation?subject=Patient/pb&date=gt2024-02-01").await;
        assert!(found.is_empty(), "{found:?}");
        // org-b's clients are pb and, by pab's consent to identity and reports (observations are
        // reports), pab: the range is found among both.
        let (found, _) = search(&b, "/fhir/Observation?date=ge2024-03-01").await;
        let want = ["pab-dated1", "pab-dated2", "pb-dated1", "pb-dated2"]
            .map(|id| format!("Observation/{id}"));
        assert_eq!(found, want);
    }
);

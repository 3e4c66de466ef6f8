//! The pages through the production router with a signed-in session: what they refuse and
//! store, checked on the server (the browser tests drive the same pages in Chromium).

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use kring_server::auth::accounts::{self, Kind};
use kring_server::auth::{now_ms, sessions};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::every_backend;
use crate::harness::TestApp;

const CAT: &str = "https://kring.example/fhir/CodeSystem/data-category";
const EXT: &str = "https://kring.example/fhir/StructureDefinition/data-categories";
const ROLE: &str = "https://kring.example/fhir/CodeSystem/care-role";

/// An organisation with a case director (and their account) and a client whose circle they
/// direct; another professional to add.
async fn world(app: &TestApp) -> String {
    let put = |path: &'static str, body: Value| async move {
        let mut body = body;
        body["id"] = json!(path.rsplit('/').next().unwrap());
        let r = app.put(&format!("/fhir/{path}"), &body).await;
        assert!(r.status.is_success(), "{path}: {:?}", r.body);
    };
    put(
        "Organization/wijk",
        json!({"resourceType": "Organization", "name": "Wijkteam Noord"}),
    )
    .await;
    for (p, family) in [("dir", "Dekker"), ("ggz1", "Smit")] {
        let path: &'static str = Box::leak(format!("Practitioner/{p}").into_boxed_str());
        put(
            path,
            json!({"resourceType": "Practitioner", "name": [{"family": family, "given": ["Ans"]}]}),
        )
        .await;
        let role: &'static str = Box::leak(format!("PractitionerRole/{p}-role").into_boxed_str());
        put(role, json!({"resourceType": "PractitionerRole", "practitioner": {"reference": format!("Practitioner/{p}")},
            "organization": {"reference": "Organization/wijk"}, "code": [{"text": "Casusregisseur"}]})).await;
    }
    put(
        "Patient/pa",
        json!({"resourceType": "Patient", "name": [{"family": "Aalders", "given": ["Piet"]}],
        "birthDate": "1980-05-05", "managingOrganization": {"reference": "Organization/wijk"}}),
    )
    .await;
    put(
        "CareTeam/pa-circle",
        json!({"resourceType": "CareTeam", "status": "active", "name": "Kring",
        "subject": {"reference": "Patient/pa"},
        "participant": [{"extension": [{"url": EXT, "valueCodeableConcept": {"coding": [
            {"system": CAT, "code": "identity"}, {"system": CAT, "code": "reports"}]}}],
            "role": [{"coding": [{"system": ROLE, "code": "regisseur"}]}],
            "member": {"reference": "PractitionerRole/dir-role"},
            "onBehalfOf": {"reference": "Organization/wijk"},
            "period": {"start": "2020-01-01"}}]}),
    )
    .await;
    let mut a = accounts::blank("ans.dekker", Kind::Professional);
    a.organisation = Some("wijk".into());
    a.practitioner = Some("dir".into());
    a.role = Some("dir-role".into());
    accounts::create(&*app.accounts, a, "correct horse battery staple", true)
        .await
        .unwrap();
    let (cookie, _) = sessions::start(&*app.accounts, "ans.dekker", true, now_ms())
        .await
        .unwrap();
    cookie
}

async fn page(
    app: &TestApp,
    cookie: &str,
    method: Method,
    uri: &str,
    form: &str,
) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, format!("{}={cookie}", sessions::COOKIE));
    if !form.is_empty() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let res = app
        .secure
        .clone()
        .oneshot(req.body(Body::from(form.to_string())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string()
}

every_backend!(
    circle_management_refuses_bad_dates_and_duplicates_and_stores_nothing,
    |app: TestApp| async move {
        let cookie = world(&app).await;
        let (status, html) = page(&app, &cookie, Method::GET, "/clienten/pa/kring", "").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(
            html.contains("Kring van Piet Aalders (5 mei 1980"),
            "names and Dutch dates"
        );
        assert!(
            !html.contains("PractitionerRole/dir-role<"),
            "no ids in the text"
        );
        let csrf = csrf_of(&html);
        async fn version(app: &TestApp) -> Value {
            app.get("/fhir/CareTeam/pa-circle").await.body["meta"]["versionId"].clone()
        }
        let before = version(&app).await;
        let today = chrono::Utc::now().date_naive();
        for (form, says) in [
            (
                format!(
                    "member=PractitionerRole/ggz1-role&category=reports&end={}",
                    today - chrono::Duration::days(1)
                ),
                "vóór vandaag",
            ),
            (
                "member=PractitionerRole/ggz1-role&category=reports&end=2099-01-01".to_string(),
                "te ver weg",
            ),
            (
                format!(
                    "member=PractitionerRole/ggz1-role&end={}",
                    today + chrono::Duration::days(30)
                ),
                "ten minste één soort",
            ),
            (
                format!(
                    "member=Patient/pa&category=reports&end={}",
                    today + chrono::Duration::days(30)
                ),
                "Kies een professional",
            ),
            (
                format!(
                    "member=PractitionerRole/dir-role&category=reports&end={}",
                    today + chrono::Duration::days(30)
                ),
                "staat al in de kring",
            ),
        ] {
            let (status, html) = page(
                &app,
                &cookie,
                Method::POST,
                "/clienten/pa/kring",
                &format!("csrf={csrf}&{form}"),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                html.contains("utrecht-alert--error") && html.contains(says),
                "{form}: {says}"
            );
            assert_eq!(version(&app).await, before, "{form}: nothing stored");
        }
        // A good one is stored and said.
        let end = today + chrono::Duration::days(30);
        let (_, html) = page(&app, &cookie, Method::POST, "/clienten/pa/kring",
            &format!("csrf={csrf}&member=PractitionerRole/ggz1-role&category=reports&category=identity&end={end}")).await;
        assert!(html.contains("staat nu in de kring"), "{html}");
        assert_ne!(version(&app).await, before);
        // Ending asks first; only the confirmation ends it.
        let (_, html) = page(
            &app,
            &cookie,
            Method::POST,
            "/clienten/pa/kring/beeindigen",
            &format!("csrf={csrf}&index=1"),
        )
        .await;
        assert!(html.contains("Ja, beëindigen"));
        let after_add = version(&app).await;
        assert_eq!(version(&app).await, after_add, "not ended yet");
        let (_, html) = page(
            &app,
            &cookie,
            Method::POST,
            "/clienten/pa/kring/beeindigen",
            &format!("csrf={csrf}&index=1&confirmed=ja"),
        )
        .await;
        assert!(
            html.contains("is beëindigd") && html.contains("beëindigd op"),
            "{html}"
        );
    }
);

every_backend!(
    emergency_access_by_name_and_birth_date_is_exact_and_answers_in_dutch,
    |app: TestApp| async move {
        world(&app).await;
        // A professional outside every circle.
        let mut a = accounts::blank("bram.smit", Kind::Professional);
        a.organisation = Some("wijk".into());
        a.practitioner = Some("ggz1".into());
        a.role = Some("ggz1-role".into());
        accounts::create(&*app.accounts, a, "correct horse battery staple", true)
            .await
            .unwrap();
        let (cookie, _) = sessions::start(&*app.accounts, "bram.smit", true, now_ms())
            .await
            .unwrap();
        // Two clients share a name and a date of birth; a third has a BSN.
        for (id, given, bsn) in [
            ("twin1", "Kees", None),
            ("twin2", "Kees", None),
            ("pb", "Lotte", Some("999990019")),
        ] {
            let mut p = json!({"resourceType": "Patient", "id": id, "name": [{"family": "Jansen", "given": [given]}],
                "birthDate": "2001-04-03", "managingOrganization": {"reference": "Organization/wijk"}});
            if let Some(b) = bsn {
                p["identifier"] =
                    json!([{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": b}]);
            }
            assert!(app
                .put(&format!("/fhir/Patient/{id}"), &p)
                .await
                .status
                .is_success());
        }
        let (_, html) = page(&app, &cookie, Method::GET, "/noodtoegang", "").await;
        let csrf = csrf_of(&html);
        let reason = "Crisis+in+de+nacht%2C+geen+lid+van+de+kring+bereikbaar";
        for (form, says, status) in [
            (
                format!("bsn=123456789&reason={reason}"),
                "elfproef",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                format!("bsn=12345&reason={reason}"),
                "precies 9 cijfers",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "bsn=999990019&reason=kort".to_string(),
                "ten minste 10 tekens",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                format!("bsn=999990019&reason={}", "x".repeat(501)),
                "hoogstens 500 tekens",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                format!("name=Kees+Jansen&birth=2001-04-03&reason={reason}"),
                "Meer dan één cliënt",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                format!("name=Kees+Jansen&birth=2001-04-04&reason={reason}"),
                "geen cliënt gevonden",
                StatusCode::NOT_FOUND,
            ),
            (
                format!("name=Kees&birth=2001-04-03&reason={reason}"),
                "geen cliënt gevonden",
                StatusCode::NOT_FOUND,
            ),
            (
                format!("name=Kees+Jansen&reason={reason}"),
                "naam én de geboortedatum",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ] {
            let (got, html) = page(
                &app,
                &cookie,
                Method::POST,
                "/noodtoegang",
                &format!("csrf={csrf}&{form}"),
            )
            .await;
            assert_eq!(got, status, "{form}");
            assert!(html.contains(says), "{form}: {says}");
            // What was typed stays in the form.
            if form.contains("Kees+Jansen") {
                assert!(html.contains("value=\"Kees Jansen\""), "{form}");
            }
            assert!(!html.contains("elfproef)"), "no English sentence");
        }
        let log = app.log_lines().await;
        assert!(log
            .iter()
            .all(|e| e["interaction"] != "break-the-glass" || e["client"] == ""));
        // Name and date of birth together, exactly one client: access for four hours.
        let req = Request::builder()
            .method(Method::POST)
            .uri("/noodtoegang")
            .header(header::COOKIE, format!("{}={cookie}", sessions::COOKIE))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "csrf={csrf}&name=lotte++JANSEN&birth=2001-04-03&reason={reason}"
            )))
            .unwrap();
        let res = app.secure.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[header::LOCATION], "/clienten/pb?noodtoegang");
        let (status, html) = page(&app, &cookie, Method::GET, "/clienten", "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("Mijn noodtoegang") && html.contains("Lotte Jansen"),
            "{html}"
        );
        // The reason as stated is in the log with the declaration; no BSN anywhere.
        let log = app.log_lines().await;
        let declared = log
            .iter()
            .find(|e| e["interaction"] == "break-the-glass" && e["client"] == "pb")
            .expect("the declaration is logged");
        assert_eq!(
            declared["stated_reason"],
            "Crisis in de nacht, geen lid van de kring bereikbaar"
        );
        assert!(!serde_json::to_string(&log).unwrap().contains("999990019"));
        // The case director of pb's organisation… (pb has no circle here) — the client's
        // organisation is told: its administrator sees the notice.
        let mut admin = accounts::blank("beheer.wijk", Kind::Administrator);
        admin.organisation = Some("wijk".into());
        accounts::create(&*app.accounts, admin, "correct horse battery staple", true)
            .await
            .unwrap();
        let (admin_cookie, _) = sessions::start(&*app.accounts, "beheer.wijk", true, now_ms())
            .await
            .unwrap();
        let (_, html) = page(&app, &admin_cookie, Method::GET, "/beheer", "").await;
        assert!(
            html.contains("Meldingen van noodtoegang") && html.contains("Crisis in de nacht"),
            "{html}"
        );
    }
);

//! The client's own Kring through the production router: whose record a page is about, a
//! parent who loses the portal on the child's 16th birthday, the whole record downloaded
//! and imported into an empty Kring byte for byte, and every download in the access log.

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
const AUTHORITY: &str = "https://kring.example/fhir/CodeSystem/legal-authority";

/// A child born `birth`, with a parent with authority, a circle, a support plan and reports
/// (one written for the child); the parent's and the child's sessions.
pub(crate) async fn family(app: &TestApp, birth: &str) -> (String, String) {
    let put = |path: String, body: Value| async move {
        let mut body = body;
        body["id"] = json!(path.rsplit('/').next().unwrap());
        let r = app.put(&format!("/fhir/{path}"), &body).await;
        assert!(r.status.is_success(), "{path}: {:?}", r.body);
    };
    put(
        "Organization/jeugd".into(),
        json!({"resourceType": "Organization", "name": "Jeugdhulp Oost"}),
    )
    .await;
    put(
        "Patient/kind".into(),
        json!({"resourceType": "Patient", "name": [{"family": "Jansen", "given": ["Sam"]}],
        "birthDate": birth, "managingOrganization": {"reference": "Organization/jeugd"}}),
    )
    .await;
    put(
        "RelatedPerson/kind-ouder".into(),
        json!({"resourceType": "RelatedPerson", "active": true, "patient": {"reference": "Patient/kind"},
        "name": [{"family": "Jansen", "given": ["Eva"]}],
        "relationship": [{"coding": [{"system": AUTHORITY, "code": "gezag"}]}]}),
    )
    .await;
    put(
        "CareTeam/kind-circle".into(),
        json!({"resourceType": "CareTeam", "status": "active", "subject": {"reference": "Patient/kind"},
        "participant": [{"extension": [{"url": EXT, "valueCodeableConcept": {"coding": [
            {"system": CAT, "code": "identity"}, {"system": CAT, "code": "reports"}]}}],
            "member": {"reference": "Organization/jeugd"}, "onBehalfOf": {"reference": "Organization/jeugd"},
            "period": {"start": "2020-01-01"}}]}),
    )
    .await;
    for (id, for_client) in [("r1", true), ("r2", false)] {
        let mut report = json!({"resourceType": "Communication", "status": "completed",
            "category": [{"coding": [{"system": CAT, "code": "reports"}]}],
            "subject": {"reference": "Patient/kind"}, "sent": "2026-11-02T10:00:00+01:00",
            "payload": [{"contentString": format!("Verslag {id}")}]});
        if for_client {
            report["recipient"] = json!([{"reference": "Patient/kind"}]);
        }
        put(format!("Communication/{id}"), report).await;
    }
    let mut parent = accounts::blank("ouder.kind", Kind::Representative);
    parent.patient = Some("kind".into());
    parent.related_person = Some("kind-ouder".into());
    let mut child = accounts::blank("client.kind", Kind::Client);
    child.patient = Some("kind".into());
    let mut cookies = Vec::new();
    for a in [parent, child] {
        let name = a.username.clone();
        accounts::create(&*app.accounts, a, "correct horse battery staple", true)
            .await
            .unwrap();
        cookies.push(
            sessions::start(&*app.accounts, &name, true, now_ms())
                .await
                .unwrap()
                .0,
        );
    }
    (cookies[0].clone(), cookies[1].clone())
}

pub(crate) async fn get(app: &TestApp, cookie: &str, uri: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::COOKIE, format!("{}={cookie}", sessions::COOKIE));
    let res = app
        .secure
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, body.to_vec())
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The day `years` years before today (Dutch time), as a FHIR date.
pub(crate) fn years_ago(years: i32, plus_days: i64) -> String {
    let today = kring_server::pages::dates::today();
    let d = chrono::NaiveDate::from_ymd_opt(
        chrono::Datelike::year(&today) - years,
        chrono::Datelike::month(&today),
        chrono::Datelike::day(&today).min(28),
    )
    .unwrap()
        + chrono::Duration::days(plus_days);
    d.format("%Y-%m-%d").to_string()
}

every_backend!(
    a_parent_reads_the_childs_portal_until_the_16th_birthday,
    |app: TestApp| async move {
        // The day before the 16th birthday the parent still reads the child's record, and every
        // page says whose it is.
        let (parent, child) = family(&app, &years_ago(16, 1)).await;
        let (status, html) = get(&app, &parent, "/mijn").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(
            html.contains("U kijkt in het dossier van uw kind: Sam Jansen"),
            "{html}"
        );
        for page in [
            "/clienten/kind/plan",
            "/mijn/kring",
            "/toestemming",
            "/wie-keek",
        ] {
            let (status, html) = get(&app, &parent, page).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert!(
                text(&html).contains("het dossier van uw kind: Sam Jansen"),
                "{page} says whose record it is"
            );
        }
        // The portal shows the child only the report written for them.
        let (_, html) = get(&app, &child, "/clienten/kind/rapportages").await;
        let html = text(&html);
        assert!(
            html.contains("Verslag r1") && !html.contains("Verslag r2"),
            "{html}"
        );

        // On the 16th birthday the child decides alone: the parent reads nothing any more, and
        // the start page says why.
        let r = app
            .put(
                "/fhir/Patient/kind",
                &json!({"resourceType": "Patient", "id": "kind",
                    "name": [{"family": "Jansen", "given": ["Sam"]}], "birthDate": years_ago(16, 0),
                    "managingOrganization": {"reference": "Organization/jeugd"}}),
            )
            .await;
        assert!(r.status.is_success());
        let (status, html) = get(&app, &parent, "/mijn").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(
            html.contains("Vanaf 16 jaar beslist uw kind zelf"),
            "{html}"
        );
        assert!(
            !html.contains("Sam Jansen"),
            "no name once the record is closed"
        );
        let (status, _) = get(&app, &parent, "/clienten/kind/plan").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = get(&app, &parent, "/mijn/gegevens/dossier.ndjson").await;
        assert!(
            status != StatusCode::OK || body.is_empty(),
            "the parent downloads nothing"
        );
        // The child still reads their own record.
        let (status, html) = get(&app, &child, "/mijn").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text(&html).contains("Dit is uw dossier: Sam Jansen"));
    }
);

every_backend!(
    the_downloaded_record_imports_into_an_empty_kring_byte_for_byte,
    |app: TestApp| async move {
        let (_, child) = family(&app, &years_ago(17, 0)).await;
        let (status, ndjson) = get(&app, &child, "/mijn/gegevens/dossier.ndjson").await;
        assert_eq!(status, StatusCode::OK);
        let lines: Vec<Vec<u8>> = ndjson
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let types: Vec<String> = lines
            .iter()
            .map(|l| {
                serde_json::from_slice::<Value>(l).unwrap()["resourceType"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        for t in [
            "Patient",
            "RelatedPerson",
            "CareTeam",
            "Communication",
            "Organization",
        ] {
            assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
        }
        // Every line is the stored resource, byte for byte.
        for l in &lines {
            let v: Value = serde_json::from_slice(l).unwrap();
            let stored = app
                .store
                .read(
                    v["resourceType"].as_str().unwrap(),
                    v["id"].as_str().unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&stored.body, l);
        }
        // The Bundle holds the same resources.
        let (status, bundle) = get(&app, &child, "/mijn/gegevens/dossier.json").await;
        assert_eq!(status, StatusCode::OK);
        let bundle: Value = serde_json::from_slice(&bundle).unwrap();
        assert_eq!(bundle["type"], "collection");
        assert_eq!(bundle["entry"].as_array().unwrap().len(), lines.len());
        // Into an empty Kring of the same kind: the same bytes come back.
        let backend = app.backend;
        let empty = TestApp::new(backend).await;
        let results = empty
            .record
            .restore(&kring_record::Caller::operator("test"), lines.clone())
            .await
            .unwrap();
        assert!(results.iter().all(Result::is_ok));
        for l in &lines {
            let v: Value = serde_json::from_slice(l).unwrap();
            let stored = empty
                .store
                .read(
                    v["resourceType"].as_str().unwrap(),
                    v["id"].as_str().unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&stored.body, l, "imported byte for byte");
        }
        // The PDF is there; every download is in the access log as the client's own reading.
        let (status, pdf) = get(&app, &child, "/mijn/gegevens/dossier.pdf").await;
        assert_eq!(status, StatusCode::OK);
        assert!(pdf.starts_with(b"%PDF"));
        let log = app.log_lines().await;
        let downloads = log
            .iter()
            .filter(|l| {
                l["user"]["id"] == "account/client.kind"
                    && l["interaction"] == "operation-everything"
            })
            .count();
        assert!(downloads >= 3, "{downloads} downloads logged");
        assert!(!serde_json::to_string(&log).unwrap().contains("Jansen"));
    }
);

every_backend!(
    a_refused_proposal_is_kept_and_never_in_force,
    |app: TestApp| async move {
        // A child of 13 proposes; the parent refuses; the refusal is kept as `rejected`.
        let (parent, child) = family(&app, &years_ago(13, 0)).await;
        let (_, html) = get(&app, &child, "/toestemming").await;
        let html = text(&html);
        assert!(html.contains("telt pas als jullie allebei ja zeggen"));
        assert!(!html.contains("telt meteen"));
        let token = csrf(&html);
        let (_, html) = post_form(
            &app,
            &child,
            "/toestemming",
            &format!("csrf={token}&organisation=jeugd&category=reports&choice=deny"),
        )
        .await;
        assert!(
            html.contains("Het telt pas als de ander ook ja zegt"),
            "{html}"
        );
        let consents = app.get("/fhir/Consent?patient=Patient/kind").await.body;
        let id = consents["entry"][0]["resource"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(consents["entry"][0]["resource"]["status"], "proposed");
        // The parent sees it waiting for them, and refuses.
        let (_, html) = get(&app, &parent, "/toestemming").await;
        let html = text(&html);
        assert!(
            html.contains("Jeugdhulp Oost mag niet zien: rapportages"),
            "{html}"
        );
        let parent_csrf = csrf(&html);
        let (_, html) = post_form(
            &app,
            &parent,
            "/toestemming/weigeren",
            &format!("csrf={parent_csrf}&id={id}"),
        )
        .await;
        assert!(html.contains("U zei nee"), "{html}");
        let c = app.get(&format!("/fhir/Consent/{id}")).await.body;
        assert_eq!(c["status"], "rejected");
        // Withdrawing is of a consent in force: a refused one is not asked about.
        let (_, html) = post_form(
            &app,
            &child,
            "/toestemming/intrekken",
            &format!("csrf={token}&id={id}"),
        )
        .await;
        assert!(
            html.contains("intussen"),
            "only a consent in force is withdrawn: {html}"
        );
        assert_eq!(
            app.get(&format!("/fhir/Consent/{id}")).await.body["status"],
            "rejected"
        );
        // A refused consent is not brought back, nor is nothing "refused".
        let mut revived = app.get(&format!("/fhir/Consent/{id}")).await.body;
        revived["status"] = json!("active");
        let r = app
            .call_as_person(
                &child,
                Method::PUT,
                &format!("/fhir/Consent/{id}"),
                &revived,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        let fresh = json!({"resourceType": "Consent", "status": "rejected",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/kind"}, "performer": [{"reference": "Patient/kind"}],
            "provision": {"type": "deny"}});
        let r = app
            .call_as_person(&parent, Method::POST, "/fhir/Consent", &fresh)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a refusal of nothing: {:?}",
            r.body
        );
        // Agreeing to it on the page is refused too: it is no longer a proposal.
        let (_, html) = post_form(
            &app,
            &parent,
            "/toestemming/mee",
            &format!("csrf={parent_csrf}&id={id}"),
        )
        .await;
        assert!(html.contains("intussen"), "{html}");
        assert_eq!(
            app.get(&format!("/fhir/Consent/{id}")).await.body["status"],
            "rejected"
        );
    }
);

/// The client's case director (and their session) and a support plan with one agreement.
pub(crate) async fn director_and_plan(app: &TestApp) -> String {
    const ROLE: &str = "https://kring.example/fhir/CodeSystem/care-role";
    for (path, body) in [
        (
            "Practitioner/dir",
            json!({"resourceType": "Practitioner", "name": [{"family": "Dekker", "given": ["Ans"]}]}),
        ),
        (
            "PractitionerRole/dir-role",
            json!({"resourceType": "PractitionerRole", "practitioner": {"reference": "Practitioner/dir"},
            "organization": {"reference": "Organization/jeugd"}, "code": [{"text": "Casusregisseur"}]}),
        ),
        (
            "CareTeam/kind-circle",
            json!({"resourceType": "CareTeam", "status": "active", "subject": {"reference": "Patient/kind"},
            "participant": [{"extension": [{"url": EXT, "valueCodeableConcept": {"coding": [
                {"system": CAT, "code": "identity"}, {"system": CAT, "code": "support-plan"}, {"system": CAT, "code": "reports"}]}}],
                "role": [{"coding": [{"system": ROLE, "code": "regisseur"}]}],
                "member": {"reference": "PractitionerRole/dir-role"}, "onBehalfOf": {"reference": "Organization/jeugd"},
                "period": {"start": "2020-01-01"}}]}),
        ),
        (
            "CarePlan/kind-plan",
            json!({"resourceType": "CarePlan", "status": "active", "intent": "plan",
            "title": "Ondersteuningsplan", "subject": {"reference": "Patient/kind"},
            "activity": [{"detail": {"description": "Huisbezoek", "status": "in-progress",
                "performer": [{"reference": "PractitionerRole/dir-role"}]}}]}),
        ),
    ] {
        let mut body = body;
        body["id"] = json!(path.rsplit('/').next().unwrap());
        let r = app.put(&format!("/fhir/{path}"), &body).await;
        assert!(r.status.is_success(), "{path}: {:?}", r.body);
    }
    professional(app, "ans.dekker", "jeugd", "dir").await
}

/// A signed-in professional of `organisation`, who is `Practitioner/{practitioner}` in the
/// role `PractitionerRole/{practitioner}-role`: their session.
pub(crate) async fn professional(
    app: &TestApp,
    username: &str,
    organisation: &str,
    practitioner: &str,
) -> String {
    let mut a = accounts::blank(username, Kind::Professional);
    a.organisation = Some(organisation.into());
    a.practitioner = Some(practitioner.into());
    a.role = Some(format!("{practitioner}-role"));
    accounts::create(&*app.accounts, a, "correct horse battery staple", true)
        .await
        .unwrap();
    sessions::start(&*app.accounts, username, true, now_ms())
        .await
        .unwrap()
        .0
}

pub(crate) async fn post_form(
    app: &TestApp,
    cookie: &str,
    uri: &str,
    form: &str,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::COOKIE, format!("{}={cookie}", sessions::COOKIE))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let res = app
        .secure
        .clone()
        .oneshot(req.body(Body::from(form.to_string())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        format!("{location}{}", String::from_utf8_lossy(&body)),
    )
}

pub(crate) fn csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string()
}

every_backend!(
    a_client_writes_goals_comments_agreement_and_requests_and_nothing_else,
    |app: TestApp| async move {
        let (_, child) = family(&app, &years_ago(17, 0)).await;
        let director = director_and_plan(&app).await;
        let (_, html) = get(&app, &child, "/clienten/kind/plan").await;
        let html = text(&html);
        let token = csrf(&html);
        let version = app.get("/fhir/CarePlan/kind-plan").await.body["meta"]["versionId"]
            .as_str()
            .unwrap()
            .to_string();
        // A goal of their own, a comment and their agreement, each said back.
        let (status, to) = post_form(
            &app,
            &child,
            "/mijn/plan/doel",
            &format!("csrf={token}&goal=Weer+naar+school"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        assert!(to.contains("klaar=own-goal-added"), "{to}");
        let (status, to) = post_form(
            &app,
            &child,
            "/mijn/plan/reactie",
            &format!("csrf={token}&version={version}&text=Meer+hulp+bij+huiswerk"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        let version = app.get("/fhir/CarePlan/kind-plan").await.body["meta"]["versionId"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, to) = post_form(
            &app,
            &child,
            "/mijn/plan/akkoord",
            &format!("csrf={token}&version={version}"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        let (_, html) = get(&app, &child, "/clienten/kind/plan?klaar=plan-agreed").await;
        let html = text(&html);
        assert!(
            html.contains("u gaat akkoord met dit plan")
                && html.contains("U bent akkoord met dit plan"),
            "{html}"
        );
        assert!(html.contains("Weer naar school") && html.contains("Meer hulp bij huiswerk"));
        // The case director reads them with the client's name.
        let (_, html) = get(&app, &director, "/clienten/kind/plan").await;
        let html = text(&html);
        assert!(
            html.contains("Meer hulp bij huiswerk") && html.contains("Sam Jansen ging akkoord op"),
            "{html}"
        );

        // Through the API the client changes nothing else: not the agreements, not the title.
        let plan = app.get("/fhir/CarePlan/kind-plan").await.body;
        let mut changed = plan.clone();
        changed["activity"][0]["detail"]["status"] = json!("completed");
        let r = app
            .call_as_person(&child, Method::PUT, "/fhir/CarePlan/kind-plan", &changed)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert!(r.diagnostics().contains("comments"), "{}", r.diagnostics());
        let report = json!({"resourceType": "Communication", "status": "completed", "subject": {"reference": "Patient/kind"},
            "payload": [{"contentString": "zelf geschreven"}]});
        let r = app
            .call_as_person(&child, Method::POST, "/fhir/Communication", &report)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

        // A request to erase: to the organisation, due in a month (17: the Jeugdwet's three
        // months), answered by the case director, the answer read by the client.
        let (status, to) = post_form(
            &app,
            &child,
            "/mijn/gegevens/verzoek",
            &format!("csrf={token}&kind=erasure&text=Wis+het+verslag+van+oktober"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        let tasks = app.get("/fhir/Task?subject=Patient/kind").await.body;
        let task = tasks["entry"][0]["resource"].clone();
        assert_eq!(task["status"], "requested");
        assert_eq!(task["owner"]["reference"], "Organization/jeugd");
        let due = chrono::NaiveDate::parse_from_str(
            task["restriction"]["period"]["end"].as_str().unwrap(),
            "%Y-%m-%d",
        )
        .unwrap();
        let today = kring_server::pages::dates::today();
        assert!(
            due > today + chrono::Duration::days(80),
            "three months for a minor's erasure: {due}"
        );
        let (_, html) = get(&app, &director, "/clienten/kind/plan").await;
        let html = text(&html);
        assert!(html.contains("Wis het verslag van oktober"), "{html}");
        let id = task["id"].as_str().unwrap();
        let tv = task["meta"]["versionId"].as_str().unwrap();
        let dtoken = csrf(&html);
        let (status, to) = post_form(&app, &director, "/clienten/kind/plan/verzoeken", &format!("csrf={dtoken}&task={id}&version={tv}&status=completed&answer=Het+verslag+is+gewist")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        let (_, html) = get(&app, &child, "/mijn/gegevens").await;
        let html = text(&html);
        assert!(
            html.contains("Het verslag is gewist") && html.contains("Gedaan"),
            "{html}"
        );
        // The client cannot answer their own request, nor write another's name.
        let mut answered = app.get(&format!("/fhir/Task/{id}")).await.body;
        answered["status"] = json!("in-progress");
        let r = app
            .call_as_person(&child, Method::PUT, &format!("/fhir/Task/{id}"), &answered)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Every request and answer is in the log.
        let log = app.log_lines().await;
        assert!(log.iter().any(|l| l["user"]["id"] == "account/client.kind"
            && l["data"]["type"] == "Task"
            && l["action"] == "C"));
        assert!(log.iter().any(|l| l["user"]["id"] == "account/ans.dekker"
            && l["data"]["type"] == "Task"
            && l["action"] == "U"));
    }
);

every_backend!(
    who_looked_marks_an_outsiders_emergency_access_with_its_reason,
    |app: TestApp| async move {
        let birth = years_ago(17, 0);
        let (_, child) = family(&app, &birth).await;
        // A professional of an organisation outside the circle breaks the glass.
        for (path, body) in [
            (
                "Organization/ggz",
                json!({"resourceType": "Organization", "name": "GGZ West"}),
            ),
            (
                "Practitioner/out",
                json!({"resourceType": "Practitioner", "name": [{"family": "Vos", "given": ["Ilse"]}]}),
            ),
            (
                "PractitionerRole/out-role",
                json!({"resourceType": "PractitionerRole", "practitioner": {"reference": "Practitioner/out"},
                "organization": {"reference": "Organization/ggz"}, "code": [{"text": "Verpleegkundige"}]}),
            ),
        ] {
            let mut body = body;
            body["id"] = json!(path.rsplit('/').next().unwrap());
            assert!(app
                .put(&format!("/fhir/{path}"), &body)
                .await
                .status
                .is_success());
        }
        let outsider = professional(&app, "ilse.vos", "ggz", "out").await;
        let (_, html) = get(&app, &outsider, "/noodtoegang").await;
        let token = csrf(&text(&html));
        let (status, to) = post_form(
            &app,
            &outsider,
            "/noodtoegang",
            &format!("csrf={token}&name=Sam+Jansen&birth={birth}&reason=Crisis+op+straat%2C+regisseur+onbereikbaar"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        // The client sees it marked, with the reason, and on the start page.
        let (_, html) = get(&app, &child, "/wie-keek").await;
        let html = text(&html);
        assert!(html.contains("buiten uw kring"), "{html}");
        assert!(
            html.contains("Opgegeven reden: Crisis op straat, regisseur onbereikbaar"),
            "{html}"
        );
        let (_, html) = get(&app, &child, "/mijn").await;
        let html = text(&html);
        assert!(html.contains("Crisis op straat"), "{html}");
    }
);

every_backend!(
    a_parent_of_several_children_chooses_whose_record_the_portal_shows,
    |app: TestApp| async move {
        let (parent, _) = family(&app, &years_ago(9, 0)).await;
        // A brother, with his own RelatedPerson for the same parent; a stranger's child.
        for (path, body) in [
            (
                "Patient/broer",
                json!({"resourceType": "Patient", "name": [{"family": "Jansen", "given": ["Tim"]}],
                "birthDate": years_ago(6, 0), "managingOrganization": {"reference": "Organization/jeugd"}}),
            ),
            (
                "RelatedPerson/broer-ouder",
                json!({"resourceType": "RelatedPerson", "active": true, "patient": {"reference": "Patient/broer"},
                "relationship": [{"coding": [{"system": AUTHORITY, "code": "gezag"}]}]}),
            ),
            (
                "Patient/vreemd",
                json!({"resourceType": "Patient", "name": [{"family": "Anders", "given": ["Bo"]}],
                "birthDate": years_ago(7, 0), "managingOrganization": {"reference": "Organization/jeugd"}}),
            ),
        ] {
            let mut body = body;
            body["id"] = json!(path.rsplit('/').next().unwrap());
            assert!(app
                .put(&format!("/fhir/{path}"), &body)
                .await
                .status
                .is_success());
        }
        let mut a = accounts::load(&*app.accounts, "ouder.kind")
            .await
            .unwrap()
            .unwrap();
        a.children = vec![
            accounts::ChildLink {
                patient: "kind".into(),
                related_person: "kind-ouder".into(),
            },
            accounts::ChildLink {
                patient: "broer".into(),
                related_person: "broer-ouder".into(),
            },
        ];
        accounts::save(&*app.accounts, &a).await.unwrap();
        let (_, html) = get(&app, &parent, "/mijn").await;
        let html = text(&html);
        assert!(
            html.contains("Over welk kind?") && html.contains("Tim Jansen"),
            "{html}"
        );
        let token = csrf(&html);
        // A child not linked to the account is not offered and not taken.
        let (status, _) = post_form(
            &app,
            &parent,
            "/mijn/kind",
            &format!("csrf={token}&kind=vreemd"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, to) = post_form(
            &app,
            &parent,
            "/mijn/kind",
            &format!("csrf={token}&kind=broer"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        let (_, html) = get(&app, &parent, "/mijn?klaar=child-chosen").await;
        let html = text(&html);
        assert!(
            html.contains("U kijkt in het dossier van uw kind: Tim Jansen"),
            "{html}"
        );
        assert!(html.contains("U kijkt nu in het dossier van dit kind."));
        let (status, _) = get(&app, &parent, "/clienten/kind/plan").await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "the other child's pages while Tim is chosen"
        );
        let (status, _) = get(&app, &parent, "/clienten/vreemd/plan").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

every_backend!(
    the_client_and_the_circle_write_messages_only_their_parties_read,
    |app: TestApp| async move {
        let (parent, child) = family(&app, &years_ago(13, -40)).await;
        let director = director_and_plan(&app).await;
        let (status, html) = get(&app, &director, "/clienten/kind/berichten").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(
            html.contains("Sam Jansen") && html.contains("Eva Jansen"),
            "{html}"
        );
        let token = csrf(&html);
        let (status, location) = post_form(
            &app,
            &director,
            "/clienten/kind/berichten",
            &format!("csrf={token}&to=Patient%2Fkind&text=Zie+ik+je+donderdag%3F"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        // The child reads it; the parent, not a party, does not.
        let (_, html) = get(&app, &child, "/clienten/kind/berichten").await;
        let html = text(&html);
        assert!(html.contains("Zie ik je donderdag?"), "{html}");
        let child_token = csrf(&html);
        let (_, html) = get(&app, &parent, "/clienten/kind/berichten").await;
        assert!(!text(&html).contains("Zie ik je donderdag?"));
        // The child answers the case director.
        let (status, _) = post_form(
            &app,
            &child,
            "/clienten/kind/berichten",
            &format!("csrf={child_token}&to=PractitionerRole%2Fdir-role&text=Ja%2C+om+drie+uur"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = get(&app, &director, "/clienten/kind/berichten").await;
        assert!(text(&html).contains("Ja, om drie uur"));
        // A message in someone else's name, or between professionals only, is refused.
        let forged = kring_record::messages::message(
            "kind",
            "Patient/kind",
            &["PractitionerRole/dir-role".into()],
            "Niet van mij",
            "2026-12-06T10:00:00Z",
        );
        let r = app
            .call_as_person(&director, Method::POST, "/fhir/Communication", &forged)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        let between = kring_record::messages::message(
            "kind",
            "PractitionerRole/dir-role",
            &["PractitionerRole/other-role".into()],
            "Onder ons",
            "2026-12-06T10:00:00Z",
        );
        let r = app
            .call_as_person(&director, Method::POST, "/fhir/Communication", &between)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        // Messages are not reports: the reports page does not show them.
        let (_, html) = get(&app, &director, "/clienten/kind/rapportages").await;
        assert!(!text(&html).contains("Zie ik je donderdag?"));
    }
);

every_backend!(
    a_supporter_sees_the_plan_and_the_messages_to_them_only,
    |app: TestApp| async move {
        let (_parent, child) = family(&app, &years_ago(17, -40)).await;
        let director = director_and_plan(&app).await;
        let steun = json!({"resourceType": "RelatedPerson", "id": "kind-steun", "active": true,
            "patient": {"reference": "Patient/kind"}, "name": [{"family": "Bakker", "given": ["Sanne"]}],
            "relationship": [{"coding": [{"system": "https://kring.example/fhir/CodeSystem/portal-role", "code": "supporter"}]}]});
        assert!(app
            .put("/fhir/RelatedPerson/kind-steun", &steun)
            .await
            .status
            .is_success());
        let mut a = accounts::blank("steun.kind", Kind::Supporter);
        a.patient = Some("kind".into());
        a.related_person = Some("kind-steun".into());
        accounts::create(&*app.accounts, a, "correct horse battery staple", true)
            .await
            .unwrap();
        let supporter = sessions::start(&*app.accounts, "steun.kind", true, now_ms())
            .await
            .unwrap()
            .0;
        // The start is the plan, with two tabs: the plan and the messages.
        let (status, location) = {
            let req = Request::builder()
                .uri("/mijn")
                .header(header::COOKIE, format!("{}={supporter}", sessions::COOKIE));
            let res = app
                .secure
                .clone()
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            (
                res.status(),
                res.headers()
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location, "/clienten/kind/plan");
        let (status, html) = get(&app, &supporter, "/clienten/kind/plan").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(html.contains("Huisbezoek"), "{html}");
        assert!(html.contains("steunpersoon"), "{html}");
        assert!(!html.contains("/mijn/plan/akkoord"), "{html}");
        assert!(!html.contains("/clienten/kind/rapportages"), "{html}");
        // Nothing else of the record, and none of the portal's own pages.
        for page in [
            "/clienten/kind/rapportages",
            "/clienten/kind/crisisplan",
            "/mijn/kring",
            "/toestemming",
            "/wie-keek",
            "/mijn/gegevens",
        ] {
            let (status, _) = get(&app, &supporter, page).await;
            assert!(status.is_client_error(), "{page}: {status}");
        }
        let r = app
            .call_as_person(&supporter, Method::GET, "/fhir/Patient/kind", &Value::Null)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Messages: the director writes to the supporter and to the client separately; the
        // supporter reads the first only, and answers.
        let (_, html) = get(&app, &director, "/clienten/kind/berichten").await;
        let html = text(&html);
        assert!(
            html.contains("Sanne Bakker") || html.contains("RelatedPerson/kind-steun"),
            "{html}"
        );
        let token = csrf(&html);
        for (to, text_) in [
            ("RelatedPerson%2Fkind-steun", "Voor+de+steunpersoon"),
            ("Patient%2Fkind", "Alleen+voor+Sam"),
        ] {
            let (status, _) = post_form(
                &app,
                &director,
                "/clienten/kind/berichten",
                &format!("csrf={token}&to={to}&text={text_}"),
            )
            .await;
            assert_eq!(status, StatusCode::SEE_OTHER);
        }
        let (status, html) = get(&app, &supporter, "/clienten/kind/berichten").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(
            html.contains("Voor de steunpersoon") && !html.contains("Alleen voor Sam"),
            "{html}"
        );
        let (status, _) = post_form(
            &app,
            &supporter,
            "/clienten/kind/berichten",
            &format!(
                "csrf={}&to=PractitionerRole%2Fdir-role&text=Dank+u",
                csrf(&html)
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = get(&app, &child, "/clienten/kind/berichten").await;
        assert!(!text(&html).contains("Voor de steunpersoon"));
    }
);

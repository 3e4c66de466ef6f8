//! The data-breach register: a privacy officer opens an incident for an account and a window;
//! Kring scopes it from the access log (clients, categories, records); the 72 hours count down
//! on the register and the review queue until the DPA is notified or the officer records why
//! not; the assessment keeps the law's rule (a risk is notified); every step is logged; only
//! officers reach it.

use axum::http::StatusCode;
use kring_server::auth::accounts::{self, Kind};
use kring_server::auth::{now_ms, sessions};

use crate::every_backend;
use crate::harness::TestApp;
use crate::portal::{csrf, director_and_plan, family, get, post_form, text, years_ago};

async fn officer(app: &TestApp) -> String {
    let mut o = accounts::blank("privacy.jeugd", Kind::Officer);
    o.organisation = Some("jeugd".into());
    accounts::create(&*app.accounts, o, "correct horse battery staple", true)
        .await
        .unwrap();
    sessions::start(&*app.accounts, "privacy.jeugd", true, now_ms())
        .await
        .unwrap()
        .0
}

every_backend!(
    a_breach_is_scoped_from_the_log_counted_down_assessed_and_kept,
    |app: TestApp| async move {
        family(&app, &years_ago(14, 0)).await;
        let ans = director_and_plan(&app).await;
        // The account (later found compromised) reads the client's pages.
        for uri in ["/clienten/kind", "/clienten/kind/plan"] {
            let (status, _) = get(&app, &ans, uri).await;
            assert_eq!(status, StatusCode::OK);
        }
        // Not a page for a professional.
        let (status, _) = get(&app, &ans, "/privacy/datalekken").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let officer = officer(&app).await;
        let (status, html) = get(&app, &officer, "/privacy/datalekken").await;
        assert_eq!(status, StatusCode::OK);
        let token = csrf(&text(&html));
        // Today and now as the officer's clock (Dutch time) shows them.
        let today = kring_fhir::datetime::dutch_date(chrono::Utc::now());
        let now = chrono::Utc::now();
        let offset = kring_fhir::datetime::dutch_offset_ms(now.timestamp_millis());
        let discovered = (now + chrono::Duration::milliseconds(offset))
            .format("%Y-%m-%dT%H:%M")
            .to_string();
        // Incomplete: said, nothing stored.
        let (status, page) = post_form(&app, &officer, "/privacy/datalekken", &format!("csrf={token}&what=&discovered={discovered}&kind=account&name=ans.dekker&from={today}&to={today}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("Schrijf op wat er is gebeurd"), "{page}");
        let (status, location) = post_form(
            &app,
            &officer,
            "/privacy/datalekken",
            &format!("csrf={token}&what=Wachtwoord+gedeeld+in+een+groepsapp&discovered={discovered}&kind=account&name=ans.dekker&from={today}&to={today}"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        assert!(
            location.starts_with("/privacy/datalekken/1?klaar=geopend"),
            "{location}"
        );
        let (status, html) = get(&app, &officer, "/privacy/datalekken/1?klaar=geopend").await;
        assert_eq!(status, StatusCode::OK);
        let page = text(&html);
        assert!(page.contains("Cliënten: 1"), "{page}");
        assert!(
            page.contains("nog 71 uur") || page.contains("nog 72 uur"),
            "{page}"
        );
        assert!(
            page.contains("Ondersteuningsplan") || page.contains("ondersteuningsplan"),
            "the categories read: {page}"
        );
        assert!(
            page.contains("Beste cliënt"),
            "the letter is prefilled: {page}"
        );
        // The countdown is on the officer's start page too.
        let (_, queue) = get(&app, &officer, "/toezicht").await;
        assert!(text(&queue).contains("Datalek #1: nog"), "{}", text(&queue));
        // The law's rule: a risk is notified; not notifying needs a reason.
        let token = csrf(&page);
        let (status, page) = post_form(
            &app,
            &officer,
            "/privacy/datalekken/1/beoordeling",
            &format!("csrf={token}&risk=high&notify=nee&reason=klein"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "shown again with the rule");
        assert!(page.contains("Bij risico meldt u het datalek"), "{page}");
        let (_, page) = post_form(
            &app,
            &officer,
            "/privacy/datalekken/1/beoordeling",
            &format!("csrf={token}&risk=unlikely&notify=nee&reason="),
        )
        .await;
        assert!(page.contains("Schrijf op waarom"), "{page}");
        let (status, location) = post_form(
            &app,
            &officer,
            "/privacy/datalekken/1/beoordeling",
            &format!("csrf={token}&risk=unlikely&notify=nee&reason=Alleen+naam+en+plan+gezien+door+een+collega+binnen+de+kring&measures=Wachtwoord+gewijzigd"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        let (_, html) = get(&app, &officer, "/privacy/datalekken/1?klaar=beoordeeld").await;
        let page = text(&html);
        assert!(page.contains("De beoordeling is opgeslagen"), "{page}");
        assert!(page.contains("Wachtwoord gewijzigd"), "{page}");
        // Not notifiable with a reason: the countdown stops; the incident stays in the register.
        let (_, queue) = get(&app, &officer, "/toezicht").await;
        assert!(!text(&queue).contains("Datalek #1"), "{}", text(&queue));
        let (_, register) = get(&app, &officer, "/privacy/datalekken").await;
        assert!(
            text(&register).contains("Niet meldplichtig"),
            "{}",
            text(&register)
        );
        // Every step is in the access log.
        let log = app.log_lines().await;
        for step in [
            "breach-register",
            "breach-scope",
            "breach-open",
            "breach-view",
            "breach-assess",
        ] {
            assert!(
                log.iter().any(|e| e["interaction"] == step),
                "{step} logged"
            );
        }
        assert!(log
            .iter()
            .any(|e| e["interaction"] == "breach-open" && e["client"] == "kind"));
    }
);

/// A page read from a network address (what a server behind no proxy sees).
async fn get_from(app: &TestApp, cookie: &str, uri: &str, address: &str) -> StatusCode {
    use tower::ServiceExt;
    let addr: std::net::SocketAddr = format!("{address}:50123").parse().unwrap();
    let req = axum::http::Request::builder()
        .uri(uri)
        .header(
            axum::http::header::COOKIE,
            format!("{}={cookie}", sessions::COOKIE),
        )
        .extension(axum::extract::ConnectInfo(addr))
        .body(axum::body::Body::empty())
        .unwrap();
    app.secure.clone().oneshot(req).await.unwrap().status()
}

/// The incident page an opening redirected to.
async fn opened(app: &TestApp, officer: &str, form: &str) -> String {
    let (status, location) = post_form(app, officer, "/privacy/datalekken", form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (status, html) = get(app, officer, &location).await;
    assert_eq!(status, StatusCode::OK);
    text(&html)
}

every_backend!(
    a_breach_at_a_location_or_from_an_address_is_scoped_to_what_happened_there,
    |app: TestApp| async move {
        family(&app, &years_ago(14, 0)).await;
        let ans = director_and_plan(&app).await;
        // The director works at Locatie Oost, where the child stays.
        for (path, body) in [
            (
                "Location/oost",
                serde_json::json!({"resourceType": "Location", "name": "Locatie Oost",
                "managingOrganization": {"reference": "Organization/jeugd"}}),
            ),
            (
                "PractitionerRole/dir-role",
                serde_json::json!({"resourceType": "PractitionerRole", "practitioner": {"reference": "Practitioner/dir"},
                "organization": {"reference": "Organization/jeugd"}, "code": [{"text": "Casusregisseur"}],
                "location": [{"reference": "Location/oost"}]}),
            ),
        ] {
            let mut body = body;
            body["id"] = serde_json::json!(path.rsplit('/').next().unwrap());
            let r = app.put(&format!("/fhir/{path}"), &body).await;
            assert!(r.status.is_success(), "{path}: {:?}", r.body);
        }
        // Read from the laptop later reported stolen.
        assert_eq!(
            get_from(&app, &ans, "/clienten/kind", "192.0.2.10").await,
            StatusCode::OK
        );
        let officer = officer(&app).await;
        let (_, html) = get(&app, &officer, "/privacy/datalekken").await;
        let page = text(&html);
        assert!(
            page.contains("Locatie Oost"),
            "the locations to choose: {page}"
        );
        let token = csrf(&page);
        // Today and now as the officer's clock (Dutch time) shows them.
        let now = chrono::Utc::now();
        let today = kring_fhir::datetime::dutch_date(now);
        let discovered = (now
            + chrono::Duration::milliseconds(kring_fhir::datetime::dutch_offset_ms(
                now.timestamp_millis(),
            )))
        .format("%Y-%m-%dT%H:%M");
        let base = format!(
            "csrf={token}&what=Laptop+gestolen&discovered={discovered}&from={today}&to={today}"
        );
        // Not an address: said, nothing stored.
        let (status, page) = post_form(
            &app,
            &officer,
            "/privacy/datalekken",
            &format!("{base}&kind=address&name=de+laptop"),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("Vul een geldig IP-adres in"), "{page}");
        // From the laptop's address: the client read there.
        let page = opened(
            &app,
            &officer,
            &format!("{base}&kind=address&name=192.0.2.10"),
        )
        .await;
        assert!(page.contains("Netwerkadres 192.0.2.10"), "{page}");
        assert!(page.contains("Cliënten: 1"), "{page}");
        // Nothing came from another address.
        let page = opened(
            &app,
            &officer,
            &format!("{base}&kind=address&name=192.0.2.99"),
        )
        .await;
        assert!(page.contains("Cliënten: 0"), "{page}");
        // At the location: what its staff did.
        let page = opened(
            &app,
            &officer,
            &format!("{base}&kind=location&location=oost"),
        )
        .await;
        assert!(page.contains("Locatie Oost (locatie)"), "{page}");
        assert!(page.contains("Cliënten: 1"), "{page}");
        // No location chosen: said.
        let (status, page) = post_form(
            &app,
            &officer,
            "/privacy/datalekken",
            &format!("{base}&kind=location&location="),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("Kies wat er"), "{page}");
        // The downtime kits written for the location count too, even for a client its staff
        // never opened.
        for (path, body) in [
            (
                "Patient/gast",
                serde_json::json!({"resourceType": "Patient", "name": [{"family": "Visser", "given": ["Noor"]}],
                "birthDate": "1990-05-01", "managingOrganization": {"reference": "Organization/jeugd"}}),
            ),
            (
                "CareTeam/gast-circle",
                serde_json::json!({"resourceType": "CareTeam", "status": "active", "subject": {"reference": "Patient/gast"},
                "participant": [{"member": {"reference": "PractitionerRole/dir-role"},
                    "onBehalfOf": {"reference": "Organization/jeugd"}, "period": {"start": "2020-01-01"}}]}),
            ),
            (
                "Encounter/gast-stay",
                serde_json::json!({"resourceType": "Encounter", "status": "in-progress",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"},
                "subject": {"reference": "Patient/gast"},
                "location": [{"location": {"reference": "Location/oost"}}]}),
            ),
        ] {
            let mut body = body;
            body["id"] = serde_json::json!(path.rsplit('/').next().unwrap());
            let r = app.put(&format!("/fhir/{path}"), &body).await;
            assert!(r.status.is_success(), "{path}: {:?}", r.body);
        }
        let dir = tempfile::tempdir().unwrap();
        let written = kring_server::kit::write_all(
            &app.record,
            &kring_server::kit::KitSettings {
                dir: dir.path().to_path_buf(),
                passphrase: Some("nachtdienst-oost-wachtwoord".into()),
                per_location: Default::default(),
            },
            &kring_record::medication::HighRisk::default(),
        )
        .await
        .expect("kits");
        assert!(written.iter().any(|w| w.location == "oost"), "{written:?}");
        let page = opened(
            &app,
            &officer,
            &format!("{base}&kind=location&location=oost"),
        )
        .await;
        assert!(page.contains("Cliënten: 2"), "the kit's client too: {page}");
        // The reading of the log for each scope is itself logged.
        let log = app.log_lines().await;
        assert!(
            log.iter()
                .filter(|e| e["interaction"] == "breach-open")
                .count()
                >= 4
        );
    }
);

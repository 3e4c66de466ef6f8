//! The data-breach register: a privacy officer opens an incident for an account and a window;
//! Kring scopes it from the access log (clients, categories, records); the 72 hours count down
//! on the register and the review queue until the DPA is notified or the officer records why
//! not; the assessment keeps the law's rule (a risk is notified); every step is logged; only
//! officers reach it.

use axum::http::StatusCode;
use kring_server::auth::accounts::{self, Kind};
use kring_server::auth::{now_ms, sessions};

use crate::both_backends;
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

both_backends!(
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
        let today = chrono::Utc::now().date_naive();
        // Discovered now, as the officer's clock (Dutch time) shows it.
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

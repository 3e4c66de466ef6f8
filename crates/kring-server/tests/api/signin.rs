//! Sign-in for people: argon2id passwords, TOTP second factor, lock-out, server-side sessions
//! with secure cookies, CSRF, idle and absolute timeouts, sign-out everywhere.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use kring_server::auth::accounts::{self, Kind};
use kring_server::auth::{now_ms, sessions};
use tower::ServiceExt;

use crate::every_backend;
use crate::harness::TestApp;

struct Reply {
    status: StatusCode,
    location: String,
    cookie: Option<String>,
    set_cookie: String,
    body: String,
}

async fn send(
    app: &TestApp,
    method: Method,
    uri: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("{}={c}", sessions::COOKIE));
    }
    if form.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let res = app
        .secure
        .clone()
        .oneshot(
            req.body(Body::from(form.unwrap_or("").to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    reply(res).await
}

async fn reply(res: axum::response::Response) -> Reply {
    let set_cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{}=", sessions::COOKIE)))
        .unwrap_or("")
        .to_string();
    let cookie = set_cookie
        .strip_prefix(&format!("{}=", sessions::COOKIE))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let status = res.status();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    Reply {
        status,
        location,
        cookie,
        set_cookie,
        body: String::from_utf8_lossy(&body).into(),
    }
}

/// `POST /inloggen` with the sign-in form's token, as a browser that got the form sends it.
async fn password(app: &TestApp, form: &str) -> Reply {
    reply(app.post_password(form, "KringTest/1.0").await).await
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string()
}

async fn professional(app: &TestApp) -> accounts::Account {
    let mut a = accounts::blank("anna.devries", Kind::Professional);
    a.organisation = Some("org-a".into());
    a.practitioner = Some("pr-1".into());
    a.role = Some("pr-1-role".into());
    accounts::create(&*app.accounts, a, "correct horse battery staple", true)
        .await
        .unwrap()
}

every_backend!(
    two_factors_lead_to_a_session_that_works_for_pages_and_api,
    |app: TestApp| async move {
        let a = professional(&app).await;
        assert!(a.password_hash.starts_with("$argon2id$"));
        let r = password(
            &app,
            "username=anna.devries&password=correct+horse+battery+staple",
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location, "/inloggen/code");
        for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(r.set_cookie.contains(attr), "{}", r.set_cookie);
        }
        let half = r.cookie.unwrap();
        // Half signed in: no pages, no API.
        assert_eq!(
            send(&app, Method::GET, "/clienten", Some(&half), None)
                .await
                .location,
            "/inloggen"
        );
        assert_eq!(
            send(&app, Method::GET, "/fhir/Patient", Some(&half), None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        let page = send(&app, Method::GET, "/inloggen/code", Some(&half), None).await;
        let csrf = csrf_of(&page.body);
        let wrong = send(
            &app,
            Method::POST,
            "/inloggen/code",
            Some(&half),
            Some(&format!("csrf={csrf}&code=000000")),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let code = accounts::current_code(a.totp_secret.as_deref().unwrap(), now_ms()).unwrap();
        let ok = send(
            &app,
            Method::POST,
            "/inloggen/code",
            Some(&half),
            Some(&format!("csrf={csrf}&code={code}")),
        )
        .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let full = ok.cookie.unwrap();
        assert_ne!(full, half, "a fresh cookie after the second factor");
        assert_eq!(
            send(&app, Method::GET, "/fhir/Patient/x", Some(&half), None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(&app, Method::GET, "/clienten", Some(&full), None)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, Method::GET, "/fhir/Patient", Some(&full), None)
                .await
                .status,
            StatusCode::OK
        );
        // The same code does not work twice.
        let again = password(
            &app,
            "username=anna.devries&password=correct+horse+battery+staple",
        )
        .await;
        let again_cookie = again.cookie.unwrap();
        let csrf2 = csrf_of(
            &send(
                &app,
                Method::GET,
                "/inloggen/code",
                Some(&again_cookie),
                None,
            )
            .await
            .body,
        );
        let replay = send(
            &app,
            Method::POST,
            "/inloggen/code",
            Some(&again_cookie),
            Some(&format!("csrf={csrf2}&code={code}")),
        )
        .await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        // Sign-out everywhere needs the CSRF token, then ends every session.
        let page = send(&app, Method::GET, "/clienten", Some(&full), None).await;
        let token = csrf_of(&page.body);
        assert_eq!(
            send(
                &app,
                Method::POST,
                "/uitloggen/overal",
                Some(&full),
                Some("csrf=forged")
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
        let out = send(
            &app,
            Method::POST,
            "/uitloggen/overal",
            Some(&full),
            Some(&format!("csrf={token}")),
        )
        .await;
        assert_eq!(out.location, "/inloggen");
        assert!(out.set_cookie.contains("Max-Age=0"));
        assert_eq!(
            send(&app, Method::GET, "/fhir/Patient", Some(&full), None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(&app, Method::GET, "/clienten", Some(&again_cookie), None)
                .await
                .location,
            "/inloggen"
        );
    }
);

every_backend!(
    five_wrong_passwords_lock_the_account,
    |app: TestApp| async move {
        professional(&app).await;
        for i in 0..5 {
            let r = password(&app, "username=anna.devries&password=wrong").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
            if i < 4 {
                assert!(r.body.contains("klopt niet"), "{}", r.body);
            }
        }
        let r = password(
            &app,
            "username=anna.devries&password=correct+horse+battery+staple",
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "locked, even with the right password"
        );
        assert!(r.body.contains("geblokkeerd"), "{}", r.body);
        // An unknown user gets the answer of a wrong password.
        let unknown = password(&app, "username=nobody&password=x").await;
        assert!(unknown
            .body
            .contains("De gebruikersnaam of het wachtwoord klopt niet"));
        assert!(!unknown.body.contains("nobody"));
    }
);

every_backend!(
    sessions_end_after_idle_and_absolute_timeouts,
    |app: TestApp| async move {
        professional(&app).await;
        let now = now_ms();
        let (idle, _) = sessions::start(
            &*app.accounts,
            "anna.devries",
            true,
            now - sessions::IDLE_MS - 1000,
        )
        .await
        .unwrap();
        assert!(
            sessions::find(&*app.accounts, &idle, now)
                .await
                .unwrap()
                .is_none(),
            "idle for more than 15 minutes"
        );
        let (old, mut s) = sessions::start(
            &*app.accounts,
            "anna.devries",
            true,
            now - sessions::ABSOLUTE_MS - 1000,
        )
        .await
        .unwrap();
        // Active all along, but older than 12 hours.
        s.last_seen = now - 1000;
        assert!(s.expired(now));
        assert!(sessions::find(&*app.accounts, &old, now)
            .await
            .unwrap()
            .is_none());
        let (fresh, _) = sessions::start(&*app.accounts, "anna.devries", true, now)
            .await
            .unwrap();
        assert!(sessions::find(&*app.accounts, &fresh, now + 60_000)
            .await
            .unwrap()
            .is_some());
        // The database holds only a hash of the cookie.
        assert!(app.accounts.session(&fresh).await.unwrap().is_none());
    }
);

every_backend!(recovery_codes_work_once, |app: TestApp| async move {
    let mut a = professional(&app).await;
    let codes = accounts::new_recovery_codes(&mut a);
    accounts::save(&*app.accounts, &a).await.unwrap();
    let a = accounts::load(&*app.accounts, "anna.devries")
        .await
        .unwrap()
        .unwrap();
    let a = accounts::check_second_factor(&*app.accounts, a, &codes[3], now_ms())
        .await
        .unwrap();
    assert_eq!(a.recovery_hashes.len(), 9);
    assert!(
        accounts::check_second_factor(&*app.accounts, a, &codes[3], now_ms())
            .await
            .is_err()
    );
});

every_backend!(
    many_failures_from_one_address_are_throttled,
    |app: TestApp| async move {
        // Different usernames each time, so no single account locks: the address is throttled.
        for i in 0..kring_server::auth::throttle::MAX_FAILURES {
            let r = password(&app, &format!("username=guess{i}&password=x")).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        }
        let r = password(&app, "username=guess&password=x").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.body.contains("Te veel mislukte pogingen"));
        let r = app
            .token_request("grant_type=client_credentials&client_id=a&client_secret=b")
            .await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "the token endpoint shares the count"
        );
    }
);

every_backend!(
    a_sign_in_from_elsewhere_is_refused_login_csrf,
    |app: TestApp| async move {
        professional(&app).await;
        // No token at all: a form posted from another site.
        let r = send(
            &app,
            Method::POST,
            "/inloggen",
            None,
            Some("username=anna.devries&password=correct+horse+battery+staple"),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.cookie.is_none(), "no session was started");
        assert!(r.body.contains("verlopen"), "{}", r.body);
        // A token in the body that is not this browser's cookie.
        let (cookie, _) = app.sign_in_form().await;
        let (_, other) = app.sign_in_form().await;
        let req = Request::builder()
            .method(Method::POST)
            .uri("/inloggen")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(format!(
                "csrf={other}&username=anna.devries&password=correct+horse+battery+staple"
            )))
            .unwrap();
        let res = app.secure.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let log = app.log_lines().await;
        assert!(
            !log.iter().any(|l| l["interaction"]
                .as_str()
                .unwrap_or("")
                .starts_with("sign-in")),
            "a refused form is no sign-in attempt"
        );
    }
);

every_backend!(
    clients_and_parents_give_a_second_factor_too,
    |app: TestApp| async move {
        for (name, kind) in [
            ("client.pa", Kind::Client),
            ("ouder.pa", Kind::Representative),
        ] {
            let mut a = accounts::blank(name, kind);
            a.patient = Some("pa".into());
            a.related_person = Some("pa-mum".into());
            // Not confirmed: the first sign-in enrols the second factor.
            let a = accounts::create(&*app.accounts, a, "correct horse battery staple", false)
                .await
                .unwrap();
            assert!(a.totp_secret.is_some());
            let r = password(
                &app,
                &format!("username={name}&password=correct+horse+battery+staple"),
            )
            .await;
            assert_eq!(r.location, "/inloggen/code", "{name}");
            let half = r.cookie.unwrap();
            assert_eq!(
                send(&app, Method::GET, "/toestemming", Some(&half), None)
                    .await
                    .location,
                "/inloggen",
                "{name}: a password alone opens nothing"
            );
            let page = send(&app, Method::GET, "/inloggen/code", Some(&half), None).await;
            assert!(
                page.body.contains("<svg"),
                "{name}: enrolment shows a QR code"
            );
            let code = accounts::current_code(a.totp_secret.as_deref().unwrap(), now_ms()).unwrap();
            let ok = send(
                &app,
                Method::POST,
                "/inloggen/code",
                Some(&half),
                Some(&format!("csrf={}&code={code}", csrf_of(&page.body))),
            )
            .await;
            assert_eq!(ok.status, StatusCode::OK, "{name}: recovery codes shown");
            assert!(ok.cookie.is_some());
        }
    }
);

// Every POST of the pages, without its token, is refused before it does anything.
every_backend!(
    every_page_post_checks_its_token,
    |app: TestApp| async move {
        let a = professional(&app).await;
        let (cookie, _) = sessions::start(&*app.accounts, &a.username, true, now_ms())
            .await
            .unwrap();
        for uri in [
            "/inloggen",
            "/inloggen/code",
            "/uitloggen",
            "/uitloggen/overal",
            "/clienten",
            "/clienten/pa/kring",
            "/clienten/pa/kring/beeindigen",
            "/noodtoegang",
            "/toestemming",
            "/toestemming/mee",
            "/toestemming/intrekken",
            "/toegangslog",
            "/toezicht/controleren",
            "/toezicht/zaken/1/besluit",
            "/toezicht/zaken/1/waarschuwing",
            "/toezicht/zaken/1/datalek",
            "/privacy/datalekken",
            "/privacy/datalekken/1/beoordeling",
            "/privacy/datalekken/1/verzonden",
            "/meldingen/1/gelezen",
            "/beveiliging/passkeys/verwijderen",
        ] {
            let r = send(&app, Method::POST, uri, Some(&cookie), Some("csrf=forged")).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
            let r = send(&app, Method::POST, uri, Some(&cookie), Some("")).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri} without a token");
        }
        for uri in [
            "/beveiliging/passkeys/opties",
            "/beveiliging/passkeys",
            "/inloggen/passkey/opties",
            "/inloggen/passkey",
        ] {
            let req = Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header(header::COOKIE, format!("{}={cookie}", sessions::COOKIE))
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-kring-csrf", "forged")
                .body(Body::from("{}"))
                .unwrap();
            let res = app.secure.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{uri}");
        }
        // Still signed in: nothing above signed out.
        assert_eq!(
            send(&app, Method::GET, "/clienten", Some(&cookie), None)
                .await
                .status,
            StatusCode::OK
        );
    }
);

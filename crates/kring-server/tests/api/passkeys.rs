//! Passkeys through the real router: who may ask for a ceremony, at which address, with which
//! CSRF token; and a forged answer, which counts as a failed sign-in. (The successful
//! ceremonies need a real authenticator: the Chromium test drives them with a virtual one.)

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use kring_server::auth::accounts::{self, Kind};
use kring_server::auth::sessions;
use serde_json::Value;
use tower::ServiceExt;

use crate::every_backend;
use crate::harness::TestApp;

/// Sends a request as a browser at `host` would, with the session cookie and CSRF header.
async fn send(
    app: &TestApp,
    uri: &str,
    host: &str,
    cookie: Option<&str>,
    csrf: &str,
    body: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::HOST, host)
        .header("x-kring-csrf", csrf);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("{}={c}", sessions::COOKIE));
    }
    if uri == "/inloggen" {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    } else {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let res = app
        .secure
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix(&format!("{}=", sessions::COOKIE)))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        cookie,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A professional's session after the password: (cookie, CSRF token of the session).
async fn half_signed_in(app: &TestApp) -> (String, String) {
    let mut a = accounts::blank("piet.jansen", Kind::Professional);
    a.organisation = Some("org-a".into());
    a.practitioner = Some("pr-2".into());
    a.role = Some("pr-2-role".into());
    accounts::create(&*app.accounts, a, "een lang en goed wachtwoord", true)
        .await
        .unwrap();
    let res = app
        .post_password(
            "username=piet.jansen&password=een+lang+en+goed+wachtwoord",
            "KringTest/1.0",
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .headers()
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{}=", sessions::COOKIE)))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    let (_, session) = sessions::find(&*app.accounts, &cookie, kring_server::auth::now_ms())
        .await
        .unwrap()
        .unwrap();
    (cookie, session.csrf)
}

every_backend!(
    a_passkey_ceremony_needs_the_session_its_csrf_token_and_the_right_address,
    |app: TestApp| async move {
        // Nobody signed in: no session, so no token either.
        let (status, _, body) = send(
            &app,
            "/inloggen/passkey/opties",
            "kring.test",
            None,
            "",
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            body["error"].as_str().unwrap().contains("verlopen"),
            "{body}"
        );

        let (cookie, csrf) = half_signed_in(&app).await;
        // Another page's token, or none: refused.
        let (status, _, _) = send(
            &app,
            "/inloggen/passkey/opties",
            "kring.test",
            Some(&cookie),
            "not-the-token",
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // At an address that is not Kring's passkey origin, browsers would refuse the relying
        // party: Kring says so instead of starting.
        let (status, _, body) = send(
            &app,
            "/inloggen/passkey/opties",
            "127.0.0.1:8080",
            Some(&cookie),
            &csrf,
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().unwrap().contains("adres"), "{body}");
        // The account has no passkey yet.
        let (status, _, body) = send(
            &app,
            "/inloggen/passkey/opties",
            "kring.test",
            Some(&cookie),
            &csrf,
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"].as_str().unwrap().contains("geen passkey"),
            "{body}"
        );
        // Half signed in, the security page's ceremony is out of reach.
        let (status, _, _) = send(
            &app,
            "/beveiliging/passkeys/opties",
            "kring.test",
            Some(&cookie),
            &csrf,
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "to the sign-in page");
    }
);

every_backend!(
    a_forged_passkey_answer_counts_as_a_failed_attempt,
    |app: TestApp| async move {
        let (cookie, csrf) = half_signed_in(&app).await;
        let forged = r#"{"id":"AAAA","rawId":"AAAA","type":"public-key","extensions":{},
            "response":{"authenticatorData":"AAAA","clientDataJSON":"AAAA","signature":"AAAA","userHandle":null}}"#;
        let (status, cookie_after, body) = send(
            &app,
            "/inloggen/passkey",
            "kring.test",
            Some(&cookie),
            &csrf,
            forged,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(cookie_after.is_none(), "no session for a forged answer");
        assert!(body["error"].is_string());
        let a = accounts::load(&*app.accounts, "piet.jansen")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.failed, 1, "counted towards the lock-out");
        // Malformed JSON is refused the same way, with a sentence and no detail.
        let (status, _, body) = send(
            &app,
            "/inloggen/passkey",
            "kring.test",
            Some(&cookie),
            &csrf,
            "{not json",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(!body["error"].as_str().unwrap().contains("line"), "{body}");
        // The half session is still half: the pages still want the second step.
        let (_, session) = sessions::find(&*app.accounts, &cookie, kring_server::auth::now_ms())
            .await
            .unwrap()
            .unwrap();
        assert!(!session.complete);
    }
);

//! The web pages for people: sign-in with two factors, "my clients", the client page with
//! "why can I see this?", the circle page of the case director, emergency access, and the
//! consent page for clients and representatives. Server-rendered (askama), Dutch by default
//! with English (`?lang=en`), usable with the keyboard and a screen reader. Every piece of
//! client data on a page is fetched through the record, so it is decided and logged like any
//! API call.

mod access_log;
mod circle;
mod clients;
mod consent;
pub mod i18n;
mod oversight;
mod passkeys;
mod reasons;
mod render;
mod signin;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kring_record::Caller;

use crate::auth::accounts::Account;
use crate::auth::{now_ms, sessions};
use crate::AppState;
use i18n::{Lang, Texts};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(clients::home))
        .route("/inloggen", get(signin::form).post(signin::password))
        .route("/inloggen/code", get(signin::code_form).post(signin::code))
        .route("/inloggen/passkey/opties", post(passkeys::sign_in_options))
        .route("/inloggen/passkey", post(passkeys::sign_in))
        .route("/beveiliging", get(passkeys::page))
        .route(
            "/beveiliging/passkeys/opties",
            post(passkeys::registration_options),
        )
        .route("/beveiliging/passkeys", post(passkeys::register))
        .route("/beveiliging/passkeys/verwijderen", post(passkeys::remove))
        .route("/static/passkey.js", get(passkeys::script))
        .route("/uitloggen", post(signin::sign_out))
        .route("/uitloggen/overal", post(signin::sign_out_everywhere))
        .route("/clienten", get(clients::my_clients))
        .route("/clienten/{id}", get(clients::client_page))
        .route("/clienten/{id}/kring", get(circle::page).post(circle::add))
        .route("/clienten/{id}/kring/beeindigen", post(circle::end))
        .route(
            "/noodtoegang",
            get(clients::emergency_form).post(clients::emergency),
        )
        .route("/toestemming", get(consent::page).post(consent::record))
        .route("/wie-keek", get(access_log::who_looked))
        .route(
            "/toegangslog",
            get(access_log::officer_page).post(access_log::officer_search),
        )
        .route("/toezicht", get(oversight::queue))
        .route("/toezicht/controleren", post(oversight::run_now))
        .route("/toezicht/zaken/{id}", get(oversight::case))
        .route("/toezicht/zaken/{id}/besluit", post(oversight::decide))
        .route("/toezicht/zaken/{id}/waarschuwing", post(oversight::warn))
        .route("/toezicht/rapport", get(oversight::report))
        .route("/toezicht/rapport.pdf", get(oversight::report_pdf))
        .route("/meldingen/{id}/gelezen", post(oversight::warning_read))
        .route("/toestemming/mee", post(consent::cosign))
        .route("/toestemming/intrekken", post(consent::withdraw))
}

/// The day (`YYYY-MM-DD`) of an instant in Dutch time, as the pages show dates.
pub fn dutch_day(ms: i64) -> String {
    access_log::local(ms).1
}

/// What every page shows around its content.
pub struct Frame {
    pub t: Texts,
    pub title: String,
    pub signed_in: bool,
    pub professional: bool,
    pub client: bool,
    pub officer: bool,
    pub csrf: String,
    pub error: Option<String>,
    pub message: Option<String>,
}

/// The language of a request: `?lang=`, else the `kring_lang` cookie, else Dutch.
pub struct PageLang(pub Lang, pub bool);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(q) = parts.uri.query() {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                if k == "lang" {
                    return Ok(PageLang(Lang::from_code(&v), true));
                }
            }
        }
        let cookie = cookie(&parts.headers, "kring_lang");
        Ok(PageLang(
            cookie.map(|c| Lang::from_code(&c)).unwrap_or(Lang::Nl),
            false,
        ))
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A signed-in person (both factors given), with their caller for the record.
pub struct Person {
    pub account: Account,
    pub session: sessions::Session,
    pub caller: Caller,
    pub lang: Lang,
    pub set_lang: bool,
}

impl Person {
    pub fn frame(&self, title_key: &str) -> Frame {
        let t = Texts { lang: self.lang };
        Frame {
            title: t.get(title_key),
            t,
            signed_in: true,
            professional: self.account.kind == crate::auth::accounts::Kind::Professional,
            client: matches!(
                self.account.kind,
                crate::auth::accounts::Kind::Client | crate::auth::accounts::Kind::Representative
            ),
            officer: self.account.kind == crate::auth::accounts::Kind::Officer,
            csrf: self.session.csrf.clone(),
            error: None,
            message: None,
        }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), CsrfRefused> {
        if token.is_empty() || token != self.session.csrf {
            return Err(CsrfRefused);
        }
        Ok(())
    }
}

/// A form without this session's CSRF token (403).
pub struct CsrfRefused;

impl IntoResponse for CsrfRefused {
    fn into_response(self) -> Response {
        (
            StatusCode::FORBIDDEN,
            "the form has expired; reload the page and try again",
        )
            .into_response()
    }
}

impl FromRequestParts<AppState> for Person {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let PageLang(lang, set_lang) = PageLang::from_request_parts(parts, state)
            .await
            .unwrap_or(PageLang(Lang::Nl, false));
        let store = &state.accounts;
        let found = match sessions::cookie_of(&parts.headers) {
            Some(c) => sessions::find(&**store, &c, now_ms()).await.ok().flatten(),
            None => None,
        };
        let Some((username, session)) = found.filter(|(_, s)| s.complete) else {
            return Err(Redirect::to("/inloggen").into_response());
        };
        let Some(account) = crate::auth::accounts::load(&**store, &username)
            .await
            .ok()
            .flatten()
        else {
            return Err(Redirect::to("/inloggen").into_response());
        };
        let Some(subject) = account.subject() else {
            return Err((
                StatusCode::FORBIDDEN,
                "this account is not linked to a person in the record",
            )
                .into_response());
        };
        let source = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "in-process".into());
        let caller = Caller::new(subject, &source)
            .with_name(&account.name)
            .with_system("kring-web")
            .with_user_agent(&crate::auth::events::user_agent(&parts.headers));
        Ok(Person {
            account,
            session,
            caller,
            lang,
            set_lang,
        })
    }
}

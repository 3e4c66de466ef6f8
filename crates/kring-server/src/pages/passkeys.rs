//! Passkeys on the pages: the security page where a professional, officer or administrator
//! adds and removes passkeys, and signing in with a passkey as the second step. The browser's
//! part is `static/passkey.js` (WebAuthn needs JavaScript; the TOTP code keeps working
//! without it). Every change to an account's passkeys and every sign-in, failed or not, is in
//! the access log before it takes effect.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::form::{CsrfForm, CsrfJson};
use super::i18n::Lang;
use super::{render, PageLang, Person};
use crate::auth::accounts::{self, SignInError};
use crate::auth::events::{self, Who};
use crate::auth::passkeys::{PasskeyError, Passkeys};
use crate::auth::{now_ms, sessions, too_many, Source};
use crate::AppState;

/// The header in which the script sends the session's CSRF token.

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    f: super::Frame,
    passkeys: Vec<Row>,
    /// Whether passkeys can be added at the address the page was opened at.
    available: bool,
    /// Where passkeys work, when not here.
    origin: String,
}

struct Row {
    id: String,
    name: String,
    added: String,
    last_used: String,
}

fn sentence(e: &PasskeyError, lang: Lang) -> String {
    match (e, lang) {
        (PasskeyError::NotHere, Lang::Nl) => "Passkeys werken niet op dit adres.".into(),
        (PasskeyError::NoCeremony, Lang::Nl) => {
            "Er wacht geen passkey-verzoek (meer). Probeer het opnieuw.".into()
        }
        (PasskeyError::Refused, Lang::Nl) => "De passkey is niet geaccepteerd.".into(),
        (PasskeyError::NoPasskeys, Lang::Nl) => "Dit account heeft geen passkey.".into(),
        (PasskeyError::TooMany, Lang::Nl) => {
            "Dit account heeft het maximale aantal passkeys. Verwijder er eerst een.".into()
        }
        (PasskeyError::BadName, Lang::Nl) => "Geef de passkey een naam van 1 tot 60 tekens.".into(),
        (e, _) => render::as_sentence(e),
    }
}

/// A JSON answer for the script: `{"error": "<sentence>"}` with a status.
fn refused(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The relying party, when passkeys work at the address of this request.
fn here<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a Passkeys, PasskeyError> {
    state
        .passkeys
        .as_deref()
        .filter(|p| p.served_here(headers))
        .ok_or(PasskeyError::NotHere)
}

async fn log_account_update(state: &AppState, person: &Person, headers: &HeaderMap) -> bool {
    events::log(
        &state.record,
        "account-update",
        "success",
        Who::Account(&person.account),
        "kring-web",
        &person.caller.source,
        headers,
    )
    .await
    .is_ok()
}

/// `GET /beveiliging`: the passkeys of the signed-in account.
pub async fn page(
    State(state): State<AppState>,
    person: Person,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut f = person.frame("security-title");
    if query.is_some_and(|q| q.split('&').any(|p| p == "toegevoegd")) {
        f.message = Some(f.t.get("passkey-added"));
    }
    security_page(&state, &person, &headers, f)
}

/// The security page of `person`'s account as stored, around `f` (with its message or error).
fn security_page(
    state: &AppState,
    person: &Person,
    headers: &HeaderMap,
    f: super::Frame,
) -> Response {
    // Dates as on the other pages: the day in Dutch time.
    let day = |ms| super::dates::moment(ms, person.lang);
    let passkeys = person
        .account
        .passkeys
        .iter()
        .map(|p| Row {
            id: p.id(),
            name: p.name.clone(),
            added: day(p.added_ms),
            last_used: p.last_used_ms.map(day).unwrap_or_default(),
        })
        .collect();
    let available = here(state, headers).is_ok();
    let origin = state
        .passkeys
        .as_deref()
        .map(|p| p.origin())
        .unwrap_or_default();
    render::page(
        &SecurityPage {
            f,
            passkeys,
            available,
            origin,
        },
        person.lang,
        person.set_lang,
    )
}

/// `POST /beveiliging/passkeys/opties`: the options to create a passkey (JSON).
pub async fn registration_options(
    State(state): State<AppState>,
    person: Person,
    headers: HeaderMap,
    CsrfJson(_): CsrfJson<serde_json::Value>,
) -> Response {
    let passkeys = match here(&state, &headers) {
        Ok(p) => p,
        Err(e) => return refused(StatusCode::BAD_REQUEST, sentence(&e, person.lang)),
    };
    match passkeys.start_registration(&person.session.csrf, &person.account) {
        Ok(options) => Json(options).into_response(),
        Err(e) => refused(StatusCode::BAD_REQUEST, sentence(&e, person.lang)),
    }
}

#[derive(Deserialize)]
pub struct NewPasskey {
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /beveiliging/passkeys`: the browser's new credential, checked and kept (JSON).
pub async fn register(
    State(state): State<AppState>,
    person: Person,
    headers: HeaderMap,
    CsrfJson(body): CsrfJson<serde_json::Value>,
) -> Response {
    let lang = person.lang;
    let passkeys = match here(&state, &headers) {
        Ok(p) => p,
        Err(e) => return refused(StatusCode::BAD_REQUEST, sentence(&e, lang)),
    };
    let Ok(new) = serde_json::from_value::<NewPasskey>(body) else {
        return refused(
            StatusCode::BAD_REQUEST,
            sentence(&PasskeyError::Refused, lang),
        );
    };
    // Read the account afresh: the ceremony may have taken a while.
    let store = &state.accounts;
    let Ok(Some(mut account)) = accounts::load(&**store, &person.account.username).await else {
        return refused(StatusCode::SERVICE_UNAVAILABLE, unavailable(lang));
    };
    if let Err(e) = passkeys.finish_registration(
        &person.session.csrf,
        &mut account,
        &new.name,
        &new.credential,
        now_ms(),
    ) {
        return refused(StatusCode::BAD_REQUEST, sentence(&e, lang));
    }
    // The change is logged before it is saved: no passkey without its entry.
    if !log_account_update(&state, &person, &headers).await
        || accounts::save(&**store, &account).await.is_err()
    {
        return refused(StatusCode::SERVICE_UNAVAILABLE, unavailable(lang));
    }
    tracing::info!(outcome = "passkey-added", "account change");
    Json(json!({ "ok": true, "redirect": "/beveiliging?toegevoegd" })).into_response()
}

fn unavailable(lang: Lang) -> String {
    match lang {
        Lang::Nl => "Dat lukt nu niet; probeer het later opnieuw.".into(),
        Lang::En => "That is not possible now; try again later.".into(),
    }
}

#[derive(Deserialize)]
pub struct RemoveForm {
    id: String,
}

/// `POST /beveiliging/passkeys/verwijderen`: removes one passkey (a plain form).
pub async fn remove(
    State(state): State<AppState>,
    person: Person,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<RemoveForm>,
) -> Response {
    let store = &state.accounts;
    let Ok(Some(mut account)) = accounts::load(&**store, &person.account.username).await else {
        return Redirect::to("/beveiliging").into_response();
    };
    let before = account.passkeys.len();
    account.passkeys.retain(|p| p.id() != form.id);
    if account.passkeys.len() != before
        && (!log_account_update(&state, &person, &headers).await
            || accounts::save(&**store, &account).await.is_err())
    {
        // Nothing was removed: the page shows the passkeys as they still are.
        let mut f = person.frame("security-title");
        f.error = Some(unavailable(person.lang));
        let mut res = security_page(&state, &person, &headers, f);
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return res;
    }
    Redirect::to("/beveiliging").into_response()
}

/// What both passkey steps of a sign-in check first (after the CSRF token): not throttled, a
/// session that has passed the password but not the second step, and the passkeys' origin.
async fn second_step<'a>(
    state: &'a AppState,
    lang: Lang,
    source: &str,
    headers: &HeaderMap,
) -> Result<(String, sessions::Session, accounts::Account, &'a Passkeys), Response> {
    if let Some(wait) = state.throttle.wait(source) {
        return Err(too_many(wait));
    }
    let no_ceremony = |status| refused(status, sentence(&PasskeyError::NoCeremony, lang));
    let Some((cookie, session, account)) = super::signin::pending(state, headers)
        .await
        .filter(|(_, session, _)| !session.complete)
    else {
        return Err(no_ceremony(StatusCode::UNAUTHORIZED));
    };
    let passkeys =
        here(state, headers).map_err(|e| refused(StatusCode::BAD_REQUEST, sentence(&e, lang)))?;
    Ok((cookie, session, account, passkeys))
}

/// `POST /inloggen/passkey/opties`: the options to sign in with a passkey (JSON).
pub async fn sign_in_options(
    State(state): State<AppState>,
    PageLang(lang, _): PageLang,
    Source(source): Source,
    headers: HeaderMap,
    CsrfJson(_): CsrfJson<serde_json::Value>,
) -> Response {
    let (_, session, account, passkeys) = match second_step(&state, lang, &source, &headers).await {
        Ok(step) => step,
        Err(r) => return r,
    };
    if account.locked_until > now_ms() {
        return refused(
            StatusCode::UNAUTHORIZED,
            super::signin::sign_in_error(&SignInError::Locked, lang),
        );
    }
    match passkeys.start_sign_in(&session.csrf, &account) {
        Ok(options) => Json(options).into_response(),
        Err(e) => refused(StatusCode::BAD_REQUEST, sentence(&e, lang)),
    }
}

/// `POST /inloggen/passkey`: the signed challenge; on success the session is complete, with a
/// fresh cookie, and the script goes on to the start page.
pub async fn sign_in(
    State(state): State<AppState>,
    PageLang(lang, _): PageLang,
    Source(source): Source,
    headers: HeaderMap,
    CsrfJson(body): CsrfJson<serde_json::Value>,
) -> Response {
    let (cookie, session, mut account, passkeys) =
        match second_step(&state, lang, &source, &headers).await {
            Ok(step) => step,
            Err(r) => return r,
        };
    let store = &state.accounts;
    let log = |outcome: &'static str, account: accounts::Account| {
        super::signin::log_second_step(&state, &source, &headers, outcome, account)
    };
    let checked = match serde_json::from_value::<PublicKeyCredential>(body) {
        Ok(credential) if account.locked_until <= now_ms() => passkeys
            .finish_sign_in(&session.csrf, &mut account, &credential, now_ms())
            .map_err(|e| (e, SignInError::WrongCode)),
        Ok(_) => Err((PasskeyError::Refused, SignInError::Locked)),
        Err(_) => Err((PasskeyError::Refused, SignInError::WrongCode)),
    };
    match checked {
        Ok(()) => {
            account.failed = 0;
            if log("success", account.clone()).await.is_err()
                || accounts::save(&**store, &account).await.is_err()
            {
                return refused(StatusCode::SERVICE_UNAVAILABLE, unavailable(lang));
            }
            let Ok((new_cookie, _)) =
                sessions::complete(&**store, &cookie, &account.username, now_ms()).await
            else {
                return refused(StatusCode::SERVICE_UNAVAILABLE, unavailable(lang));
            };
            tracing::info!(outcome = "signed-in", method = "passkey", "sign-in step");
            let mut res = Json(json!({ "ok": true, "redirect": "/" })).into_response();
            if let Ok(v) = sessions::set_cookie(&new_cookie).parse() {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err((e, kind)) => {
            state.throttle.failed(&source);
            let outcome = match kind {
                SignInError::Locked => "locked",
                _ => match accounts::count_failure(&**store, account.clone(), now_ms()).await {
                    SignInError::Locked => "locked",
                    _ => "failed",
                },
            };
            let _ = log(outcome, account).await;
            let message = if outcome == "locked" {
                super::signin::sign_in_error(&SignInError::Locked, lang)
            } else {
                sentence(&e, lang)
            };
            refused(StatusCode::UNAUTHORIZED, message)
        }
    }
}

/// `GET /static/passkey.js`: the browser's part of the passkey ceremonies.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../static/passkey.js"),
    )
        .into_response()
}

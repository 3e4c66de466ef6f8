//! Sign-in: password, then the second factor (enrolment with a QR code and recovery codes the
//! first time), sign-out and sign-out everywhere.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::form::{new_token, signin_cookie, CsrfForm, SIGNIN_COOKIE};
use super::i18n::{Lang, Texts};
use super::person::cookie;
use super::{render, Frame, PageLang, Person};
use crate::auth::accounts::{self, SignInError};
use crate::auth::events::{self, Who};
use crate::auth::{now_ms, sessions, too_many, Source};
use crate::AppState;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    f: Frame,
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    f: Frame,
    qr_svg: Option<String>,
    secret: String,
    /// Whether to offer signing in with a passkey instead of the code.
    passkey: bool,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryPage {
    f: Frame,
    codes: Vec<String>,
}

fn frame(lang: Lang, title_key: &str, csrf: &str, error: Option<String>) -> Frame {
    let mut f = Frame::anonymous(Texts { lang }, title_key);
    f.csrf = csrf.to_string();
    f.error = error;
    f
}

fn with_cookie(mut res: Response, cookie: &str) -> Response {
    if let Ok(v) = cookie.parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub(super) fn sign_in_error(e: &SignInError, lang: Lang) -> String {
    match (e, lang) {
        (SignInError::Wrong, Lang::Nl) => "De gebruikersnaam of het wachtwoord klopt niet.".into(),
        (SignInError::Locked, Lang::Nl) => {
            "Te vaak een verkeerde poging: dit account is een kwartier geblokkeerd.".into()
        }
        (SignInError::WrongCode, Lang::Nl) => "De code klopt niet of is al gebruikt.".into(),
        (SignInError::Unavailable, _) => super::i18n::Texts { lang }.get("database-down"),
        (e, _) => render::as_sentence(e),
    }
}

/// `GET /inloggen`: the sign-in form, with a fresh sign-in token in a cookie and in the form
/// (a form posted from elsewhere has no such token: no login CSRF).
pub async fn form(PageLang(lang, set): PageLang) -> Response {
    let token = new_token();
    let res = render::page(
        &SignInPage {
            f: frame(lang, "signin-title", &token, None),
        },
        lang,
        set,
    );
    with_cookie(res, &signin_cookie(&token))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    username: String,
    password: String,
}

pub async fn password(
    State(state): State<AppState>,
    PageLang(lang, _): PageLang,
    Source(source): Source,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    let token = cookie(&headers, SIGNIN_COOKIE).unwrap_or_default();
    let retry = |e| retry(lang, &token, e);
    if let Some(wait) = state.throttle.wait(&source) {
        return too_many(wait);
    }
    let store = &state.accounts;
    let log =
        |interaction: &'static str, outcome: &'static str, account: Option<accounts::Account>| {
            let (state, source, headers) = (state.clone(), source.clone(), headers.clone());
            async move {
                let who = account.as_ref().map_or(Who::Unknown, Who::Account);
                events::log(
                    &state.record,
                    interaction,
                    outcome,
                    who,
                    "kring-web",
                    &source,
                    &headers,
                )
                .await
            }
        };
    match accounts::check_password(&**store, form.username.trim(), &form.password, now_ms()).await {
        Ok(account) => {
            // No sign-in goes ahead that the log has not taken. Everyone gives a second factor.
            if log("sign-in-password", "success", Some(account.clone()))
                .await
                .is_err()
            {
                return retry(SignInError::Unavailable);
            }
            match sessions::start(&**store, &account.username, false, now_ms()).await {
                Ok((cookie, _)) => {
                    tracing::info!(outcome = "password-ok", "sign-in step");
                    with_cookie(
                        Redirect::to("/inloggen/code").into_response(),
                        &sessions::set_cookie(&cookie),
                    )
                }
                Err(_) => retry(SignInError::Unavailable),
            }
        }
        // The database unreachable is not a wrong attempt: nothing is counted against the
        // person or their address.
        Err(SignInError::Unavailable) => retry(SignInError::Unavailable),
        Err(e) => {
            tracing::info!(outcome = "password-refused", "sign-in step");
            state.throttle.failed(&source);
            let known = accounts::load(&**store, form.username.trim())
                .await
                .ok()
                .flatten();
            let outcome = if e == SignInError::Locked {
                "locked"
            } else {
                "failed"
            };
            let _ = log("sign-in", outcome, known).await;
            retry(e)
        }
    }
}

/// The sign-in form again, with what went wrong (and the same sign-in token).
fn retry(lang: Lang, token: &str, e: SignInError) -> Response {
    let mut res = render::page(
        &SignInPage {
            f: frame(lang, "signin-title", token, Some(sign_in_error(&e, lang))),
        },
        lang,
        false,
    );
    *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    res
}

/// The session that has passed the password (and perhaps the second factor), with its account.
pub(super) async fn pending(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<(String, sessions::Session, accounts::Account)> {
    let store = &state.accounts;
    let cookie = sessions::cookie_of(headers)?;
    let (username, session) = sessions::find(&**store, &cookie, now_ms()).await.ok()??;
    let account = accounts::load(&**store, &username).await.ok()??;
    Some((cookie, session, account))
}

pub async fn code_form(
    State(state): State<AppState>,
    PageLang(lang, set): PageLang,
    headers: HeaderMap,
) -> Response {
    let Some((_, session, account)) = pending(&state, &headers).await else {
        return Redirect::to("/inloggen").into_response();
    };
    if session.complete {
        return Redirect::to("/").into_response();
    }
    let enrolling = !account.totp_confirmed;
    let secret = account.totp_secret.clone().unwrap_or_default();
    let qr_svg = if enrolling {
        accounts::otpauth_url(&secret, &account.username).and_then(|u| accounts::qr_svg(&u))
    } else {
        None
    };
    let title = if enrolling {
        "enrol-title"
    } else {
        "code-title"
    };
    let passkey = !enrolling
        && !account.passkeys.is_empty()
        && state
            .passkeys
            .as_deref()
            .is_some_and(|p| p.served_here(&headers));
    render::page(
        &CodePage {
            f: frame(lang, title, &session.csrf, None),
            qr_svg,
            secret: if enrolling { secret } else { String::new() },
            passkey,
        },
        lang,
        set,
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn code(
    State(state): State<AppState>,
    PageLang(lang, _): PageLang,
    Source(source): Source,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    if let Some(wait) = state.throttle.wait(&source) {
        return too_many(wait);
    }
    let Some((cookie, session, account)) = pending(&state, &headers).await else {
        return Redirect::to("/inloggen").into_response();
    };
    let retry = |e| retry(lang, "", e);
    let store = &state.accounts;
    let enrolling = !account.totp_confirmed;
    let attempted = account.clone();
    let log = |outcome: &'static str, account: accounts::Account| {
        log_second_step(&state, &source, &headers, outcome, account)
    };
    match accounts::check_second_factor(&**store, account, &form.code, now_ms()).await {
        Ok(mut account) => {
            if log("success", account.clone()).await.is_err() {
                return retry(SignInError::Unavailable);
            }
            let Ok((new_cookie, fresh)) =
                sessions::complete(&**store, &cookie, &account.username, now_ms()).await
            else {
                return retry(SignInError::Unavailable);
            };
            tracing::info!(outcome = "signed-in", "sign-in step");
            let res = if enrolling {
                let codes = accounts::new_recovery_codes(&mut account);
                if accounts::save(&**store, &account).await.is_err() {
                    return retry(SignInError::Unavailable);
                }
                // The account changed: second factor enrolled, recovery codes issued.
                if events::log(
                    &state.record,
                    "account-update",
                    "success",
                    Who::Account(&account),
                    "kring-web",
                    &source,
                    &headers,
                )
                .await
                .is_err()
                {
                    return retry(SignInError::Unavailable);
                }
                let mut f = frame(lang, "recovery-title", &fresh.csrf, None);
                f.signed_in = true;
                render::page(&RecoveryPage { f, codes }, lang, false)
            } else {
                Redirect::to("/").into_response()
            };
            with_cookie(res, &sessions::set_cookie(&new_cookie))
        }
        Err(e) => {
            state.throttle.failed(&source);
            let outcome = if e == SignInError::Locked {
                "locked"
            } else {
                "failed"
            };
            let _ = log(outcome, attempted).await;
            let mut res = render::page(
                &CodePage {
                    f: frame(
                        lang,
                        if enrolling {
                            "enrol-title"
                        } else {
                            "code-title"
                        },
                        &session.csrf,
                        Some(sign_in_error(&e, lang)),
                    ),
                    qr_svg: None,
                    secret: String::new(),
                    passkey: false,
                },
                lang,
                false,
            );
            *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            res
        }
    }
}

/// The second step of a sign-in (a code or a passkey), success or not, in the access log.
pub(super) async fn log_second_step(
    state: &AppState,
    source: &str,
    headers: &HeaderMap,
    outcome: &'static str,
    account: accounts::Account,
) -> Result<(), kring_record::RecordError> {
    events::log(
        &state.record,
        "sign-in",
        outcome,
        Who::Account(&account),
        "kring-web",
        source,
        headers,
    )
    .await
}

/// A form with nothing but its token.
#[derive(Deserialize)]
pub struct Nothing {}

pub async fn sign_out(
    State(state): State<AppState>,
    person: Person,
    headers: HeaderMap,
    CsrfForm(Nothing {}): CsrfForm<Nothing>,
) -> Response {
    if let Some(c) = sessions::cookie_of(&headers) {
        let _ = sessions::end(&*state.accounts, &c).await;
    }
    signed_out(&state, &person, &headers, "sign-out").await
}

pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    person: Person,
    headers: HeaderMap,
    CsrfForm(Nothing {}): CsrfForm<Nothing>,
) -> Response {
    let _ = sessions::end_all(&*state.accounts, &person.account.username).await;
    signed_out(&state, &person, &headers, "sign-out-everywhere").await
}

/// After the session(s) ended: the sign-out in the access log, and back to the sign-in page.
/// The session has ended either way; a sign-out the log cannot take is noted in the server's
/// own log.
async fn signed_out(
    state: &AppState,
    person: &Person,
    headers: &HeaderMap,
    interaction: &str,
) -> Response {
    if events::log(
        &state.record,
        interaction,
        "success",
        Who::Account(&person.account),
        "kring-web",
        &person.caller.source,
        headers,
    )
    .await
    .is_err()
    {
        tracing::error!("the access log did not take a sign-out");
    }
    with_cookie(
        Redirect::to("/inloggen").into_response(),
        &sessions::clear_cookie(),
    )
}

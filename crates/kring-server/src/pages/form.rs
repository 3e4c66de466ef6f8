//! Every POST of the pages arrives through one of two extractors that check its CSRF token
//! before the handler runs: [`CsrfForm`] for forms (`csrf` field) and [`CsrfJson`] for the
//! few script calls (`x-kring-csrf` header). The token is the session's (signed in, or
//! between the password and the second factor), or — before there is a session — the
//! sign-in token of a cookie set with the sign-in form (against login CSRF). Tokens are
//! compared in constant time. A handler that takes the body any other way is not a page POST:
//! the route test (`every_page_post_checks_its_token`) holds every route to it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::error::PageError;
use super::i18n::Texts;
use super::person::{cookie, lang_of, SessionToken};
use crate::auth::{now_ms, sessions};
use crate::AppState;

/// The header script calls carry their token in.
pub const CSRF_HEADER: &str = "x-kring-csrf";
/// The cookie that carries the sign-in token before there is a session.
pub const SIGNIN_COOKIE: &str = "kring_signin";
/// The largest form body a page accepts.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// A form whose CSRF token was checked; the fields as `T` (repeated keys become lists).
pub struct CsrfForm<T>(pub T);

/// A JSON body of a script call whose CSRF header was checked.
pub struct CsrfJson<T>(pub T);

/// A fresh random token (for the sign-in cookie).
pub fn new_token() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The `Set-Cookie` value of the sign-in token: HttpOnly, SameSite=Strict, for the sign-in
/// pages only, for an hour.
pub fn signin_cookie(token: &str) -> String {
    format!(
        "{SIGNIN_COOKIE}={token}; Path=/inloggen; HttpOnly; SameSite=Strict; Secure; Max-Age=3600"
    )
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn same_token(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The tokens this request may carry: its session's, and its sign-in cookie's (a browser
/// with a stale session cookie signs in anew with the sign-in form's token).
async fn expected_tokens(parts: &Parts, state: &AppState) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(SessionToken(t)) = parts.extensions.get::<SessionToken>() {
        out.push(t.clone());
    } else if let Some(c) = sessions::cookie_of(&parts.headers) {
        if let Ok(Some((_, s))) = sessions::find(&*state.accounts, &c, now_ms()).await {
            out.push(s.csrf);
        }
    }
    out.extend(cookie(&parts.headers, SIGNIN_COOKIE));
    out
}

/// Reads the body after checking the token `given` finds in it (or in the headers).
async fn checked(
    req: Request,
    state: &AppState,
    given: impl FnOnce(&Parts, &Bytes) -> String,
) -> Result<(Parts, Bytes), PageError> {
    let lang = lang_of(req.uri(), req.headers());
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| PageError::Expired(lang))?;
    let given = given(&parts, &bytes);
    let expected = expected_tokens(&parts, state).await;
    if !expected.iter().any(|e| same_token(&given, e)) {
        tracing::info!("a page POST without its CSRF token was refused");
        return Err(PageError::Expired(lang));
    }
    Ok((parts, bytes))
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = lang_of(req.uri(), req.headers());
        let (_, bytes) = checked(req, state, |_, body| {
            form_urlencoded::parse(body)
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .await?;
        serde_html_form::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|e| {
                tracing::info!(error = %e, "a page form did not parse");
                PageError::Expired(lang)
            })
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfJson<T> {
    /// A script reads the refusal as JSON: `{"error": "…"}`.
    type Rejection = Response;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = lang_of(req.uri(), req.headers());
        let refused = |status: StatusCode, key: &str| {
            let error = Texts { lang }.get(key);
            (status, Json(json!({ "error": error }))).into_response()
        };
        let (_, bytes) = checked(req, state, |parts, _| {
            parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        })
        .await
        .map_err(|_| refused(StatusCode::FORBIDDEN, "form-expired"))?;
        let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(body)
            .map(CsrfJson)
            .map_err(|_| refused(StatusCode::BAD_REQUEST, "request-unreadable"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_match_exactly_and_exist() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("", ""));
    }
}

//! The one error type of the pages: every handler returns `Result<Response, PageError>`, and
//! a `PageError` renders itself as a page in the person's language — with the navigation of a
//! signed-in person where there is one — with the right status. Internal details are logged,
//! never shown.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kring_record::RecordError;

use super::i18n::{Lang, Texts};
use super::{render, Frame};

/// Why a page could not be shown or an action not be taken.
pub enum PageError {
    /// Not signed in, or the session ended: to the sign-in page.
    SignIn,
    /// The form was not this session's (its CSRF token is missing or wrong), or is too old.
    Expired(Lang),
    /// The record refused or failed; the sentence says why, in the person's words.
    Record(Box<Frame>, RecordError),
    /// What was asked for is not there, or not for this person: the same answer either way.
    NotFound(Box<Frame>),
    /// A client the person may not see, or an id that names nobody: the same page (404), which
    /// offers emergency access.
    NoClient(Box<Frame>),
    /// A page for another kind of user (a client on a professional's page …).
    NotForYou(Box<Frame>),
    /// A part of Kring that the page needs is not available; the sentence says which.
    Unavailable(Box<Frame>, String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    f: Frame,
}

#[derive(Template)]
#[template(path = "no_client.html")]
struct NoClientPage {
    f: Frame,
}

/// The frame of an error page for someone not signed in.
fn anonymous(lang: Lang) -> Frame {
    Frame::anonymous(Texts { lang }, "error-title")
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, mut f, sentence) = match self {
            PageError::SignIn => return Redirect::to("/inloggen").into_response(),
            PageError::Expired(lang) => {
                let f = anonymous(lang);
                let s = f.t.get("form-expired");
                (StatusCode::FORBIDDEN, f, s)
            }
            PageError::Record(f, e) => {
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
                let s = render::sentence(&e, f.t.lang);
                (status, *f, s)
            }
            PageError::NoClient(f) => {
                let mut f = *f;
                f.title = f.t.get("no-client-title");
                f.error = Some(f.t.get("no-client"));
                let lang = f.t.lang;
                let mut res = render::page(&NoClientPage { f }, lang, false);
                *res.status_mut() = StatusCode::NOT_FOUND;
                return res;
            }
            PageError::NotFound(f) => {
                let s = f.t.get("not-found");
                (StatusCode::NOT_FOUND, *f, s)
            }
            PageError::NotForYou(f) => {
                let s = f.t.get("not-for-you");
                (StatusCode::FORBIDDEN, *f, s)
            }
            PageError::Unavailable(f, s) => (StatusCode::SERVICE_UNAVAILABLE, *f, s),
        };
        f.title = f.t.get("error-title");
        f.error = Some(sentence);
        let lang = f.t.lang;
        let mut res = render::page(&ErrorPage { f }, lang, false);
        *res.status_mut() = status;
        res
    }
}

//! Who is looking at a page: the language of the request ([`PageLang`]), the signed-in person
//! with their session, account and caller for the record ([`Person`], one extractor for every
//! page), and what every page shows around its content ([`Frame`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use kring_record::{Caller, RecordError};

use super::error::PageError;
use super::i18n::{Lang, Texts};
use crate::auth::accounts::{Account, Kind};
use crate::auth::{now_ms, sessions};
use crate::AppState;

/// What every page shows around its content.
pub struct Frame {
    pub t: Texts,
    pub title: String,
    /// The signed-in person's kind of account (none on the sign-in pages).
    pub kind: Option<Kind>,
    pub signed_in: bool,
    pub professional: bool,
    /// A client or a representative: the portal.
    pub client: bool,
    pub officer: bool,
    pub administrator: bool,
    pub csrf: String,
    pub error: Option<String>,
    /// What just happened (after an action), announced to screen readers.
    pub message: Option<String>,
    /// Whose record the page is about ("Het dossier van Anna", "Over: Jan de Vries …").
    pub whose: Option<String>,
    /// On a page about one client: the client's pages this person may open.
    pub tabs: Vec<super::client_ctx::Tab>,
}

impl Frame {
    /// The frame of a page for someone not (yet) signed in.
    pub fn anonymous(t: Texts, title_key: &str) -> Frame {
        Frame {
            title: t.get(title_key),
            t,
            kind: None,
            signed_in: false,
            professional: false,
            client: false,
            officer: false,
            administrator: false,
            csrf: String::new(),
            error: None,
            message: None,
            whose: None,
            tabs: Vec::new(),
        }
    }
}

/// The language of a request: `?lang=`, else the `kring_lang` cookie, else Dutch. The second
/// field says whether it was chosen in this request (then it is remembered in a cookie).
pub struct PageLang(pub Lang, pub bool);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(page_lang(&parts.uri, &parts.headers))
    }
}

fn page_lang(uri: &axum::http::Uri, headers: &HeaderMap) -> PageLang {
    if let Some(q) = uri.query() {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if k == "lang" {
                return PageLang(Lang::from_code(&v), true);
            }
        }
    }
    let cookie = cookie(headers, "kring_lang");
    PageLang(
        cookie.map(|c| Lang::from_code(&c)).unwrap_or(Lang::Nl),
        false,
    )
}

/// The language of a request (see [`PageLang`]).
pub fn lang_of(uri: &axum::http::Uri, headers: &HeaderMap) -> Lang {
    page_lang(uri, headers).0
}

/// The value of a cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The network address of a request (`in-process` without one).
pub fn source_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "in-process".into())
}

/// The CSRF token of the signed-in person's session, left in the request by [`Person`] for
/// the form extractor (so the session is read once).
#[derive(Clone)]
pub(super) struct SessionToken(pub String);

/// A signed-in professional, as references: the role they signed in with, who they are, and
/// their organisation.
#[derive(Debug, Clone)]
pub struct Me {
    pub role: String,
    pub practitioner: String,
    pub organisation: String,
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
        let kind = self.account.kind;
        Frame {
            title: t.get(title_key),
            t,
            kind: Some(kind),
            signed_in: true,
            professional: kind == Kind::Professional,
            client: matches!(kind, Kind::Client | Kind::Representative | Kind::Supporter),
            officer: kind == Kind::Officer,
            administrator: kind == Kind::Administrator,
            csrf: self.session.csrf.clone(),
            error: None,
            message: None,
            whose: None,
            tabs: Vec::new(),
        }
    }

    /// The signed-in professional's own references; anyone else gets "not for you".
    pub fn professional(&self) -> Result<Me, PageError> {
        match &self.caller.subject {
            kring_access::Subject::Professional {
                practitioner,
                role,
                organisation,
                ..
            } => Ok(Me {
                role: format!("PractitionerRole/{role}"),
                practitioner: format!("Practitioner/{practitioner}"),
                organisation: format!("Organization/{organisation}"),
            }),
            _ => Err(self.not_for_you()),
        }
    }

    /// Pages about one client are for professionals, and for the client and their
    /// representatives (their own record, in the portal); anyone else gets "not for you".
    pub fn reads_client_pages(&self) -> Result<(), PageError> {
        match self.account.kind {
            Kind::Professional | Kind::Client | Kind::Representative | Kind::Supporter => Ok(()),
            _ => Err(self.not_for_you()),
        }
    }

    pub fn texts(&self) -> Texts {
        Texts { lang: self.lang }
    }

    /// The page for a record operation that failed.
    pub fn failed(&self, e: RecordError) -> PageError {
        PageError::Record(Box::new(self.frame("error-title")), e)
    }

    /// The page for something that is not there, or not this person's to see.
    pub fn not_found(&self) -> PageError {
        PageError::NotFound(Box::new(self.frame("error-title")))
    }

    /// The page for a page meant for another kind of user.
    pub fn not_for_you(&self) -> PageError {
        PageError::NotForYou(Box::new(self.frame("error-title")))
    }
}

impl FromRequestParts<AppState> for Person {
    type Rejection = PageError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let PageLang(lang, set_lang) = page_lang(&parts.uri, &parts.headers);
        // The database unreachable is not "signed out": it gets the page that says so.
        let down = || {
            PageError::Unavailable(
                Box::new(Frame::anonymous(Texts { lang }, "error-title")),
                Texts { lang }.get("database-down"),
            )
        };
        let found = match sessions::cookie_of(&parts.headers) {
            Some(c) => sessions::find(&*state.accounts, &c, now_ms())
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "sessions cannot be read");
                    down()
                })?,
            None => None,
        };
        let Some((username, session)) = found.filter(|(_, s)| s.complete) else {
            return Err(PageError::SignIn);
        };
        let Some(account) = crate::auth::accounts::load(&*state.accounts, &username)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "accounts cannot be read");
                down()
            })?
        else {
            return Err(PageError::SignIn);
        };
        let Some(subject) = account.subject() else {
            tracing::error!("a signed-in account is not linked to a person in the record");
            return Err(PageError::Unavailable(
                Box::new(Frame::anonymous(Texts { lang }, "error-title")),
                Texts { lang }.get("account-unlinked"),
            ));
        };
        let caller = Caller::new(subject, &source_of(parts))
            .with_name(&account.name)
            .with_system("kring-web")
            .with_user_agent(&crate::auth::events::user_agent(&parts.headers));
        parts.extensions.insert(SessionToken(session.csrf.clone()));
        Ok(Person {
            account,
            session,
            caller,
            lang,
            set_lang,
        })
    }
}

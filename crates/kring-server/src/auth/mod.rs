//! Who is calling: turns a request's credentials into a [`Caller`] for the record, or refuses
//! it with 401. Partner systems present a bearer token from [`oauth`]; the token's subject is
//! their organisation with their scopes. `/fhir/metadata`, `/oauth/token` and
//! `/.well-known/smart-configuration` are public; everything else needs credentials.

pub mod accounts;
pub mod events;
pub mod oauth;
pub mod partners;
pub mod passkeys;
pub mod sessions;
pub mod throttle;
pub mod tokens;

use async_trait::async_trait;
use axum::http::HeaderMap;
use kring_record::Caller;

pub use tokens::TokenTable;

/// Why a request is not authenticated. The texts say what to do, never whether any data exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("sign in first: this API needs a bearer token (POST /oauth/token)")]
    Missing,
    #[error("the bearer token is not valid or has expired; request a new one at /oauth/token")]
    Invalid,
}

/// Resolves the caller of a request.
#[async_trait]
pub trait Authenticate: Send + Sync + 'static {
    async fn caller(&self, headers: &HeaderMap, source: &str) -> Result<Caller, AuthError>;
}

/// Production authentication: bearer tokens of partner systems, or the session of a person
/// signed in with (where required) two factors.
pub struct BearerTokens {
    pub tokens: std::sync::Arc<TokenTable>,
    pub accounts: std::sync::Arc<dyn kring_store::AccountStore>,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl BearerTokens {
    /// The signed-in person of a session cookie, with their account.
    pub async fn person(
        &self,
        headers: &HeaderMap,
    ) -> Option<(accounts::Account, sessions::Session)> {
        let cookie = sessions::cookie_of(headers)?;
        let (username, session) = sessions::find(&*self.accounts, &cookie, now_ms())
            .await
            .ok()??;
        let account = accounts::load(&*self.accounts, &username).await.ok()??;
        Some((account, session))
    }
}

#[async_trait]
impl Authenticate for BearerTokens {
    async fn caller(&self, headers: &HeaderMap, source: &str) -> Result<Caller, AuthError> {
        let Some(value) = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            // A person's session works for the API too (the pages use the same decisions).
            if let Some((account, session)) = self.person(headers).await {
                if session.complete {
                    if let Some(subject) = account.subject() {
                        return Ok(Caller::new(subject, source)
                            .with_name(&account.name)
                            .with_user_agent(&events::user_agent(headers)));
                    }
                }
            }
            return Err(AuthError::Missing);
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AuthError::Invalid)?;
        let subject = self
            .tokens
            .subject(token.trim())
            .await
            .ok_or(AuthError::Invalid)?;
        Ok(Caller::new(subject, source).with_user_agent(&events::user_agent(headers)))
    }
}

/// Every request is the installation's operator. For in-process tests and benchmarks that
/// measure the record without sign-in; `kring serve` never uses it.
pub struct LocalOperator;

#[async_trait]
impl Authenticate for LocalOperator {
    async fn caller(&self, headers: &HeaderMap, source: &str) -> Result<Caller, AuthError> {
        Ok(Caller::operator(source).with_user_agent(&events::user_agent(headers)))
    }
}

/// The network address a request came from (`in-process` for requests without one).
pub struct Source(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Source(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "in-process".into()),
        ))
    }
}

/// 429 with `Retry-After`, in plain words.
pub fn too_many(wait_secs: u64) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, wait_secs.to_string())],
        "Te veel mislukte pogingen vanaf dit adres; probeer het over een kwartier opnieuw. / Too many failed attempts from this address; try again in a quarter of an hour.",
    )
        .into_response()
}

//! Kring's HTTP server.
//!
//! Owns: the routes ([`router`]), turning HTTP requests into record operations and their
//! results into FHIR responses, and serving with graceful shutdown. Holds no domain rules:
//! every handler's first act is a call into `kring-record`, which asks the decision point and
//! writes the access log. Request logs name the route template and status only, never a URL
//! with its query (which may hold names).

pub mod auth;
pub mod fhir;
pub mod kit;
pub mod pages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use kring_record::Record;

use auth::{Authenticate, BearerTokens, TokenTable};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Deepest accepted JSON nesting.
    pub max_json_depth: usize,
    /// The public base URL of the FHIR API (`https://kring.example.nl/fhir`); when unset it is
    /// derived from the `Host` header.
    pub base_url: Option<String>,
    /// Where passkeys work (`https://kring.regio.nl`); none: passkeys are not offered.
    pub passkey_origin: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 8 * 1024 * 1024,
            max_json_depth: 64,
            base_url: None,
            passkey_origin: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub record: Record,
    pub http: Arc<HttpConfig>,
    /// Resolves the caller of each request.
    pub auth: Arc<dyn Authenticate>,
    /// Accounts, sessions and partner systems (never client data: that is the record's).
    pub accounts: Arc<dyn kring_store::AccountStore>,
    /// The bearer tokens issued to partner systems.
    pub auth_tokens: Arc<TokenTable>,
    /// Failed sign-in and token attempts per network address.
    pub throttle: Arc<auth::throttle::Throttle>,
    /// The privacy officer's review queue of the live log, when oversight is set up.
    pub review: Option<Arc<kring_review::Review>>,
    /// Kring as a WebAuthn relying party, when a passkey origin is set.
    pub passkeys: Option<Arc<auth::passkeys::Passkeys>>,
    /// Where this installation's backups and drills are, when it makes them.
    pub continuity: Option<Arc<ContinuityView>>,
}

/// What the administrators' continuity page reads: the backup folder and the schedules.
#[derive(Debug, Clone)]
pub struct ContinuityView {
    pub dir: std::path::PathBuf,
    pub backup: kring_continuity::schedule::Schedule,
    pub drill: kring_continuity::schedule::Schedule,
    /// Whether this server holds the identity drills need.
    pub drills_possible: bool,
}

impl AppState {
    /// The production state: every request needs a partner system's bearer token or a
    /// person's session.
    pub fn new(
        record: Record,
        accounts: Arc<dyn kring_store::AccountStore>,
        http: HttpConfig,
    ) -> AppState {
        let tokens = Arc::new(TokenTable::shared(accounts.clone()));
        let passkeys = http.passkey_origin.as_deref().and_then(|origin| {
            auth::passkeys::Passkeys::new(origin)
                .map_err(|e| tracing::error!(error = %e, "passkeys are not offered"))
                .ok()
                .map(Arc::new)
        });
        AppState {
            record: record.clone(),
            http: Arc::new(http),
            auth: Arc::new(BearerTokens {
                tokens: tokens.clone(),
                accounts: accounts.clone(),
            }),
            accounts,
            auth_tokens: tokens,
            throttle: Arc::new(auth::throttle::Throttle::default()),
            review: None,
            passkeys,
            continuity: None,
        }
    }

    /// The same state with the installation's backups and drills.
    pub fn with_continuity(self, view: ContinuityView) -> AppState {
        AppState {
            continuity: Some(Arc::new(view)),
            ..self
        }
    }

    /// The same state with the officers' review queue of the live log.
    pub fn with_review(self, review: Arc<kring_review::Review>) -> AppState {
        AppState {
            review: Some(review),
            ..self
        }
    }

    /// A state whose every request is the local operator (tests and benchmarks only).
    pub fn local_operator(
        record: Record,
        accounts: Arc<dyn kring_store::AccountStore>,
        http: HttpConfig,
    ) -> AppState {
        AppState {
            auth: Arc::new(auth::LocalOperator),
            ..AppState::new(record, accounts, http)
        }
    }

    /// The public base URL of the server (without `/fhir`).
    pub fn public_base(&self, headers: &axum::http::HeaderMap) -> String {
        match &self.http.base_url {
            Some(b) => b
                .trim_end_matches('/')
                .trim_end_matches("/fhir")
                .to_string(),
            None => {
                let host = headers
                    .get(axum::http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}")
            }
        }
    }
}

/// All routes of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/fhir", fhir::routes())
        .merge(pages::routes())
        .route("/oauth/token", axum::routing::post(auth::oauth::token))
        .route(
            "/.well-known/smart-configuration",
            axum::routing::get(auth::oauth::smart_configuration),
        )
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// Logs method, route template, status and duration: no query strings, no ids, no bodies.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let start = Instant::now();
    let res = next.run(req).await;
    tracing::info!(%method, %route, status = res.status().as_u16(), ms = start.elapsed().as_millis() as u64, "request");
    res
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Completes at Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

//! `TestApp`: the real router over a real database and a real access log, per test.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use kring_record::Record;
use kring_server::{AppState, HttpConfig};
use kring_store::Store;
use serde_json::{json, Value};
use tower::ServiceExt;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// A Citus coordinator with two workers (`scripts/citus.sh`): Kring's PostgreSQL backend,
    /// its tables distributed.
    Citus,
}

pub struct TestApp {
    /// Every request is the local operator (the FHIR conformance tests).
    pub router: axum::Router,
    /// Production authentication: bearer tokens of partner systems (the access tests).
    pub secure: axum::Router,
    #[allow(dead_code)]
    pub record: Record,
    pub store: Arc<dyn Store>,
    /// The same database as a whole (for backups).
    #[allow(dead_code)]
    pub database: Arc<dyn kring_store::Database>,
    /// Accounts, sessions and partner systems, in the same database.
    pub accounts: Arc<dyn kring_store::AccountStore>,
    /// The access log's database file.
    pub log_path: PathBuf,
    pub log: Arc<kring_audit::MerkleLog>,
    /// The PostgreSQL schema of this test, dropped when the test ends.
    pub pg_schema: Option<String>,
    /// Which backend the test runs on.
    pub backend: Backend,
    /// The server holding `pg_schema`.
    pg_server: String,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(schema) = self.pg_schema.take() {
            let server = self.pg_server.clone();
            // Drop runs outside async; a small runtime of its own does the cleanup.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(kring_store_postgres::PgStore::drop_schema(&server, &schema))
            })
            .join();
        }
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// The diagnostics of an OperationOutcome, joined.
    pub fn diagnostics(&self) -> String {
        self.body["issue"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                format!(
                    "{} {}",
                    i["expression"][0].as_str().unwrap_or(""),
                    i["diagnostics"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// The PostgreSQL server the tests use (a schema of their own per test).
pub fn pg_url() -> String {
    std::env::var("KRING_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The Citus coordinator the tests use (a schema of their own per test): `scripts/citus.sh`.
pub fn citus_url() -> String {
    std::env::var("KRING_TEST_CITUS")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:9700/postgres".into())
}

/// A fresh store; for PostgreSQL also the name of its schema.
pub async fn store_for(
    backend: Backend,
    dir: &std::path::Path,
) -> (Arc<dyn kring_store::Database>, Option<String>) {
    match backend {
        Backend::Sqlite => {
            let url = format!("sqlite:{}", dir.join("kring.db").display());
            (
                Arc::new(
                    kring_store_sqlite::SqliteStore::open(&url)
                        .await
                        .expect("sqlite"),
                ),
                None,
            )
        }
        Backend::Postgres => {
            let (store, schema) = in_new_schema(&pg_url()).await;
            (store, Some(schema))
        }
        Backend::Citus => {
            let (store, schema) = in_new_schema(&citus_url()).await;
            (store, Some(schema))
        }
    }
}

/// A store in a fresh schema of the PostgreSQL server (or Citus coordinator) at `url`.
async fn in_new_schema(url: &str) -> (Arc<dyn kring_store::Database>, String) {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let store = kring_store_postgres::PgStore::connect_in_schema(url, &schema)
        .await
        .unwrap_or_else(|e| {
            panic!("the server at {url} is running (scripts/test.sh starts PostgreSQL and scripts/citus.sh): {e}")
        });
    (Arc::new(store), schema)
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_log(backend, true).await
    }

    /// An app whose access log is `open`, or already shut down (so that it refuses every
    /// entry, as a log on a failed disk would).
    pub async fn with_log(backend: Backend, open: bool) -> TestApp {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("warn")
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let (database, pg_schema) = store_for(backend, dir.path()).await;
        let server = match backend {
            Backend::Citus => citus_url(),
            _ => pg_url(),
        };
        Self::assemble(dir, database, pg_schema, open, backend, server).await
    }

    /// An app on PostgreSQL reached at `url` (through a proxy the test can cut), in a schema
    /// of its own.
    #[allow(dead_code)]
    pub async fn on_postgres_at(url: &str) -> TestApp {
        // The schema is dropped through the server itself, not the proxy the test may cut.
        Self::on_server_at(url, Backend::Postgres, pg_url()).await
    }

    /// An app on the Citus coordinator at `url` (a cluster of the test's own), in a schema of
    /// its own.
    #[allow(dead_code)]
    pub async fn on_citus_at(url: &str) -> TestApp {
        Self::on_server_at(url, Backend::Citus, url.to_string()).await
    }

    /// An app in a fresh schema at `url`, dropped through `server` when the test ends.
    #[allow(dead_code)]
    async fn on_server_at(url: &str, backend: Backend, server: String) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, schema) = in_new_schema(url).await;
        Self::assemble(dir, store, Some(schema), true, backend, server).await
    }

    async fn assemble(
        dir: tempfile::TempDir,
        database: Arc<dyn kring_store::Database>,
        pg_schema: Option<String>,
        open: bool,
        backend: Backend,
        pg_server: String,
    ) -> TestApp {
        database.migrate().await.expect("migrate");
        let accounts: Arc<dyn kring_store::AccountStore> = database.clone();
        let store: Arc<dyn Store> = database.clone();
        let log_path = dir.path().join("access-log.db");
        let log = Arc::new(
            kring_audit::MerkleLog::open(kring_audit::LogConfig::at(&log_path))
                .await
                .expect("log"),
        );
        if !open {
            log.shut_down().await.expect("shut down");
        }
        let record = Record::new(
            store.clone(),
            Arc::new(kring_access::NeedToKnow::new().expect("rules")),
            log.clone(),
        );
        let http = HttpConfig {
            max_body_bytes: 8 * 1024 * 1024,
            max_json_depth: 64,
            base_url: Some("http://kring.test/fhir".into()),
            passkey_origin: Some("http://kring.test".into()),
        };
        // The FHIR conformance tests call as the local operator; the access tests sign in.
        let router = kring_server::router(AppState::local_operator(
            record.clone(),
            accounts.clone(),
            http.clone(),
        ));
        let review = Arc::new(
            kring_review::Review::open(&dir.path().join("review.db"))
                .await
                .expect("review store"),
        );
        let secure = kring_server::router(
            AppState::new(record.clone(), accounts.clone(), http).with_review(review),
        );
        TestApp {
            router,
            secure,
            record,
            store,
            database,
            accounts,
            log_path,
            log,
            pg_schema,
            backend,
            pg_server,
            _dir: dir,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("response");
        into_resp(res).await
    }

    /// A request through the production router, with `Authorization: Bearer token` when given.
    pub async fn as_partner(
        &self,
        token: Option<&str>,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Resp {
        as_partner_at(&self.secure, token, method, uri, body).await
    }

    /// A second server in front of the same database and log, as `kring serve` started a
    /// second time beside the first: its own decision point, loaded now, which learns the
    /// first server's later writes only through [`kring_record::follow`].
    #[allow(dead_code)]
    pub async fn second_server(&self) -> (axum::Router, Record) {
        let record = Record::new(
            self.store.clone(),
            Arc::new(kring_access::NeedToKnow::new().expect("rules")),
            self.log.clone(),
        );
        record.load_access_facts().await.expect("facts");
        let http = HttpConfig {
            max_body_bytes: 8 * 1024 * 1024,
            max_json_depth: 64,
            base_url: Some("http://kring.test/fhir".into()),
            passkey_origin: Some("http://kring.test".into()),
        };
        let router =
            kring_server::router(AppState::new(record.clone(), self.accounts.clone(), http));
        (router, record)
    }
}

/// A request through a production router (`secure`, or a second server's) with a partner
/// system's bearer token.
pub async fn as_partner_at(
    router: &axum::Router,
    token: Option<&str>,
    method: Method,
    uri: &str,
    body: Option<&Value>,
) -> Resp {
    {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/fhir+json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        into_resp(
            router
                .clone()
                .oneshot(req.body(Body::from(body)).expect("request"))
                .await
                .expect("response"),
        )
        .await
    }
}

impl TestApp {
    /// A request through the production router with the session cookie of a signed-in person.
    pub async fn as_person(&self, cookie: &str, method: Method, uri: &str) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(
                "cookie",
                format!("{}={cookie}", kring_server::auth::sessions::COOKIE),
            )
            .body(Body::empty())
            .expect("request");
        into_resp(self.secure.clone().oneshot(req).await.expect("response")).await
    }

    /// A FHIR request with a JSON body through the production router, as a signed-in person.
    pub async fn call_as_person(
        &self,
        cookie: &str,
        method: Method,
        uri: &str,
        body: &Value,
    ) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(
                "cookie",
                format!("{}={cookie}", kring_server::auth::sessions::COOKIE),
            )
            .header("content-type", "application/fhir+json")
            .body(Body::from(serde_json::to_vec(body).expect("json")))
            .expect("request");
        into_resp(self.secure.clone().oneshot(req).await.expect("response")).await
    }

    /// A sign-in form as a browser gets it: the `Cookie` header value of its sign-in token,
    /// and the token itself (for the form's `csrf` field).
    pub async fn sign_in_form(&self) -> (String, String) {
        let req = Request::builder()
            .method(Method::GET)
            .uri("/inloggen")
            .body(Body::empty())
            .expect("request");
        let res = self.secure.clone().oneshot(req).await.expect("response");
        let cookie = res
            .headers()
            .get_all(axum::http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("kring_signin="))
            .and_then(|v| v.split(';').next())
            .expect("the sign-in form sets its token cookie")
            .to_string();
        let token = cookie.trim_start_matches("kring_signin=").to_string();
        (cookie, token)
    }

    /// `POST /inloggen` as a browser that got the form: with its token, in the cookie and in
    /// the body (`form` without it).
    pub async fn post_password(&self, form: &str, user_agent: &str) -> axum::response::Response {
        let (cookie, token) = self.sign_in_form().await;
        let req = Request::builder()
            .method(Method::POST)
            .uri("/inloggen")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .header("user-agent", user_agent)
            .body(Body::from(format!("csrf={token}&{form}")))
            .expect("request");
        self.secure.clone().oneshot(req).await.expect("response")
    }

    /// `POST /oauth/token` with a form body.
    pub async fn token_request(&self, form: &str) -> Resp {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .expect("request");
        into_resp(self.secure.clone().oneshot(req).await.expect("response")).await
    }

    /// Registers a partner system for `organisation` and returns a bearer token for it.
    pub async fn partner_token(&self, organisation: &str, scopes: &str) -> String {
        let p = kring_server::auth::partners::register(&*self.accounts, organisation, scopes)
            .await
            .expect("register");
        let r = self
            .token_request(&format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                p.client_id, p.client_secret
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, &[], vec![]).await
    }

    pub async fn send(&self, method: Method, uri: &str, body: &Value) -> Resp {
        self.call(
            method,
            uri,
            &[("content-type", "application/fhir+json")],
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    /// Posts `entries` as one transaction Bundle through the FHIR API, which must succeed.
    pub async fn transaction(&self, entries: Vec<Value>) {
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        let r = self.post("/fhir", &bundle).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.diagnostics());
    }

    pub async fn post(&self, uri: &str, body: &Value) -> Resp {
        self.send(Method::POST, uri, body).await
    }

    pub async fn put(&self, uri: &str, body: &Value) -> Resp {
        self.send(Method::PUT, uri, body).await
    }

    /// Starts a PUT in a task of its own (for concurrency tests) and returns its status.
    pub fn spawn_put(
        &self,
        uri: String,
        body: &Value,
        if_match: Option<&'static str>,
    ) -> tokio::task::JoinHandle<StatusCode> {
        let router = self.router.clone();
        let bytes = serde_json::to_vec(body).expect("serialises");
        tokio::spawn(async move {
            let mut req = Request::builder()
                .method(Method::PUT)
                .uri(uri)
                .header("content-type", "application/fhir+json");
            if let Some(tag) = if_match {
                req = req.header("if-match", tag);
            }
            router
                .oneshot(req.body(Body::from(bytes)).expect("request"))
                .await
                .expect("response")
                .status()
        })
    }

    /// Ids of the match entries of a search Bundle.
    pub fn ids(bundle: &Value) -> Vec<String> {
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["search"]["mode"] == "match")
            .map(|e| e["resource"]["id"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Every entry of the access log, oldest first, as JSON.
    pub async fn log_lines(&self) -> Vec<Value> {
        use kring_audit::AccessLog;
        let mut all = self
            .log
            .query(&kring_audit::LogQuery {
                limit: 100_000,
                ..Default::default()
            })
            .await
            .expect("the log reads back");
        all.reverse();
        all.iter()
            .map(|e| serde_json::to_value(e).expect("entry is JSON"))
            .collect()
    }
}

async fn into_resp(res: axum::response::Response) -> Resp {
    let status = res.status();
    let headers = res.headers().clone();
    let raw = res
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        raw,
    }
}

/// Defines `mod $name { sqlite, postgres, citus }`, each running `$body(app)` on its own
/// database: a SQLite file, a PostgreSQL schema, a schema on the Citus cluster.
#[macro_export]
macro_rules! every_backend {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::harness::TestApp::new($crate::harness::Backend::Sqlite).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::harness::TestApp::new($crate::harness::Backend::Postgres).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn citus() {
                let app = $crate::harness::TestApp::new($crate::harness::Backend::Citus).await;
                ($body)(app).await;
            }
        }
    };
}

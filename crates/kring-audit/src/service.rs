//! The log as a service: one process (`kring log-serve`) holds the log — its one writer, its
//! tree, its signing key and its witness — and any number of `kring serve` processes write to
//! it and read from it over a Unix socket, so that several servers in front of one database
//! keep one log, one order and one group commit.
//!
//! Owns: the socket protocol's server side (HTTP/1.1 with JSON bodies, the paths below) and
//! who may connect. Both ends check the other with the kernel's word, not a secret: the
//! service takes a connection only from a process running as an allowed user
//! (`SO_PEERCRED`), and the client ([`crate::remote::RemoteLog`]) talks only to a service
//! running as the user it expects.
//!
//! | request | answer |
//! |---|---|
//! | `POST /v1/append` (JSON array of entries) | `204` once the entries are durably stored |
//! | `POST /v1/query` ([`LogQuery`] as JSON) | the matching entries, newest first |
//! | `GET /v1/entries?first=N&limit=L` | entries from `N` on, oldest first |
//! | `GET /v1/checkpoint` / `POST /v1/checkpoint` | the latest signed checkpoint / sign one now |
//! | `GET /v1/inclusion?index=I&size=S` | the inclusion proof (hashes in base64) |
//! | `GET /v1/consistency?first=M&second=N` | the consistency proof |
//! | `GET /v1/leaf?index=I` | one leaf hash |
//!
//! A log that cannot take the entries answers `503` with the reason; a question that cannot be
//! answered as asked, `400`. The requests that needed the log then fail exactly as they would
//! with the log in the same process.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;

use crate::{AccessEntry, AccessLog, AuditError, LogQuery, MerkleLog};

/// The users (uids) whose processes may write to and read from the log.
#[derive(Debug, Clone)]
pub struct Peers(pub Vec<u32>);

/// Serves `log` on `listener` until `stop` completes. Connections from processes of users
/// not in `peers` are closed unanswered (and said in the service's own log).
pub async fn serve(
    log: Arc<MerkleLog>,
    listener: UnixListener,
    peers: Peers,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            () = &mut stop => return Ok(()),
        };
        let uid = match stream.peer_cred() {
            Ok(cred) => cred.uid(),
            Err(e) => {
                tracing::warn!(error = %e, "a connection without peer credentials was closed");
                continue;
            }
        };
        if !peers.0.contains(&uid) {
            tracing::warn!(
                uid,
                "a process of a user that may not use the access log connected; closed"
            );
            continue;
        }
        let log = log.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let log = log.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&log, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "a connection to the log service ended");
            }
        });
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp
}

fn json(value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => reply(StatusCode::OK, body),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn failed(e: AuditError) -> Response<Full<Bytes>> {
    match e {
        AuditError::Unavailable(why) => reply(StatusCode::SERVICE_UNAVAILABLE, why),
        AuditError::Invalid(why) => reply(StatusCode::BAD_REQUEST, why),
    }
}

/// A number from the query string.
fn param(req: &Request<hyper::body::Incoming>, name: &str) -> Result<u64, AuditError> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| AuditError::Invalid(format!("the request needs a number {name}")))
}

async fn answer(log: &MerkleLog, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    match outcome(log, req).await {
        Ok(resp) => resp,
        Err(e) => failed(e),
    }
}

/// A hash on the wire: standard base64.
pub(crate) fn hash_text(h: &crate::Hash) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(h)
}

/// A hash back from the wire.
pub(crate) fn hash_of_text(text: &str) -> Option<crate::Hash> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?
        .try_into()
        .ok()
}

fn texts(hashes: &[crate::Hash]) -> Vec<String> {
    hashes.iter().map(hash_text).collect()
}

async fn outcome(
    log: &MerkleLog,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, AuditError> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    Ok(match (method, path.as_str()) {
        (Method::POST, "/v1/append") => {
            let entries: Vec<AccessEntry> = parse(req).await?;
            log.record(entries).await?;
            reply(StatusCode::NO_CONTENT, Bytes::new())
        }
        (Method::POST, "/v1/query") => {
            let q: LogQuery = parse(req).await?;
            json(&log.query(&q).await?)
        }
        (Method::GET, "/v1/entries") => {
            let first = param(&req, "first")?;
            let limit = param(&req, "limit")?.min(100_000) as usize;
            json(&log.entries_from(first, limit).await?)
        }
        (Method::GET, "/v1/checkpoint") => {
            json(&log.latest_checkpoint().await?.map(|cp| cp.to_json()))
        }
        (Method::POST, "/v1/checkpoint") => {
            json(&log.checkpoint_now().await?.map(|cp| cp.to_json()))
        }
        (Method::GET, "/v1/inclusion") => {
            let proof = log
                .inclusion_proof(param(&req, "index")?, param(&req, "size")?)
                .await?;
            json(&texts(&proof))
        }
        (Method::GET, "/v1/consistency") => {
            let proof = log
                .consistency_proof(param(&req, "first")?, param(&req, "second")?)
                .await?;
            json(&texts(&proof))
        }
        (Method::GET, "/v1/leaf") => {
            let leaf = log.leaf(param(&req, "index")?).await?;
            json(&leaf.map(|h| hash_text(&h)))
        }
        _ => reply(StatusCode::NOT_FOUND, "no such request to the access log"),
    })
}

async fn parse<T: serde::de::DeserializeOwned>(
    req: Request<hyper::body::Incoming>,
) -> Result<T, AuditError> {
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| AuditError::Invalid(format!("the request's body did not arrive: {e}")))?
        .to_bytes();
    serde_json::from_slice(&body)
        .map_err(|e| AuditError::Invalid(format!("the request's body is not valid: {e}")))
}

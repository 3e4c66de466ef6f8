//! The log of another process: a [`RemoteLog`] is the [`AccessLog`] of a `kring serve` that
//! writes to the log service (`kring log-serve`, [`crate::service`]) instead of holding the
//! log itself — what lets several servers in front of one database keep one log.
//!
//! Owns: the client side of the socket protocol, its connections (kept open and reused, one
//! request at a time each, so concurrent requests travel side by side and the service's
//! writer can gather them into one commit), and the check that the process answering is the
//! service's user. A request is acknowledged only when the service has stored its entries; a
//! service that does not answer is the same as a log that cannot be written: the request that
//! needed it fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::checkpoint::Checkpoint;
use crate::service::hash_of_text;
use crate::{AccessEntry, AccessLog, AuditError, Hash, LogQuery};

/// How long one request may wait for the service (an append waits for its commit, and
/// behind a full queue).
const TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept for reuse; more may be open while requests are in flight.
const KEEP: usize = 64;

/// The access log as served by `kring log-serve` on a Unix socket.
pub struct RemoteLog {
    socket: PathBuf,
    /// The user the service must run as.
    service_uid: u32,
    idle: std::sync::Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

fn unavailable(e: impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(e.to_string())
}

impl RemoteLog {
    /// Connects to the service at `socket`, which must run as `service_uid`, and asks for its
    /// latest checkpoint once, so that a missing or foreign service is said at start.
    pub async fn connect(socket: &Path, service_uid: u32) -> Result<RemoteLog, AuditError> {
        let log = RemoteLog {
            socket: socket.to_path_buf(),
            service_uid,
            idle: std::sync::Mutex::new(Vec::new()),
        };
        log.latest_checkpoint().await?;
        Ok(log)
    }

    /// The socket this log is reached at.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Asks the service to sign a checkpoint now; returns the latest.
    pub async fn checkpoint_now(&self) -> Result<Option<Checkpoint>, AuditError> {
        let body = self.call(Method::POST, "/v1/checkpoint", None).await?;
        checkpoint_of(&body)
    }

    async fn connection(&self) -> Result<SendRequest<Full<Bytes>>, AuditError> {
        loop {
            let pooled = self.idle.lock().map_err(unavailable)?.pop();
            match pooled {
                Some(sender) if !sender.is_closed() => return Ok(sender),
                Some(_) => continue,
                None => break,
            }
        }
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            AuditError::Unavailable(format!(
                "the access log service at {} cannot be reached: {e}",
                self.socket.display()
            ))
        })?;
        let uid = stream.peer_cred().map_err(unavailable)?.uid();
        if uid != self.service_uid {
            return Err(AuditError::Unavailable(format!(
                "the process at {} runs as user {uid}, not as the access log service's user {}",
                self.socket.display(),
                self.service_uid
            )));
        }
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(unavailable)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "a connection to the access log service ended");
            }
        });
        Ok(sender)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, AuditError> {
        let mut sender = self.connection().await?;
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "kring-log")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(unavailable)?;
        let exchange = async {
            sender.ready().await?;
            let resp = sender.send_request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        };
        let (status, body) = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| {
                AuditError::Unavailable(format!(
                    "the access log service did not answer within {} s",
                    TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                AuditError::Unavailable(format!("the access log service broke off: {e}"))
            })?;
        {
            let mut idle = self.idle.lock().map_err(unavailable)?;
            if idle.len() < KEEP {
                idle.push(sender);
            }
        }
        let text = || String::from_utf8_lossy(&body).into_owned();
        match status {
            s if s.is_success() => Ok(body),
            StatusCode::BAD_REQUEST => Err(AuditError::Invalid(text())),
            s => Err(AuditError::Unavailable(format!(
                "the access log service answered {s}: {}",
                text()
            ))),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, AuditError> {
        let body = self.call(Method::GET, path, None).await?;
        serde_json::from_slice(&body).map_err(unavailable)
    }
}

fn checkpoint_of(body: &[u8]) -> Result<Option<Checkpoint>, AuditError> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(unavailable)?;
    if v.is_null() {
        return Ok(None);
    }
    Checkpoint::from_json(&v)
        .map(Some)
        .ok_or_else(|| unavailable("the access log service sent a checkpoint that is not valid"))
}

fn hashes_of(texts: Vec<String>) -> Result<Vec<Hash>, AuditError> {
    texts
        .iter()
        .map(|t| {
            hash_of_text(t).ok_or_else(|| unavailable("the service sent a hash that is not valid"))
        })
        .collect()
}

#[async_trait::async_trait]
impl AccessLog for RemoteLog {
    async fn record(&self, entries: Vec<AccessEntry>) -> Result<(), AuditError> {
        if entries.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(&entries).map_err(unavailable)?;
        self.call(Method::POST, "/v1/append", Some(body)).await?;
        Ok(())
    }

    async fn query(&self, q: &LogQuery) -> Result<Vec<AccessEntry>, AuditError> {
        let body = serde_json::to_vec(q).map_err(unavailable)?;
        let found = self.call(Method::POST, "/v1/query", Some(body)).await?;
        serde_json::from_slice(&found).map_err(unavailable)
    }

    async fn entries_from(&self, first: u64, limit: usize) -> Result<Vec<AccessEntry>, AuditError> {
        self.get(&format!("/v1/entries?first={first}&limit={limit}"))
            .await
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        let body = self.call(Method::GET, "/v1/checkpoint", None).await?;
        checkpoint_of(&body)
    }

    async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        hashes_of(
            self.get(&format!("/v1/inclusion?index={index}&size={size}"))
                .await?,
        )
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, AuditError> {
        hashes_of(
            self.get(&format!("/v1/consistency?first={first}&second={second}"))
                .await?,
        )
    }

    async fn leaf(&self, index: u64) -> Result<Option<Hash>, AuditError> {
        let leaf: Option<String> = self.get(&format!("/v1/leaf?index={index}")).await?;
        leaf.map(|t| {
            hash_of_text(&t).ok_or_else(|| unavailable("the service sent a hash that is not valid"))
        })
        .transpose()
    }
}

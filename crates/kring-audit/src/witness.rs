//! Witnesses: somewhere outside the operator's database that keeps every checkpoint, so that
//! even the operator cannot rewrite the log's history unnoticed.
//!
//! Owns: publishing a checkpoint to a file (appended, one JSON object per line, fsynced) or to
//! an HTTP endpoint (`POST` of the checkpoint's JSON), and reading a witness file back for
//! `kring audit verify`.

use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;

/// Where checkpoints are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Witness {
    /// No witness configured (checkpoints stay in the log only).
    None,
    /// A file on another disk or mount, appended to.
    File(PathBuf),
    /// An HTTP endpoint that receives each checkpoint as JSON.
    Http(String),
}

impl Witness {
    /// `http://…` for an endpoint, anything else is a file path (`file:` prefix optional);
    /// empty for none.
    pub fn parse(spec: &str) -> Witness {
        let spec = spec.trim();
        if spec.is_empty() {
            Witness::None
        } else if spec.starts_with("http://") || spec.starts_with("https://") {
            Witness::Http(spec.to_string())
        } else {
            Witness::File(PathBuf::from(spec.strip_prefix("file:").unwrap_or(spec)))
        }
    }

    /// Hands one checkpoint to the witness.
    pub async fn publish(&self, cp: &Checkpoint) -> Result<(), String> {
        match self {
            Witness::None => Ok(()),
            Witness::File(path) => {
                let path = path.clone();
                let line = cp.to_json().to_string() + "\n";
                tokio::task::spawn_blocking(move || append(&path, &line))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
            Witness::Http(url) => post(url, cp.to_json().to_string()).await,
        }
    }
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(line.as_bytes())?;
    f.sync_data()
}

async fn post(url: &str, body: String) -> Result<(), String> {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    if url.starts_with("https://") {
        return Err("an https witness needs a local relay: Kring posts checkpoints over plain http (see docs/access-log.md)".into());
    }
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(std::time::Duration::from_secs(5), client.request(req))
        .await
        .map_err(|_| "the witness did not answer within 5 s".to_string())?
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("the witness answered {}", resp.status()))
    }
}

/// The checkpoints a witness file holds, with the line numbers of lines it cannot read.
pub fn read_file(path: &Path) -> std::io::Result<(Vec<Checkpoint>, Vec<usize>)> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line)
            .ok()
            .and_then(|v| Checkpoint::from_json(&v))
        {
            Some(cp) => out.push(cp),
            None => bad.push(i + 1),
        }
    }
    Ok((out, bad))
}

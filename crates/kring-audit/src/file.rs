//! A durable, append-only NDJSON access log with group commit.

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, oneshot};

use crate::{AccessEntry, AccessLog, AuditError};

type Ack = oneshot::Sender<Result<(), String>>;

/// Appends entries to a file; one writer task batches concurrent requests into one fsync.
pub struct FileLog {
    tx: mpsc::Sender<(Vec<AccessEntry>, Ack)>,
    path: PathBuf,
}

impl FileLog {
    /// Opens (creating) the log file and starts its writer. The queue is bounded: when the
    /// disk falls behind, callers wait (backpressure) instead of entries being dropped.
    pub fn open(path: &Path) -> Result<FileLog, AuditError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AuditError::Unavailable(e.to_string()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| AuditError::Unavailable(e.to_string()))?;
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(file, rx))
            .map_err(|e| AuditError::Unavailable(e.to_string()))?;
        Ok(FileLog {
            tx,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn writer(mut file: std::fs::File, mut rx: mpsc::Receiver<(Vec<AccessEntry>, Ack)>) {
    let mut buf = Vec::with_capacity(1 << 16);
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
            if batch.len() >= 4096 {
                break;
            }
        }
        buf.clear();
        for (entries, _) in &batch {
            for e in entries {
                // Serialising our own plain struct cannot fail.
                serde_json::to_writer(&mut buf, e).expect("access entry serialises");
                buf.push(b'\n');
            }
        }
        let result = file
            .write_all(&buf)
            .and_then(|_| file.sync_data())
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, "access log write failed");
        }
        for (_, ack) in batch {
            let _ = ack.send(result.clone());
        }
    }
}

#[async_trait::async_trait]
impl AccessLog for FileLog {
    async fn record(&self, entries: Vec<AccessEntry>) -> Result<(), AuditError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (ack, done) = oneshot::channel();
        self.tx
            .send((entries, ack))
            .await
            .map_err(|_| AuditError::Unavailable("the log writer has stopped".into()))?;
        done.await
            .map_err(|_| AuditError::Unavailable("the log writer has stopped".into()))?
            .map_err(AuditError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> AccessEntry {
        AccessEntry {
            recorded: crate::now(),
            action: "R",
            interaction: "read".into(),
            outcome: "success",
            subject: "operator".into(),
            client: format!("p{i}"),
            resource_type: "Patient".into(),
            resource_id: format!("p{i}"),
            source: "127.0.0.1".into(),
            reasons: vec!["test".into()],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_entries_all_land_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = std::sync::Arc::new(FileLog::open(&dir.path().join("access.ndjson")).unwrap());
        let mut tasks = Vec::new();
        for i in 0..200 {
            let log = log.clone();
            tasks.push(tokio::spawn(
                async move { log.record(vec![entry(i)]).await },
            ));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 200);
        for i in 0..200 {
            assert!(text.contains(&format!("\"client\":\"p{i}\"")));
        }
    }

    #[tokio::test]
    async fn an_unwritable_log_refuses() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be opened as the log file.
        assert!(FileLog::open(dir.path()).is_err());
    }
}

//! Streams the log to a syslog collector as RFC 5424 lines: UDP (`udp://host:port`, one line
//! per datagram) or TCP (`tcp://host:port`, octet-counted framing as RFC 6587 describes).
//!
//! Owns: the forwarder task. It follows the log from a cursor kept in a small file, so a
//! restart neither repeats nor skips entries; it is outside the write path, so a collector
//! that is down delays no access (it catches up when it is back).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::audit_event::to_syslog;
use crate::{AccessLog, MerkleLog};

/// Where lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collector {
    Udp(String),
    Tcp(String),
}

impl Collector {
    pub fn parse(spec: &str) -> Result<Collector, String> {
        if let Some(a) = spec.strip_prefix("udp://") {
            Ok(Collector::Udp(a.to_string()))
        } else if let Some(a) = spec.strip_prefix("tcp://") {
            Ok(Collector::Tcp(a.to_string()))
        } else {
            Err(format!(
                "a syslog collector is written udp://HOST:PORT or tcp://HOST:PORT, not {spec:?}"
            ))
        }
    }
}

/// Starts forwarding every entry after the one in `cursor` (a file holding the next entry
/// id) to `collector`.
pub fn spawn(log: Arc<MerkleLog>, collector: Collector, cursor: PathBuf) {
    tokio::spawn(async move {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "kring".into());
        let mut next: u64 = std::fs::read_to_string(&cursor)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut tcp: Option<tokio::net::TcpStream> = None;
        let mut udp: Option<tokio::net::UdpSocket> = None;
        loop {
            let entries = match log.entries_from(next, 1000).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "syslog: cannot read the log");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if entries.is_empty() {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let mut sent = next;
            let result: std::io::Result<()> = async {
                for e in &entries {
                    let line = to_syslog(e, &host);
                    match &collector {
                        Collector::Udp(addr) => {
                            if udp.is_none() {
                                udp = Some(tokio::net::UdpSocket::bind("0.0.0.0:0").await?);
                            }
                            let sock = udp.as_ref().expect("just bound");
                            sock.send_to(line.as_bytes(), addr).await?;
                        }
                        Collector::Tcp(addr) => {
                            if tcp.is_none() {
                                tcp = Some(tokio::net::TcpStream::connect(addr).await?);
                            }
                            let stream = tcp.as_mut().expect("just connected");
                            let framed = format!("{} {line}", line.len());
                            if let Err(e) = stream.write_all(framed.as_bytes()).await {
                                tcp = None;
                                return Err(e);
                            }
                        }
                    }
                    sent = e.id + 1;
                }
                Ok(())
            }
            .await;
            if sent != next {
                next = sent;
                if let Err(e) = std::fs::write(&cursor, next.to_string()) {
                    tracing::warn!(error = %e, "syslog: cannot keep the cursor");
                }
            }
            if let Err(e) = result {
                tracing::warn!(error = %e, "syslog: the collector is unreachable; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    });
}

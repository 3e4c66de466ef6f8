//! The syslog stream: every entry reaches a collector as an RFC 5424 line, in order, and the
//! cursor keeps the place so a restart neither repeats nor skips.

use std::sync::Arc;
use std::time::Duration;

use kring_audit::syslog::{spawn, Collector};
use kring_audit::{AccessEntry, AccessLog, Actor, Data, LogConfig, MerkleLog};

fn entry(i: u64) -> AccessEntry {
    AccessEntry {
        recorded: kring_audit::now(),
        action: "R".into(),
        interaction: "read".into(),
        outcome: if i == 1 { "denied" } else { "success" }.into(),
        user: Actor {
            id: format!("account/u{i}"),
            ..Actor::default()
        },
        client: format!("p{i}"),
        data: Data {
            resource_type: "Patient".into(),
            id: format!("p{i}"),
            category: "identity".into(),
        },
        purpose: "TREAT".into(),
        ..AccessEntry::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_reach_a_udp_collector_in_order_from_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(
        MerkleLog::open(LogConfig::at(&dir.path().join("log.db")))
            .await
            .unwrap(),
    );
    let collector = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = collector.local_addr().unwrap().to_string();
    let cursor = dir.path().join("syslog-cursor");
    log.record((0..3).map(entry).collect()).await.unwrap();
    spawn(log.clone(), Collector::Udp(addr), cursor.clone());
    let mut lines = Vec::new();
    let mut buf = vec![0u8; 4096];
    while lines.len() < 3 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), collector.recv_from(&mut buf))
            .await
            .expect("a line within 10 s")
            .unwrap();
        lines.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert!(lines[0].starts_with("<110>1 "), "{}", lines[0]);
    assert!(
        lines[1].starts_with("<108>1 "),
        "a denial is a warning: {}",
        lines[1]
    );
    for (i, l) in lines.iter().enumerate() {
        assert!(l.contains(&format!("[kring@32473 id=\"{i}\"")), "{l}");
    }
    // The cursor moves past what was sent.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(std::fs::read_to_string(&cursor).unwrap().trim(), "3");
    assert!(Collector::parse("syslog.example:514").is_err());
}

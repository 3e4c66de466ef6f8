//! The log's promises, tested on a real log in a real SQLite file: everything acknowledged is
//! there once, proofs verify, and every way of tampering with the database directly is caught
//! by `verify` — including a forged tree rebuilt consistently and re-signed with the real key.

use std::path::PathBuf;
use std::sync::Arc;

use kring_audit::merkle::{self, Frontier};
use kring_audit::verify::{verify, Report};
use kring_audit::{
    checkpoint, witness, AccessEntry, AccessLog, Actor, Data, LogConfig, LogQuery, MerkleLog,
    Witness,
};
use sqlx::{Connection, Row, SqliteConnection};

fn entry(i: u64) -> AccessEntry {
    AccessEntry {
        recorded: kring_audit::now(),
        action: "R".into(),
        interaction: "read".into(),
        outcome: "success".into(),
        user: Actor {
            id: format!("account/u{}", i % 7),
            organisation: "Organization/o1".into(),
            ..Actor::default()
        },
        client: format!("p{}", i % 13),
        data: Data {
            resource_type: "Patient".into(),
            id: format!("p{}", i % 13),
            category: "identity".into(),
        },
        purpose: "TREAT".into(),
        ..AccessEntry::default()
    }
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn config(&self) -> LogConfig {
        let mut c = LogConfig::at(&self.db());
        c.witness = Witness::File(self.witness());
        c
    }
    fn db(&self) -> PathBuf {
        self.dir.path().join("access-log.db")
    }
    fn witness(&self) -> PathBuf {
        self.dir.path().join("witness.ndjson")
    }
    async fn conn(&self) -> SqliteConnection {
        SqliteConnection::connect(&format!("sqlite:{}", self.db().display()))
            .await
            .unwrap()
    }
    async fn verify(&self) -> Report {
        let pool = kring_audit::ledger::open_read_only(&self.db())
            .await
            .unwrap();
        let key = checkpoint::parse_public(
            &std::fs::read_to_string(checkpoint::public_path(&self.config().key_path)).unwrap(),
        )
        .unwrap();
        let (witnessed, bad) = witness::read_file(&self.witness()).unwrap_or_default();
        assert!(bad.is_empty());
        let report = verify(&pool, &key, &witnessed, |_| {}).await.unwrap();
        pool.close().await;
        report
    }
}

/// A log of `n` entries written in batches of various sizes, with checkpoints in between.
async fn written(n: u64) -> Fixture {
    let f = Fixture {
        dir: tempfile::tempdir().unwrap(),
    };
    let log = MerkleLog::open(f.config()).await.unwrap();
    let mut i = 0;
    let mut batch = 1;
    while i < n {
        let k = batch.min(n - i);
        log.record((i..i + k).map(entry).collect()).await.unwrap();
        i += k;
        batch = batch * 3 % 97 + 1;
        if i % 5 == 0 {
            log.checkpoint_now().await.unwrap();
        }
    }
    log.checkpoint_now().await.unwrap();
    log.shut_down().await.unwrap();
    drop(log);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_entries_land_once_each_with_its_own_id() {
    let f = Fixture {
        dir: tempfile::tempdir().unwrap(),
    };
    let log = Arc::new(MerkleLog::open(f.config()).await.unwrap());
    let mut tasks = Vec::new();
    for i in 0..300 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.record(vec![entry(i), entry(i)]).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let all = log
        .query(&LogQuery {
            limit: 10_000,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 600);
    let mut ids: Vec<u64> = all.iter().map(|e| e.id).collect();
    ids.sort();
    assert_eq!(ids, (0..600).collect::<Vec<_>>());
    let one = log
        .query(&LogQuery {
            client: Some("p3".into()),
            user: Some("account/u3".into()),
            limit: 100,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert!(
        !one.is_empty()
            && one
                .iter()
                .all(|e| e.client == "p3" && e.user.id == "account/u3")
    );
    let cp = log.checkpoint_now().await.unwrap().unwrap();
    assert_eq!(cp.size, 600);
    assert!(cp.verify(&log.public_key()));
    // Once indexed (at the checkpoint), the same question finds the same entries; and the
    // tail after the index is found too.
    log.record(vec![entry(3)]).await.unwrap();
    let again = log
        .query(&LogQuery {
            client: Some("p3".into()),
            user: Some("account/u3".into()),
            limit: 100,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(again.len(), one.len() + 1);
    assert_eq!(&again[1..], &one[..]);
    let by_org = log
        .query(&LogQuery {
            clients: Some(vec!["p1".into()]),
            user_org: Some("Organization/none".into()),
            limit: 10_000,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert!(!by_org.is_empty() && by_org.iter().all(|e| e.client == "p1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_from_the_log_verify_against_its_checkpoints() {
    let f = Fixture {
        dir: tempfile::tempdir().unwrap(),
    };
    let log = MerkleLog::open(f.config()).await.unwrap();
    log.record((0..700).map(entry).collect()).await.unwrap();
    let first = log.checkpoint_now().await.unwrap().unwrap();
    log.record((700..1300).map(entry).collect()).await.unwrap();
    let second = log.checkpoint_now().await.unwrap().unwrap();
    assert_eq!(log.latest_checkpoint().await.unwrap().unwrap(), second);
    for index in [0, 1, 255, 256, 699, 1000, 1299] {
        let leaf = log.leaf(index).await.unwrap().unwrap();
        let proof = log.inclusion_proof(index, second.size).await.unwrap();
        assert!(
            merkle::verify_inclusion(&leaf, index, second.size, &proof, &second.root),
            "entry {index}"
        );
    }
    let proof = log
        .consistency_proof(first.size, second.size)
        .await
        .unwrap();
    assert!(merkle::verify_consistency(
        first.size,
        second.size,
        &first.root,
        &second.root,
        &proof
    ));
    assert!(
        log.inclusion_proof(0, 5000).await.is_err(),
        "no proof beyond the log"
    );
    // The witness got both checkpoints.
    let (witnessed, _) = witness::read_file(&f.witness()).unwrap();
    assert!(witnessed.contains(&first) && witnessed.contains(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_log_verifies_and_reopens_where_it_stopped() {
    let f = written(1000).await;
    let report = f.verify().await;
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.entries, 1000);
    assert_eq!(report.uncovered, 0);
    // Reopened, it continues the same tree.
    let log = MerkleLog::open(f.config()).await.unwrap();
    log.record(vec![entry(1000)]).await.unwrap();
    assert_eq!(log.checkpoint_now().await.unwrap().unwrap().size, 1001);
    log.shut_down().await.unwrap();
    drop(log);
    assert!(f.verify().await.is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_byte_is_named() {
    let f = written(1000).await;
    let mut c = f.conn().await;
    sqlx::query("UPDATE entries SET entry = CAST(replace(CAST(entry AS TEXT), 'success', 'sucCess') AS BLOB) WHERE seq = 500")
        .execute(&mut c)
        .await
        .unwrap();
    let report = f.verify().await;
    assert_eq!(report.first_bad_entry, Some(500), "{:?}", report.problems);
    assert!(report.problems[0].contains("entry 500 was changed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_row_is_named() {
    let f = written(1000).await;
    let mut c = f.conn().await;
    sqlx::query("DELETE FROM entries WHERE seq = 300")
        .execute(&mut c)
        .await
        .unwrap();
    let report = f.verify().await;
    assert_eq!(report.first_bad_entry, Some(300), "{:?}", report.problems);
    assert!(report.problems[0].contains("entry 300 is missing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_entries_are_caught() {
    let f = written(1000).await;
    let mut c = f.conn().await;
    // Swap two entries with their hashes, so each row is self-consistent.
    let rows =
        sqlx::query("SELECT seq, entry, leaf FROM entries WHERE seq IN (10, 11) ORDER BY seq")
            .fetch_all(&mut c)
            .await
            .unwrap();
    for (r, to) in rows.iter().zip([11i64, 10]) {
        sqlx::query("UPDATE entries SET entry = ?, leaf = ? WHERE seq = ?")
            .bind(r.get::<Vec<u8>, _>(1))
            .bind(r.get::<Vec<u8>, _>(2))
            .bind(to)
            .execute(&mut c)
            .await
            .unwrap();
    }
    let report = f.verify().await;
    assert_eq!(report.first_bad_entry, Some(10), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_log_is_caught_and_not_served() {
    let f = written(1000).await;
    let mut c = f.conn().await;
    sqlx::query("DELETE FROM entries WHERE seq >= 900")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("DELETE FROM checkpoints WHERE size > 900")
        .execute(&mut c)
        .await
        .unwrap();
    let report = f.verify().await;
    assert!(!report.is_intact());
    assert_eq!(report.first_bad_entry, Some(900), "{:?}", report.problems);
    assert!(report.problems.iter().any(|p| p.contains("holds only 900")));
    // Deleting the log's own checkpoints too is caught by the witness; with them kept, the
    // server refuses to open the log at all.
    let f = written(1000).await;
    let mut c = f.conn().await;
    sqlx::query("DELETE FROM entries WHERE seq >= 900")
        .execute(&mut c)
        .await
        .unwrap();
    drop(c);
    let err = MerkleLog::open(f.config()).await.err().expect("refused");
    assert!(err
        .to_string()
        .contains("does not match its last signed checkpoint"));
}

/// Rebuilds the whole tree, every node and every checkpoint over the current entries, signed
/// with `key`: what an operator with database access (and perhaps the key) could do.
async fn forge(f: &Fixture, key: &ed25519_dalek::SigningKey) {
    let mut c = f.conn().await;
    sqlx::query("UPDATE entries SET entry = CAST(replace(CAST(entry AS TEXT), '\"R\"', '\"D\"') AS BLOB) WHERE seq = 700")
        .execute(&mut c)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT seq, entry FROM entries ORDER BY seq")
        .fetch_all(&mut c)
        .await
        .unwrap();
    let sizes: Vec<i64> = sqlx::query_scalar("SELECT size FROM checkpoints")
        .fetch_all(&mut c)
        .await
        .unwrap();
    let mut frontier = Frontier::new();
    let mut tx = c.begin().await.unwrap();
    sqlx::query("DELETE FROM nodes")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("DELETE FROM checkpoints")
        .execute(&mut *tx)
        .await
        .unwrap();
    for r in rows {
        let leaf = merkle::leaf_hash(&r.get::<Vec<u8>, _>(1));
        sqlx::query("UPDATE entries SET leaf = ? WHERE seq = ?")
            .bind(&leaf[..])
            .bind(r.get::<i64, _>(0))
            .execute(&mut *tx)
            .await
            .unwrap();
        let mut nodes = Vec::new();
        frontier.push(leaf, |t, h| {
            if t.level >= kring_audit::ledger::TILE_LEVEL {
                nodes.push((t, *h))
            }
        });
        for (t, h) in nodes {
            sqlx::query("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)")
                .bind(t.level as i64)
                .bind(t.index as i64)
                .bind(&h[..])
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        if sizes.contains(&(frontier.size() as i64)) {
            let cp = kring_audit::Checkpoint::sign(
                key,
                frontier.size(),
                frontier.root(),
                kring_audit::now_ms(),
            );
            sqlx::query(
                "INSERT INTO checkpoints (size, root, time_ms, signature) VALUES (?, ?, ?, ?)",
            )
            .bind(cp.size as i64)
            .bind(&cp.root[..])
            .bind(cp.time_ms)
            .bind(&cp.signature[..])
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consistently_forged_tree_is_caught_by_signature_or_witness() {
    // Without the key: the forged checkpoints do not carry this installation's signature.
    let f = written(1000).await;
    forge(&f, &ed25519_dalek::SigningKey::from_bytes(&[9; 32])).await;
    let report = f.verify().await;
    assert!(!report.is_intact());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("valid signature")),
        "{:?}",
        report.problems
    );

    // With the real key: the witness still holds the true checkpoints.
    let f = written(1000).await;
    let key = checkpoint::load_or_create_key(&f.config().key_path, false).unwrap();
    forge(&f, &key).await;
    let report = f.verify().await;
    assert!(
        !report.is_intact(),
        "the witness catches what the key cannot"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("the witness's checkpoint")),
        "{:?}",
        report.problems
    );
    let first = report.first_bad_entry.unwrap();
    assert!(
        first <= 700,
        "the bad range starts at or before the forged entry: {first}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_content_but_the_tree_still_verifies() {
    let f = written(600).await;
    let log = MerkleLog::open(f.config()).await.unwrap();
    let removed = log
        .apply_retention(kring_audit::now_ms() + 1000)
        .await
        .unwrap();
    assert_eq!(removed, 600);
    let back = log
        .query(&LogQuery {
            id: Some(5),
            limit: 1,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(back[0].outcome, "removed");
    let leaf = log.leaf(5).await.unwrap().unwrap();
    let cp = log.latest_checkpoint().await.unwrap().unwrap();
    let proof = log.inclusion_proof(5, cp.size).await.unwrap();
    assert!(merkle::verify_inclusion(
        &leaf, 5, cp.size, &proof, &cp.root
    ));
    log.shut_down().await.unwrap();
    drop(log);
    let report = f.verify().await;
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.removed, 600);
}

/// Every column the pages filter on, changed in one entry's row, is named by verify: a client
/// changed to another hides the access from that client's "who looked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_column_beside_an_entry_is_named() {
    for (column, value) in [
        ("client", "'p99'"),
        ("user_id", "'account/someone-else'"),
        ("user_org", "'Organization/o2'"),
        ("action", "'U'"),
        ("outcome", "'denied'"),
        ("purpose", "'ETREAT'"),
        ("recorded_ms", "recorded_ms + 3600000"),
    ] {
        let f = written(300).await;
        let mut c = f.conn().await;
        sqlx::query(&format!(
            "UPDATE entries SET {column} = {value} WHERE seq = 123"
        ))
        .execute(&mut c)
        .await
        .unwrap();
        let report = f.verify().await;
        assert!(!report.is_intact(), "{column}");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("entry 123") && p.contains(column)),
            "{column}: {:?}",
            report.problems
        );
    }
}

/// Index rows added, changed and removed are each named, as is an index that claims to reach
/// further than it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_index_row_is_named() {
    let tampering: [(&str, &str); 6] = [
        ("removed", "DELETE FROM by_client WHERE seq = 42"),
        ("changed", "UPDATE by_client SET key = 'p99' WHERE seq = 42"),
        (
            "added",
            "INSERT INTO by_client (key, seq) VALUES ('p99', 42)",
        ),
        (
            "added beyond",
            "INSERT INTO by_user (key, seq) VALUES ('account/x', 1000000)",
        ),
        ("user removed", "DELETE FROM by_user WHERE seq = 7"),
        (
            "organisation changed",
            "UPDATE by_user_org SET key = 'Organization/o2' WHERE seq = 9",
        ),
    ];
    for (what, sql) in tampering {
        let f = written(300).await;
        let mut c = f.conn().await;
        sqlx::query(sql).execute(&mut c).await.unwrap();
        let report = f.verify().await;
        assert!(!report.is_intact(), "{what}");
        assert!(
            report.problems.iter().any(|p| p.contains("index")),
            "{what}: {:?}",
            report.problems
        );
    }
    // An index that says it reaches further than it does (rows of the last entries gone):
    // those entries would be invisible to every query.
    let f = written(300).await;
    let mut c = f.conn().await;
    sqlx::query("DELETE FROM by_client WHERE seq >= 250")
        .execute(&mut c)
        .await
        .unwrap();
    let report = f.verify().await;
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("by_client index lacks")),
        "{:?}",
        report.problems
    );
}

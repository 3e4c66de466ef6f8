//! `kring serve`: serve the FHIR API until Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use kring_audit::MerkleLog;
use kring_record::Record;
use kring_server::{AppState, HttpConfig};

use crate::config::Config;

/// Binds `cfg.addr` and serves `record` there; on the way out, the log signs a last
/// checkpoint over everything it took.
pub async fn serve_record(cfg: &Config, opened: crate::open::Opened) -> anyhow::Result<()> {
    let crate::open::Opened {
        record,
        log,
        accounts,
    } = opened;
    if record
        .ensure_sharing_questionnaire()
        .await
        .context("cannot store the sharing aid's questionnaire")?
    {
        tracing::info!("the sharing aid's questionnaire (Kiezen en Delen) is stored");
    }
    let listener = tokio::net::TcpListener::bind(&cfg.addr)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.addr))?;
    let addr = listener.local_addr()?;
    let http = HttpConfig {
        max_body_bytes: cfg.max_body_bytes,
        max_json_depth: cfg.max_json_depth,
        base_url: cfg.base_url.clone(),
        passkey_origin: Some(cfg.passkey_origin(addr.port())),
    };
    println!("Kring is serving its pages at http://{addr}/ and the FHIR API at http://{addr}/fhir  (capabilities: http://{addr}/fhir/metadata)");
    println!("Press Ctrl-C to stop.");
    if let Some(spec) = &cfg.audit_syslog {
        let collector = kring_audit::syslog::Collector::parse(spec).map_err(anyhow::Error::msg)?;
        kring_audit::syslog::spawn(
            log.clone(),
            collector,
            log.path().with_extension("syslog-cursor"),
        );
    }
    spawn_retention(log.clone(), cfg.audit_retention_years);
    let review = Arc::new(
        kring_review::Review::open(&cfg.review_path())
            .await
            .with_context(|| {
                format!(
                    "cannot open the review store {}",
                    cfg.review_path().display()
                )
            })?,
    );
    spawn_nightly_oversight(review.clone(), record.clone(), cfg.oversight_hour);
    let state = AppState::new(record, accounts, http).with_review(review.clone());
    let served = kring_server::serve(listener, state)
        .await
        .context("the server stopped with an error");
    review.close().await;
    log.shut_down()
        .await
        .context("the access log could not sign its last checkpoint")?;
    served
}

/// Every night at `hour` (Dutch time): screen the last month of the live log into the
/// officers' review queue.
fn spawn_nightly_oversight(review: Arc<kring_review::Review>, record: Record, hour: u32) {
    tokio::spawn(async move {
        loop {
            let now = kring_audit::now_ms();
            let local = now + kring_fhir::datetime::dutch_offset_ms(now);
            let day_ms = 86_400_000;
            let target = local.div_euclid(day_ms) * day_ms + i64::from(hour.min(23)) * 3_600_000;
            let wait = if target > local {
                target - local
            } else {
                target + day_ms - local
            };
            tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
            match kring_review::screen_live(&review, &record, "nightly", 31).await {
                Ok(s) => tracing::info!(
                    accesses = s.accesses,
                    cases = s.cases,
                    "nightly oversight run done"
                ),
                Err(e) => tracing::warn!(error = %e, "the nightly oversight run failed"),
            }
        }
    });
}

/// Once at start and then daily: entries past the retention period lose their content; their
/// hashes stay, so the tree and its proofs remain verifiable.
fn spawn_retention(log: Arc<MerkleLog>, years: u32) {
    tokio::spawn(async move {
        loop {
            // A Julian year in milliseconds.
            let cutoff = kring_audit::now_ms() - i64::from(years) * 31_557_600_000;
            match log.apply_retention(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    entries = n,
                    years,
                    "access log: content past retention removed, hashes kept"
                ),
                Err(e) => tracing::warn!(error = %e, "access log retention could not run"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)).await;
        }
    });
}

pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    serve_record(cfg, crate::open::record(cfg).await?).await
}

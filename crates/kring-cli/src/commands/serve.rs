//! `kring serve`: serve the FHIR API until Ctrl-C or SIGTERM.

use anyhow::Context;
use kring_record::Record;
use kring_server::{AppState, HttpConfig};

use crate::config::Config;

/// Binds `cfg.addr` and serves `record` there.
pub async fn serve_record(cfg: &Config, record: Record) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&cfg.addr)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.addr))?;
    let addr = listener.local_addr()?;
    let http = HttpConfig {
        max_body_bytes: cfg.max_body_bytes,
        max_json_depth: cfg.max_json_depth,
        base_url: cfg.base_url.clone(),
    };
    println!("Kring is serving its pages at http://{addr}/ and the FHIR API at http://{addr}/fhir  (capabilities: http://{addr}/fhir/metadata)");
    println!("Press Ctrl-C to stop.");
    kring_server::serve(listener, AppState::new(record, http))
        .await
        .context("the server stopped with an error")
}

pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    let record = crate::open::record(cfg).await?;
    serve_record(cfg, record).await
}

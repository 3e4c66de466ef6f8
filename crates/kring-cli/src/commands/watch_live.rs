//! `kring watch` without `--audit`: screen Kring's own live log now, like the nightly run,
//! into the officers' review queue (and, with `--out`, also as FINDINGS NDJSON of the cases'
//! accesses).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::config::Config;

pub async fn run(cfg: &Config, days: u32, out: Option<&Path>) -> anyhow::Result<()> {
    let crate::open::Opened { record, log, .. } = crate::open::record(cfg).await?;
    let review = kring_review::Review::open(&cfg.review_path())
        .await
        .with_context(|| {
            format!(
                "cannot open the review store {}",
                cfg.review_path().display()
            )
        })?;
    let summary = kring_review::screen_live(&review, &record, "on-demand", days).await?;
    if let Some(out) = out {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(out)
                .with_context(|| format!("cannot create {}", out.display()))?,
        );
        for line in review.findings_of_run(summary.run).await? {
            writeln!(w, "{line}")?;
        }
        w.flush()?;
    }
    review.close().await;
    log.shut_down().await?;
    println!(
        "Screened {} accesses of the last {days} days ({} new log entries mirrored): {} explained ({:.1}%), {} findings, {} flagged, {} cases in the review queue.",
        summary.accesses,
        summary.mirrored,
        summary.explained,
        100.0 * summary.explained as f64 / summary.accesses.max(1) as f64,
        summary.findings,
        summary.flagged,
        summary.cases
    );
    Ok(())
}

//! `kring export DIR`: every current resource as NDJSON, one file per type, exactly the stored
//! bytes (so an import of the export reproduces them byte for byte).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use kring_record::Caller;

use crate::config::Config;

#[derive(Args)]
pub struct ExportArgs {
    /// Only these resource types (repeat the flag for more). Default: every type in use.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// The folder to write Type.ndjson files into (created if needed).
    pub dir: PathBuf,
}

pub async fn run(cfg: &Config, args: ExportArgs) -> anyhow::Result<()> {
    let crate::open::Opened { record, log, .. } = crate::open::record(cfg).await?;
    let caller = Caller::operator("cli");
    let types = if args.types.is_empty() {
        record.types_in_use().await?
    } else {
        args.types.clone()
    };
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} resources ({per_sec})")
            .expect("valid template"),
    );
    let mut total = 0u64;
    for t in &types {
        bar.set_message(format!("exporting {t}"));
        let path = args.dir.join(format!("{t}.ndjson"));
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        );
        let mut after: Option<String> = None;
        loop {
            let page = record
                .export_page(&caller, t, after.as_deref(), 1000)
                .await?;
            if page.is_empty() {
                break;
            }
            for v in &page {
                out.write_all(&v.body)?;
                out.write_all(b"\n")?;
            }
            total += page.len() as u64;
            bar.inc(page.len() as u64);
            after = page.last().map(|v| v.id.clone());
        }
        out.flush()?;
    }
    bar.finish_and_clear();
    log.shut_down().await?;
    println!(
        "Exported {total} resources of {} types to {}.",
        types.len(),
        args.dir.display()
    );
    Ok(())
}

//! `kring import FILE…`: Bundles and NDJSON into the record.
//!
//! Each Bundle is imported atomically (as one transaction); NDJSON in chunks of 500 lines, each
//! chunk atomic. Running the same import again after an interruption is safe: entries that
//! create with a `urn:uuid:` fullUrl are given that uuid as their id (so a second run updates
//! instead of duplicating), unchanged updates make no new version, and NDJSON lines whose
//! version is already stored are skipped.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use kring_record::{Caller, Preference, Record};
use serde_json::{json, Value};

use crate::config::Config;

#[derive(Args)]
pub struct ImportArgs {
    /// Files to import: FHIR Bundles (transaction, batch, collection …) as .json, or NDJSON
    /// (one resource per line, e.g. from `kring export`) as .ndjson.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// What an import did.
#[derive(Default, Debug)]
pub struct Report {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// (where, why)
    pub rejected: Vec<(String, String)>,
}

impl Report {
    fn print(&self) {
        println!(
            "Import finished: {} created, {} updated, {} unchanged, {} rejected.",
            self.created,
            self.updated,
            self.unchanged,
            self.rejected.len()
        );
        let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, why) in &self.rejected {
            *by_reason.entry(why.as_str()).or_default() += 1;
        }
        for (where_, why) in self.rejected.iter().take(20) {
            println!("  rejected {where_}: {why}");
        }
        if self.rejected.len() > 20 {
            println!(
                "  … and {} more ({} distinct reasons)",
                self.rejected.len() - 20,
                by_reason.len()
            );
        }
    }
}

pub async fn run(cfg: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let crate::open::Opened { record, log, .. } = crate::open::record(cfg).await?;
    let report = import_files(&record, &args.files).await;
    // Whatever happened, the log signs a checkpoint over what it took.
    log.shut_down().await?;
    let report = report?;
    report.print();
    if !report.rejected.is_empty() {
        anyhow::bail!("{} entries were rejected", report.rejected.len());
    }
    Ok(())
}

/// Imports files in order, with a progress bar.
pub async fn import_files(record: &Record, files: &[PathBuf]) -> anyhow::Result<Report> {
    let caller = Caller::operator("cli");
    let mut report = Report::default();
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files  {msg}")
            .expect("valid template")
            .progress_chars("█▉▊▋▌▍▎▏ "),
    );
    for file in files {
        bar.set_message(
            file.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
        );
        if file.extension().is_some_and(|e| e == "ndjson") {
            import_ndjson(record, &caller, file, &mut report).await?;
        } else {
            import_json(record, &caller, file, &mut report).await?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

async fn import_ndjson(
    record: &Record,
    caller: &Caller,
    file: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let mut chunk = Vec::new();
    let mut first_line = 1;
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if chunk.is_empty() {
            first_line = n + 1;
        }
        chunk.push(line);
        if chunk.len() == 500 {
            restore_chunk(
                record,
                caller,
                file,
                first_line,
                std::mem::take(&mut chunk),
                report,
            )
            .await?;
        }
    }
    if !chunk.is_empty() {
        restore_chunk(record, caller, file, first_line, chunk, report).await?;
    }
    Ok(())
}

async fn restore_chunk(
    record: &Record,
    caller: &Caller,
    file: &Path,
    first_line: usize,
    lines: Vec<Vec<u8>>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let results = record
        .restore(caller, lines)
        .await
        .context("the import could not be written")?;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(w) if w.unchanged => report.unchanged += 1,
            Ok(w) if w.created => report.created += 1,
            Ok(_) => report.updated += 1,
            Err(e) => report.rejected.push((
                format!("{} line {}", file.display(), first_line + i),
                describe(&e.outcome().to_json()),
            )),
        }
    }
    Ok(())
}

fn describe(outcome: &Value) -> String {
    outcome["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let at = i["expression"][0]
                .as_str()
                .map(|e| format!("{e}: "))
                .unwrap_or_default();
            format!("{at}{}", i["diagnostics"].as_str().unwrap_or(""))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Makes a Bundle idempotent and transactional for import.
pub fn as_import_transaction(bundle: Value) -> anyhow::Result<Value> {
    let kind = bundle["type"].as_str().unwrap_or("").to_string();
    let mut entries = Vec::new();
    for e in bundle["entry"].as_array().into_iter().flatten() {
        let mut e = e.clone();
        if kind != "transaction" && kind != "batch" {
            // A collection (or document, searchset …): store each resource as it is.
            let res = e["resource"].clone();
            let rtype = res["resourceType"].as_str().unwrap_or("").to_string();
            e["request"] = match res["id"].as_str() {
                Some(id) => json!({"method": "PUT", "url": format!("{rtype}/{id}")}),
                None => json!({"method": "POST", "url": rtype}),
            };
        }
        let method = e["request"]["method"].as_str().unwrap_or("").to_string();
        let uuid = e["fullUrl"]
            .as_str()
            .and_then(|f| f.strip_prefix("urn:uuid:"))
            .map(str::to_string);
        if method == "POST" && e["request"]["ifNoneExist"].is_null() {
            if let Some(uuid) = uuid.filter(|u| kring_fhir::reference::is_valid_id(u)) {
                let rtype = e["request"]["url"].as_str().unwrap_or("").to_string();
                e["request"] = json!({"method": "PUT", "url": format!("{rtype}/{uuid}")});
            }
        }
        entries.push(e);
    }
    Ok(
        json!({"resourceType": "Bundle", "type": if kind == "batch" { "batch" } else { "transaction" }, "entry": entries}),
    )
}

async fn import_json(
    record: &Record,
    caller: &Caller,
    file: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            report
                .rejected
                .push((file.display().to_string(), format!("not valid JSON: {e}")));
            return Ok(());
        }
    };
    let bundle = if value["resourceType"] == "Bundle" {
        value
    } else {
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": value}]})
    };
    let tx = as_import_transaction(bundle)?;
    match record
        .process_bundle(caller, tx, "", Preference::Minimal)
        .await
    {
        Ok(resp) => {
            for (i, e) in resp["entry"].as_array().into_iter().flatten().enumerate() {
                let status = e["response"]["status"].as_str().unwrap_or("");
                if status.starts_with("201") {
                    report.created += 1;
                } else if status.starts_with("200") || status.starts_with("204") {
                    if e["response"]["outcome"].is_null() {
                        report.updated += 1;
                    } else {
                        report.unchanged += 1;
                    }
                } else {
                    report.rejected.push((
                        format!("{} entry {i}", file.display()),
                        describe(&e["response"]["outcome"]),
                    ));
                }
            }
        }
        Err(kring_record::RecordError::LogUnavailable) => {
            anyhow::bail!("the access log cannot be written; import stopped")
        }
        Err(e) => report
            .rejected
            .push((file.display().to_string(), describe(&e.outcome().to_json()))),
    }
    Ok(())
}

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
        database,
        log,
        accounts,
    } = opened;
    let continuity = continuity(cfg, database, record.clone())?;
    downtime_kits(cfg, record.clone())?;
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
    match &log {
        crate::open::TheLog::Own(own) => log_duties(cfg, own)?,
        crate::open::TheLog::Service(service) => {
            // Other servers write to this record too: their changes to circles and consents
            // must count here as well (docs/access-log.md, "One log for several servers").
            follow_other_servers(record.clone(), FOLLOW_EVERY);
            println!(
                "The access log is kept by the log service at {}; changes other servers make to circles and consents count here within {} ms.",
                service.socket().display(),
                FOLLOW_EVERY.as_millis()
            );
        }
    }
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
    let mut state = AppState::new(record, accounts, http).with_review(review.clone());
    if let Some(view) = continuity {
        state = state.with_continuity(view);
    }
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

/// The server's own backups and restore drills, on their schedules, when `backup_dir` is
/// set; what the administrators' page shows of them.
fn continuity(
    cfg: &Config,
    database: Arc<dyn kring_store::Database>,
    record: Record,
) -> anyhow::Result<Option<kring_server::ContinuityView>> {
    let Some(dir) = cfg.backup_dir.clone() else {
        tracing::warn!(
            "no backup_dir: this installation makes no backups (see docs/continuity.md)"
        );
        return Ok(None);
    };
    let backup = cfg.schedule("backup")?;
    let drill = cfg.schedule("drill")?;
    let recipients = cfg
        .backup_recipients()
        .context("backup_dir is set, so backups need backup_recipient")?;
    let identities = match cfg.backup_identities() {
        Ok(i) => Some(i),
        Err(e) => {
            tracing::warn!(error = %e, "restore drills cannot run here: the administrators' page says so");
            None
        }
    };
    let settings = kring_continuity::backup::Settings {
        dir: dir.clone(),
        recipients,
        keep: cfg.backup_keep,
    };
    let inst = kring_continuity::Installation {
        database,
        log: cfg.log_config(),
        review: cfg.review_path(),
    };
    {
        let record = record.clone();
        every(backup, "backup", move || {
            let (inst, settings, record) = (inst.clone(), settings.clone(), record.clone());
            async move {
                let taken = kring_continuity::backup::take(&inst, &settings).await;
                if let Err(e) = &taken {
                    tracing::error!(error = %e, "the scheduled backup failed");
                }
                let run = kring_continuity::pending::Run::of_backup(&taken);
                if let Err(e) = run.log(&record).await {
                    tracing::error!(error = %e, "the backup could not be written to the access log");
                }
            }
        });
    }
    if let Some(identities) = identities.clone() {
        let scratch = super::drill::scratch(cfg)?;
        let (dir, record) = (dir.clone(), record.clone());
        every(drill, "restore drill", move || {
            let (dir, identities, scratch, record) = (
                dir.clone(),
                identities.clone(),
                scratch.clone(),
                record.clone(),
            );
            async move {
                let r = kring_continuity::drill::run(&dir, &identities, scratch).await;
                if let Err(e) = kring_continuity::pending::Run::of_drill(&r)
                    .log(&record)
                    .await
                {
                    tracing::error!(error = %e, "the drill could not be written to the access log");
                }
            }
        });
    }
    // Runs made with `kring backup` and `kring drill` reach the log through the server.
    {
        let dir = dir.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                match kring_continuity::pending::drain(&dir, &record).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(runs = n, "command-line continuity runs logged"),
                    Err(e) => {
                        tracing::error!(error = %e, "command-line continuity runs wait: the access log did not take them")
                    }
                }
            }
        });
    }
    Ok(Some(kring_server::ContinuityView {
        dir,
        backup,
        drill,
        drills_possible: identities.is_some(),
    }))
}

/// The downtime kits, written at start and then on `kit_schedule`, when `kit_dir` is set.
fn downtime_kits(cfg: &Config, record: Record) -> anyhow::Result<()> {
    if cfg.kit_dir.is_none() {
        tracing::warn!("no kit_dir: no downtime kits are written (see docs/continuity.md)");
        return Ok(());
    }
    let settings = cfg.kit()?;
    let settings_dir = settings.dir.clone();
    let schedule = cfg.schedule("kit")?;
    let high = cfg.high_risk();
    let write = move || {
        let (record, settings, high) = (record.clone(), settings.clone(), high.clone());
        async move {
            match kring_server::kit::write_all(&record, &settings, &high).await {
                Ok(w) => tracing::info!(locations = w.len(), "downtime kits written"),
                Err(e) => tracing::error!(error = %e, "the downtime kits were not written"),
            }
        }
    };
    // At start, unless the kits on disk are younger than the schedule's period (a restart, or
    // `kring demo` that just wrote them): a start needs no second copy of fresh kits.
    let fresh = match (schedule.period_ms(), newest_file_ms(&settings_dir)) {
        (Some(period), Some(newest)) => kring_audit::now_ms() - newest < period,
        _ => false,
    };
    if fresh {
        tracing::info!("downtime kits on disk are fresh: the next are written on kit_schedule");
    } else {
        tokio::spawn(write());
    }
    every(schedule, "downtime kits", write);
    Ok(())
}

/// When the newest file under `dir` (one level of folders deep) was last written, ms.
fn newest_file_ms(dir: &std::path::Path) -> Option<i64> {
    let modified = |e: &std::fs::DirEntry| {
        e.metadata()
            .ok()?
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_millis() as i64)
    };
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .filter_map(|f| modified(&f))
        .max()
}

/// Runs `job` on `schedule` for as long as the server runs, one run at a time.
fn every<F, Fut>(schedule: kring_continuity::schedule::Schedule, what: &'static str, job: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        while let Some(wait) = schedule.wait_ms(kring_audit::now_ms()) {
            tracing::info!(
                what,
                in_minutes = wait / 60_000,
                "next run scheduled ({schedule})"
            );
            tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
            job().await;
        }
    });
}

/// Once at start and then daily: entries past the retention period lose their content; their
/// hashes stay, so the tree and its proofs remain verifiable.
/// How often a server that shares its record with others reads their writes to the facts
/// the decision weighs.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Reads the other servers' writes to circles, consents and clients every `every`, so that
/// this server decides on them too.
fn follow_other_servers(record: Record, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut follower = kring_record::follow::Follower::from(kring_audit::now_ms());
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match record.follow_round(&mut follower).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(versions = n, "took in other servers' writes"),
                Err(e) => tracing::warn!(error = %e, "could not read other servers' writes"),
            }
        }
    });
}

/// What the process that holds the log does besides taking entries: send them to syslog
/// when configured, and remove content past retention.
pub fn log_duties(cfg: &Config, log: &Arc<MerkleLog>) -> anyhow::Result<()> {
    if let Some(spec) = &cfg.audit_syslog {
        let collector = kring_audit::syslog::Collector::parse(spec).map_err(anyhow::Error::msg)?;
        kring_audit::syslog::spawn(
            log.clone(),
            collector,
            log.path().with_extension("syslog-cursor"),
        );
    }
    spawn_retention(log.clone(), cfg.audit_retention_years);
    Ok(())
}

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

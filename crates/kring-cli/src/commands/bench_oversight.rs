//! `kring bench --oversight`: the oversight engine's quality and speed, printed as Markdown
//! for BENCHMARKS.md.
//!
//! 1. Quality on synthetic months the engine was not tuned on (seeds 1 and 2 were): precision
//!    and recall per kind of planted violation, with a ROLES file, and with opaque role codes
//!    and no ROLES file (roles inferred from behaviour).
//! 2. Imported NDJSON: CONTEXT and AUDIT files written to disk, then read and screened as
//!    `kring watch` does; events per second, end to end.
//! 3. The live log at scale: 100,000 clients, 10,000 staff, about 10 million accesses in the
//!    review store's mirror; reading them back and screening, in seconds, with peak memory.

use std::io::{BufReader, BufWriter};
use std::time::Instant;

use kring_oversight::quality::{evaluate, Quality};
use kring_oversight::rivierenland::{Region, RegionParams};
use kring_oversight::synthetic::{Params, Synthetic};
use kring_oversight::{screen, AccessLog, Context, Reason, RoleMap};
use kring_review::store::{MirrorRow, KIND_EMERGENCY, KIND_REASON, KIND_WRITE};

use super::bench::{tempfile_dir, BenchArgs};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A month as the engine reads it, with the truth per event.
type Month = (Context, AccessLog, Vec<Option<Reason>>);

/// One month of the in-house generator, as the engine reads it.
fn in_house(seed: u64, opaque: bool) -> anyhow::Result<Month> {
    let mut p = Params::month(seed);
    p.opaque_roles = opaque;
    let s = Synthetic::generate(p);
    let roles = if opaque {
        RoleMap::default()
    } else {
        RoleMap::from_json(&s.roles_json()).unwrap_or_default()
    };
    let mut cx = Context::default();
    for r in s.context() {
        let _ = cx.add(&r, &roles);
    }
    cx.finish();
    let log = s.access_log(&mut cx);
    Ok((cx, log, s.truth()))
}

/// One month of the independent region, through its NDJSON files and ROLES file only.
fn rivierenland(seed: u64) -> anyhow::Result<Month> {
    let r = Region::generate(RegionParams::month(seed));
    let (mut context, mut audit) = (Vec::new(), Vec::new());
    r.write_context(&mut context)?;
    r.write_audit(&mut audit)?;
    let roles = RoleMap::from_json(&r.roles_json())?;
    let mut cx = Context::read(context.as_slice(), &roles)?;
    let log = AccessLog::read(audit.as_slice(), &mut cx)?;
    anyhow::ensure!(
        cx.stats.bad_count == 0 && log.stats.bad_count == 0,
        "the region's files did not read cleanly"
    );
    Ok((cx, log, r.truth()))
}

fn quality(
    title: &str,
    seeds: std::ops::RangeInclusive<u64>,
    month: impl Fn(u64) -> anyhow::Result<Month>,
) -> anyhow::Result<()> {
    let mut total = Quality::empty();
    let mut accesses = 0;
    let mut explained = 0;
    let mut risks = Vec::new();
    for seed in seeds.clone() {
        let (cx, log, truth) = month(seed)?;
        let screening = screen(&cx, &log);
        accesses += screening.stats.accesses;
        explained += screening.stats.explained_total();
        let q = evaluate(&screening.findings, &truth);
        risks.extend(
            kring_oversight::quality::known(&screening.findings, &truth)
                .into_iter()
                .map(|k| (k.risk, k.violation)),
        );
        total.add(&q);
        println!(
            "seed {seed}: {} accesses, {:.2}% explained, precision {:.3}, recall {:.3}",
            screening.stats.accesses,
            100.0 * screening.stats.explained_total() as f64
                / screening.stats.accesses.max(1) as f64,
            q.overall.precision(),
            q.overall.recall()
        );
    }
    println!(
        "\n{title} — seeds {}–{} together: {accesses} accesses, {:.2}% explained\n",
        seeds.start(),
        seeds.end(),
        100.0 * explained as f64 / accesses.max(1) as f64
    );
    println!(
        "| kind | planted | recall | recall, kind named | flagged with this reason | precision |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for k in total.per_kind.iter().chain([&total.overall]) {
        println!(
            "| {} | {} | {:.3} | {:.3} | {} | {:.3} |",
            k.kind.map_or("**all**", |r| r.code()),
            k.planted,
            k.recall(),
            k.named_recall(),
            k.flagged,
            k.precision()
        );
    }
    println!(
        "\nCalibration — every finding (flagged or not) by score (the chance of a violation, calibrated on the in-house tuning seeds 1–6), and how many were planted violations: expected calibration error **{:.3}** (the uncalibrated risk: {:.3}):\n",
        kring_oversight::quality::calibration_error(&total.calibration),
        kring_oversight::calibration::error_of(&risks)
    );
    println!("| score | findings | mean score | share that were violations |");
    println!("|---|---:|---:|---:|");
    for b in &total.calibration {
        println!(
            "| {:.2}–{:.2} | {} | {:.3} | {:.3} |",
            b.low,
            b.high,
            b.findings,
            b.mean_score(),
            b.violation_share()
        );
    }
    Ok(())
}

fn ndjson_speed(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut p = Params::month(31);
    p.staff = 4_000;
    p.clients = 40_000;
    p.reads_per_visit = 6;
    let s = Synthetic::generate(p);
    let context = dir.join("context.ndjson");
    let audit = dir.join("audit.ndjson");
    s.write_context(BufWriter::new(std::fs::File::create(&context)?))?;
    s.write_audit(BufWriter::new(std::fs::File::create(&audit)?))?;
    let bytes = std::fs::metadata(&audit)?.len();
    let events = s.events.len();
    drop(s);
    let mut best = f64::MAX;
    let mut parse_best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut cx = Context::read(
            BufReader::with_capacity(1 << 20, std::fs::File::open(&context)?),
            &RoleMap::default(),
        )?;
        let log = AccessLog::read(
            BufReader::with_capacity(1 << 20, std::fs::File::open(&audit)?),
            &mut cx,
        )?;
        let parsed = t.elapsed().as_secs_f64();
        let screening = screen(&cx, &log);
        let total = t.elapsed().as_secs_f64();
        std::hint::black_box(screening.findings.len());
        best = best.min(total);
        parse_best = parse_best.min(parsed);
    }
    println!(
        "\nImported NDJSON: {events} AuditEvents ({:.0} MB) with their context, read and screened end to end in {best:.2} s = **{:.0} events/s** (reading alone {:.0} events/s); best of 3.",
        bytes as f64 / 1e6,
        events as f64 / best,
        events as f64 / parse_best
    );
    Ok(())
}

async fn live_scale(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut p = Params::month(41);
    p.staff = 10_000;
    p.clients = 100_000;
    p.reads_per_visit = 24;
    let t = Instant::now();
    let s = Synthetic::generate(p);
    println!(
        "\nLive log at scale: generated {} accesses by 10,000 staff to 100,000 clients in {:.0} s.",
        s.events.len(),
        t.elapsed().as_secs_f64()
    );
    let review = kring_review::Review::open(&dir.join("review.db")).await?;
    let users: Vec<String> = (0..s.network.staff.len())
        .map(|i| format!("Practitioner/s{i}"))
        .collect();
    let clients: Vec<String> = (0..s.network.clients.len())
        .map(|i| format!("Patient/c{i}"))
        .collect();
    let orgs: Vec<String> = (0..s.network.orgs.len())
        .map(|i| format!("Organization/o{i}"))
        .collect();
    let all: Vec<&str> = users
        .iter()
        .chain(&clients)
        .chain(&orgs)
        .map(String::as_str)
        .collect();
    let ids = review.ref_ids(&all).await?;
    let (user_ids, rest) = ids.split_at(users.len());
    let (client_ids, org_ids) = rest.split_at(clients.len());
    let t = Instant::now();
    let batch = 100_000;
    for (b, chunk) in s.events.chunks(batch).enumerate() {
        let rows: Vec<MirrorRow> = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| MirrorRow {
                seq: (b * batch + i) as i64,
                at: e.at,
                user: user_ids[e.user as usize],
                client: client_ids[e.client as usize],
                org: org_ids[s.network.staff[e.user as usize].org],
                kind: if e.write { KIND_WRITE } else { 0 }
                    | match e.emergency {
                        kring_oversight::Emergency::No => 0,
                        kring_oversight::Emergency::WithReason => KIND_EMERGENCY | KIND_REASON,
                        kring_oversight::Emergency::WithoutReason => KIND_EMERGENCY,
                    },
            })
            .collect();
        review.mirror(&rows, ((b + 1) * batch) as u64).await?;
    }
    let events = s.events.len();
    println!(
        "Mirrored into the review store at {:.0} entries/s (a one-time cost per entry: the nightly run adds only the new day).",
        events as f64 / t.elapsed().as_secs_f64()
    );
    // The context as a file, read as `kring watch` reads it (not counted: the live run reads
    // it from the record).
    let context = dir.join("live-context.ndjson");
    s.write_context(BufWriter::new(std::fs::File::create(&context)?))?;
    let truth = s.truth();
    drop(s);
    let t = Instant::now();
    let mut cx = Context::read(
        BufReader::with_capacity(1 << 20, std::fs::File::open(&context)?),
        &RoleMap::default(),
    )?;
    println!(
        "Context: {} staff, {} clients and their circles, encounters and appointments read in {:.1} s.",
        cx.staff.len(),
        cx.patients.len(),
        t.elapsed().as_secs_f64()
    );
    // Peak memory from here on: the screening, not the generator.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let (log, _) =
        kring_review::live::accesses_from_mirror(&review, &mut cx, i64::MIN / 2, i64::MAX / 2)
            .await?;
    let read = t.elapsed().as_secs_f64();
    let screening = screen(&cx, &log);
    let total = t.elapsed().as_secs_f64();
    let q = evaluate(&screening.findings, &truth);
    println!(
        "Screened {} live entries in **{total:.1} s** (reading the mirror {read:.1} s, the engine {:.1} s); peak memory while screening **{:.0} MiB**; {:.2}% explained, {} flagged; precision {:.3}, recall {:.3}.",
        screening.stats.accesses,
        total - read,
        peak_rss_mib(),
        100.0 * screening.stats.explained_total() as f64 / screening.stats.accesses as f64,
        screening.stats.flagged,
        q.overall.precision(),
        q.overall.recall()
    );
    review.close().await;
    Ok(())
}

/// The nightly step the live figure leaves out: extending the mirror from the real access log
/// (reading and decoding each JSON entry), over `n` entries by professionals.
async fn mirror_from_log(dir: &std::path::Path, n: usize) -> anyhow::Result<()> {
    use kring_audit::AccessLog as _;
    use std::sync::Arc;
    let store: Arc<dyn kring_store::Store> = Arc::new(
        kring_store_sqlite::SqliteStore::open(&format!(
            "sqlite:{}",
            dir.join("mirror-record.db").display()
        ))
        .await?,
    );
    store.migrate().await?;
    let log = Arc::new(
        kring_audit::MerkleLog::open(kring_audit::LogConfig::at(&dir.join("mirror-log.db")))
            .await?,
    );
    let record = kring_record::Record::new(
        store,
        Arc::new(kring_access::NeedToKnow::new()?),
        log.clone(),
    );
    let t = Instant::now();
    for batch in 0..n.div_ceil(1000) {
        let entries = (0..1000)
            .map(|i| {
                let k = batch * 1000 + i;
                let caller = kring_record::Caller::new(
                    kring_access::Subject::Professional {
                        account: format!("a{}", k % 10_000),
                        practitioner: format!("s{}", k % 10_000),
                        role: format!("r{}", k % 10_000),
                        organisation: format!("o{}", k % 7),
                    },
                    "10.0.0.1",
                )
                .with_name("Bench")
                .with_system("kring-web");
                let target = kring_access::Target::new(
                    "CarePlan",
                    Some("cp"),
                    &format!("c{}", k % 100_000),
                    kring_access::Category::SupportPlan,
                );
                kring_record::logging::entry_for(&caller, "R", "read", "success", &target, &[])
            })
            .collect();
        log.record(entries).await?;
    }
    let appended = t.elapsed().as_secs_f64();
    let review = kring_review::Review::open(&dir.join("mirror-review.db")).await?;
    let t = Instant::now();
    let read = kring_review::live::extend_mirror(&review, &record).await?;
    let took = t.elapsed().as_secs_f64();
    println!(
        "Extending the mirror from the access log itself: {read} entries (appended in {appended:.0} s) read, decoded and mirrored in {took:.1} s = **{:.0} entries/s**.",
        read as f64 / took
    );
    review.close().await;
    log.shut_down().await?;
    Ok(())
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    println!("# kring bench --oversight");
    println!("\n## Quality on unseen seeds\n");
    quality("In-house generator, with a ROLES file", 11..=15, |s| {
        in_house(s, false)
    })?;
    println!();
    quality(
        "In-house generator, opaque role codes, no ROLES file (roles inferred from behaviour)",
        21..=23,
        |s| in_house(s, true),
    )?;
    println!();
    quality(
        "Rivierenland, the independent generator, with its ROLES file",
        11..=20,
        rivierenland,
    )?;
    println!("\n## Speed");
    ndjson_speed(&dir)?;
    if args.entries > 0 {
        live_scale(&dir).await?;
        mirror_from_log(&dir, 1_000_000).await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

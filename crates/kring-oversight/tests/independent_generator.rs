//! The engine on the second, independent generator ([`kring_oversight::rivierenland`]): a
//! region written from another description than the one the engine was tuned on, read through
//! the file formats only (CONTEXT and AUDIT NDJSON with a ROLES file), as another record
//! system's export would be. `docs/oversight.md` states which seeds were looked at while
//! changing the engine and which only measured.

mod common;

use std::collections::BTreeMap;

use kring_oversight::quality::{evaluate, Quality};
use kring_oversight::rivierenland::{Region, RegionParams};
use kring_oversight::{screen, AccessLog, Context, RoleMap};

fn run(seed: u64, diagnose: bool) -> (Quality, f64) {
    let r = Region::generate(RegionParams::month(seed));
    let mut context = Vec::new();
    r.write_context(&mut context).unwrap();
    let mut audit = Vec::new();
    r.write_audit(&mut audit).unwrap();
    let roles = RoleMap::from_json(&r.roles_json()).unwrap();
    let mut cx = Context::read(context.as_slice(), &roles).unwrap();
    assert_eq!(cx.stats.bad_count, 0, "{:?}", cx.stats.bad);
    let log = AccessLog::read(audit.as_slice(), &mut cx).unwrap();
    assert_eq!(log.stats.bad_count, 0, "{:?}", log.stats.bad);
    let screening = screen(&cx, &log);
    let truth = r.truth();
    let q = evaluate(&screening.findings, &truth);
    let explained = screening.stats.explained_total() as f64 / screening.stats.accesses as f64;
    eprintln!(
        "seed {seed}: accesses {} explained {:.2}% findings {} flagged {} by {:?}",
        screening.stats.accesses,
        100.0 * explained,
        screening.stats.findings,
        screening.stats.flagged,
        screening.stats.explained
    );
    common::print_quality(&q);
    if diagnose {
        let mut wrong: BTreeMap<String, u64> = BTreeMap::new();
        for f in screening.findings.iter().filter(|f| f.flagged()) {
            let i: usize = f.event[1..].parse().unwrap();
            if truth[i].is_none() {
                *wrong.entry(format!("{:?}", f.reasons)).or_default() += 1;
                if std::env::var("SHOW").is_ok() {
                    eprintln!("FP {:?} {}", f.reasons, r.describe(i));
                }
            }
        }
        eprintln!("false findings by reasons: {wrong:?}");
        let flagged: std::collections::HashSet<&str> = screening
            .findings
            .iter()
            .filter(|f| f.flagged())
            .map(|f| f.event.as_str())
            .collect();
        for (i, t) in truth.iter().enumerate() {
            if let Some(k) = t {
                if !flagged.contains(format!("e{i}").as_str()) && std::env::var("SHOW").is_ok() {
                    let f = screening
                        .findings
                        .iter()
                        .find(|f| f.event == format!("e{i}"));
                    eprintln!(
                        "MISS {k:?} {:?} {}",
                        f.map(|f| (&f.reasons, f.score)),
                        r.describe(i)
                    );
                }
            }
        }
    }
    (q, explained)
}

/// Rivierenland seed 1 was read while the engine's rules of issue 23 were designed (its false
/// findings and misses, one by one); seeds 2 and 3 were only measured. The figures of
/// BENCHMARKS.md come from seeds 11–20, run once for the report (`kring bench --oversight`).
#[test]
fn an_independent_region_keeps_precision_and_recall() {
    let mut total = Quality::empty();
    for seed in 2..=3 {
        let (q, explained) = run(seed, false);
        assert!(explained >= 0.95, "seed {seed}: {explained}");
        total.add(&q);
    }
    assert!(total.overall.precision() >= 0.9, "{:?}", total.overall);
    assert!(total.overall.recall() >= 0.95, "{:?}", total.overall);
    for k in total.per_kind.iter().filter(|k| k.planted > 0) {
        // Every kind of violation is caught four times in five or more (issue 23), also
        // snooping on a stranger of one's own organisation, which the weekly sample and
        // recurring care trade against unregistered work (docs/oversight.md).
        assert!(k.recall() >= 0.8, "{:?}", k);
    }
}

#[test]
#[ignore = "by hand: SEEDS=2-6 prints the figures of those seeds together"]
fn seeds() {
    let range = std::env::var("SEEDS").unwrap_or_else(|_| "2-6".into());
    let (a, b) = range.split_once('-').unwrap();
    let mut total = Quality::empty();
    for seed in a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap() {
        total.add(&run(seed, std::env::var("SHOW").is_ok()).0);
    }
    eprintln!("all seeds together:");
    common::print_quality(&total);
}

#[test]
#[ignore = "a diagnostic: every access of one pair, PAIR=mw-1,clt-129"]
fn print_pair() {
    let pair = std::env::var("PAIR").unwrap_or_default();
    let (w, c) = pair.split_once(',').unwrap_or(("", ""));
    let r = Region::generate(RegionParams::month(1));
    let mut audit = Vec::new();
    r.write_audit(&mut audit).unwrap();
    for line in String::from_utf8(audit).unwrap().lines() {
        if line.contains(&format!("-{}\"", &w[3..])) && line.contains(&format!("/{c}\"")) {
            eprintln!("{line}");
        }
    }
}

#[test]
#[ignore = "a diagnostic: every access of one worker on one day, WHO=mw-188 DAY=2026-11-23"]
fn print_day() {
    let who = std::env::var("WHO").unwrap_or_default();
    let day = std::env::var("DAY").unwrap_or_default();
    let r = Region::generate(RegionParams::month(1));
    let mut audit = Vec::new();
    r.write_audit(&mut audit).unwrap();
    for line in String::from_utf8(audit).unwrap().lines() {
        if line.contains(&format!("-{}\"", &who[3..]))
            && line.contains(&format!("\"recorded\":\"{day}"))
        {
            eprintln!("{line}");
        }
    }
}

//! The calibration of the scores: fitted on the in-house generator's tuning months (seeds
//! 1–6, with a ROLES file), measured on months it was not fitted on — the in-house seeds of
//! the report and the independent region (`kring bench --oversight` prints the full tables).

mod common;

use kring_oversight::calibration::{error_of, Calibration};
use kring_oversight::quality::{known, Known};
use kring_oversight::screen;

/// The tuning months the built-in table is fitted on.
const TUNING: std::ops::RangeInclusive<u64> = 1..=6;

/// Every finding of an in-house month, with its truth.
fn in_house(seed: u64) -> Vec<Known> {
    let (cx, log, truth) = common::in_house_month(seed);
    known(&screen(&cx, &log).findings, &truth)
}

/// Every finding of a month of the independent region, read through its files.
fn region(seed: u64) -> Vec<Known> {
    let (cx, log, truth) = common::region_month(seed);
    known(&screen(&cx, &log).findings, &truth)
}

fn fitted() -> Calibration {
    Calibration::fit(
        TUNING
            .flat_map(in_house)
            .map(|k| (k.risk, k.violation))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn the_built_in_table_is_the_fit_of_the_tuning_months() {
    let fit = fitted();
    let built_in = Calibration::default();
    assert_eq!(fit.points().len(), built_in.points().len(), "{fit:?}");
    for (a, b) in fit.points().iter().zip(built_in.points()) {
        assert!(
            (a.0 - b.0).abs() < 1e-3 && (a.1 - b.1).abs() < 1e-3,
            "the engine changed since the table was fitted: refit it ({fit:?})"
        );
    }
}

#[test]
fn a_score_is_a_chance_on_months_and_a_region_it_was_not_fitted_on() {
    for (what, found) in [
        ("in-house seed 7", in_house(7)),
        ("region seed 2", region(2)),
    ] {
        let risk: Vec<(f64, bool)> = found.iter().map(|k| (k.risk, k.violation)).collect();
        let chance: Vec<(f64, bool)> = found.iter().map(|k| (k.chance, k.violation)).collect();
        let (before, after) = (error_of(&risk), error_of(&chance));
        eprintln!("{what}: calibration error {before:.3} as a risk, {after:.3} as a chance");
        assert!(after < 0.1, "{what}: {after}");
        assert!(after < before / 2.0, "{what}: {before} → {after}");
    }
}

#[test]
#[ignore = "by hand, when the engine's rules change: prints the table for src/calibration.rs"]
fn print_the_fit_of_the_tuning_months() {
    let fit = fitted();
    println!("const IN_HOUSE: &[(f64, f64)] = &[");
    for (r, c) in fit.points() {
        println!("    ({r:.4}, {c:.4}),");
    }
    println!("];");
}

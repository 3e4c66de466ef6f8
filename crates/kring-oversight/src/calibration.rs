//! What a finding's score means: the chance that the access was a violation.
//!
//! The engine first combines its reasons into a *risk* ([`crate::finding::score`]): a ranking,
//! not a probability — on both generators findings with a risk of 0.5–0.7 turned out to be
//! violations more than nine times in ten. A [`Calibration`] maps that risk onto the share of
//! violations seen at that risk, fitted by isotonic regression (pool adjacent violators, so a
//! higher risk never means a lower chance) on the in-house generator's tuning months, and
//! reported on months and a generator it was not fitted on (`kring bench --oversight`,
//! `docs/oversight.md`). A finding's score is that chance; whether it is flagged still follows
//! its risk, and the fit keeps the two in step: a flagged finding has a chance of at least one
//! half, a finding that is not flagged less.

use crate::finding::FLAG_SCORE;

/// The in-house generator's tuning months (seeds 1–6, with a ROLES file) as fitted by
/// [`Calibration::fit`]: (risk, chance of a violation). Refit with
/// `cargo test -p kring-oversight --test calibration -- --ignored --nocapture` whenever the
/// engine's rules change; the test `the_built_in_table_is_the_fit_of_the_tuning_months` fails
/// until then.
const IN_HOUSE: &[(f64, f64)] = &[
    (0.2000, 0.0001),
    (0.3500, 0.0675),
    (0.5000, 0.9897),
    (0.6000, 0.9897),
    (0.6500, 0.9897),
    (0.6750, 0.9897),
    (0.7000, 0.9897),
    (0.7400, 0.9897),
    (0.7500, 0.9982),
    (0.8000, 0.9982),
    (0.8400, 0.9982),
    (0.8500, 0.9982),
    (0.8600, 0.9982),
    (0.8800, 0.9995),
    (0.9000, 0.9995),
    (0.9125, 0.9995),
    (0.9200, 0.9995),
    (0.9250, 0.9995),
    (0.9400, 0.9995),
    (0.9500, 0.9995),
    (0.9625, 0.9995),
    (0.9700, 0.9995),
    (0.9760, 0.9995),
    (0.9800, 0.9996),
    (0.9850, 0.9996),
    (0.9920, 0.9996),
];

/// A monotone map from a finding's risk to the chance that it was a violation.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// (risk, chance), risk ascending, chance never falling.
    points: Vec<(f64, f64)>,
}

impl Default for Calibration {
    /// The table fitted on the in-house generator.
    fn default() -> Calibration {
        Calibration {
            points: IN_HOUSE.to_vec(),
        }
    }
}

impl Calibration {
    /// Fits the chance of a violation per risk from findings whose truth is known: `(risk,
    /// was a violation)`. Each distinct risk starts as its share of violations, with the risk
    /// itself counted as one observation more (so a risk seen twice does not become 0 or 1);
    /// neighbours that fall are pooled until the chances never fall; then the line is cut at
    /// the flag: below it a chance under one half, from it on at least one half.
    pub fn fit(samples: impl IntoIterator<Item = (f64, bool)>) -> Calibration {
        // (risk, observations, violations) per distinct risk, in order.
        let mut seen: Vec<(f64, f64, f64)> = Vec::new();
        let mut all: Vec<(f64, bool)> = samples.into_iter().collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (risk, violation) in all {
            match seen.last_mut() {
                Some(last) if (last.0 - risk).abs() < 1e-9 => {
                    last.1 += 1.0;
                    last.2 += f64::from(u8::from(violation));
                }
                _ => seen.push((risk, 1.0, f64::from(u8::from(violation)))),
            }
        }
        // Pool adjacent violators: blocks of (weight, mean, how many risks).
        let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
        for &(risk, n, v) in &seen {
            blocks.push((n + 1.0, (v + risk) / (n + 1.0), 1));
            while blocks.len() > 1 {
                let (w2, m2, k2) = blocks[blocks.len() - 1];
                let (w1, m1, k1) = blocks[blocks.len() - 2];
                if m1 <= m2 {
                    break;
                }
                blocks.pop();
                let last = blocks.last_mut().expect("two blocks");
                *last = (w1 + w2, (w1 * m1 + w2 * m2) / (w1 + w2), k1 + k2);
            }
        }
        let mut points = Vec::with_capacity(seen.len());
        let mut risks = seen.iter().map(|s| s.0);
        for (_, mean, k) in blocks {
            for risk in risks.by_ref().take(k) {
                points.push((risk, in_step(risk, mean)));
            }
        }
        Calibration { points }
    }

    /// The chance that a finding of this risk was a violation: the fitted points on the
    /// finding's side of the flag joined by straight lines, the ends held flat (a risk under
    /// the flag is never read from the flagged findings, nor the other way round).
    pub fn chance(&self, risk: f64) -> f64 {
        let flagged = risk >= FLAG_SCORE;
        let side: Vec<(f64, f64)> = self
            .points
            .iter()
            .copied()
            .filter(|&(r, _)| (r >= FLAG_SCORE) == flagged)
            .collect();
        let p = &side;
        let raw = match p.iter().position(|&(r, _)| r >= risk) {
            None if p.is_empty() => risk,
            None => p[p.len() - 1].1,
            Some(0) => p[0].1,
            Some(i) => {
                let ((r0, c0), (r1, c1)) = (p[i - 1], p[i]);
                if r1 - r0 < 1e-12 {
                    c1
                } else {
                    c0 + (c1 - c0) * (risk - r0) / (r1 - r0)
                }
            }
        };
        in_step(risk, raw)
    }

    /// The fitted points: (risk, chance).
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }
}

/// A chance on the same side of one half as the risk is of the flag.
fn in_step(risk: f64, chance: f64) -> f64 {
    if risk >= FLAG_SCORE {
        chance.max(0.5)
    } else {
        chance.min(0.499)
    }
}

/// The expected calibration error of findings with known truth, by the bins of
/// [`crate::quality::SCORE_EDGES`] over `score` (a risk or a chance).
pub fn error_of(samples: &[(f64, bool)]) -> f64 {
    let mut bins = crate::quality::score_bins();
    for &(score, violation) in samples {
        let b = &mut bins[crate::quality::bin_of(score)];
        b.findings += 1;
        b.score_sum += score;
        b.violations += u64::from(violation);
    }
    crate::quality::calibration_error(&bins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_risk_never_means_a_lower_chance() {
        // At 0.6 mostly violations, at 0.7 fewer: the two are pooled.
        let mut samples = vec![];
        samples.extend(std::iter::repeat_n((0.3, false), 90));
        samples.extend(std::iter::repeat_n((0.3, true), 10));
        samples.extend(std::iter::repeat_n((0.6, true), 95));
        samples.extend(std::iter::repeat_n((0.6, false), 5));
        samples.extend(std::iter::repeat_n((0.7, true), 85));
        samples.extend(std::iter::repeat_n((0.7, false), 15));
        let c = Calibration::fit(samples);
        let p = c.points();
        assert_eq!(p.len(), 3);
        assert!((p[0].1 - (10.0 + 0.3) / 101.0).abs() < 1e-9, "{p:?}");
        assert!((p[1].1 - p[2].1).abs() < 1e-9, "pooled: {p:?}");
        assert!((p[1].1 - (95.0 + 0.6 + 85.0 + 0.7) / 202.0).abs() < 1e-9);
        // Between and beyond the points, each side of the flag on its own: a risk under the
        // flag with no fitted point above it keeps the last chance under the flag.
        assert_eq!(c.chance(0.45), p[0].1);
        assert!((c.chance(0.65) - p[1].1).abs() < 1e-9);
        assert_eq!(c.chance(0.95), p[2].1);
        assert_eq!(c.chance(0.1), p[0].1);
    }

    #[test]
    fn the_chance_stays_on_the_findings_side_of_the_flag() {
        // Risks under the flag that were mostly violations, and a flagged risk that rarely was.
        let mut samples = vec![];
        samples.extend(std::iter::repeat_n((0.45, true), 50));
        samples.extend(std::iter::repeat_n((0.9, false), 50));
        let c = Calibration::fit(samples);
        assert!(c.chance(0.45) < 0.5);
        assert!(c.chance(0.9) >= 0.5);
        assert!(c.chance(0.5) >= 0.5);
    }

    #[test]
    fn an_empty_fit_leaves_the_risk_as_it_is() {
        let c = Calibration::fit(vec![]);
        assert_eq!(c.chance(0.3), 0.3);
        assert_eq!(c.chance(0.7), 0.7);
    }

    #[test]
    fn the_error_of_a_calibrated_score_is_small() {
        let samples: Vec<(f64, bool)> = (0..100).map(|i| (0.8, i < 80)).collect();
        assert!(error_of(&samples) < 1e-9);
        let off: Vec<(f64, bool)> = (0..100).map(|i| (0.8, i < 40)).collect();
        assert!((error_of(&off) - 0.4).abs() < 1e-9);
    }
}

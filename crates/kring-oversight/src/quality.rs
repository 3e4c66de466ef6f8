//! Honest quality figures: the engine's findings against the truth of a synthetic log.
//! Per kind of violation: *recall* — of the accesses planted as that kind, the share the
//! engine flagged (score ≥ the flag score), and the share it flagged *naming* that kind;
//! *precision* — of the flagged findings that give that reason, the share that were planted
//! violations (of any kind: a family snoop at night rightly carries "off-hours" too).

use crate::finding::{Finding, Reason};

/// Figures for one kind.
#[derive(Debug, Clone, Default)]
pub struct KindQuality {
    pub kind: Option<Reason>,
    pub planted: u64,
    /// Planted accesses of this kind that were flagged.
    pub caught: u64,
    /// … flagged with this kind among the reasons.
    pub named: u64,
    /// Flagged findings giving this reason.
    pub flagged: u64,
    /// … of which the access was a planted violation.
    pub right: u64,
}

impl KindQuality {
    pub fn recall(&self) -> f64 {
        ratio(self.caught, self.planted)
    }
    pub fn named_recall(&self) -> f64 {
        ratio(self.named, self.planted)
    }
    pub fn precision(&self) -> f64 {
        ratio(self.right, self.flagged)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Figures for a run.
#[derive(Debug, Clone, Default)]
pub struct Quality {
    pub per_kind: Vec<KindQuality>,
    /// All kinds together (`kind: None`).
    pub overall: KindQuality,
    pub accesses: u64,
    /// Every finding (flagged or not) by score: what a score turned out to mean.
    pub calibration: Vec<ScoreBin>,
}

/// The upper edges of the score bins of the calibration table (the last holds 1.0).
pub const SCORE_EDGES: [f64; 6] = [0.25, 0.4, 0.5, 0.7, 0.9, 1.0];

/// Findings whose score fell in `[low, high)`: how many, the sum of their scores, and how many
/// were violations. A calibrated score is one whose bin's share of violations is close to its
/// mean score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreBin {
    pub low: f64,
    pub high: f64,
    pub findings: u64,
    pub score_sum: f64,
    pub violations: u64,
}

impl ScoreBin {
    pub fn mean_score(&self) -> f64 {
        self.score_sum / self.findings.max(1) as f64
    }
    pub fn violation_share(&self) -> f64 {
        self.violations as f64 / self.findings.max(1) as f64
    }
}

/// The expected calibration error: the findings-weighted mean gap between a bin's mean score
/// and its share of violations (0 is perfectly calibrated).
pub fn calibration_error(bins: &[ScoreBin]) -> f64 {
    let n: u64 = bins.iter().map(|b| b.findings).sum();
    bins.iter()
        .map(|b| b.findings as f64 * (b.mean_score() - b.violation_share()).abs())
        .sum::<f64>()
        / n.max(1) as f64
}

/// The calibration table's bins, empty (also used for the officer's own decisions).
pub fn score_bins() -> Vec<ScoreBin> {
    let mut low = 0.0;
    SCORE_EDGES
        .iter()
        .map(|&high| {
            let b = ScoreBin {
                low,
                high,
                ..ScoreBin::default()
            };
            low = high;
            b
        })
        .collect()
}

impl KindQuality {
    /// Adds another run's counts to these.
    pub fn add(&mut self, o: &KindQuality) {
        self.planted += o.planted;
        self.caught += o.caught;
        self.named += o.named;
        self.flagged += o.flagged;
        self.right += o.right;
    }
}

impl Quality {
    /// No counts yet, one row per kind.
    pub fn empty() -> Quality {
        Quality {
            per_kind: Reason::ALL
                .iter()
                .map(|&k| KindQuality {
                    kind: Some(k),
                    ..KindQuality::default()
                })
                .collect(),
            overall: KindQuality::default(),
            accesses: 0,
            calibration: score_bins(),
        }
    }

    /// Adds another run's figures to these (for several seeds together).
    pub fn add(&mut self, o: &Quality) {
        for (k, other) in self.per_kind.iter_mut().zip(&o.per_kind) {
            k.add(other);
        }
        self.overall.add(&o.overall);
        self.accesses += o.accesses;
        for (b, other) in self.calibration.iter_mut().zip(&o.calibration) {
            b.findings += other.findings;
            b.score_sum += other.score_sum;
            b.violations += other.violations;
        }
    }
}

/// The bin of [`score_bins`] a score falls in (1.0 in the last).
pub fn bin_of(score: f64) -> usize {
    SCORE_EDGES
        .iter()
        .position(|&high| score < high)
        .unwrap_or(SCORE_EDGES.len() - 1)
}

/// The position in the log of an event id: `e{n}`, or `{n}` as a live log numbers them.
fn position(event: &str) -> Option<usize> {
    event
        .strip_prefix('e')
        .unwrap_or(event)
        .parse::<usize>()
        .ok()
}

/// A finding whose truth is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Known {
    pub risk: f64,
    /// The calibrated chance ([`Finding::score`]).
    pub chance: f64,
    pub violation: bool,
}

/// Every finding with its truth: what a calibration is fitted on and measured by.
pub fn known(findings: &[Finding], truth: &[Option<Reason>]) -> Vec<Known> {
    findings
        .iter()
        .filter_map(|f| {
            let i = position(&f.event).filter(|&i| i < truth.len())?;
            Some(Known {
                risk: f.risk,
                chance: f.score,
                violation: truth[i].is_some(),
            })
        })
        .collect()
}

/// Compares findings with the truth (planted kind per event position).
pub fn evaluate(findings: &[Finding], truth: &[Option<Reason>]) -> Quality {
    let mut flagged_events = vec![None::<&Finding>; truth.len()];
    let Quality {
        mut per_kind,
        mut overall,
        mut calibration,
        ..
    } = Quality::empty();
    for f in findings {
        let Some(i) = position(&f.event).filter(|&i| i < truth.len()) else {
            continue;
        };
        let bin = bin_of(f.score);
        let right = truth[i].is_some();
        let b = &mut calibration[bin];
        b.findings += 1;
        b.score_sum += f.score;
        b.violations += u64::from(right);
        if !f.flagged() {
            continue;
        }
        flagged_events[i] = Some(f);
        overall.flagged += 1;
        overall.right += u64::from(right);
        for r in &f.reasons {
            let k = &mut per_kind[Reason::ALL.iter().position(|x| x == r).unwrap_or(0)];
            k.flagged += 1;
            k.right += u64::from(right);
        }
    }
    for (i, t) in truth.iter().enumerate() {
        let Some(kind) = t else { continue };
        let k = &mut per_kind[Reason::ALL.iter().position(|x| x == kind).unwrap_or(0)];
        k.planted += 1;
        overall.planted += 1;
        if let Some(f) = flagged_events[i] {
            k.caught += 1;
            overall.caught += 1;
            if f.reasons.contains(kind) {
                k.named += 1;
                overall.named += 1;
            }
        }
    }
    Quality {
        per_kind,
        overall,
        accesses: truth.len() as u64,
        calibration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, Emergency};
    use crate::finding::Evidence;

    fn finding(event: &str, reasons: Vec<Reason>) -> Finding {
        Finding {
            event: event.into(),
            score: crate::finding::score(&reasons),
            risk: crate::finding::score(&reasons),
            reasons,
            explanation: String::new(),
            evidence: Evidence {
                user: String::new(),
                client: String::new(),
                at: 0,
                action: Action::Read,
                emergency: Emergency::No,
                tried: vec![],
                grounds: None,
            },
        }
    }

    #[test]
    fn runs_add_up_per_kind_and_overall() {
        // e0 planted family and flagged as such; e1 legitimate but flagged; e2 planted, missed.
        let truth = vec![Some(Reason::Family), None, Some(Reason::Vip)];
        let findings = vec![
            finding("e0", vec![Reason::Family]),
            finding("1", vec![Reason::NoExplanation]),
        ];
        let q = evaluate(&findings, &truth);
        let family = &q.per_kind[1];
        assert_eq!((family.planted, family.caught, family.named), (1, 1, 1));
        assert_eq!(q.per_kind[4].recall(), 0.0, "the VIP access was missed");
        assert_eq!(
            q.per_kind[7].precision(),
            0.0,
            "no-explanation flagged a legitimate access"
        );
        assert_eq!((q.overall.flagged, q.overall.right), (2, 1));
        let mut total = Quality::empty();
        total.add(&q);
        total.add(&q);
        assert_eq!(total.overall.planted, 4);
        assert_eq!(total.per_kind[1].named, 2);
        assert_eq!(total.accesses, 6);
        // Scored 0.5 (legitimate) and 0.85 (a violation), twice over.
        let bins: Vec<_> = total
            .calibration
            .iter()
            .filter(|b| b.findings > 0)
            .collect();
        assert_eq!(bins.len(), 2, "{bins:?}");
        assert_eq!(bins[0].violations, 0);
        assert_eq!(bins[1].violations, 2);
        assert!(calibration_error(&total.calibration) > 0.0);
    }
}

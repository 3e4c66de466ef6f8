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
        }
    }

    /// Adds another run's figures to these (for several seeds together).
    pub fn add(&mut self, o: &Quality) {
        for (k, other) in self.per_kind.iter_mut().zip(&o.per_kind) {
            k.add(other);
        }
        self.overall.add(&o.overall);
        self.accesses += o.accesses;
    }
}

/// Compares findings with the truth (planted kind per event position; event ids `e{n}`, or
/// `{n}` as a live log numbers them).
pub fn evaluate(findings: &[Finding], truth: &[Option<Reason>]) -> Quality {
    let position = |event: &str| {
        event
            .strip_prefix('e')
            .unwrap_or(event)
            .parse::<usize>()
            .ok()
    };
    let mut flagged_events = vec![None::<&Finding>; truth.len()];
    let Quality {
        mut per_kind,
        mut overall,
        ..
    } = Quality::empty();
    for f in findings.iter().filter(|f| f.flagged()) {
        let Some(i) = position(&f.event).filter(|&i| i < truth.len()) else {
            continue;
        };
        flagged_events[i] = Some(f);
        let right = truth[i].is_some();
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
            reasons,
            explanation: String::new(),
            evidence: Evidence {
                user: String::new(),
                client: String::new(),
                at: 0,
                action: Action::Read,
                emergency: Emergency::No,
                tried: vec![],
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
    }
}

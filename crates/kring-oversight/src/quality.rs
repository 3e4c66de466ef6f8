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
    let mut per_kind: Vec<KindQuality> = Reason::ALL
        .iter()
        .map(|&k| KindQuality {
            kind: Some(k),
            ..KindQuality::default()
        })
        .collect();
    let mut overall = KindQuality::default();
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

//! Cases for the privacy officer: findings grouped by user × client × episode (accesses with
//! no gap of more than two weeks), highest risk first. The officer decides per case.

use std::collections::BTreeMap;

use crate::finding::{Finding, Reason};
use crate::time::DAY_MS;

/// A gap longer than this starts a new episode.
pub const EPISODE_GAP_DAYS: i64 = 14;

/// One case: a user's unexplained accesses to one client in one episode.
#[derive(Debug, Clone)]
pub struct Case {
    /// Stable key: `user|client|start-ms`.
    pub key: String,
    pub user: String,
    pub client: String,
    pub start: i64,
    pub end: i64,
    /// The highest score of its findings.
    pub score: f64,
    pub reasons: Vec<Reason>,
    /// Positions in the findings slice, in time order.
    pub findings: Vec<usize>,
}

/// Groups findings into cases, highest score first (then earliest).
pub fn group_cases(findings: &[Finding]) -> Vec<Case> {
    let mut by_pair: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        by_pair
            .entry((&f.evidence.user, &f.evidence.client))
            .or_default()
            .push(i);
    }
    let mut cases = Vec::new();
    for ((user, client), mut list) in by_pair {
        list.sort_by_key(|&i| findings[i].evidence.at);
        let mut current: Vec<usize> = Vec::new();
        let flush = |current: &mut Vec<usize>, cases: &mut Vec<Case>| {
            if current.is_empty() {
                return;
            }
            let start = findings[current[0]].evidence.at;
            let end = findings[*current.last().unwrap_or(&current[0])].evidence.at;
            let mut reasons: Vec<Reason> = current
                .iter()
                .flat_map(|&i| findings[i].reasons.iter().copied())
                .collect();
            reasons.sort_unstable();
            reasons.dedup();
            if reasons.len() > 1 {
                reasons.retain(|r| *r != Reason::NoExplanation);
            }
            cases.push(Case {
                key: format!("{user}|{client}|{start}"),
                user: user.to_string(),
                client: client.to_string(),
                start,
                end,
                score: current
                    .iter()
                    .map(|&i| findings[i].score)
                    .fold(0.0, f64::max),
                reasons,
                findings: std::mem::take(current),
            });
        };
        for i in list {
            if let Some(&last) = current.last() {
                if findings[i].evidence.at - findings[last].evidence.at > EPISODE_GAP_DAYS * DAY_MS
                {
                    flush(&mut current, &mut cases);
                }
            }
            current.push(i);
        }
        flush(&mut current, &mut cases);
    }
    cases.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.start.cmp(&b.start)));
    cases
}

//! The engine on synthetic months: through the file formats (CONTEXT, ROLES, AUDIT NDJSON),
//! with the truth beside it. Seeds 1 and 2 are the ones the engine was tuned on; the figures
//! in BENCHMARKS.md come from other seeds (`kring bench --oversight`).

mod common;

use kring_oversight::quality::evaluate;
use kring_oversight::synthetic::{Params, Synthetic};
use kring_oversight::{screen, AccessLog, Context, RoleMap};

fn run(params: Params, with_roles: bool) -> kring_oversight::quality::Quality {
    let s = Synthetic::generate(params);
    let mut context = Vec::new();
    s.write_context(&mut context).unwrap();
    let mut audit = Vec::new();
    s.write_audit(&mut audit).unwrap();
    let roles = if with_roles {
        RoleMap::from_json(&s.roles_json()).unwrap()
    } else {
        RoleMap::default()
    };
    let mut cx = Context::read(context.as_slice(), &roles).unwrap();
    assert_eq!(cx.stats.bad_count, 0, "{:?}", cx.stats.bad);
    let log = AccessLog::read(audit.as_slice(), &mut cx).unwrap();
    assert_eq!(log.stats.bad_count, 0, "{:?}", log.stats.bad);
    let screening = screen(&cx, &log);
    let q = evaluate(&screening.findings, &s.truth());
    eprintln!(
        "accesses {} explained {} unexplained {} findings {} flagged {} by {:?}",
        screening.stats.accesses,
        screening.stats.explained_total(),
        screening.stats.unexplained,
        screening.stats.findings,
        screening.stats.flagged,
        screening.stats.explained
    );
    common::print_quality(&q);
    q
}

#[test]
fn the_tuning_month_meets_the_targets_with_a_roles_file() {
    let q = run(Params::month(1), true);
    for k in &q.per_kind {
        assert!(k.recall() >= 0.95, "{:?}", k);
        // Per kind the precision rests on a handful of findings (see BENCHMARKS.md); this
        // guards against a collapse, the overall figure against a drift.
        assert!(k.precision() >= 0.75, "{:?}", k);
    }
    assert!(q.overall.precision() >= 0.95, "{:?}", q.overall);
}

#[test]
fn opaque_role_codes_without_a_roles_file_are_inferred_from_behaviour() {
    let mut p = Params::month(2);
    p.opaque_roles = true;
    let q = run(p, false);
    assert!(q.overall.recall() >= 0.95, "{:?}", q.overall);
    // The crisis service is recognised by doing almost nothing but breaking the glass with a
    // reason, so every kind keeps its precision without a ROLES file.
    for k in &q.per_kind {
        assert!(k.recall() >= 0.95, "{:?}", k);
        assert!(k.precision() >= 0.75, "{:?}", k);
    }
}

#[test]
#[ignore = "the unseen seeds: run by hand, figures in BENCHMARKS.md come from `kring bench --oversight`"]
fn unseen_seeds() {
    for seed in 3..=8 {
        eprintln!("seed {seed}");
        run(Params::month(seed), true);
    }
}

#[test]
#[ignore = "a diagnostic: prints the false positives of seed 1"]
fn print_false_positives() {
    let s = Synthetic::generate(Params::month(
        std::env::var("SEED").map_or(1, |s| s.parse().unwrap()),
    ));
    let mut context = Vec::new();
    s.write_context(&mut context).unwrap();
    let roles = RoleMap::from_json(&s.roles_json()).unwrap();
    let mut cx = Context::read(context.as_slice(), &roles).unwrap();
    let log = s.access_log(&mut cx);
    let screening = screen(&cx, &log);
    let truth = s.truth();
    for f in screening.findings.iter().filter(|f| f.flagged()) {
        let i: usize = f.event[1..].parse().unwrap();
        if truth[i].is_some() {
            continue;
        }
        let e = &s.events[i];
        let st = &s.network.staff[e.user as usize];
        let rels: Vec<_> = s
            .network
            .relations
            .iter()
            .filter(|r| r.client == e.client as usize && r.staff == e.user as usize)
            .map(|r| (r.registered, r.documents, r.start_day, r.end_day))
            .collect();
        eprintln!(
            "{:?} kind {:?} write {} em {:?} rels {:?} staff-loc {} client-loc {} client-org {} staff-org {}",
            f.reasons,
            st.kind,
            e.write,
            e.emergency,
            rels,
            st.location,
            s.network.clients[e.client as usize].location,
            s.network.clients[e.client as usize].org,
            st.org
        );
    }
    for (i, t) in truth.iter().enumerate() {
        if let Some(k) = t {
            if !screening
                .findings
                .iter()
                .any(|f| f.event == format!("e{i}"))
            {
                let e = &s.events[i];
                let st = &s.network.staff[e.user as usize];
                eprintln!(
                    "MISSED {k:?} kind {:?} staff-loc {} client-loc {} client-org {} staff-org {}",
                    st.kind,
                    st.location,
                    s.network.clients[e.client as usize].location,
                    s.network.clients[e.client as usize].org,
                    st.org
                );
            }
        }
    }
}

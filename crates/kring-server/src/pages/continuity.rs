//! The administrators' evidence of continuity (`/beheer/continuiteit`): the backups kept, with
//! when, how much and how fast; the restore drills, with what each checked, how long the
//! restore took (RTO) and how old its data was (RPO); and, first, what needs acting on — a
//! failed drill, a backup or drill overdue, drills that cannot run. Read from `backup_dir`
//! (no client data: counts, sizes and times only); each look is in the access log.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kring_access::Subject;
use kring_continuity::evidence::Alarm;

use super::error::PageError;
use super::i18n::Texts;
use super::{dates, render, Frame, Person};
use crate::AppState;

pub struct BackupRow {
    pub when: String,
    pub resources: String,
    pub size: String,
    pub took: String,
    pub speed: String,
}

pub struct DrillRow {
    pub when: String,
    pub ok: bool,
    pub backup: String,
    pub restore: String,
    pub rto: String,
    pub rpo: String,
    pub checks: Vec<(bool, String)>,
}

/// One bar of the chart of restore times.
pub struct Bar {
    pub x: usize,
    pub height: usize,
    pub ok: bool,
    pub label: String,
}

#[derive(Template)]
#[template(path = "continuity.html")]
struct ContinuityPage {
    f: Frame,
    configured: bool,
    alarms: Vec<String>,
    backup_schedule: String,
    drill_schedule: String,
    backups: Vec<BackupRow>,
    drills: Vec<DrillRow>,
    bars: Vec<Bar>,
    chart_top: String,
}

/// What needs an administrator's attention now, in sentences (also on `/beheer`).
pub fn alarms(state: &AppState, t: &Texts) -> Vec<String> {
    let Some(view) = &state.continuity else {
        return vec![t.get("continuity-not-configured")];
    };
    let now = crate::auth::now_ms();
    let mut out: Vec<String> = kring_continuity::evidence::alarms(
        &view.dir,
        now,
        view.backup.period_ms(),
        view.drills_possible
            .then(|| view.drill.period_ms())
            .flatten(),
    )
    .into_iter()
    .map(|a| match a {
        Alarm::DrillFailed { at_ms, .. } => t.with(
            "continuity-drill-failed",
            &[("when", &dates::moment(at_ms, t.lang))],
        ),
        Alarm::BackupOverdue { last_ms: Some(at) } => t.with(
            "continuity-backup-overdue",
            &[("when", &dates::moment(at, t.lang))],
        ),
        Alarm::BackupOverdue { last_ms: None } => t.get("continuity-no-backup"),
        Alarm::DrillOverdue { last_ms: Some(at) } => t.with(
            "continuity-drill-overdue",
            &[("when", &dates::moment(at, t.lang))],
        ),
        Alarm::DrillOverdue { last_ms: None } => t.get("continuity-no-drill"),
    })
    .collect();
    if !view.drills_possible {
        out.push(t.get("continuity-no-identity"));
    }
    out
}

fn check_key(kind: &kring_continuity::drill::CheckKind) -> &'static str {
    use kring_continuity::drill::CheckKind;
    match kind {
        CheckKind::Restore => "restore",
        CheckKind::Counts => "counts",
        CheckKind::AccessLog => "access-log",
        CheckKind::Starts => "starts",
        CheckKind::Reads => "reads",
        CheckKind::Search => "search",
    }
}

/// A schedule in the person's words.
fn schedule_words(s: kring_continuity::schedule::Schedule, t: &Texts) -> String {
    use kring_continuity::schedule::Schedule;
    match s {
        Schedule::Off => t.get("schedule-off"),
        Schedule::Every { minutes } if minutes % 60 == 0 => t.count(
            "schedule-every-hours",
            "count",
            i64::from(minutes / 60),
            &[],
        ),
        Schedule::Every { minutes } => {
            t.count("schedule-every-minutes", "count", i64::from(minutes), &[])
        }
        Schedule::Daily { hour, minute } => t.with(
            "schedule-daily",
            &[("time", &format!("{hour:02}:{minute:02}"))],
        ),
        Schedule::Weekly { day, hour, minute } => t.with(
            "schedule-weekly",
            &[
                (
                    "day",
                    &t.get(&format!("weekday-{}", day.num_days_from_monday())),
                ),
                ("time", &format!("{hour:02}:{minute:02}")),
            ],
        ),
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn age(ms: i64, t: &Texts) -> String {
    let minutes = ms / 60_000;
    if minutes < 120 {
        t.count("continuity-minutes", "count", minutes, &[])
    } else {
        t.count("continuity-hours", "count", minutes / 60, &[])
    }
}

/// `GET /beheer/continuiteit`.
pub async fn page(State(state): State<AppState>, person: Person) -> Result<Response, PageError> {
    if !matches!(person.caller.subject, Subject::Administrator { .. }) {
        return Err(person.not_for_you());
    }
    let entry = kring_continuity::view_entry(&person.caller);
    state
        .record
        .log_event(entry)
        .await
        .map_err(|e| person.failed(e))?;
    let t = person.texts();
    let lang = person.lang;
    let alarms = alarms(&state, &t);
    let (backups, drills, backup_schedule, drill_schedule) = match &state.continuity {
        Some(v) => (
            kring_continuity::evidence::backups(&v.dir),
            kring_continuity::evidence::drills(&v.dir),
            schedule_words(v.backup, &t),
            schedule_words(v.drill, &t),
        ),
        None => (Vec::new(), Vec::new(), String::new(), String::new()),
    };
    let backup_rows = backups
        .iter()
        .map(|m| BackupRow {
            when: dates::moment(m.finished_ms, lang),
            resources: m.counts.total().to_string(),
            size: mb(m.bytes()),
            took: seconds(m.took_ms),
            speed: format!(
                "{:.0} MB/s",
                m.plain_bytes() as f64 / 1e6 / (m.took_ms.max(1) as f64 / 1000.0)
            ),
        })
        .collect();
    let drill_rows = drills
        .iter()
        .map(|d| DrillRow {
            when: dates::moment(d.started_ms, lang),
            ok: d.ok,
            backup: backups
                .iter()
                .find(|m| Some(&m.id) == d.backup.as_ref())
                .map(|m| dates::moment(m.finished_ms, lang))
                .or_else(|| d.backup.clone())
                .unwrap_or_else(|| t.get("continuity-none")),
            restore: seconds(d.restore_ms),
            rto: seconds(d.rto_ms),
            rpo: age(d.rpo_ms, &t),
            // Each check in the reader's words; for a failed one, the cause as the drill
            // found it (the technical detail an administrator passes on).
            checks: d
                .checks
                .iter()
                .map(|c| {
                    let what = t.get(&format!("drill-check-{}", check_key(&c.kind)));
                    if c.ok {
                        (true, what)
                    } else {
                        (false, format!("{what}: {}", c.detail))
                    }
                })
                .collect(),
        })
        .collect();
    // The restore times of the last drills, oldest left.
    let last: Vec<_> = drills.iter().take(12).rev().collect();
    let top = last.iter().map(|d| d.rto_ms).max().unwrap_or(0).max(1000);
    let bars = last
        .iter()
        .enumerate()
        .map(|(i, d)| Bar {
            x: 40 + i * 40,
            height: (d.rto_ms * 120 / top) as usize,
            ok: d.ok,
            label: format!(
                "{}: {}",
                dates::moment(d.started_ms, lang),
                seconds(d.rto_ms)
            ),
        })
        .collect();
    Ok(render::page(
        &ContinuityPage {
            f: person.frame("continuity-title"),
            configured: state.continuity.is_some(),
            alarms,
            backup_schedule,
            drill_schedule,
            backups: backup_rows,
            drills: drill_rows,
            bars,
            chart_top: seconds(top),
        },
        person.lang,
        person.set_lang,
    ))
}

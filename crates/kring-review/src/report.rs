//! The monthly report for the privacy officer, the NEN 7510 auditor and the inspectorate:
//! accesses, the share explained, flagged, reviewed, the outcomes, repeat offenders and
//! emergency accesses of one organisation in one month — as figures, as SVG charts for the
//! page and as a one-page PDF with the same charts.

use std::collections::BTreeMap;

use kring_oversight::quality::{bin_of, score_bins, ScoreBin};
use kring_pdf::win_ansi;
use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};

use crate::store::{DayFigures, Decision, Review};
use crate::Result;

/// The figures of one month.
#[derive(Debug, Clone, Default)]
pub struct MonthReport {
    pub organisation: String,
    /// `YYYY-MM`.
    pub month: String,
    pub days: Vec<DayFigures>,
    pub accesses: i64,
    pub explained: i64,
    pub flagged: i64,
    pub emergency: i64,
    pub cases: i64,
    pub reviewed: i64,
    /// Decided cases by decision, in [`Decision::ALL`] order.
    pub outcomes: Vec<(Decision, i64)>,
    pub warnings_sent: i64,
    /// Users with more than one case this month or with an earlier unjustified one:
    /// (user, cases this month, earlier).
    pub repeat_offenders: Vec<(String, i64, bool)>,
    /// Cases by reason.
    pub reasons: Vec<(String, i64)>,
    /// What a score meant here: the month's decided cases by score band (`findings`), their
    /// scores, and how many of them the officer found unjustified (`violations`). On synthetic
    /// months the same table is measured against the truth (BENCHMARKS.md); here the officer's
    /// decisions are the truth, so a band whose share differs much from its scores shows the
    /// engine's scores do not fit this organisation.
    pub calibration: Vec<ScoreBin>,
}

/// The decided cases by score band (the bands of the engine's own calibration table).
fn calibration(cases: &[crate::store::CaseRow]) -> Vec<ScoreBin> {
    let mut bins = score_bins();
    for c in cases {
        let Some(d) = c.decision else { continue };
        let b = &mut bins[bin_of(c.score)];
        b.findings += 1;
        b.score_sum += c.score;
        b.violations += u64::from(d.unjustified());
    }
    bins
}

impl MonthReport {
    pub fn explained_share(&self) -> f64 {
        if self.accesses == 0 {
            1.0
        } else {
            self.explained as f64 / self.accesses as f64
        }
    }
}

/// Builds the report of `month` (`YYYY-MM`) for an organisation (`Organization/…`).
pub async fn month_report(review: &Review, organisation: &str, month: &str) -> Result<MonthReport> {
    let days = review.days(organisation, month).await?;
    let (from_ms, to_ms) = month_bounds(month);
    let cases = review.cases_between(organisation, from_ms, to_ms).await?;
    let earlier = review.earlier_offenders(organisation, from_ms).await?;
    let mut outcomes: BTreeMap<&str, i64> = BTreeMap::new();
    let mut per_user: BTreeMap<&str, i64> = BTreeMap::new();
    let mut reasons: BTreeMap<&str, i64> = BTreeMap::new();
    for c in &cases {
        if let Some(d) = c.decision {
            *outcomes.entry(d.code()).or_default() += 1;
        }
        *per_user.entry(&c.user).or_default() += 1;
        for r in &c.reasons {
            *reasons.entry(r).or_default() += 1;
        }
    }
    let mut repeat_offenders: Vec<(String, i64, bool)> = per_user
        .iter()
        .filter(|(u, n)| **n > 1 || earlier.iter().any(|e| e == *u))
        .map(|(u, n)| (u.to_string(), *n, earlier.iter().any(|e| e == u)))
        .collect();
    repeat_offenders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut reasons: Vec<(String, i64)> = reasons
        .into_iter()
        .map(|(r, n)| (r.to_string(), n))
        .collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(MonthReport {
        organisation: organisation.to_string(),
        month: month.to_string(),
        accesses: days.iter().map(|d| d.accesses).sum(),
        explained: days.iter().map(|d| d.explained).sum(),
        flagged: days.iter().map(|d| d.flagged).sum(),
        emergency: days.iter().map(|d| d.emergency).sum(),
        days,
        cases: cases.len() as i64,
        reviewed: cases.iter().filter(|c| c.decision.is_some()).count() as i64,
        outcomes: Decision::ALL
            .iter()
            .map(|d| (*d, outcomes.get(d.code()).copied().unwrap_or(0)))
            .collect(),
        warnings_sent: review.warnings_sent(organisation, from_ms, to_ms).await?,
        repeat_offenders,
        reasons,
        calibration: calibration(&cases),
    })
}

/// The first and last ms of a month (UTC bounds widened by a day on each side are not
/// needed: cases are dated by their first access).
pub fn month_bounds(month: &str) -> (i64, i64) {
    match kring_fhir::datetime::parse_range(month) {
        Some(r) => (r.low, r.high),
        None => (0, -1),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar chart per day (accesses, with the flagged ones marked) as SVG, with a title for
/// screen readers.
pub fn daily_svg(r: &MonthReport, title: &str) -> String {
    let w = 640.0;
    let h = 200.0;
    let n = r.days.len().max(1) as f64;
    let max = r.days.iter().map(|d| d.accesses).max().unwrap_or(0).max(1) as f64;
    let bw = (w - 40.0) / n;
    let mut out = format!(
        r#"<svg role="img" aria-labelledby="daily-title" viewBox="0 0 {w} {h}" width="100%" xmlns="http://www.w3.org/2000/svg"><title id="daily-title">{}</title>"#,
        escape(title)
    );
    for (i, d) in r.days.iter().enumerate() {
        let x = 30.0 + i as f64 * bw;
        let bh = (h - 40.0) * d.accesses as f64 / max;
        let fh = ((h - 40.0) * d.flagged as f64 / max).max(if d.flagged > 0 { 2.0 } else { 0.0 });
        out.push_str(&format!(
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#5b8db8"><title>{} — {}</title></rect>"##,
            h - 20.0 - bh,
            (bw - 2.0).max(1.0),
            escape(&d.day),
            d.accesses
        ));
        if fh > 0.0 {
            out.push_str(&format!(
                r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{fh:.1}" fill="#c0392b"/>"##,
                h - 20.0 - fh,
                (bw - 2.0).max(1.0)
            ));
        }
        if i % 5 == 0 {
            out.push_str(&format!(
                r#"<text x="{x:.1}" y="{}" font-size="10">{}</text>"#,
                h - 5.0,
                escape(d.day.get(8..).unwrap_or(""))
            ));
        }
    }
    out.push_str(&format!(
        r#"<text x="0" y="12" font-size="10">{}</text></svg>"#,
        max as i64
    ));
    out
}

/// Horizontal bars for labelled counts, as SVG.
pub fn bars_svg(items: &[(String, i64)], title: &str, id: &str) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let h = 22.0 * items.len().max(1) as f64 + 10.0;
    let mut out = format!(
        r#"<svg role="img" aria-labelledby="{id}" viewBox="0 0 640 {h}" width="100%" xmlns="http://www.w3.org/2000/svg"><title id="{id}">{}</title>"#,
        escape(title)
    );
    for (i, (label, n)) in items.iter().enumerate() {
        let y = 5.0 + i as f64 * 22.0;
        let bw = 380.0 * *n as f64 / max;
        out.push_str(&format!(
            r##"<text x="0" y="{:.1}" font-size="12">{}</text><rect x="220" y="{y:.1}" width="{bw:.1}" height="16" fill="#5b8db8"/><text x="{:.1}" y="{:.1}" font-size="12">{n}</text>"##,
            y + 13.0,
            escape(label),
            225.0 + bw,
            y + 13.0
        ));
    }
    out.push_str("</svg>");
    out
}

/// The labels the PDF needs, in the reader's language.
pub struct PdfLabels {
    pub title: String,
    pub organisation: String,
    pub figures: Vec<(String, String)>,
    pub daily: String,
    pub outcomes: String,
    pub outcome_names: Vec<String>,
    pub reasons: String,
    pub reason_names: Vec<(String, i64)>,
    pub offenders: String,
    pub offender_lines: Vec<String>,
    /// What a score meant here: the title, a sentence on how to read it, the three column
    /// heads, and one row per score band (band, decided with their mean score, found
    /// unjustified).
    pub calibration: String,
    pub calibration_intro: String,
    pub calibration_heads: [String; 3],
    pub calibration_rows: Vec<(String, String, String)>,
    pub footer: String,
}

/// The report as an A4 PDF: the figures and charts on the first page, what a score meant
/// (the calibration table of the officer's decisions) on the second.
pub fn pdf(r: &MonthReport, l: &PdfLabels) -> Vec<u8> {
    let (catalog, tree, page, font, bold, content_id) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
        Ref::new(6),
    );
    let (page2, content2) = (Ref::new(7), Ref::new(8));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page, page2]).count(2);
    for (p, content) in [(page, content_id), (page2, content2)] {
        let mut p = pdf.page(p);
        p.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
        p.parent(tree);
        p.contents(content);
        let mut resources = p.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), font);
        fonts.pair(Name(b"F2"), bold);
    }
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let mut c = Content::new();
    let text = |c: &mut Content, x: f32, y: f32, size: f32, bold: bool, s: &str| {
        c.begin_text();
        c.set_font(Name(if bold { b"F2" } else { b"F1" }), size);
        c.next_line(x, y);
        c.show(Str(&win_ansi(s)));
        c.end_text();
    };
    let mut y = 800.0;
    text(&mut c, 50.0, y, 18.0, true, &l.title);
    y -= 20.0;
    text(&mut c, 50.0, y, 11.0, false, &l.organisation);
    y -= 28.0;
    for (k, v) in &l.figures {
        text(&mut c, 50.0, y, 10.5, false, k);
        text(&mut c, 330.0, y, 10.5, true, v);
        y -= 15.0;
    }
    // Daily chart.
    y -= 14.0;
    text(&mut c, 50.0, y, 12.0, true, &l.daily);
    y -= 110.0;
    let n = r.days.len().max(1) as f32;
    let max = r.days.iter().map(|d| d.accesses).max().unwrap_or(0).max(1) as f32;
    let bw = 495.0 / n;
    for (i, d) in r.days.iter().enumerate() {
        let x = 50.0 + i as f32 * bw;
        let bh = 95.0 * d.accesses as f32 / max;
        c.set_fill_rgb(0.36, 0.55, 0.72);
        c.rect(x, y, (bw - 1.5).max(0.5), bh);
        c.fill_nonzero();
        if d.flagged > 0 {
            c.set_fill_rgb(0.75, 0.22, 0.17);
            c.rect(
                x,
                y,
                (bw - 1.5).max(0.5),
                (95.0 * d.flagged as f32 / max).max(1.5),
            );
            c.fill_nonzero();
        }
        if i % 5 == 0 {
            c.set_fill_gray(0.0);
            text(
                &mut c,
                x,
                y - 11.0,
                7.0,
                false,
                d.day.get(8..).unwrap_or(""),
            );
        }
    }
    c.set_fill_gray(0.0);
    y -= 30.0;
    // Outcomes and reasons as horizontal bars.
    let bars = |c: &mut Content, y: &mut f32, title: &str, items: &[(String, i64)]| {
        text(c, 50.0, *y, 12.0, true, title);
        *y -= 16.0;
        let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f32;
        for (label, v) in items {
            c.set_fill_gray(0.0);
            text(c, 50.0, *y, 9.5, false, label);
            c.set_fill_rgb(0.36, 0.55, 0.72);
            c.rect(230.0, *y - 1.0, 250.0 * *v as f32 / max, 9.0);
            c.fill_nonzero();
            c.set_fill_gray(0.0);
            text(
                c,
                236.0 + 250.0 * *v as f32 / max,
                *y,
                9.5,
                false,
                &v.to_string(),
            );
            *y -= 13.0;
        }
        *y -= 8.0;
    };
    let outcomes: Vec<(String, i64)> = l
        .outcome_names
        .iter()
        .cloned()
        .zip(r.outcomes.iter().map(|o| o.1))
        .collect();
    bars(&mut c, &mut y, &l.outcomes, &outcomes);
    bars(&mut c, &mut y, &l.reasons, &l.reason_names);
    text(&mut c, 50.0, y, 12.0, true, &l.offenders);
    y -= 15.0;
    for line in l.offender_lines.iter().take(8) {
        text(&mut c, 50.0, y, 9.5, false, line);
        y -= 12.0;
    }
    text(&mut c, 50.0, 30.0, 8.0, false, &l.footer);
    pdf.stream(content_id, &c.finish());
    // Page 2: what a score meant here.
    let mut c = Content::new();
    let mut y = 800.0;
    text(&mut c, 50.0, y, 14.0, true, &l.calibration);
    y -= 20.0;
    for line in wrap(&l.calibration_intro, 95) {
        text(&mut c, 50.0, y, 10.0, false, &line);
        y -= 13.0;
    }
    y -= 10.0;
    let columns = [50.0, 170.0, 360.0];
    for (x, head) in columns.iter().zip(&l.calibration_heads) {
        text(&mut c, *x, y, 10.0, true, head);
    }
    y -= 4.0;
    c.set_stroke_gray(0.4);
    c.move_to(50.0, y);
    c.line_to(545.0, y);
    c.stroke();
    y -= 14.0;
    for (band, decided, unjustified) in &l.calibration_rows {
        for (x, cell) in columns.iter().zip([band, decided, unjustified]) {
            text(&mut c, *x, y, 10.0, false, cell);
        }
        y -= 14.0;
    }
    text(&mut c, 50.0, 30.0, 8.0, false, &l.footer);
    pdf.stream(content2, &c.finish());
    pdf.finish()
}

/// A paragraph cut into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

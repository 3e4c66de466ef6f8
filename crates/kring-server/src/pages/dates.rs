//! Dates and times as people read them: Dutch time (CET/CEST), `2 aug 2026, 10:00` in Dutch
//! and `2 Aug 2026, 10:00` in English; ages in whole years. Every page shows dates through
//! here, never as the stored FHIR text.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use kring_fhir::datetime::{dutch_offset_ms, parse_range};

use super::i18n::Lang;

const MONTHS_NL: [&str; 12] = [
    "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month(lang: Lang, m: u32) -> &'static str {
    let i = (m.clamp(1, 12) - 1) as usize;
    match lang {
        Lang::Nl => MONTHS_NL[i],
        Lang::En => MONTHS_EN[i],
    }
}

/// The moment `ms` (since the epoch) in Dutch time.
pub fn local(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms + dutch_offset_ms(ms)).unwrap_or_default()
}

/// `2 aug 2026`.
pub fn day(d: NaiveDate, lang: Lang) -> String {
    format!("{} {} {}", d.day(), month(lang, d.month()), d.year())
}

/// `dec 2026`: the month of a day.
pub fn month_of(d: NaiveDate, lang: Lang) -> String {
    format!("{} {}", month(lang, d.month()), d.year())
}

/// `2 aug 2026, 10:00` for a moment (ms since the epoch), in Dutch time.
pub fn moment(ms: i64, lang: Lang) -> String {
    let t = local(ms);
    format!(
        "{}, {:02}:{:02}",
        day(t.date_naive(), lang),
        t.hour(),
        t.minute()
    )
}

/// `10:00` (Dutch time).
pub fn clock(ms: i64) -> String {
    let t = local(ms);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// A FHIR date or dateTime as people read it: a date alone as `2 aug 2026`, a moment as
/// `2 aug 2026, 10:00` (Dutch time); text that is no date stays as it is.
pub fn fhir(value: &str, lang: Lang) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    if value.len() == 10 {
        if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            return day(d, lang);
        }
    }
    if value.len() > 10 {
        if let Some(r) = parse_range(value) {
            return moment(r.low, lang);
        }
    }
    match (value.len(), parse_range(value)) {
        // A year or a year and month.
        (4, Some(_)) => value.to_string(),
        (7, Some(r)) => {
            let t = local(r.low);
            format!("{} {}", month(lang, t.month()), t.year())
        }
        _ => value.to_string(),
    }
}

/// The ms since the epoch of a FHIR date or dateTime (its start), for sorting.
pub fn fhir_ms(value: &str) -> Option<i64> {
    parse_range(value.trim()).map(|r| r.low)
}

/// Age in whole years on `today`.
pub fn age(birth: NaiveDate, today: NaiveDate) -> u32 {
    today.years_since(birth).unwrap_or(0)
}

/// Today in Dutch time.
pub fn today() -> NaiveDate {
    local(kring_fhir::datetime::now_ms()).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_people_write_them() {
        assert_eq!(fhir("2026-08-02", Lang::Nl), "2 aug 2026");
        assert_eq!(
            fhir("2026-08-02T10:00:00+02:00", Lang::Nl),
            "2 aug 2026, 10:00"
        );
        // Winter: UTC+1.
        assert_eq!(fhir("2026-01-05T09:30:00Z", Lang::Nl), "5 jan 2026, 10:30");
        assert_eq!(fhir("2026-03-01T12:00:00Z", Lang::En), "1 Mar 2026, 13:00");
        assert_eq!(fhir("2026-05", Lang::Nl), "mei 2026");
        assert_eq!(fhir("nonsense", Lang::Nl), "nonsense");
        assert_eq!(fhir("", Lang::Nl), "");
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(age(d("2010-12-07"), d("2026-12-06")), 15);
        assert_eq!(age(d("2010-12-06"), d("2026-12-06")), 16);
    }
}

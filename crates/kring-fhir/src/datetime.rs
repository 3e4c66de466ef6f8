//! FHIR dates as ranges of instants, for indexing and date search.
//!
//! Every `date`, `dateTime` and `instant` is an interval: `2020` is the whole year. Kring keeps
//! both ends as milliseconds since the epoch (inclusive), so `eq`, `sa`, `eb`, `ap` … become
//! plain range comparisons in SQL. A value without a timezone is read as UTC.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};

/// Lowest and highest instant (ms since epoch, inclusive) covered by a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub low: i64,
    pub high: i64,
}

pub const OPEN_LOW: i64 = i64::MIN / 2;
pub const OPEN_HIGH: i64 = i64::MAX / 2;

fn last_day(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .map(|d| (d - Duration::days(1)).day())
        .unwrap_or(28)
}

/// Parses a FHIR `date`, `dateTime` or `instant` into the interval it denotes.
pub fn parse_range(s: &str) -> Option<Range> {
    let s = s.trim();
    let (date_part, time_part) = match s.find('T') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let pieces: Vec<&str> = date_part.split('-').collect();
    if pieces.is_empty()
        || pieces[0].len() != 4
        || pieces.len() > 3
        || pieces
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let y: i32 = pieces[0].parse().ok()?;
    let to_ms = |d: NaiveDateTime| Utc.from_utc_datetime(&d).timestamp_millis();
    match (pieces.len(), time_part) {
        (1, None) => {
            let lo = NaiveDate::from_ymd_opt(y, 1, 1)?.and_hms_opt(0, 0, 0)?;
            let hi = NaiveDate::from_ymd_opt(y, 12, 31)?.and_hms_milli_opt(23, 59, 59, 999)?;
            Some(Range {
                low: to_ms(lo),
                high: to_ms(hi),
            })
        }
        (2, None) => {
            let m: u32 = pieces[1].parse().ok()?;
            let lo = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
            let hi = NaiveDate::from_ymd_opt(y, m, last_day(y, m))?
                .and_hms_milli_opt(23, 59, 59, 999)?;
            Some(Range {
                low: to_ms(lo),
                high: to_ms(hi),
            })
        }
        (3, None) => {
            let d = NaiveDate::from_ymd_opt(y, pieces[1].parse().ok()?, pieces[2].parse().ok()?)?;
            Some(Range {
                low: to_ms(d.and_hms_opt(0, 0, 0)?),
                high: to_ms(d.and_hms_milli_opt(23, 59, 59, 999)?),
            })
        }
        (3, Some(t)) => {
            let d = NaiveDate::from_ymd_opt(y, pieces[1].parse().ok()?, pieces[2].parse().ok()?)?;
            let (clock, offset) = split_offset(t)?;
            let has_seconds = clock.matches(':').count() >= 2;
            let has_fraction = clock.contains('.');
            let time = if has_seconds {
                NaiveTime::parse_from_str(clock, "%H:%M:%S%.f").ok()?
            } else {
                NaiveTime::parse_from_str(clock, "%H:%M").ok()?
            };
            let local = d.and_time(time);
            let instant: DateTime<FixedOffset> = offset.from_local_datetime(&local).single()?;
            let low = instant.timestamp_millis();
            let span = if has_fraction {
                0
            } else if has_seconds {
                999
            } else {
                59_999
            };
            Some(Range {
                low,
                high: low + span,
            })
        }
        _ => None,
    }
}

fn split_offset(t: &str) -> Option<(&str, FixedOffset)> {
    if let Some(c) = t.strip_suffix('Z') {
        return Some((c, FixedOffset::east_opt(0)?));
    }
    if let Some(i) = t.rfind(['+', '-']) {
        let (clock, off) = t.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let mut hm = off[1..].split(':');
        let h: i32 = hm.next()?.parse().ok()?;
        let m: i32 = hm.next().unwrap_or("0").parse().ok()?;
        return Some((clock, FixedOffset::east_opt(sign * (h * 3600 + m * 60))?));
    }
    Some((t, FixedOffset::east_opt(0)?))
}

/// Formats ms since epoch as a FHIR instant with milliseconds, in UTC.
pub fn format_instant(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// Whether `s` has the lexical form of a FHIR `date`.
pub fn is_date(s: &str) -> bool {
    !s.contains('T') && parse_range(s).is_some()
}

/// Whether `s` has the lexical form of a FHIR `dateTime` (a time needs a timezone).
pub fn is_datetime(s: &str) -> bool {
    match s.find('T') {
        None => is_date(s),
        Some(i) => {
            let t = &s[i + 1..];
            (t.ends_with('Z') || t.contains('+') || t.contains('-'))
                && t.matches(':').count() >= 2
                && parse_range(s).is_some()
        }
    }
}

/// Whether `s` is a FHIR `instant`: a full date-time with seconds and a timezone.
pub fn is_instant(s: &str) -> bool {
    s.len() >= 20 && s.contains('T') && is_datetime(s)
}

/// Whether `s` is a FHIR `time` (hh:mm:ss with optional fraction).
pub fn is_time(s: &str) -> bool {
    NaiveTime::parse_from_str(s, "%H:%M:%S%.f").is_ok()
        || NaiveTime::parse_from_str(s, "%H:%M:%S").is_ok()
}

/// The offset of Dutch time from UTC at `ms`: CEST (+2) from the last Sunday of March 01:00
/// UTC to the last Sunday of October 01:00 UTC, CET (+1) otherwise (EU rule since 1996).
pub fn dutch_offset_ms(ms: i64) -> i64 {
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let last_sunday = |month: u32| {
        let mut d = NaiveDate::from_ymd_opt(t.year(), month, 31).unwrap_or_default();
        while d.weekday() != chrono::Weekday::Sun {
            d = d.pred_opt().unwrap_or(d);
        }
        Utc.from_utc_datetime(&d.and_hms_opt(1, 0, 0).unwrap_or_default())
    };
    if t >= last_sunday(3) && t < last_sunday(10) {
        2 * 3_600_000
    } else {
        3_600_000
    }
}

/// The Dutch calendar date at `at`: ages, birthdays and "today" in the age and consent rules
/// follow the clock on the wall in the Netherlands, not UTC (between 23:00 and 00:00 UTC in
/// winter the Dutch date is already tomorrow's).
pub fn dutch_date(at: DateTime<Utc>) -> NaiveDate {
    (at + chrono::Duration::milliseconds(dutch_offset_ms(at.timestamp_millis()))).date_naive()
}

/// The current instant in ms.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_are_intervals() {
        let y = parse_range("2020").unwrap();
        assert_eq!(format_instant(y.low), "2020-01-01T00:00:00.000Z");
        assert_eq!(format_instant(y.high), "2020-12-31T23:59:59.999Z");
        let m = parse_range("2024-02").unwrap();
        assert_eq!(format_instant(m.high), "2024-02-29T23:59:59.999Z");
        let t = parse_range("2020-03-04T10:00:00+01:00").unwrap();
        assert_eq!(format_instant(t.low), "2020-03-04T09:00:00.000Z");
        assert_eq!(t.high - t.low, 999);
    }

    #[test]
    fn lexical_forms() {
        assert!(is_date("2020-01-31"));
        assert!(!is_date("2020-13-01"));
        assert!(!is_date("31-01-2020"));
        assert!(is_datetime("2020-01-31T10:00:00Z"));
        assert!(!is_datetime("2020-01-31T10:00:00"));
        assert!(is_instant("2020-01-31T10:00:00.123+02:00"));
        assert!(!is_instant("2020-01-31"));
    }
}

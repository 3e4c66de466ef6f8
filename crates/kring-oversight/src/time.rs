//! Dutch local time for the engine: the local day and hour of an instant. Offsets are worked
//! out once per UTC day of the log's span (exactly on the two switch days), so screening
//! millions of accesses costs a table lookup each.

use kring_fhir::datetime::dutch_offset_ms;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// Local-time lookups for instants in one span.
pub struct Clock {
    first_day: i64,
    /// Per UTC day: the offset at its start and at its end.
    offsets: Vec<(i64, i64)>,
}

impl Clock {
    /// A clock for instants between `low` and `high` (ms); others are computed on demand.
    pub fn new(low: i64, high: i64) -> Clock {
        let first_day = low.div_euclid(DAY_MS);
        let last_day = high.div_euclid(DAY_MS).max(first_day);
        let offsets = (first_day..=last_day)
            .map(|d| {
                (
                    dutch_offset_ms(d * DAY_MS),
                    dutch_offset_ms(d * DAY_MS + DAY_MS - 1),
                )
            })
            .collect();
        Clock { first_day, offsets }
    }

    fn offset(&self, ms: i64) -> i64 {
        let day = ms.div_euclid(DAY_MS);
        match usize::try_from(day - self.first_day)
            .ok()
            .and_then(|i| self.offsets.get(i))
        {
            Some(&(a, b)) if a == b => a,
            _ => dutch_offset_ms(ms),
        }
    }

    /// The local day number (days since 1970-01-01 in Dutch time).
    pub fn day(&self, ms: i64) -> i64 {
        (ms + self.offset(ms)).div_euclid(DAY_MS)
    }

    /// The local hour of day, 0–23.
    pub fn hour(&self, ms: i64) -> usize {
        ((ms + self.offset(ms)).rem_euclid(DAY_MS) / HOUR_MS) as usize
    }

    /// Whether `ms` falls on a weekday between 07:00 and 19:00 Dutch time.
    pub fn working_hours(&self, ms: i64) -> bool {
        let local = ms + self.offset(ms);
        // 1970-01-01 was a Thursday: day 0 → weekday index 3 (Monday = 0).
        let weekday = (local.div_euclid(DAY_MS) + 3).rem_euclid(7);
        let hour = local.rem_euclid(DAY_MS) / HOUR_MS;
        weekday < 5 && (7..19).contains(&hour)
    }

    /// Whether `ms` falls in the night, 22:00–07:00 Dutch time.
    pub fn night(&self, ms: i64) -> bool {
        let h = self.hour(ms);
        !(7..22).contains(&h)
    }
}

/// The Dutch day of an instant as people write it (`2 aug 2026`), for the evidence. The first
/// or last millisecond of a UTC day is the bound of a FHIR date (`"end": "2025-01-31"`): that
/// date itself, not the Dutch day it falls on.
pub fn dutch_day(ms: i64) -> String {
    use chrono::Datelike;
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
    ];
    let whole_date = ms.rem_euclid(DAY_MS) == 0 || (ms + 1).rem_euclid(DAY_MS) == 0;
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(at) => {
            let d = if whole_date {
                at.date_naive()
            } else {
                kring_fhir::datetime::dutch_date(at)
            };
            format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kring_fhir::datetime::parse_range;

    fn at(s: &str) -> i64 {
        parse_range(s).unwrap().low
    }

    #[test]
    fn hours_follow_dutch_summer_and_winter_time() {
        let c = Clock::new(at("2026-01-01"), at("2026-12-31"));
        assert_eq!(c.hour(at("2026-01-15T08:30:00Z")), 9);
        assert_eq!(c.hour(at("2026-07-15T08:30:00Z")), 10);
        // The switch day: 00:30 UTC is still winter time, 01:30 UTC summer time.
        assert_eq!(c.hour(at("2026-03-29T00:30:00Z")), 1);
        assert_eq!(c.hour(at("2026-03-29T01:30:00Z")), 3);
        assert!(
            c.working_hours(at("2026-11-23T10:00:00Z")),
            "a Monday morning"
        );
        assert!(!c.working_hours(at("2026-11-22T10:00:00Z")), "a Sunday");
        assert!(c.night(at("2026-11-23T23:00:00Z")));
        assert_eq!(dutch_day(at("2026-08-01T23:30:00Z")), "2 aug 2026");
        assert_eq!(
            dutch_day(parse_range("2025-01-31").unwrap().high),
            "31 jan 2025"
        );
        assert_eq!(
            c.day(at("2026-11-23T23:30:00Z")),
            c.day(at("2026-11-24T10:00:00Z"))
        );
    }
}

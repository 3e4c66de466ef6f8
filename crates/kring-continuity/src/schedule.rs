//! When the server runs a job by itself: `daily 02:30`, `weekly sun 04:00` (Dutch time),
//! `every 6h` / `every 30m`, or `off`.

use std::fmt;

use chrono::{Datelike, Weekday};

/// A schedule, as written in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Off,
    /// Every so many minutes, from the moment the server starts.
    Every {
        minutes: u32,
    },
    /// Every day at this Dutch time.
    Daily {
        hour: u32,
        minute: u32,
    },
    /// Every week on this day at this Dutch time.
    Weekly {
        day: Weekday,
        hour: u32,
        minute: u32,
    },
}

const DAYS: [(&str, &str, Weekday); 7] = [
    ("mon", "ma", Weekday::Mon),
    ("tue", "di", Weekday::Tue),
    ("wed", "wo", Weekday::Wed),
    ("thu", "do", Weekday::Thu),
    ("fri", "vr", Weekday::Fri),
    ("sat", "za", Weekday::Sat),
    ("sun", "zo", Weekday::Sun),
];

fn time(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

impl std::str::FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Schedule, String> {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let bad = || {
            format!("'{text}' is not a schedule: write 'daily 02:30', 'weekly sun 04:00', 'every 6h', 'every 30m' or 'off'")
        };
        Ok(match words.as_slice() {
            ["off"] | ["never"] => Schedule::Off,
            ["hourly"] => Schedule::Every { minutes: 60 },
            ["every", n] => {
                let (num, unit) = n.split_at(n.len().saturating_sub(1));
                let num: u32 = num.parse().map_err(|_| bad())?;
                let minutes = match unit {
                    "m" => num,
                    "h" => num * 60,
                    "d" => num * 1440,
                    _ => return Err(bad()),
                };
                if minutes == 0 {
                    return Err(bad());
                }
                Schedule::Every { minutes }
            }
            ["daily", t] => {
                let (hour, minute) = time(t).ok_or_else(bad)?;
                Schedule::Daily { hour, minute }
            }
            ["weekly", d, t] => {
                let day = DAYS
                    .iter()
                    .find(|(en, nl, _)| d.starts_with(en) || d.starts_with(nl))
                    .map(|(_, _, w)| *w)
                    .ok_or_else(bad)?;
                let (hour, minute) = time(t).ok_or_else(bad)?;
                Schedule::Weekly { day, hour, minute }
            }
            _ => return Err(bad()),
        })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Off => write!(f, "off"),
            Schedule::Every { minutes } if minutes % 60 == 0 => {
                write!(f, "every {}h", minutes / 60)
            }
            Schedule::Every { minutes } => write!(f, "every {minutes}m"),
            Schedule::Daily { hour, minute } => write!(f, "daily {hour:02}:{minute:02}"),
            Schedule::Weekly { day, hour, minute } => {
                let d = DAYS
                    .iter()
                    .find(|x| x.2 == *day)
                    .map(|x| x.0)
                    .unwrap_or("sun");
                write!(f, "weekly {d} {hour:02}:{minute:02}")
            }
        }
    }
}

impl Schedule {
    /// How long after `now_ms` the next run is due (none when off). `Every` counts from now.
    pub fn wait_ms(&self, now_ms: i64) -> Option<i64> {
        const DAY: i64 = 86_400_000;
        let local = now_ms + kring_fhir_offset(now_ms);
        match *self {
            Schedule::Off => None,
            Schedule::Every { minutes } => Some(i64::from(minutes) * 60_000),
            Schedule::Daily { hour, minute } => {
                let at = local.div_euclid(DAY) * DAY + at_ms(hour, minute);
                Some(if at > local {
                    at - local
                } else {
                    at + DAY - local
                })
            }
            Schedule::Weekly { day, hour, minute } => {
                let today = chrono::DateTime::from_timestamp_millis(local)?.weekday();
                let ahead = (i64::from(day.num_days_from_monday())
                    - i64::from(today.num_days_from_monday()))
                .rem_euclid(7);
                let at = local.div_euclid(DAY) * DAY + ahead * DAY + at_ms(hour, minute);
                Some(if at > local {
                    at - local
                } else {
                    at + 7 * DAY - local
                })
            }
        }
    }

    /// The usual time between two runs (for "overdue").
    pub fn period_ms(&self) -> Option<i64> {
        match *self {
            Schedule::Off => None,
            Schedule::Every { minutes } => Some(i64::from(minutes) * 60_000),
            Schedule::Daily { .. } => Some(86_400_000),
            Schedule::Weekly { .. } => Some(7 * 86_400_000),
        }
    }
}

fn at_ms(hour: u32, minute: u32) -> i64 {
    i64::from(hour) * 3_600_000 + i64::from(minute) * 60_000
}

fn kring_fhir_offset(ms: i64) -> i64 {
    kring_fhir::datetime::dutch_offset_ms(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_read_as_written_and_refuse_what_they_cannot_mean() {
        for s in [
            "daily 02:30",
            "weekly sun 04:00",
            "every 6h",
            "every 30m",
            "off",
        ] {
            assert_eq!(s.parse::<Schedule>().unwrap().to_string(), s);
        }
        assert_eq!(
            "weekly zondag 4:00"
                .parse::<Schedule>()
                .unwrap()
                .to_string(),
            "weekly sun 04:00"
        );
        assert_eq!(
            "hourly".parse::<Schedule>().unwrap().to_string(),
            "every 1h"
        );
        for bad in [
            "daily 25:00",
            "every 0h",
            "weekly 04:00",
            "sometimes",
            "every 5x",
        ] {
            let e = bad.parse::<Schedule>().unwrap_err();
            assert!(e.contains("not a schedule"), "{e}");
        }
    }

    #[test]
    fn the_next_run_is_at_the_dutch_time_asked() {
        // 2026-12-06 (a Sunday) 15:00 UTC = 16:00 in the Netherlands (CET).
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T15:00:00Z")
            .unwrap()
            .timestamp_millis();
        let h = 3_600_000;
        assert_eq!(
            "daily 17:00".parse::<Schedule>().unwrap().wait_ms(now),
            Some(h)
        );
        assert_eq!(
            "daily 15:00".parse::<Schedule>().unwrap().wait_ms(now),
            Some(23 * h)
        );
        assert_eq!(
            "weekly sun 18:00".parse::<Schedule>().unwrap().wait_ms(now),
            Some(2 * h)
        );
        assert_eq!(
            "weekly mon 16:00".parse::<Schedule>().unwrap().wait_ms(now),
            Some(24 * h)
        );
        assert_eq!(
            "weekly sun 16:00".parse::<Schedule>().unwrap().wait_ms(now),
            Some(7 * 24 * h)
        );
        assert_eq!("off".parse::<Schedule>().unwrap().wait_ms(now), None);
    }
}

//! Arithmetic: numbers, strings (`+`, `&`), quantities, and dates plus or minus a duration
//! in calendar or UCUM units.

use super::*;
use crate::value::Primitive;

pub(super) fn coerce_pair(x: Primitive, y: Primitive) -> (Primitive, Primitive) {
    match (&x, &y) {
        (Primitive::String(s), Primitive::Date(_) | Primitive::DateTime(_))
            if looks_like_date(s) =>
        {
            (Primitive::DateTime(s.clone()), y)
        }
        (Primitive::Date(_) | Primitive::DateTime(_), Primitive::String(s))
            if looks_like_date(s) =>
        {
            let s = s.clone();
            (x, Primitive::DateTime(s))
        }
        _ => (x, y),
    }
}

pub(super) fn arithmetic(op: &str, x: Primitive, y: Primitive) -> Result<Option<Primitive>> {
    use Primitive::*;
    Ok(Some(match (op, &x, &y) {
        ("+", String(a), String(b)) => String(format!("{a}{b}")),
        ("+" | "-", Date(d) | DateTime(d), Quantity(v, u)) => {
            let sign = if op == "-" { -1.0 } else { 1.0 };
            match add_to_date(d, sign * v, u) {
                Some(r) => {
                    if matches!(x, Date(_)) {
                        Date(r)
                    } else {
                        DateTime(r)
                    }
                }
                None => return Ok(None),
            }
        }
        ("+" | "-" | "*", Integer(a), Integer(b)) => Integer(
            match op {
                "+" => a.checked_add(*b),
                "-" => a.checked_sub(*b),
                _ => a.checked_mul(*b),
            }
            .ok_or_else(|| FhirPathError::Eval("integer overflow".into()))?,
        ),
        ("div", Integer(a), Integer(b)) => {
            if *b == 0 {
                return Ok(None);
            }
            Integer(
                a.div_euclid(*b)
                    + if (*a < 0) != (*b < 0) && a % b != 0 {
                        1
                    } else {
                        0
                    },
            )
        }
        ("mod", Integer(a), Integer(b)) => {
            if *b == 0 {
                return Ok(None);
            }
            Integer(a % b)
        }
        ("+" | "-", Quantity(a, u), Quantity(b, v)) if u == v => {
            Quantity(if op == "+" { a + b } else { a - b }, u.clone())
        }
        ("*", Quantity(a, u), Integer(_) | Decimal(_)) => Quantity(a * y.as_f64(), u.clone()),
        ("/", Quantity(a, u), Integer(_) | Decimal(_)) => Quantity(a / y.as_f64(), u.clone()),
        (_, Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => {
            let (a, b) = (x.as_f64(), y.as_f64());
            match op {
                "+" => Decimal(a + b),
                "-" => Decimal(a - b),
                "*" => Decimal(a * b),
                "/" => {
                    if b == 0.0 {
                        return Ok(None);
                    }
                    Decimal(a / b)
                }
                "div" => {
                    if b == 0.0 {
                        return Ok(None);
                    }
                    Integer((a / b).trunc() as i64)
                }
                "mod" => {
                    if b == 0.0 {
                        return Ok(None);
                    }
                    Decimal(a % b)
                }
                _ => return err(format!("unknown operator {op}")),
            }
        }
        _ => {
            return err(format!(
                "cannot apply {op} to {} and {}",
                x.type_name(),
                y.type_name()
            ))
        }
    }))
}

pub(super) fn add_to_date(d: &str, v: f64, unit: &str) -> Option<String> {
    use chrono::{DateTime, Duration};
    let unit = match unit {
        "year" | "years" => "year",
        "month" | "months" => "month",
        "week" | "weeks" | "wk" => "week",
        "day" | "days" | "d" => "day",
        "hour" | "hours" | "h" => "hour",
        "minute" | "minutes" | "min" => "minute",
        "second" | "seconds" | "s" => "second",
        "millisecond" | "milliseconds" | "ms" => "millisecond",
        // UCUM 'a' and 'mo' are not calendar durations: date arithmetic with them is empty.
        _ => return None,
    };
    if d.contains('T') && d.len() > 16 {
        // A full date-time: shift the instant, keeping its offset and precision.
        let parsed = DateTime::parse_from_rfc3339(d).ok()?;
        let ms = match unit {
            "week" => v * 7.0 * 86_400_000.0,
            "day" => v * 86_400_000.0,
            "hour" => v * 3_600_000.0,
            "minute" => v * 60_000.0,
            "second" => v.trunc() * 1000.0,
            "millisecond" => v,
            _ => return add_calendar(d, v, unit),
        };
        let shifted = parsed + Duration::milliseconds(ms as i64);
        let fmt = if d.contains('.') {
            "%Y-%m-%dT%H:%M:%S%.3f%:z"
        } else {
            "%Y-%m-%dT%H:%M:%S%:z"
        };
        return Some(shifted.format(fmt).to_string());
    }
    add_calendar(d, v, unit)
}

pub(super) fn add_calendar(d: &str, v: f64, unit: &str) -> Option<String> {
    use chrono::{Datelike, Duration, NaiveDate};
    let date_part = &d[..d.len().min(10)];
    let rest = &d[date_part.len()..];
    let precision = date_part.len();
    let full = match precision {
        4 => format!("{date_part}-01-01"),
        7 => format!("{date_part}-01"),
        _ => date_part.to_string(),
    };
    let date = NaiveDate::parse_from_str(&full, "%Y-%m-%d").ok()?;
    let n = v.trunc() as i64;
    let shifted = match unit {
        "year" => date.with_year(date.year() + n as i32)?,
        "month" => {
            let months = date.year() as i64 * 12 + date.month0() as i64 + n;
            let (y, m) = (
                months.div_euclid(12) as i32,
                months.rem_euclid(12) as u32 + 1,
            );
            NaiveDate::from_ymd_opt(y, m, date.day())
                .or_else(|| NaiveDate::from_ymd_opt(y, m + 1, 1).map(|d| d - Duration::days(1)))?
        }
        "week" => date + Duration::days(7 * n),
        "day" => date + Duration::days(n),
        _ => return None,
    };
    let text = shifted.format("%Y-%m-%d").to_string();
    Some(format!("{}{}", &text[..precision.min(10)], rest))
}

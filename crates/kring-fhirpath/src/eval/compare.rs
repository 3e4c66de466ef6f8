//! Equality (`=`), equivalence (`~`) and ordering of primitives and collections, with the
//! partial dates and times and the quantities of UCUM units FHIRPath compares.

use std::cmp::Ordering;

use super::*;
use crate::value::{Item, Primitive};

pub(crate) fn prim_equal(a: &Primitive, b: &Primitive) -> Option<bool> {
    use Primitive::*;
    Some(match (a, b) {
        (Integer(x), Integer(y)) => x == y,
        (Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => {
            (a.as_f64() - b.as_f64()).abs() < 1e-9
        }
        (String(x), String(y)) => x == y,
        (Boolean(x), Boolean(y)) => x == y,
        (Date(x) | DateTime(x), Date(y) | DateTime(y)) | (Time(x), Time(y)) => {
            return datetime_cmp(x, y).map(|o| o == Ordering::Equal)
        }
        (Quantity(x, u), Quantity(y, v)) => {
            let (x, u) = normalize_unit(*x, u);
            let (y, v) = normalize_unit(*y, v);
            if u != v {
                return None;
            }
            (x - y).abs() < 1e-9
        }
        _ => false,
    })
}

pub(super) fn normalize_unit(v: f64, u: &str) -> (f64, String) {
    match u {
        "year" | "a" => (v, "year".into()),
        "month" | "mo" => (v, "month".into()),
        "week" | "wk" => (v * 7.0, "day".into()),
        "day" | "d" => (v, "day".into()),
        "hour" | "h" => (v, "hour".into()),
        "minute" | "min" => (v, "minute".into()),
        "second" | "s" => (v, "second".into()),
        "millisecond" | "ms" => (v / 1000.0, "second".into()),
        "g" => (v, "g".into()),
        "mg" => (v / 1000.0, "g".into()),
        "kg" => (v * 1000.0, "g".into()),
        "m" => (v, "m".into()),
        "cm" => (v / 100.0, "m".into()),
        "mm" => (v / 1000.0, "m".into()),
        other => (v, other.into()),
    }
}

/// Splits a date/time text into comparable components (year, month, …, fraction) and an optional
/// timezone offset in minutes.
pub(super) fn dt_parts(s: &str) -> (Vec<f64>, Option<i64>) {
    let (body, tz) = split_tz(s);
    let mut parts = Vec::new();
    for (i, piece) in body.split(['-', 'T', ':']).enumerate() {
        if piece.is_empty() {
            continue;
        }
        if i >= 5 {
            if let Ok(sec) = piece.parse::<f64>() {
                parts.push(sec);
            }
        } else if let Ok(n) = piece.parse::<f64>() {
            parts.push(n);
        }
    }
    (parts, tz)
}

pub(super) fn split_tz(s: &str) -> (&str, Option<i64>) {
    if let Some(b) = s.strip_suffix('Z') {
        return (b, Some(0));
    }
    if let Some(t) = s.find('T') {
        let time = &s[t..];
        if let Some(p) = time.rfind(['+', '-']) {
            let off = &time[p + 1..];
            let sign = if &time[p..p + 1] == "-" { -1 } else { 1 };
            let mut it = off.split(':');
            let h: i64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            let m: i64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            return (&s[..t + p], Some(sign * (h * 60 + m)));
        }
    }
    (s, None)
}

/// Compares two partial dates/times; `None` when the answer depends on missing precision.
pub(crate) fn datetime_cmp(a: &str, b: &str) -> Option<Ordering> {
    let (mut pa, ta) = dt_parts(a);
    let (mut pb, tb) = dt_parts(b);
    if let (Some(x), Some(y)) = (ta, tb) {
        if x != y && pa.len() >= 5 && pb.len() >= 5 {
            shift_minutes(&mut pa, -x);
            shift_minutes(&mut pb, -y);
        }
    }
    // Seconds with and without fraction compare at second precision as one level.
    let n = pa.len().min(pb.len());
    for i in 0..n {
        match pa[i].partial_cmp(&pb[i])? {
            Ordering::Equal => continue,
            o => return Some(o),
        }
    }
    if pa.len() == pb.len() {
        Some(Ordering::Equal)
    } else {
        None
    }
}

pub(super) fn shift_minutes(parts: &mut [f64], minutes: i64) {
    // Only adjust hour/minute; enough for comparing instants written with offsets on one day.
    let total = parts[3] * 60.0 + parts[4] + minutes as f64;
    parts[3] = (total / 60.0).floor();
    parts[4] = total.rem_euclid(60.0);
}

pub(super) fn prim_cmp(a: &Primitive, b: &Primitive) -> Result<Option<Ordering>> {
    use Primitive::*;
    Ok(match (a, b) {
        (Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => a.as_f64().partial_cmp(&b.as_f64()),
        (String(x), String(y)) => Some(x.cmp(y)),
        (Date(x) | DateTime(x), Date(y) | DateTime(y)) | (Time(x), Time(y)) => datetime_cmp(x, y),
        (Quantity(x, u), Quantity(y, v)) => {
            let (x, u) = normalize_unit(*x, u);
            let (y, v) = normalize_unit(*y, v);
            if u != v {
                return Ok(None);
            }
            x.partial_cmp(&y)
        }
        _ => {
            return err(format!(
                "cannot compare {} with {}",
                a.type_name(),
                b.type_name()
            ))
        }
    })
}

pub(super) fn equivalent(a: &Item<'_>, b: &Item<'_>) -> bool {
    match (a.to_primitive(), b.to_primitive()) {
        (Some(Primitive::String(x)), Some(Primitive::String(y))) => {
            let norm = |s: &str| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            };
            norm(&x) == norm(&y)
        }
        (
            Some(x @ (Primitive::Decimal(_) | Primitive::Integer(_))),
            Some(y @ (Primitive::Decimal(_) | Primitive::Integer(_))),
        ) => {
            let prec = |p: &Primitive| match p {
                Primitive::Decimal(d) => {
                    let s = format!("{d}");
                    s.split('.').nth(1).map(str::len).unwrap_or(0)
                }
                _ => 0,
            };
            let digits = prec(&x).min(prec(&y)) as i32;
            let f = 10f64.powi(digits);
            (x.as_f64() * f).round() == (y.as_f64() * f).round()
        }
        (
            Some(Primitive::Date(x) | Primitive::DateTime(x)),
            Some(Primitive::Date(y) | Primitive::DateTime(y)),
        ) => datetime_cmp(&x, &y) == Some(Ordering::Equal),
        (Some(x), Some(y)) => prim_equal(&x, &y) == Some(true),
        _ => a.same(b),
    }
}

pub(super) fn coll_equal(a: &[Item<'_>], b: &[Item<'_>]) -> Option<bool> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a.len() != b.len() {
        return Some(false);
    }
    let mut all = true;
    for (x, y) in a.iter().zip(b) {
        match (x.to_primitive(), y.to_primitive()) {
            (Some(p), Some(q)) => match prim_equal(&p, &q) {
                Some(true) => {}
                Some(false) => all = false,
                None => return None,
            },
            _ => {
                if !x.same(y) {
                    all = false
                }
            }
        }
    }
    Some(all)
}

pub(super) fn coll_equiv(a: &[Item<'_>], b: &[Item<'_>]) -> bool {
    if a.is_empty() && b.is_empty() {
        return true;
    }
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| equivalent(x, y)))
}

pub(super) fn distinct<'a>(c: Coll<'a>) -> Coll<'a> {
    let mut out: Coll<'a> = Vec::new();
    for it in c {
        if !out.iter().any(|o| o.same(&it)) {
            out.push(it);
        }
    }
    out
}

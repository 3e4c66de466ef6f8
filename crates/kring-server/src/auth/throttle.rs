//! Throttling by network address: after [`MAX_FAILURES`] failed sign-in or token attempts from
//! one address within [`WINDOW`], that address waits [`WINDOW`] before it may try again (429
//! with `Retry-After`). Works beside the per-account lock-out, which stops guessing one
//! account's password; this stops trying many accounts from one place.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Throttle {
    by_source: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// Seconds to wait when `source` is throttled now, else `None`.
    pub fn wait(&self, source: &str) -> Option<u64> {
        let map = self.by_source.lock().expect("throttle");
        let (count, since) = map.get(source)?;
        let elapsed = since.elapsed();
        (*count >= MAX_FAILURES && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    /// Counts a failed attempt from `source`.
    pub fn failed(&self, source: &str) {
        let mut map = self.by_source.lock().expect("throttle");
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let entry = map.entry(source.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_throttled_after_too_many_failures() {
        let t = Throttle::default();
        for _ in 0..MAX_FAILURES - 1 {
            t.failed("10.0.0.1");
        }
        assert_eq!(t.wait("10.0.0.1"), None);
        t.failed("10.0.0.1");
        assert!(t.wait("10.0.0.1").is_some_and(|s| s > 800));
        assert_eq!(t.wait("10.0.0.2"), None, "other addresses are not affected");
    }
}

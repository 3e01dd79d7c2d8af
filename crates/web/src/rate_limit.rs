//! A per-node fixed-window counter keyed by IP address or identifier, for endpoints that
//! strangers may call (dynamic client registration). Cluster-wide limits live in the database.

use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (OffsetDateTime, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when `key` has reached the limit in the current window; counts nothing.
    pub fn blocked(&self, key: &str, now: OffsetDateTime) -> Option<u64> {
        let hits = self
            .hits
            .lock()
            .expect("rate limiter mutex is never poisoned: no code panics holding it");
        let (start, count) = hits.get(key)?;
        if now - *start >= self.window || *count < self.limit {
            return None;
        }
        Some(u64::try_from((*start + self.window - now).whole_seconds().max(1)).unwrap_or(1))
    }

    /// Counts one hit for `key`; `Err(seconds)` when the limit is reached, with the time until
    /// the window ends.
    pub fn hit(&self, key: &str, now: OffsetDateTime) -> Result<(), u64> {
        let mut hits = self
            .hits
            .lock()
            .expect("rate limiter mutex is never poisoned: no code panics holding it");
        if hits.len() > 100_000 {
            hits.retain(|_, (start, _)| now - *start < self.window);
        }
        let entry = hits.entry(key.to_owned()).or_insert((now, 0));
        if now - entry.0 >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let wait = (entry.0 + self.window - now).whole_seconds().max(1);
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_the_window_ends() {
        let limiter = RateLimiter::new(2, Duration::minutes(1));
        let t = OffsetDateTime::UNIX_EPOCH;
        assert!(limiter.hit("ip", t).is_ok());
        assert!(limiter.hit("ip", t).is_ok());
        assert_eq!(limiter.hit("ip", t + Duration::seconds(20)), Err(40));
        assert!(limiter.hit("other", t).is_ok());
        assert_eq!(limiter.blocked("ip", t + Duration::seconds(30)), Some(30));
        assert!(limiter.hit("ip", t + Duration::minutes(1)).is_ok());
        assert_eq!(limiter.blocked("ip", t + Duration::minutes(1)), None);
    }
}

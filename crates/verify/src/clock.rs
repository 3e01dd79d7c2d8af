//! Time as an input: the validator reads "now" through a [`Clock`] (the wall clock unless a test
//! sets its own with [`ValidatorConfig::clock`](crate::ValidatorConfig::clock)). This is the one
//! place that reads the wall clock.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The source of "now" for `exp` / `nbf` and for the JWKS cache.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    pub(crate) fn system() -> Self {
        Self(Arc::new(system_now))
    }

    pub(crate) fn custom(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// Time since the Unix epoch; zero for a clock set before 1970.
    pub(crate) fn since_epoch(&self) -> Duration {
        since_epoch((self.0)())
    }
}

pub(crate) fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "this is the one place that reads the wall clock"
)]
fn system_now() -> SystemTime {
    SystemTime::now()
}

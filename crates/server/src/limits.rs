//! Rate limits per client: each caller gets `server.rate_limit_per_second` requests a
//! second, with bursts of `server.rate_limit_burst`, and past that a 429 with
//! `Retry-After` saying when the next request will be taken.
//!
//! A client is the subject of its token (a SIHCE's client id, a patient's subject), so
//! one SIHCE cannot starve the others however many connections it opens; a request
//! without an acceptable token counts against its IP address, and so do requests to the
//! token endpoint (whose assertions cost a signature check each). The algorithm is GCRA
//! (`governor`): one timestamp per client, no background refill. Counts are per process.
//!
//! The limiter reads the time from a [`LimitClock`]: the system's monotonic clock, or,
//! for tests, a clock that only moves when told to.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::ApiError;

/// Where the rate limiter reads the time.
///
/// [`LimitClock::system`] (the default) is monotonic time; [`LimitClock::manual`] stands
/// still until [`LimitClock::advance`] moves it, and every clone shows the same time, so a
/// test can give one to a server (`ServerConfig::rate_limit_clock`) and let time pass
/// without waiting for it.
#[derive(Debug, Clone)]
pub struct LimitClock(Source);

#[derive(Debug, Clone)]
enum Source {
    /// Monotonic time since the clock was made.
    System(Instant),
    /// Nanoseconds a test has advanced the clock by.
    Manual(Arc<AtomicU64>),
}

impl LimitClock {
    /// The system's monotonic clock.
    #[must_use]
    pub fn system() -> Self {
        Self(Source::System(Instant::now()))
    }

    /// A clock that moves only by [`LimitClock::advance`].
    #[must_use]
    pub fn manual() -> Self {
        Self(Source::Manual(Arc::new(AtomicU64::new(0))))
    }

    /// Moves a manual clock (and its clones) forward by `by`.
    ///
    /// # Panics
    ///
    /// On the system clock, which no one moves.
    pub fn advance(&self, by: Duration) {
        let Source::Manual(now) = &self.0 else {
            panic!("the system clock cannot be advanced");
        };
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        now.fetch_add(by, Ordering::AcqRel);
    }
}

impl Default for LimitClock {
    fn default() -> Self {
        Self::system()
    }
}

/// Two system clocks are the same time; manual clocks are equal when they are clones.
impl PartialEq for LimitClock {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Source::System(_), Source::System(_)) => true,
            (Source::Manual(a), Source::Manual(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for LimitClock {}

impl Clock for LimitClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        match &self.0 {
            Source::System(start) => Nanos::from(start.elapsed()),
            Source::Manual(now) => Nanos::new(now.load(Ordering::Acquire)),
        }
    }
}

/// The keyed limiter, on a [`LimitClock`].
type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, LimitClock, NoOpMiddleware<Nanos>>;

/// Checks between two prunings of clients not seen lately.
const PRUNE_EVERY: u64 = 1 << 16;

/// The per-client limiter of a server.
#[derive(Debug)]
pub struct Limits {
    limiter: Option<KeyedLimiter>,
    clock: LimitClock,
    checks: AtomicU64,
}

impl Limits {
    /// `per_second` sustained and `burst` at once per client; 0 per second: no limit.
    #[must_use]
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self::with_clock(per_second, burst, LimitClock::system())
    }

    /// As [`Limits::new`], reading the time from `clock`.
    #[must_use]
    pub fn with_clock(per_second: u32, burst: u32, clock: LimitClock) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            RateLimiter::dashmap_with_clock(
                Quota::per_second(rate).allow_burst(burst),
                clock.clone(),
            )
        });
        Self {
            limiter,
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts a request of `client` (`sub:…` or `ip:…`): a 429 past the limit.
    pub fn check(&self, client: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            // Clients whose allowance is full again need no state.
            limiter.retain_recent();
        }
        limiter.check_key(&client.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::TooManyRequests {
                // Whole seconds, rounded up: Retry-After has no fractions.
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_past_its_burst_waits_and_others_do_not() {
        let limits = Limits::new(1, 3);
        for _ in 0..3 {
            limits.check("sub:a").unwrap();
        }
        match limits.check("sub:a") {
            Err(ApiError::TooManyRequests { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("{other:?}"),
        }
        limits.check("sub:b").unwrap();
        let unlimited = Limits::new(0, 0);
        for _ in 0..10_000 {
            unlimited.check("sub:a").unwrap();
        }
    }

    #[test]
    fn the_allowance_refills_as_the_clock_moves() {
        let clock = LimitClock::manual();
        let limits = Limits::with_clock(2, 2, clock.clone());
        limits.check("sub:a").unwrap();
        limits.check("sub:a").unwrap();
        assert!(limits.check("sub:a").is_err());
        clock.advance(Duration::from_millis(499));
        assert!(limits.check("sub:a").is_err());
        clock.advance(Duration::from_millis(1));
        limits.check("sub:a").unwrap();
        assert!(limits.check("sub:a").is_err());
        assert_eq!(clock, clock.clone());
        assert_ne!(clock, LimitClock::manual());
        assert_eq!(LimitClock::system(), LimitClock::default());
    }
}

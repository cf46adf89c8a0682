//! Rate limits per client: each caller gets `server.rate_limit_per_second` requests a
//! second, with bursts of `server.rate_limit_burst`, and past that a 429 with
//! `Retry-After` saying when the next request will be taken.
//!
//! A client is the subject of its token (a SIHCE's client id, a patient's subject), so
//! one SIHCE cannot starve the others however many connections it opens; a request
//! without an acceptable token counts against its IP address, and so do requests to the
//! token endpoint (whose assertions cost a signature check each). The algorithm is GCRA
//! (`governor`): one timestamp per client, no background refill. Counts are per process.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::ApiError;

/// Checks between two prunings of clients not seen lately.
const PRUNE_EVERY: u64 = 1 << 16;

/// The per-client limiter of a server.
#[derive(Debug)]
pub struct Limits {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl Limits {
    /// `per_second` sustained and `burst` at once per client; 0 per second: no limit.
    #[must_use]
    pub fn new(per_second: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            limiter,
            clock: DefaultClock::default(),
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
}

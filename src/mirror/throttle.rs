//! Per-mirror throttling of bytes/s and records/s (governor's GCRA rate limiters).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;

use crate::config::Throttle;

pub struct Throttler {
    bytes: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
    records: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
    clock: DefaultClock,
}

fn limiter(per_second: u64) -> (DefaultDirectRateLimiter, NonZeroU32) {
    // Burst = one second's worth: smooth enough, and any single record fits (larger records
    // are charged one full second).
    let rate =
        NonZeroU32::new(per_second.clamp(1, u32::MAX as u64) as u32).expect("clamped to >= 1");
    (
        RateLimiter::direct(Quota::per_second(rate).allow_burst(rate)),
        rate,
    )
}

impl Throttler {
    pub fn new(cfg: &Throttle) -> Option<Self> {
        if cfg.bytes_per_second.is_none() && cfg.records_per_second.is_none() {
            return None;
        }
        Some(Throttler {
            bytes: cfg.bytes_per_second.map(limiter),
            records: cfg.records_per_second.map(limiter),
            clock: DefaultClock::default(),
        })
    }

    /// Waits until `bytes` and `records` may pass. `idle` runs while waiting (serving delivery
    /// reports). Returns false if cancelled while waiting.
    pub fn wait(
        &mut self,
        bytes: usize,
        records: u32,
        cancel: &CancellationToken,
        idle: impl Fn(),
    ) -> bool {
        for (lim, amount) in [(&self.bytes, bytes as u64), (&self.records, records as u64)] {
            let Some((limiter, cap)) = lim else { continue };
            let n = NonZeroU32::new(amount.clamp(1, cap.get() as u64) as u32).expect(">= 1");
            loop {
                match limiter.check_n(n) {
                    Ok(Ok(())) | Err(_) => break,
                    Ok(Err(not_until)) => {
                        if cancel.is_cancelled() {
                            return false;
                        }
                        let wait = not_until
                            .wait_time_from(self.clock.now())
                            .min(Duration::from_millis(50));
                        idle();
                        std::thread::sleep(wait);
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn records_per_second_is_enforced_after_the_burst() {
        let cfg = Throttle {
            bytes_per_second: None,
            records_per_second: Some(200),
        };
        let mut t = Throttler::new(&cfg).expect("a throttle");
        let cancel = CancellationToken::new();
        let start = Instant::now();
        // 200 pass at once (one second's burst), the next 100 take about half a second.
        for _ in 0..300 {
            assert!(t.wait(10, 1, &cancel, || {}));
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(400),
            "300 records at 200/s took {took:?}"
        );
    }

    #[test]
    fn no_limits_means_no_throttle() {
        assert!(Throttler::new(&Throttle::default()).is_none());
    }
}

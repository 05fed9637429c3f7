//! Failpoints for tests: `STRAIT_FAILPOINT=<name>:<n>` arms the failpoint `name` with the
//! number `n` (its meaning is the failpoint's). Only builds with the `failpoints` feature honour
//! it: the integration tests' build enables the feature (the crate's dev-dependency on itself);
//! `cargo build` and the release binary compile every failpoint out.
//!
//! - `record-path-panic-after:<n>`: the record path panics once, after copying `n` records.
//! - `failover-pause-after-groups:<n>`: `failover`/`failback` pause after applying `n` groups
//!   and wait to be killed.

/// The number the failpoint `name` is armed with, if it is.
#[cfg(feature = "failpoints")]
pub fn armed(name: &str) -> Option<u64> {
    let value = std::env::var("STRAIT_FAILPOINT").ok()?;
    let (armed, n) = value.split_once(':')?;
    (armed == name).then(|| n.parse().ok()).flatten()
}

/// The number the failpoint `name` is armed with, if it is (never: this build ignores
/// failpoints).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn armed(_name: &str) -> Option<u64> {
    None
}

/// True the first time it is called in this process for a failpoint that fires once.
pub fn first_time() -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    static FIRED: AtomicBool = AtomicBool::new(false);
    !FIRED.swap(true, Ordering::SeqCst)
}

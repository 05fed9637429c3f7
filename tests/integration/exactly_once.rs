//! Exactly-once (`delivery: exactly_once`): records, their positions and the offset syncs on the
//! target committed in one transaction. Each test streams records while strait is interrupted
//! and ends with a read_committed reader of the target that must see every source record exactly
//! once, in source order per partition ([`check_copy`] with 0 duplicates). The target broker
//! restart is in `faults`, the rebalance between instances in `scale_out`.

use crate::faults::{env_u64, kill_loop, KillLoop};
use crate::harness::*;

/// kill -9 of strait at seeded random moments (`EOS_KILL_SEED`, default 17), ten times while
/// records stream, each followed by an immediate restart: 0 lost, 0 duplicates.
#[test]
fn exactly_once_through_ten_kill9s_at_random_moments() {
    let (a, b) = shared_clusters();
    let seed = env_u64("EOS_KILL_SEED", 17);
    let copy = kill_loop(
        a,
        b,
        &KillLoop {
            mm2: false,
            exactly_once: true,
            seed,
            kills: 10,
            records: 120_000,
            rate: 2_000,
            delay_ms: 200..2_500,
        },
    );
    assert_eq!(copy.lost, 0, "records lost");
    assert_eq!(
        copy.duplicates, 0,
        "exactly-once: records on the target twice (seed {seed})"
    );
}

/// The same stream at-least-once is the control: kill -9 leaves duplicates there, so the
/// exactly-once test's 0 is the transactions' doing.
#[test]
fn at_least_once_kill9s_leave_duplicates_the_control() {
    let (a, b) = shared_clusters();
    let copy = kill_loop(
        a,
        b,
        &KillLoop {
            mm2: false,
            exactly_once: false,
            seed: 17,
            kills: 3,
            records: 40_000,
            rate: 2_000,
            delay_ms: 200..2_500,
        },
    );
    assert_eq!(copy.lost, 0, "records lost");
    assert!(
        copy.duplicates > 0,
        "at-least-once after 3 kills -9 with no duplicate: the control does not interrupt copying"
    );
}

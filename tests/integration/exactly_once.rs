//! Exactly-once (`delivery: exactly_once`): records, their positions and the offset syncs on the
//! target committed in one transaction. Each test streams records while strait is interrupted
//! and ends with a read_committed reader of the target that must see every source record exactly
//! once, in source order per partition ([`check_copy`] with 0 duplicates). The target broker
//! restart is in `faults`, the rebalances between instances in `scale_out`, a record too
//! large for the target in `replication`, the missing TransactionalId grant in
//! `least_privilege`.
//!
//! The transactional id of a single instance is `strait.<source>`: the kill test is the only
//! exactly-once test with source `A` on the shared clusters (others use aliases of their own,
//! or deployments), so that no two of them fence each other.

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

/// A target that cannot host transactions (here a broker whose `__transaction_state` topic needs
/// three replicas, with one broker): strait says so at start, naming the setting, and copies
/// nothing rather than copying without transactions.
#[test]
fn a_target_without_transactions_is_named_at_start() {
    let (a, _) = shared_clusters();
    let b = ClusterSpec::new("no-txn-B")
        .broker_property("transaction.state.log.replication.factor", "3")
        .start();
    let topic = unique_name("eos-no-txn");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    produce(
        &a.bootstrap(),
        &topic,
        &[OutRecord::to_partition(0, "one".to_string())],
    );
    let mirror = MirrorConfig::a_to_b(&[&topic])
        .set("delivery", "exactly_once")
        .set("transaction_timeout", "5s");
    let strait = StraitProcess::start(&StraitConfig::one_way(a, &b, mirror));
    let named = "transaction coordinator did not answer within 15s: the target does not support \
                 transactions, or cannot host them (its `__transaction_state` topic needs \
                 `transaction.state.log.replication.factor` brokers";
    wait_until(
        std::time::Duration::from_secs(90),
        "strait to name the target's missing transaction support",
        || strait.log_contents().contains(named),
    );
    assert_eq!(
        end_offsets(&b.bootstrap(), &format!("A.{topic}"))
            .iter()
            .sum::<i64>(),
        0,
        "records copied without transactions"
    );
}

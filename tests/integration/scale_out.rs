//! Scale-out (`deployment`): several strait instances share a mirror through a consumer group on
//! the target. While records stream, instances are killed with SIGKILL, join and are restarted
//! one after another; each test ends with the exact check of every record (present, in order
//! per partition, duplicates counted), and the graceful hand-overs (an instance joining, a
//! rolling restart) must copy nothing twice: each shard moves only after its last owner stored
//! its final positions.
//!
//! The tests use 8 shards, so that each topic's 8 partitions sit on all 8 shards and every
//! instance's share is known to hold partitions (3 instances own 3, 3 and 2 shards).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ::strait::records::{Checkpoint, Heartbeat};

use crate::harness::*;

const PARTITIONS: i32 = 8;
const SHARDS: i64 = 8;
/// The group's session timeout: a vanished instance's shards move after this long.
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// The bound on a takeover after a SIGKILL: the session timeout plus 10 s.
const TAKEOVER: Duration = SESSION_TIMEOUT.saturating_add(Duration::from_secs(10));
const SETTLE: Duration = Duration::from_secs(90);
const CATCH_UP: Duration = Duration::from_secs(120);

/// What one instance's `/status` says of its share.
#[derive(Debug, Clone, Default)]
struct Share {
    shards: String,
    partitions: BTreeSet<(String, i32)>,
    duties: bool,
}

fn share(strait: &StraitProcess) -> Option<Share> {
    let answer = curl(&format!("http://{}/status", strait.http_addr()), &[]);
    if answer.status != 200 {
        return None;
    }
    let body = answer.body;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let mirror = &json["mirrors"][0];
    let me = &mirror["sharing"]["instances"][0];
    let partitions = mirror["partitions"]
        .as_array()?
        .iter()
        .filter_map(|p| {
            Some((
                p["topic"].as_str()?.to_string(),
                p["partition"].as_i64()? as i32,
            ))
        })
        .collect();
    Some(Share {
        shards: me["shards"].as_str()?.to_string(),
        partitions,
        duties: me["duties"].as_bool()?,
    })
}

/// Instances sharing one mirror, by index (`None`: killed or stopped for good).
struct Fleet {
    config: StraitConfig,
    instances: Vec<Option<StraitProcess>>,
}

impl Fleet {
    fn start(config: StraitConfig, n: usize) -> Fleet {
        let mut fleet = Fleet {
            config,
            instances: Vec::new(),
        };
        for _ in 0..n {
            fleet.add();
        }
        fleet
    }

    fn add(&mut self) -> usize {
        let i = self.instances.len();
        let strait = StraitProcess::launch(&self.config)
            .env("HOSTNAME", &format!("instance-{i}"))
            .start();
        self.instances.push(Some(strait));
        i
    }

    fn live(&self) -> Vec<usize> {
        (0..self.instances.len())
            .filter(|i| self.instances[*i].is_some())
            .collect()
    }

    fn get(&self, i: usize) -> &StraitProcess {
        self.instances[i].as_ref().expect("a live instance")
    }

    /// Waits until the live instances together copy exactly `all` (each partition once) and each
    /// copies some of them; returns each one's share of `all`.
    fn settled(&self, all: &BTreeSet<(String, i32)>, what: &str) -> BTreeMap<usize, Share> {
        let t0 = Instant::now();
        loop {
            // Only the test's own partitions: other tests' heartbeats topics on the shared
            // source are replicated too (as MM2 does), whatever the topic filter.
            let shares: BTreeMap<usize, Share> = self
                .live()
                .into_iter()
                .filter_map(|i| {
                    let mut s = share(self.get(i))?;
                    s.partitions.retain(|p| all.contains(p));
                    Some((i, s))
                })
                .collect();
            let mut union = BTreeSet::new();
            let mut twice = false;
            for s in shares.values() {
                for p in &s.partitions {
                    twice |= !union.insert(p.clone());
                }
            }
            let duties = shares.values().filter(|s| s.duties).count();
            if shares.len() == self.live().len()
                && !twice
                && union == *all
                && shares
                    .values()
                    .all(|s| !s.partitions.is_empty() && !s.shards.is_empty())
                && duties == 1
            {
                return shares;
            }
            assert!(
                t0.elapsed() < SETTLE,
                "{what}: the instances did not settle on sharing {} partitions within {SETTLE:?}: {shares:?}",
                all.len()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn kill9(&mut self, i: usize) {
        let mut strait = self.instances[i].take().expect("a live instance");
        strait.kill9();
    }

    fn stop(&mut self, i: usize) {
        let strait = self.instances[i].as_mut().expect("a live instance");
        strait.sigterm();
        let exit = strait.wait_exit(Duration::from_secs(60));
        assert_eq!(
            exit.code(),
            Some(0),
            "instance {i}'s exit status after SIGTERM"
        );
    }
}

/// `strait status` lists each instance of the group (the shares `/status` of each reports),
/// which one has the duties, and names the instance copying each partition.
fn status_names_the_instances(fleet: &Fleet, shares: &BTreeMap<usize, Share>) {
    let config = fleet.get(0).config_path().to_string_lossy().into_owned();
    let out = strait_cli(
        &["status", "--config", &config, "--output", "json"],
        Duration::from_secs(60),
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("status --output json: {e}: {}{}", out.stdout, out.stderr));
    let mirror = &json["mirrors"][0];
    let instances = mirror["sharing"]["instances"]
        .as_array()
        .expect("instances");
    assert_eq!(
        instances.len(),
        shares.len(),
        "instances in `strait status`: {instances:?}"
    );
    let name_of = |i: usize| format!("instance-{i}-{}", fleet.get(i).pid());
    for (i, share) in shares {
        let listed = instances
            .iter()
            .find(|x| x["instance"] == name_of(*i).as_str())
            .unwrap_or_else(|| panic!("instance {} not in {instances:?}", name_of(*i)));
        assert_eq!(listed["duties"].as_bool(), Some(share.duties), "{listed}");
        assert_eq!(
            listed["shards"].as_str(),
            Some(share.shards.as_str()),
            "{listed}"
        );
        for (topic, partition) in &share.partitions {
            let p = mirror["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["topic"] == topic.as_str() && p["partition"] == *partition)
                .unwrap_or_else(|| panic!("{topic}-{partition} not in `strait status`"));
            assert_eq!(p["instance"], name_of(*i).as_str(), "{p}");
        }
    }
}

/// Ends the streams, waits until the target holds all of them, stops the instances and checks
/// every topic's copy exactly ([`check_copy`]: nothing lost, order kept; duplicates counted).
fn finish_and_check(
    a: &KafkaCluster,
    topics: &[String],
    mut followers: Vec<Follower>,
    streams: Vec<RecordStream>,
    fleet: &mut Fleet,
) -> Vec<CopyReport> {
    let summaries: Vec<StreamSummary> = streams.into_iter().map(RecordStream::finish).collect();
    for (f, s) in followers.iter_mut().zip(&summaries) {
        f.wait_covers(&s.per_partition, CATCH_UP, "the whole stream");
    }
    for i in fleet.live() {
        fleet.stop(i);
    }
    topics
        .iter()
        .zip(followers)
        .zip(&summaries)
        .map(|((t, f), s)| {
            let source = read_all(&a.bootstrap(), t, Duration::from_secs(60));
            let target = f.read_to_end(Duration::from_secs(60));
            let copy = check_copy(&source, &target, &s.per_partition);
            eprintln!("{t}: {copy:?}");
            copy
        })
        .collect()
}

/// Reads until every follower's target holds what its stream had sent when called; how long
/// that took (panics after `timeout`).
fn catch_up(
    followers: &mut [Follower],
    streams: &[RecordStream],
    timeout: Duration,
    what: &str,
) -> Duration {
    let counts: Vec<Vec<u64>> = streams.iter().map(|s| s.sent_per_partition()).collect();
    let t0 = Instant::now();
    for (f, c) in followers.iter_mut().zip(&counts) {
        f.wait_covers(c, timeout, what);
    }
    t0.elapsed()
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn deployment(name: &str) -> serde_yaml::Value {
    yaml_map(&[
        ("name", serde_yaml::Value::from(name)),
        ("shards", serde_yaml::Value::from(SHARDS)),
        (
            "session_timeout",
            serde_yaml::Value::from(format!("{}s", SESSION_TIMEOUT.as_secs())),
        ),
    ])
}

/// Three instances share 24 partitions of three topics while records stream; one is killed
/// with SIGKILL and its partitions replicate again within the session timeout plus 10 s; a
/// fourth joins; all three live ones are restarted one after another. Every record arrives, in
/// order per partition; duplicates come only from the SIGKILL (the graceful hand-overs copy
/// nothing twice).
#[test]
fn instances_share_partitions_and_take_over_after_sigkill_a_join_and_a_rolling_restart() {
    let (a, b) = shared_clusters();
    let name = unique_name("scale");
    let topics: Vec<String> = (1..=3).map(|i| format!("{name}-{i}")).collect();
    for t in &topics {
        create_topic(&a.bootstrap(), t, PARTITIONS, &[]);
    }
    let all: BTreeSet<(String, i32)> = topics
        .iter()
        .flat_map(|t| (0..PARTITIONS).map(move |p| (t.clone(), p)))
        .collect();
    let config = StraitConfig::a_to_b(a, b, &[&format!("{name}-.*")])
        .set("deployment", deployment(&name))
        .shutdown_timeout("30s");
    let streams: Vec<RecordStream> = topics
        .iter()
        .map(|t| RecordStream::start(&a.bootstrap(), t, PARTITIONS, 150))
        .collect();
    let mut followers: Vec<Follower> = topics
        .iter()
        .map(|t| Follower::new(&b.bootstrap(), &format!("A.{t}"), PARTITIONS))
        .collect();

    let mut fleet = Fleet::start(config, 3);
    let shares = fleet.settled(&all, "three instances");
    eprintln!("three instances: {shares:?}");
    catch_up(
        &mut followers,
        &streams,
        CATCH_UP,
        "the stream with three instances",
    );
    status_names_the_instances(&fleet, &shares);

    // SIGKILL of an instance without the duties: its partitions resume elsewhere.
    let victim = *shares
        .iter()
        .find(|(_, s)| !s.duties)
        .expect("an instance without duties")
        .0;
    let orphaned = shares[&victim].partitions.len();
    let killed_at = Instant::now();
    fleet.kill9(victim);
    let took = catch_up(
        &mut followers,
        &streams,
        TAKEOVER,
        "the killed instance's partitions to replicate again",
    );
    eprintln!(
        "SIGKILL of instance {victim} ({orphaned} partitions): everything sent until then on the target after {:.1}s",
        took.as_secs_f64()
    );
    let shares = fleet.settled(&all, "two instances after the SIGKILL");
    eprintln!(
        "two instances after {:.1}s: {shares:?}",
        killed_at.elapsed().as_secs_f64()
    );
    catch_up(
        &mut followers,
        &streams,
        CATCH_UP,
        "the stream after the SIGKILL",
    );
    let after_kill: usize = followers.iter().map(Follower::duplicates).sum();

    // A fourth instance joins.
    fleet.add();
    let joined_at = Instant::now();
    let shares = fleet.settled(&all, "a fourth instance joined");
    eprintln!(
        "joined, settled after {:.1}s: {shares:?}",
        joined_at.elapsed().as_secs_f64()
    );

    // Rolling restart of every live instance.
    for i in fleet.live() {
        let t0 = Instant::now();
        fleet.stop(i);
        fleet.instances[i].as_mut().unwrap().restart();
        fleet.settled(&all, &format!("instance {i} restarted"));
        eprintln!(
            "instance {i} restarted, settled after {:.1}s",
            t0.elapsed().as_secs_f64()
        );
    }
    catch_up(
        &mut followers,
        &streams,
        CATCH_UP,
        "the stream after the rolling restart",
    );
    let graceful: usize = followers.iter().map(Follower::duplicates).sum::<usize>() - after_kill;

    let duplicates: usize = finish_and_check(a, &topics, followers, streams, &mut fleet)
        .iter()
        .map(|c| c.duplicates)
        .sum();
    eprintln!(
        "duplicates: {after_kill} after the SIGKILL, {graceful} from the join and the rolling restart, {duplicates} in all"
    );
    assert_eq!(
        graceful, 0,
        "a graceful hand-over copied records twice: a shard moved before its final positions were stored"
    );
    assert_eq!(
        duplicates, after_kill,
        "duplicates on the target vs. seen while following"
    );
}

/// Two instances share a mirror; the one with the singleton duties is killed with SIGKILL.
/// Before, heartbeats come at the configured rate (not twice it) and checkpoints translate every
/// partition of a group, also those the other instance copies; after, the survivor takes over
/// the duties within the session timeout plus 10 s, heartbeats continue at the same rate and
/// checkpoints continue, never going backwards.
#[test]
fn singleton_duties_move_when_their_instance_is_killed() {
    let (a, b) = shared_clusters();
    let name = unique_name("duties");
    // Aliases of this test only: the heartbeats of its flow are told apart from other tests'.
    let suffix = name.rsplit('-').next().unwrap().to_string();
    let (src, dst) = (format!("S{suffix}"), format!("T{suffix}"));
    let topic = name.clone();
    let remote = format!("{src}.{topic}");
    let group = format!("{name}-group");
    create_topic(&a.bootstrap(), &topic, PARTITIONS, &[]);
    let config = StraitConfig::new()
        .cluster(&src, ClusterConfig::of(a))
        .cluster(&dst, ClusterConfig::of(b))
        .mirror(
            MirrorConfig::new(&src, &dst)
                .topics(&[&topic])
                .topics_exclude(&[])
                .replication_factor(1)
                .refresh_topics_interval("2s")
                .groups(&[&group])
                .emit_checkpoints_interval("500ms")
                .emit_heartbeats_interval("1s"),
        )
        .set("deployment", deployment(&name))
        .shutdown_timeout("30s");
    let all: BTreeSet<(String, i32)> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
    let stream = RecordStream::start(&a.bootstrap(), &topic, PARTITIONS, 100);
    let mut follower = Follower::new(&b.bootstrap(), &remote, PARTITIONS);
    let mut fleet = Fleet::start(config, 2);
    let shares = fleet.settled(&all, "two instances");
    follower.wait_covers(&stream.sent_per_partition(), CATCH_UP, "the stream");

    // The group has committed on every partition (at a record already copied); each checkpoint
    // is its exact translation: resuming at it on the target reads that record next. The
    // partitions of both instances are translated.
    let commit = |at: u64| {
        let offsets: Vec<(&str, i32, i64)> = (0..PARTITIONS)
            .map(|p| (topic.as_str(), p, at as i64))
            .collect();
        commit_group_offsets(&a.bootstrap(), &group, &offsets);
    };
    let checkpoints_topic = format!("{src}.checkpoints.internal");
    let mut checkpoints = TopicReader::new(&b.bootstrap(), &checkpoints_topic);
    let exact = |recs: &[Rec], target: &[Rec], at: u64| -> BTreeSet<i32> {
        let copies: BTreeMap<(i32, i64), u64> = target
            .iter()
            .filter_map(|r| {
                Some((
                    (r.partition, r.offset),
                    parse_stream_key(r.key.as_deref())?.1,
                ))
            })
            .collect();
        recs.iter()
            .filter_map(|r| Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
            .filter(|c| c.group == group && c.upstream_offset == at as i64)
            .filter(|c| copies.get(&(c.partition, c.downstream_offset)) == Some(&at))
            .map(|c| c.partition)
            .collect()
    };
    let first = *follower.covered().iter().min().unwrap() - 1;
    commit(first);
    let target = follower.records().to_vec();
    checkpoints.wait_until(CATCH_UP, "exact checkpoints of every partition", |recs| {
        exact(recs, &target, first).len() == PARTITIONS as usize
    });

    let mut heartbeats = TopicReader::new(&b.bootstrap(), "heartbeats");
    let beats_between = |recs: &[Rec], from: i64, to: i64| -> usize {
        recs.iter()
            .filter_map(|r| Heartbeat::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
            .filter(|h| h.source_alias == src && h.target_alias == dst)
            .filter(|h| (from..to).contains(&h.timestamp_ms))
            .count()
    };
    let window = 10_000;
    let from = chrono_now_ms();
    heartbeats.wait_until(CATCH_UP, "heartbeats of a 10 s window", |recs| {
        chrono_now_ms() > from + window + 2_000 && beats_between(recs, from, from + window) > 0
    });
    let before = beats_between(heartbeats.records(), from, from + window);

    // SIGKILL of the instance with the duties.
    let leader = *shares
        .iter()
        .find(|(_, s)| s.duties)
        .expect("an instance with duties")
        .0;
    let survivor = *shares.keys().find(|i| **i != leader).unwrap();
    let killed_ms = chrono_now_ms();
    let killed_at = Instant::now();
    fleet.kill9(leader);
    let took = wait_until(
        TAKEOVER,
        "the survivor to take the singleton duties",
        || share(fleet.get(survivor)).is_some_and(|s| s.duties),
    );
    eprintln!("duties moved {:.1}s after the SIGKILL", took.as_secs_f64());
    fleet.settled(&all, "one instance after the SIGKILL");
    follower.wait_covers(
        &stream.sent_per_partition(),
        CATCH_UP,
        "the stream after the SIGKILL",
    );
    let second = *follower.covered().iter().min().unwrap() - 1;
    assert!(second > first, "the stream moved on");
    commit(second);
    let target = follower.records().to_vec();
    checkpoints.wait_until(CATCH_UP, "exact checkpoints after the takeover", |recs| {
        exact(recs, &target, second).len() == PARTITIONS as usize
    });
    let from = chrono_now_ms();
    heartbeats.wait_until(
        CATCH_UP,
        "heartbeats of a 10 s window after the takeover",
        |recs| {
            chrono_now_ms() > from + window + 2_000 && beats_between(recs, from, from + window) > 0
        },
    );
    let after = beats_between(heartbeats.records(), from, from + window);
    let gap_end = heartbeats
        .records()
        .iter()
        .filter_map(|r| Heartbeat::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
        .filter(|h| h.source_alias == src && h.target_alias == dst && h.timestamp_ms > killed_ms)
        .map(|h| h.timestamp_ms)
        .min()
        .unwrap();
    eprintln!(
        "heartbeats per 10 s: {before} with two instances, {after} after the takeover; the first after the SIGKILL {:.1}s after it (killed {:.1}s ago)",
        (gap_end - killed_ms) as f64 / 1000.0,
        killed_at.elapsed().as_secs_f64()
    );
    for (when, n) in [
        ("with two instances", before),
        ("after the takeover", after),
    ] {
        assert!(
            (8..=12).contains(&n),
            "{when}: {n} heartbeats in 10 s at an interval of 1 s (one instance writes them)"
        );
    }

    // Checkpoints never went backwards, per partition.
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for c in checkpoints
        .records()
        .iter()
        .filter_map(|r| Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
        .filter(|c| c.group == group)
    {
        let prev = last.insert(c.partition, c.downstream_offset).unwrap_or(-1);
        assert!(
            c.downstream_offset >= prev,
            "partition {}: checkpoint {} after {prev}",
            c.partition,
            c.downstream_offset
        );
    }

    let summary = stream.finish();
    follower.wait_covers(&summary.per_partition, CATCH_UP, "the whole stream");
    fleet.stop(survivor);
    let source = read_all(&a.bootstrap(), &topic, Duration::from_secs(60));
    let target = follower.read_to_end(Duration::from_secs(60));
    let copy = check_copy(&source, &target, &summary.per_partition);
    eprintln!("{topic}: {copy:?}");
}

/// Exactly-once between instances (`delivery: exactly_once`): three instances share 16
/// partitions while records stream; one is killed with SIGKILL (its open transaction is
/// aborted by the target at its timeout, and the group gives its shards to the others), then a
/// fourth joins (a graceful hand-over: the shards' last transaction is committed before they
/// move). The read_committed reader of the target sees every record exactly once, in order.
#[test]
fn exactly_once_through_a_sigkill_and_a_join() {
    let (a, b) = shared_clusters();
    let name = unique_name("scale-eos");
    let topics: Vec<String> = (1..=2).map(|i| format!("{name}-{i}")).collect();
    for t in &topics {
        create_topic(&a.bootstrap(), t, PARTITIONS, &[]);
    }
    let all: BTreeSet<(String, i32)> = topics
        .iter()
        .flat_map(|t| (0..PARTITIONS).map(move |p| (t.clone(), p)))
        .collect();
    let mirror = MirrorConfig::a_to_b(&[&format!("{name}-.*")])
        .set("delivery", "exactly_once")
        .set("transaction_timeout", "10s");
    let config = StraitConfig::one_way(a, b, mirror)
        .set("deployment", deployment(&name))
        .shutdown_timeout("30s");
    let streams: Vec<RecordStream> = topics
        .iter()
        .map(|t| RecordStream::start(&a.bootstrap(), t, PARTITIONS, 200))
        .collect();
    let mut followers: Vec<Follower> = topics
        .iter()
        .map(|t| Follower::new(&b.bootstrap(), &format!("A.{t}"), PARTITIONS))
        .collect();
    let mut fleet = Fleet::start(config, 3);
    let shares = fleet.settled(&all, "three instances");
    catch_up(
        &mut followers,
        &streams,
        CATCH_UP,
        "the stream with three instances",
    );

    let victim = *shares
        .iter()
        .find(|(_, s)| !s.duties)
        .expect("an instance without duties")
        .0;
    fleet.kill9(victim);
    let took = catch_up(
        &mut followers,
        &streams,
        CATCH_UP,
        "the killed instance's partitions to replicate again",
    );
    eprintln!(
        "exactly-once: SIGKILL of instance {victim}: everything sent until then readable on the target after {:.1}s",
        took.as_secs_f64()
    );
    fleet.settled(&all, "two instances after the SIGKILL");
    fleet.add();
    let shares = fleet.settled(&all, "a fourth instance joined");
    eprintln!("exactly-once: joined: {shares:?}");
    catch_up(
        &mut followers,
        &streams,
        CATCH_UP,
        "the stream after the join",
    );

    let copies = finish_and_check(a, &topics, followers, streams, &mut fleet);
    let duplicates: usize = copies.iter().map(|c| c.duplicates).sum();
    let records: usize = copies.iter().map(|c| c.source_records).sum();
    eprintln!(
        "exactly-once: {records} records, {duplicates} duplicates through a SIGKILL and a join"
    );
    assert_eq!(duplicates, 0, "exactly-once: records on the target twice");
}

/// A zombie after a rebalance: of two instances sharing an exactly-once mirror, one is frozen
/// (SIGSTOP, as a long GC pause or a stalled VM would) with a transaction open, for longer than
/// the session timeout but shorter than the transaction timeout. The group gives its shards to
/// the other instance, which copies them again from their last committed positions. When the
/// frozen one wakes (SIGCONT) and tries to commit what it had copied, the group coordinator
/// refuses its generation: it aborts, so the records it copied after its last commit never
/// reach read_committed consumers a second time. 0 duplicates.
#[test]
fn exactly_once_fences_a_zombie_instance_after_a_rebalance() {
    let (a, b) = shared_clusters();
    let name = unique_name("scale-zombie");
    let topic = name.clone();
    create_topic(&a.bootstrap(), &topic, PARTITIONS, &[]);
    let all: BTreeSet<(String, i32)> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
    // Transactions of 2 s, so that the frozen instance surely holds an open one with records.
    let mirror = MirrorConfig::a_to_b(&[&topic])
        .set("delivery", "exactly_once")
        .set("transaction_interval", "2s")
        .set("transaction_timeout", "60s");
    let config = StraitConfig::one_way(a, b, mirror)
        .set("deployment", deployment(&name))
        .shutdown_timeout("30s");
    let stream = RecordStream::start(&a.bootstrap(), &topic, PARTITIONS, 400);
    let mut follower = Follower::new(&b.bootstrap(), &format!("A.{topic}"), PARTITIONS);
    let mut fleet = Fleet::start(config, 2);
    let shares = fleet.settled(&all, "two instances");
    follower.wait_covers(&stream.sent_per_partition(), CATCH_UP, "the stream");

    let zombie = *shares
        .keys()
        .find(|i| !shares[i].duties)
        .expect("an instance without duties");
    let survivor = 1 - zombie;
    let pid = fleet.get(zombie).pid() as i32;
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let frozen = Instant::now();
    // The survivor owns every partition once the group has given up on the frozen one.
    wait_until(SETTLE, "the survivor to own every partition", || {
        share(fleet.get(survivor)).is_some_and(|s| all.iter().all(|p| s.partitions.contains(p)))
    });
    follower.wait_covers(
        &stream.sent_per_partition(),
        CATCH_UP,
        "the stream with the survivor alone",
    );
    let held = frozen.elapsed();
    assert!(
        held < Duration::from_secs(50),
        "frozen for {held:?}: the zombie's transaction may have timed out (60 s), which would fence it regardless of the group"
    );
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    eprintln!(
        "zombie: instance {zombie} frozen for {:.1}s, woken",
        held.as_secs_f64()
    );
    // It wakes, is refused, rejoins: the two share the partitions again.
    fleet.settled(&all, "the woken instance rejoined");
    follower.wait_covers(
        &stream.sent_per_partition(),
        CATCH_UP,
        "the stream after the zombie woke",
    );
    let log = fleet.get(zombie).log_contents();
    let survivor_log = fleet.get(survivor).log_contents();
    let summary = stream.finish();
    follower.wait_covers(&summary.per_partition, CATCH_UP, "the whole stream");
    for i in fleet.live() {
        fleet.stop(i);
    }
    let source = read_all(&a.bootstrap(), &topic, Duration::from_secs(60));
    let target = follower.read_to_end(Duration::from_secs(60));
    let copy = check_copy(&source, &target, &summary.per_partition);
    eprintln!("zombie: {copy:?}");
    assert_eq!(copy.lost, 0, "records lost");
    assert_eq!(
        copy.duplicates, 0,
        "the zombie's transaction was committed after its shards had moved"
    );
    assert!(
        survivor_log.contains("fenced an instance that left the group"),
        "the survivor did not fence the frozen instance's transactional id"
    );
    assert!(
        log.contains("was fenced") || log.contains("transaction aborted"),
        "the woken instance neither found itself fenced nor aborted a transaction"
    );
}

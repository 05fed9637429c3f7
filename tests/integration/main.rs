//! strait's integration tests: one test binary (`cargo test --test integration`) that runs the
//! real `strait` binary against real Apache Kafka 4.1.1 clusters started by [`harness`].
//!
//! Needs Java 17 and Maven on the PATH: the first run resolves the Kafka jars into
//! `~/.cache/strait` (see `harness/kafka.sh resolve`).

mod alerts;
mod harness;
mod harness_selftest;

mod checkpoints;
mod cli;
mod dr;
mod filters;
mod heartbeats;
mod loops;
mod metrics;
mod mm2_formats;
mod mm2_interop;
mod offset_map;
mod remote_cluster_utils;
mod replication;
mod restart;
mod topic_sync;

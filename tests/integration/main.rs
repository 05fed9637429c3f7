//! strait's integration tests: one test binary (`cargo test --test integration`) that runs the
//! real `strait` binary against real Apache Kafka 4.1.1 clusters started by [`harness`].
//!
//! Needs Java 17 and Maven on the PATH: the first run resolves the Kafka jars into
//! `~/.cache/strait` (see `harness/kafka.sh resolve`).

// The tests are the independent other side: they build their own rdkafka clients and start their
// own threads rather than going through strait's client factory and task module (clippy.toml), so
// that a bug there cannot hide itself.
#![allow(clippy::disallowed_methods)]

mod alerts;
mod harness;
mod harness_selftest;

mod auto_create;
mod canary;
mod checkpoints;
mod cli;
mod deploy_manifests;
mod dr;
mod exactly_once;
mod faults;
mod filters;
mod heartbeats;
mod hostile;
mod identity;
mod least_privilege;
mod loops;
mod metrics;
mod mm2_formats;
mod mm2_interop;
mod offset_map;
mod oidc;
mod outages;
mod prometheus;
mod reload;
mod remote_cluster_utils;
mod replication;
mod restart;
mod rotation;
mod scale_out;
mod secrets;
mod secured;
mod supervision;
mod take_over;
mod target_loss;
mod topic_sync;
mod transactions;
mod verify;
mod versions;

//! The shared test harness: real Kafka clusters, the processes tests run, strait's
//! configuration, and rdkafka helpers to set up and check data.
//!
//! - [`kafka`]: [`KafkaCluster`]; [`shared_clusters`] (`A`, `B`, started once per test
//!   process) and [`shared_auto_create_clusters`] (`auto-A`, `auto-B`, with Kafka's default
//!   `auto.create.topics.enable=true`); dedicated clusters started in parallel with
//!   [`clusters`]`(["drill-A", "drill-B"])` or [`start_clusters`] and [`ClusterSpec`].
//! - [`process`]: the one child-process layer ([`Launch`], [`ChildProcess`], [`Exited`]):
//!   log file that survives restarts, orphan watchdog, kill on drop, signals, waits with a
//!   deadline. Kafka's JVMs, strait, MirrorMaker 2, Java tools and CLI calls all run on it.
//! - [`config`]: [`StraitConfig`] and its parts, strait's YAML built key by key.
//! - [`strait`]: [`StraitProcess`] (`strait run`, with [`StraitRun`] for environment variables
//!   such as `STRAIT_FAILPOINT` and `STRAIT_LOG`), [`strait_cli`] / [`StraitCli`] (one-shot
//!   commands), [`validate`].
//! - [`mm2`]: [`Mm2Properties`] (MirrorMaker 2's properties, built in one place) and
//!   [`Mm2Process`].
//! - [`multi`]: [`MultiCluster`], three-node clusters (replication factor 3,
//!   `min.insync.replicas=2`) with per-node kill/stop/restart, rolling restarts and a
//!   [`toxiproxy`] in front of every node for strait; [`fault_clusters`], the pair the fault
//!   tests share one at a time. [`stream`]: records streaming into a source topic during a
//!   fault ([`RecordStream`]) and the exact check of the copy ([`check_copy`]).
//! - [`client`], [`java`], [`util`]: topics, producing and reading records, group offsets;
//!   Kafka's Java tools; names, deadlines, scratch directories.
//! - [`prometheus`]: a real Prometheus server scraping strait with alert rules. [`oidc`]: an
//!   OpenID Connect token endpoint ([`TokenEndpoint`]) for OAUTHBEARER with client credentials.
//!
//! Most tests use the two shared clusters and keep out of each other's way with unique topic,
//! group and alias names ([`util::unique_name`]) and mirror configs restricted to those names.

// Not every helper is used by every test module yet (the harness serves later issues too).
#![allow(dead_code)]
pub mod client;
pub mod config;
pub mod http;
pub mod java;
pub mod kafka;
pub mod mm2;
pub mod multi;
pub mod oidc;
pub mod process;
pub mod prometheus;
pub mod secure;
pub mod strait;
pub mod stream;
pub mod toxiproxy;
pub mod util;

// Re-exported for every test module, whether or not one uses it yet.
#[allow(unused_imports)]
pub use client::*;
pub use config::*;
pub use http::{curl, get_ok, sample, samples, unlabeled_sample};
pub use java::{java_formatted, java_formatted_partition, java_tool, JavaMain};
#[allow(unused_imports)]
pub use kafka::{
    clusters, shared_auto_create_clusters, shared_clusters, shared_secure_clusters, start_clusters,
    ClusterSpec, KafkaCluster, DEFAULT_KAFKA_VERSION, KAFKA_3_9, KAFKA_NEWEST,
};
pub use mm2::{Mm2Process, Mm2Properties};
#[allow(unused_imports)]
pub use multi::{fault_clusters, FaultClusters, MultiCluster};
#[allow(unused_imports)]
pub use oidc::{oidc_cluster, TokenEndpoint, TokenRequest};
#[allow(unused_imports)]
pub use process::{ChildProcess, Exited, Launch};
#[allow(unused_imports)]
pub use secure::{Listener, Secured};
pub use strait::*;
#[allow(unused_imports)]
pub use stream::{check_copy, parse_stream_key, CopyReport, Follower, RecordStream, StreamSummary};
#[allow(unused_imports)]
pub use toxiproxy::Toxiproxy;
pub use util::*;

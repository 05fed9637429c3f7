//! strait: cross-cluster Apache Kafka replication in the style of MirrorMaker 2.
//!
//! # Data flow
//!
//! ```text
//! source metadata ─▶ topics (filter + policy) ─▶ create / grow remote topics on the target
//!                        │ routes (watch channel, flow::RouteSet)
//!                        ▼
//! source ──fetch──▶ mirror: consume ─▶ rename ─▶ produce (idempotent, acks=all) ──▶ target
//!                        ▲                                 │ delivery reports
//!                        └── progress topic on target ◀── ack tracking
//! ```
//!
//! # Layout (in flow order)
//!
//! - [`config`]: YAML in, validated typed config out (the only user of serde_yaml).
//! - [`policy`]: pure naming, filter, internal-topic and cycle rules (MM2-compatible).
//! - [`records`]: pure encode/decode of MM2's internal record formats.
//! - [`kafka`]: the only place that builds rdkafka clients; idempotent admin helpers.
//! - [`topics`]: discovery of source topics, creation and growth of remote topics.
//! - [`flow`]: the values passed between stages.
//! - [`offset_map`]: the exact upstream→downstream offset map of a partition (pure).
//! - [`mirror`]: the record path, ack tracking and progress.
//! - [`checkpoint`]: group offsets translated into MM2-format checkpoints.
//! - [`heartbeat`]: MM2-format heartbeats to the target.
//! - [`app`]: composition root, supervision, shutdown; [`secret_files`]: rotated secrets and
//!   certificates picked up by reconnecting the mirrors that use them.
//! - [`cli`], [`telemetry`], [`runtime`]: the edges.

// Only kafka::native_admin (librdkafka's C admin API) opts out.
#![deny(unsafe_code)]

pub mod config;
pub mod policy;
pub mod records;

pub mod kafka;
pub mod topics;

pub mod checkpoint;
pub mod coordination;
pub mod dr;
pub mod flow;
pub mod heartbeat;
pub mod mirror;
pub mod offset_map;

pub mod app;
pub mod canary;
pub mod cli;
pub mod runtime;
pub mod secret_files;
pub mod telemetry;

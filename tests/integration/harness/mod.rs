//! The shared test harness: real Kafka clusters ([`kafka`]), rdkafka helpers to set up and
//! check data ([`client`]), the strait binary as a child process ([`strait`]) and small
//! utilities ([`util`]).
//!
//! Most tests use the two clusters of [`shared_clusters`], started once per test process, and
//! keep out of each other's way with unique topic names ([`util::unique_name`]) and mirror
//! configs restricted to those names.

// Not every helper is used by every test module yet (the harness serves later issues too).
#![allow(dead_code)]
// The harness is the independent other side: it builds its own rdkafka clients rather than
// going through strait's client factory in src/kafka/, so a bug there cannot hide itself.
#![allow(clippy::disallowed_methods)]

pub mod client;
pub mod java;
pub mod kafka;
pub mod mm2;
pub mod strait;
pub mod util;

use std::sync::OnceLock;

pub use client::*;
pub use java::{java_formatted, java_formatted_partition, java_tool, JavaMain};
pub use kafka::KafkaCluster;
pub use mm2::Mm2Process;
pub use strait::*;
pub use util::*;

static SHARED: OnceLock<(KafkaCluster, KafkaCluster)> = OnceLock::new();

/// Clusters `A` (source) and `B` (target), started in parallel on first use and killed when the
/// test process exits (atexit handler; the per-JVM watchdogs cover a killed test process).
pub fn shared_clusters() -> &'static (KafkaCluster, KafkaCluster) {
    SHARED.get_or_init(|| {
        let pair = std::thread::scope(|s| {
            let a = s.spawn(|| KafkaCluster::start("A"));
            let b = s.spawn(|| KafkaCluster::start("B"));
            (
                a.join().expect("start cluster A"),
                b.join().expect("start cluster B"),
            )
        });
        // SAFETY: registering a plain extern "C" function without arguments.
        unsafe {
            libc::atexit(destroy_shared_clusters);
        }
        pair
    })
}

extern "C" fn destroy_shared_clusters() {
    if let Some((a, b)) = SHARED.get() {
        a.destroy();
        b.destroy();
    }
}

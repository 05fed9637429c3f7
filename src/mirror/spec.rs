//! What the record path of one mirror is given: its clusters, topics, limits and where its
//! offset maps go.

use std::time::Duration;

use crate::config::{ClusterConfig, OnDataGap, TakeOverConfig, Throttle};
use crate::flow::OffsetMaps;

/// Everything the record path of one mirror needs.
#[derive(Debug, Clone)]
pub struct RecordPathSpec {
    /// `source->target`.
    pub name: String,
    pub source: ClusterConfig,
    pub target: ClusterConfig,
    /// strait's progress topic on the target for this source.
    pub progress_topic: String,
    /// The throttle's limits; a config reload replaces them and the record thread takes the
    /// new ones at its next turn.
    pub throttle: tokio::sync::watch::Receiver<Throttle>,
    /// Time allowed to drain in-flight records and write the final positions on shutdown.
    pub drain_timeout: Duration,
    /// Where to write MM2-format offset syncs, if at all.
    pub offset_syncs: Option<OffsetSyncsSpec>,
    /// Where the acknowledged offset maps are published for checkpoints.
    pub maps: OffsetMaps,
    /// Stamp the provenance header on every copied record (see `policy::graph`). The header is
    /// honoured either way: a record is never copied into a cluster it lists.
    pub stamp_provenance: bool,
    /// What a partition does when the source deleted records before they were copied.
    pub on_data_gap: OnDataGap,
    /// `delivery: exactly_once`: the transactions' id and timing; `None`: at-least-once.
    pub exactly_once: Option<super::transaction::ExactlyOnceSpec>,
    /// `take_over_mm2`: where MirrorMaker 2's positions are read at start.
    pub take_over_mm2: Option<TakeOverConfig>,
}

/// MM2's offset-syncs topic of this mirror and the cluster it lives on.
#[derive(Debug, Clone)]
pub struct OffsetSyncsSpec {
    pub topic: String,
    /// On the source (MM2's default) rather than the target.
    pub on_source: bool,
}

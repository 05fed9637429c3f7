//! Values passed between the stages over channels (see the data flow in the crate docs). Stages
//! depend on these types, never on each other.

use std::sync::Arc;

/// One replicated topic: where it comes from, where it goes, and how many partitions the record
/// path may copy (partitions that exist on both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub source_topic: Arc<str>,
    pub remote_topic: Arc<str>,
    pub partitions: i32,
}

/// The full set of routes of one mirror, published by topic sync whenever it changes.
pub type RouteSet = Arc<Vec<Route>>;

/// The latest offset map of one replicated source partition.
#[derive(Debug, Clone)]
pub struct PartitionMap {
    pub remote_topic: Arc<str>,
    pub map: crate::offset_map::OffsetMap,
}

/// Offset maps by source (topic, partition): written by the record path with every progress
/// write (so they only cover what is acknowledged), read by checkpoints.
pub type OffsetMaps =
    Arc<std::sync::RwLock<std::collections::HashMap<(String, i32), PartitionMap>>>;

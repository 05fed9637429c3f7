//! Replication lag of one partition, from the source's end offset (the record consumer's
//! librdkafka statistics, so no request per partition) and what the target acknowledged.

use super::tracker::PartitionTrack;

/// How far one partition is behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    /// Source records not yet acknowledged by the target.
    pub records: i64,
    /// Age of the oldest of them. With nothing in flight an upper bound: the age of the newest
    /// acknowledged record (what waits is younger). 0 when caught up.
    pub seconds: f64,
}

/// The lag of a partition whose source log ends at `end`, at wall-clock time `now_ms`.
pub fn lag(track: &PartitionTrack, end: i64, now_ms: i64) -> Lag {
    let records = (end - track.committed()).max(0);
    let seconds = if records == 0 {
        0.0
    } else {
        match track.oldest_inflight_ts().or(track.last_ts()) {
            Some(ts) if ts > 0 => ((now_ms - ts).max(0) as f64) / 1000.0,
            _ => 0.0,
        }
    };
    Lag { records, seconds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_unacknowledged_records_and_the_age_of_the_oldest() {
        let mut t = PartitionTrack::new(100);
        assert_eq!(
            lag(&t, 100, 5_000),
            Lag {
                records: 0,
                seconds: 0.0
            }
        );
        // 100 and 101 in flight, written at 1 s and 2 s; the log ends at 110.
        t.produced(100, 1_000);
        t.produced(101, 2_000);
        assert_eq!(
            lag(&t, 110, 5_000),
            Lag {
                records: 10,
                seconds: 4.0
            }
        );
        t.acked(100, 0);
        assert_eq!(lag(&t, 110, 5_000).seconds, 3.0);
        t.acked(101, 1);
        // Nothing in flight: the newest acknowledged record's age bounds what waits.
        assert_eq!(
            lag(&t, 110, 5_000),
            Lag {
                records: 8,
                seconds: 3.0
            }
        );
        // A position past the (stale) end never reads as negative lag.
        assert_eq!(lag(&t, 90, 5_000).records, 0);
    }
}

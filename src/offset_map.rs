//! The exact upstream→downstream offset map of one partition, kept as breakpoints.
//!
//! Within a partition mirroring is monotonic: each acknowledged record maps an upstream offset
//! `u` to a downstream offset `d`, and consecutive records usually advance both by one. The map
//! is therefore piecewise linear and changes only at gaps (compaction or transaction markers
//! upstream, other writers or retries downstream). It is stored as runs `(u, d, len)` — the
//! records `u..u+len` went to `d..d+len` — so memory is proportional to the number of gaps, not
//! records. Pure data structure; the record path feeds it acknowledged records in upstream order.

use serde::{Deserialize, Serialize};

/// At most this many runs are kept per partition; the oldest are dropped first, after which
/// offsets older than the map translate to nothing (never to a wrong value).
pub const MAX_RUNS: usize = 256;

/// `len` consecutive upstream offsets from `u` were written at consecutive downstream offsets
/// from `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub u: i64,
    pub d: i64,
    pub len: i64,
}

/// The result of translating a committed upstream offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// The downstream offset of the first replicated record at or after the upstream offset.
    Exact(i64),
    /// The upstream offset is beyond what has been replicated: the end of what has been
    /// replicated (resuming there skips nothing that exists downstream).
    BehindReplication(i64),
}

impl Translation {
    pub fn offset(self) -> i64 {
        match self {
            Translation::Exact(o) | Translation::BehindReplication(o) => o,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetMap {
    runs: Vec<Run>,
}

impl OffsetMap {
    pub fn from_runs(mut runs: Vec<Run>) -> Self {
        runs.retain(|r| r.len >= 0);
        runs.sort_by_key(|r| r.u);
        OffsetMap { runs }
    }

    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Records that copying (re)started at upstream offset `floor` and its first record `u` was
    /// written at `d`: the offsets `floor..u` hold no record (compacted, aborted, or deleted
    /// before copying began), so they translate to `d` too. Kept as a zero-length run.
    pub fn record_first(&mut self, floor: i64, u: i64, d: i64) {
        let covered = self.runs.last().map_or(i64::MIN, |r| r.u + r.len);
        if floor < u && floor >= covered {
            self.runs.push(Run {
                u: floor,
                d,
                len: 0,
            });
        }
        self.record(u, d);
    }

    /// Records that upstream offset `u` was written at downstream offset `d`. Calls come in
    /// upstream order for one copy of the data; after a rewind (a restart or a retry copies
    /// records again) `u` may go back, and the newer copy replaces the map from `u` on.
    pub fn record(&mut self, u: i64, d: i64) {
        if let Some(last) = self.runs.last_mut() {
            let (end_u, end_d) = (last.u + last.len, last.d + last.len);
            if u == end_u && d == end_d {
                last.len += 1;
                return;
            }
            if u < end_u {
                // A second copy: forget what the first copy said from `u` on.
                self.truncate_from(u);
            }
        }
        self.runs.push(Run { u, d, len: 1 });
        if self.runs.len() > MAX_RUNS {
            let excess = self.runs.len() - MAX_RUNS;
            self.runs.drain(..excess);
        }
    }

    fn truncate_from(&mut self, u: i64) {
        while let Some(last) = self.runs.last_mut() {
            if last.u >= u {
                self.runs.pop();
            } else {
                last.len = last.len.min(u - last.u);
                break;
            }
        }
    }

    /// Translates a committed upstream offset `u` (the next record the group would read):
    /// the downstream offset of the first replicated record at or after `u`, never beyond it.
    /// `None` when `u` is older than the map (or the map is empty).
    pub fn translate(&self, u: i64) -> Option<Translation> {
        let first = self.runs.first()?;
        if u < first.u {
            return None;
        }
        // The last run starting at or before u.
        let i = self.runs.partition_point(|r| r.u <= u) - 1;
        let run = self.runs[i];
        if u < run.u + run.len {
            return Some(Translation::Exact(run.d + (u - run.u)));
        }
        match self.runs.get(i + 1) {
            // u falls in a gap: the next replicated record is the next run's first.
            Some(next) => Some(Translation::Exact(next.d)),
            None => Some(Translation::BehindReplication(run.d + run.len)),
        }
    }
    /// The inverse of [`translate`](Self::translate), for failing back: given a committed
    /// offset `d` of the downstream (remote) topic, the upstream offset of the first copied
    /// record at or after `d`, never beyond it. `next_upstream` is the first upstream offset not
    /// yet copied: a group that read everything copied resumes there upstream. `None` when `d`
    /// is older than the map.
    pub fn translate_back(&self, d: i64, next_upstream: i64) -> Option<i64> {
        let copied: Vec<&Run> = self.runs.iter().filter(|r| r.len > 0).collect();
        let first = copied.first()?;
        if d < first.d {
            return None;
        }
        for run in copied {
            if d < run.d {
                // d falls between two copies (records not written by this mirror's latest
                // copy): the next copied record is this run's first.
                return Some(run.u);
            }
            if d < run.d + run.len {
                return Some(run.u + (d - run.d));
            }
        }
        Some(next_upstream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(i64, i64)]) -> OffsetMap {
        let mut m = OffsetMap::default();
        for &(u, d) in pairs {
            m.record(u, d);
        }
        m
    }

    #[test]
    fn translate_back_inverts_translate() {
        // 0..10 -> 100..110, gap upstream 10..15 (aborted), 15..20 -> 110..115, then a second
        // writer downstream at 115..117 and 20..22 -> 117..119.
        let m = map(&[
            (0, 100),
            (1, 101),
            (2, 102),
            (3, 103),
            (4, 104),
            (5, 105),
            (6, 106),
            (7, 107),
            (8, 108),
            (9, 109),
            (15, 110),
            (16, 111),
            (17, 112),
            (18, 113),
            (19, 114),
            (20, 117),
            (21, 118),
        ]);
        assert_eq!(m.translate_back(99, 22), None);
        assert_eq!(m.translate_back(100, 22), Some(0));
        assert_eq!(m.translate_back(109, 22), Some(9));
        assert_eq!(m.translate_back(110, 22), Some(15));
        assert_eq!(m.translate_back(114, 22), Some(19));
        assert_eq!(m.translate_back(115, 22), Some(20));
        assert_eq!(m.translate_back(116, 22), Some(20));
        assert_eq!(m.translate_back(118, 22), Some(21));
        // Everything copied was read: resume at the first upstream offset not yet copied.
        assert_eq!(m.translate_back(119, 25), Some(25));
        assert_eq!(m.translate_back(500, 25), Some(25));
        // Round trip for every copied record.
        for u in (0..10).chain(15..22) {
            let d = m.translate(u).unwrap().offset();
            assert_eq!(m.translate_back(d, 22), Some(u), "u={u}");
        }
        assert_eq!(OffsetMap::default().translate_back(0, 0), None);
    }

    #[test]
    fn contiguous_copy_is_one_run() {
        let m = map(&(0..1000).map(|i| (i, i + 50)).collect::<Vec<_>>());
        assert_eq!(
            m.runs(),
            &[Run {
                u: 0,
                d: 50,
                len: 1000
            }]
        );
        assert_eq!(m.translate(0), Some(Translation::Exact(50)));
        assert_eq!(m.translate(999), Some(Translation::Exact(1049)));
        assert_eq!(
            m.translate(1000),
            Some(Translation::BehindReplication(1050))
        );
        assert_eq!(
            m.translate(5000),
            Some(Translation::BehindReplication(1050))
        );
    }

    #[test]
    fn upstream_gaps_translate_to_the_next_replicated_record() {
        // 0..3 copied, 3..7 a transaction (aborted records + marker), 7..9 copied.
        let m = map(&[(0, 0), (1, 1), (2, 2), (7, 3), (8, 4)]);
        assert_eq!(
            m.runs(),
            &[Run { u: 0, d: 0, len: 3 }, Run { u: 7, d: 3, len: 2 }]
        );
        for u in 3..=7 {
            assert_eq!(m.translate(u), Some(Translation::Exact(3)), "u={u}");
        }
        assert_eq!(m.translate(2), Some(Translation::Exact(2)));
        assert_eq!(m.translate(8), Some(Translation::Exact(4)));
        assert_eq!(m.translate(9), Some(Translation::BehindReplication(5)));
    }

    #[test]
    fn downstream_gaps_start_a_new_run() {
        let m = map(&[(0, 10), (1, 11), (2, 20), (3, 21)]);
        assert_eq!(m.runs().len(), 2);
        assert_eq!(m.translate(1), Some(Translation::Exact(11)));
        assert_eq!(m.translate(2), Some(Translation::Exact(20)));
    }

    #[test]
    fn a_second_copy_replaces_the_first_from_where_it_starts() {
        // Copied 0..10 at 0..10, then a restart copied 6.. again at 10..
        let mut pairs: Vec<(i64, i64)> = (0..10).map(|i| (i, i)).collect();
        pairs.extend((6..12).map(|i| (i, i + 4)));
        let m = map(&pairs);
        assert_eq!(
            m.runs(),
            &[
                Run { u: 0, d: 0, len: 6 },
                Run {
                    u: 6,
                    d: 10,
                    len: 6
                }
            ]
        );
        assert_eq!(m.translate(5), Some(Translation::Exact(5)));
        assert_eq!(m.translate(6), Some(Translation::Exact(10)));
        assert_eq!(m.translate(11), Some(Translation::Exact(15)));
    }

    #[test]
    fn offsets_older_than_the_map_translate_to_nothing() {
        let mut m = OffsetMap::default();
        assert_eq!(m.translate(0), None);
        m.record(100, 0);
        assert_eq!(m.translate(99), None);
        assert_eq!(m.translate(100), Some(Translation::Exact(0)));
    }

    #[test]
    fn memory_is_bounded_and_drops_the_oldest_runs() {
        let mut m = OffsetMap::default();
        for i in 0..(MAX_RUNS as i64 + 10) {
            m.record(i * 2, i); // every other upstream offset: a gap each time
        }
        assert_eq!(m.runs().len(), MAX_RUNS);
        assert_eq!(m.translate(0), None, "dropped runs no longer translate");
        assert_eq!(m.translate(20), Some(Translation::Exact(10)));
        assert_eq!(m.translate(21), Some(Translation::Exact(11)));
    }

    #[test]
    fn offsets_before_the_first_copied_record_translate_to_it() {
        // Copying began at the log start (0); the cleaner had removed 0..7.
        let mut m = OffsetMap::default();
        m.record_first(0, 7, 0);
        m.record(8, 1);
        for u in 0..=7 {
            assert_eq!(m.translate(u), Some(Translation::Exact(0)), "u={u}");
        }
        assert_eq!(m.translate(8), Some(Translation::Exact(1)));
        assert_eq!(m.translate(9), Some(Translation::BehindReplication(2)));
        assert_eq!(
            OffsetMap::from_runs(m.runs().to_vec()),
            m,
            "persisted as is"
        );
        // A restart at 9 whose first record is 12: 9..12 translate to it, older runs stay.
        m.record_first(9, 12, 5);
        assert_eq!(m.translate(10), Some(Translation::Exact(5)));
        assert_eq!(m.translate(3), Some(Translation::Exact(0)));
    }

    #[test]
    fn from_runs_round_trips() {
        let m = map(&[(0, 0), (1, 1), (5, 2)]);
        assert_eq!(OffsetMap::from_runs(m.runs().to_vec()), m);
    }
}

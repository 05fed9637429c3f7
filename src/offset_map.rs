//! The exact upstream→downstream offset map of one partition, kept as breakpoints.
//!
//! Within a partition mirroring is monotonic: each acknowledged record maps an upstream offset
//! `u` to a downstream offset `d`, and consecutive records usually advance both by one. The map
//! is therefore piecewise linear and changes only at gaps (compaction or transaction markers
//! upstream, other writers or retries downstream). It is stored as runs `(u, d, len)` — the
//! records `u..u+len` went to `d..d+len` — so memory is proportional to the number of gaps, not
//! records. On a topic written by transactional producers every transaction ends in a commit
//! marker, so every transaction starts a run.
//!
//! How long the history is: as long as someone needs it. The record path drops the runs below
//! the lowest committed offset of the groups checkpoints translate ([`OffsetMap::prune_below`]),
//! and the runs beyond the mirror's memory cap ([`fair_limit`], [`OffsetMap::drop_to_bytes`]) or
//! beyond what one progress record holds ([`OffsetMap::fit_encoded`]); offsets older than the
//! map then translate to nothing, never to a wrong value.
//!
//! Memory: runs live in chunks of up to 1024, each run as three `u32` relative to its chunk's
//! base offsets: [`BYTES_PER_RUN`] bytes a run, plus 64 bytes a chunk. Chunks are shared
//! (`Arc`) between clones, so the copy the record path publishes for checkpoints costs only the
//! chunk being filled. Persisted as a flat delta encoding ([`OffsetMap::to_deltas`]).
//!
//! Pure data structure; the record path feeds it acknowledged records in upstream order.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Heap bytes of one run in a full chunk (three `u32`).
pub const BYTES_PER_RUN: usize = size_of::<Rel>();

/// The most bytes the encoded runs of one partition take in its progress record (the JSON array
/// of [`OffsetMap::to_deltas`]). Well below the 1 MB that Kafka and librdkafka accept per record
/// by default. A transaction of a few records encodes in 6 to 8 bytes (`1,0,3,`): about 70,000
/// transactions of history per partition.
pub const MAX_ENCODED_BYTES: usize = 512 * 1024;

/// Runs per chunk.
#[cfg(not(test))]
const CHUNK: usize = 1024;
/// Small in unit tests, so that they cross chunk boundaries.
#[cfg(test)]
const CHUNK: usize = 4;

/// Heap bytes of a chunk besides its runs: the `Arc` allocation (two counters and the chunk's
/// fields) and its pointer in the chunk list.
const CHUNK_OVERHEAD: usize = 2 * size_of::<usize>() + size_of::<Chunk>() + size_of::<Arc<Chunk>>();

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

/// A run relative to its chunk's base offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rel {
    u: u32,
    d: u32,
    len: u32,
}

/// Up to [`CHUNK`] consecutive runs. Never empty.
#[derive(Debug)]
struct Chunk {
    base_u: i64,
    base_d: i64,
    runs: Vec<Rel>,
}

impl Clone for Chunk {
    /// Keeps the capacity: a chunk being filled is copied when a published copy shares it, and
    /// the copy goes on filling without growing past [`CHUNK`].
    fn clone(&self) -> Chunk {
        let mut runs = Vec::with_capacity(self.runs.capacity());
        runs.extend_from_slice(&self.runs);
        Chunk {
            base_u: self.base_u,
            base_d: self.base_d,
            runs,
        }
    }
}

impl Chunk {
    fn new(run: Run) -> Chunk {
        let mut runs = Vec::with_capacity(4.min(CHUNK));
        runs.push(Rel {
            u: 0,
            d: 0,
            len: run.len as u32,
        });
        Chunk {
            base_u: run.u,
            base_d: run.d,
            runs,
        }
    }

    fn get(&self, i: usize) -> Run {
        let r = self.runs[i];
        Run {
            u: self.base_u + i64::from(r.u),
            d: self.base_d + i64::from(r.d),
            len: i64::from(r.len),
        }
    }

    fn first_u(&self) -> i64 {
        self.base_u + i64::from(self.runs[0].u)
    }

    /// `run` relative to this chunk, if it fits.
    fn rel(&self, run: Run) -> Option<Rel> {
        Some(Rel {
            u: u32::try_from(run.u.checked_sub(self.base_u)?).ok()?,
            d: u32::try_from(run.d.checked_sub(self.base_d)?).ok()?,
            len: u32::try_from(run.len).ok()?,
        })
    }

    /// Appends `rel`, growing by doubling but never past [`CHUNK`].
    fn push(&mut self, rel: Rel) {
        if self.runs.len() == self.runs.capacity() {
            let want = (self.runs.capacity() * 2).clamp(4, CHUNK);
            self.runs.reserve_exact(want - self.runs.len());
        }
        self.runs.push(rel);
    }

    fn heap_bytes(&self) -> usize {
        self.runs.capacity() * BYTES_PER_RUN + CHUNK_OVERHEAD
    }
}

#[derive(Debug, Clone, Default)]
pub struct OffsetMap {
    chunks: Vec<Arc<Chunk>>,
    len: usize,
}

impl PartialEq for OffsetMap {
    /// The same runs, however they are laid out in chunks.
    fn eq(&self, other: &OffsetMap) -> bool {
        self.len == other.len && self.runs().eq(other.runs())
    }
}

impl Eq for OffsetMap {}

impl OffsetMap {
    /// A map of `runs` (sorted by upstream offset; negative lengths and runs overlapping an
    /// earlier one are left out).
    pub fn from_runs(mut runs: Vec<Run>) -> Self {
        runs.retain(|r| r.len >= 0);
        runs.sort_by_key(|r| r.u);
        let mut m = OffsetMap::default();
        for run in runs {
            if m.last().is_none_or(|l| run.u >= l.u + l.len) {
                m.push(run);
            }
        }
        m
    }

    /// The runs in upstream order.
    pub fn runs(&self) -> impl Iterator<Item = Run> + '_ {
        self.chunks
            .iter()
            .flat_map(|c| (0..c.runs.len()).map(move |i| c.get(i)))
    }

    /// How many runs.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The upstream offset below which nothing translates (`None`: empty map).
    pub fn first_upstream(&self) -> Option<i64> {
        self.chunks.first().map(|c| c.first_u())
    }

    /// Heap bytes held (for a clone that shares every chunk, only the chunk list is its own).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.heap_bytes()).sum::<usize>()
            + (self.chunks.capacity() - self.chunks.len()) * size_of::<Arc<Chunk>>()
    }

    /// Forgets everything (the partition's log was replaced, e.g. its topic re-created).
    pub fn clear(&mut self) {
        *self = OffsetMap::default();
    }

    /// The last run (the one that grows).
    pub fn last(&self) -> Option<Run> {
        let c = self.chunks.last()?;
        Some(c.get(c.runs.len() - 1))
    }

    /// Appends a run after the last one (split if longer than a chunk entry holds).
    fn push(&mut self, mut run: Run) {
        while run.len > i64::from(u32::MAX) {
            let head = Run {
                len: i64::from(u32::MAX),
                ..run
            };
            self.push(head);
            run = Run {
                u: run.u + head.len,
                d: run.d + head.len,
                len: run.len - head.len,
            };
        }
        if let Some(c) = self.chunks.last_mut() {
            if c.runs.len() < CHUNK {
                if let Some(rel) = c.rel(run) {
                    Arc::make_mut(c).push(rel);
                    self.len += 1;
                    return;
                }
            }
        }
        self.chunks.push(Arc::new(Chunk::new(run)));
        self.len += 1;
    }

    /// Sets the length of the last run (`len` fits a chunk entry).
    fn set_last_len(&mut self, len: i64) {
        let c = Arc::make_mut(self.chunks.last_mut().expect("a last run"));
        c.runs.last_mut().expect("chunks are not empty").len = len as u32;
    }

    fn pop(&mut self) {
        let Some(c) = self.chunks.last_mut() else {
            return;
        };
        if c.runs.len() == 1 {
            self.chunks.pop();
        } else {
            Arc::make_mut(c).runs.pop();
        }
        self.len -= 1;
    }

    /// Records that copying (re)started at upstream offset `floor` and its first record `u` was
    /// written at `d`: the offsets `floor..u` hold no record (compacted, aborted, or deleted
    /// before copying began), so they translate to `d` too. Kept as a zero-length run.
    pub fn record_first(&mut self, floor: i64, u: i64, d: i64) {
        let covered = self.last().map_or(i64::MIN, |r| r.u + r.len);
        if floor < u && floor >= covered {
            self.push(Run {
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
        if let Some(last) = self.last() {
            let (end_u, end_d) = (last.u + last.len, last.d + last.len);
            if u == end_u && d == end_d && last.len < i64::from(u32::MAX) {
                self.set_last_len(last.len + 1);
                return;
            }
            if u < end_u {
                // A second copy: forget what the first copy said from `u` on.
                self.truncate_from(u);
                // A zero-length run left last named where the first copy's first record went:
                // the offsets it covers now translate to where this copy puts it.
                if let Some(zero) = self.last().filter(|r| r.len == 0) {
                    self.pop();
                    self.push(Run { d, ..zero });
                }
            }
        }
        self.push(Run { u, d, len: 1 });
    }

    fn truncate_from(&mut self, u: i64) {
        while let Some(last) = self.last() {
            if last.u >= u {
                self.pop();
            } else {
                if last.u + last.len > u {
                    self.set_last_len(u - last.u);
                }
                break;
            }
        }
    }

    /// Where the last run starting at or before `u` is: (chunk, index in the chunk).
    fn locate(&self, u: i64) -> Option<(usize, usize)> {
        let c = self.chunks.partition_point(|ch| ch.first_u() <= u);
        let chunk = self.chunks.get(c.checked_sub(1)?)?;
        let i = chunk
            .runs
            .partition_point(|r| chunk.base_u + i64::from(r.u) <= u);
        Some((c - 1, i - 1))
    }

    /// The run after (chunk `c`, index `i`).
    fn next_run(&self, c: usize, i: usize) -> Option<Run> {
        let chunk = &self.chunks[c];
        if i + 1 < chunk.runs.len() {
            Some(chunk.get(i + 1))
        } else {
            self.chunks.get(c + 1).map(|n| n.get(0))
        }
    }

    /// Translates a committed upstream offset `u` (the next record the group would read):
    /// the downstream offset of the first replicated record at or after `u`, never beyond it.
    /// `None` when `u` is older than the map (or the map is empty).
    pub fn translate(&self, u: i64) -> Option<Translation> {
        let (c, i) = self.locate(u)?;
        let run = self.chunks[c].get(i);
        if u < run.u + run.len {
            return Some(Translation::Exact(run.d + (u - run.u)));
        }
        match self.next_run(c, i) {
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
        let mut copied = self.runs().filter(|r| r.len > 0).peekable();
        let first = copied.peek()?;
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

    /// Drops the runs no committed offset at or after `u` needs: all but the last run starting
    /// at or before `u` (which translates `u` itself) and the runs after it. Returns how many
    /// runs were dropped.
    pub fn prune_below(&mut self, u: i64) -> usize {
        match self.locate(u) {
            Some((c, i)) => {
                let before: usize = self.chunks[..c].iter().map(|ch| ch.runs.len()).sum();
                self.drop_oldest(before + i)
            }
            None => 0,
        }
    }

    /// Drops the `n` oldest runs, always keeping the last one. Returns how many were dropped.
    pub fn drop_oldest(&mut self, n: usize) -> usize {
        let n = n.min(self.len.saturating_sub(1));
        let mut left = n;
        let whole = self
            .chunks
            .iter()
            .take_while(|c| {
                let fits = c.runs.len() <= left;
                if fits {
                    left -= c.runs.len();
                }
                fits
            })
            .count();
        self.chunks.drain(..whole);
        if self.chunks.capacity() > 2 * self.chunks.len() + 8 {
            self.chunks.shrink_to_fit();
        }
        if left > 0 {
            let c = Arc::make_mut(&mut self.chunks[0]);
            c.runs.drain(..left);
            c.runs.shrink_to_fit();
        }
        self.len -= n;
        n
    }

    /// Drops the oldest runs (keeping the last) until the map holds at most `limit` heap bytes.
    /// Returns how many were dropped.
    pub fn drop_to_bytes(&mut self, limit: usize) -> usize {
        let mut dropped = 0;
        while self.len > 1 && self.heap_bytes() > limit {
            let excess = self.heap_bytes() - limit;
            let first = &self.chunks[0];
            // A whole chunk frees its overhead too; part of one frees its runs' bytes.
            let n = if first.heap_bytes() <= excess {
                first.runs.len()
            } else {
                excess.div_ceil(BYTES_PER_RUN).min(first.runs.len())
            };
            dropped += self.drop_oldest(n);
        }
        dropped
    }

    /// The flat delta encoding persisted in progress records: for each run `u - pu`, `d - pd`,
    /// `len`, where `(pu, pd)` is the end of the run before (`(0, 0)` for the first). A
    /// transaction of three records after the previous one's commit marker is `1,0,3`.
    pub fn to_deltas(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.len * 3);
        let (mut pu, mut pd) = (0i64, 0i64);
        for r in self.runs() {
            out.extend([r.u - pu, r.d - pd, r.len]);
            (pu, pd) = (r.u + r.len, r.d + r.len);
        }
        out
    }

    /// The map of a [`to_deltas`](Self::to_deltas) encoding, or why it is not one.
    pub fn from_deltas(deltas: &[i64]) -> Result<OffsetMap, String> {
        if deltas.len() % 3 != 0 {
            return Err(format!(
                "{} numbers: not a multiple of 3 (upstream delta, downstream delta, length)",
                deltas.len()
            ));
        }
        let mut m = OffsetMap::default();
        let (mut pu, mut pd) = (0i64, 0i64);
        for (i, t) in deltas.chunks_exact(3).enumerate() {
            let (du, dd, len) = (t[0], t[1], t[2]);
            if len < 0 || (i > 0 && du < 0) {
                return Err(format!(
                    "run {i}: negative length or overlapping the run before"
                ));
            }
            let overflow = || format!("run {i}: offsets out of range");
            let u = pu.checked_add(du).ok_or_else(overflow)?;
            let d = pd.checked_add(dd).ok_or_else(overflow)?;
            m.push(Run { u, d, len });
            pu = u.checked_add(len).ok_or_else(overflow)?;
            pd = d.checked_add(len).ok_or_else(overflow)?;
        }
        Ok(m)
    }

    /// The length of [`to_deltas`](Self::to_deltas) as a JSON array, in bytes.
    pub fn encoded_len(&self) -> usize {
        let numbers = self.encoded_sizes().last().map_or(0, |s| s.1);
        json_array_len(self.len, numbers)
    }

    /// For each run i: (bytes of its numbers relative to (0, 0), bytes of the numbers of runs
    /// 0..=i as encoded, run index).
    fn encoded_sizes(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let (mut pu, mut pd) = (0i64, 0i64);
        let mut total = 0usize;
        self.runs().enumerate().map(move |(i, r)| {
            total += num_len(r.u - pu) + num_len(r.d - pd) + num_len(r.len);
            (pu, pd) = (r.u + r.len, r.d + r.len);
            let absolute = num_len(r.u) + num_len(r.d) + num_len(r.len);
            (absolute, total, i)
        })
    }

    /// Drops the oldest runs (keeping the last) until the encoding takes at most `max` bytes.
    /// Returns how many were dropped.
    pub fn fit_encoded(&mut self, max: usize) -> usize {
        if self.encoded_len() <= max {
            return 0;
        }
        let total = self.encoded_sizes().last().map_or(0, |s| s.1);
        // Keeping runs s.. costs run s's numbers relative to (0, 0), the deltas of the others
        // (total minus the prefix up to s), and the brackets and commas.
        let mut keep_from = self.len.saturating_sub(1);
        for (absolute, upto, s) in self.encoded_sizes() {
            let cost = absolute + (total - upto) + json_array_len(self.len - s, 0);
            if cost <= max {
                keep_from = s;
                break;
            }
        }
        self.drop_oldest(keep_from)
    }
}

/// Bytes of a JSON array of `runs` runs (3 numbers each) whose numbers take `numbers` bytes.
fn json_array_len(runs: usize, numbers: usize) -> usize {
    2 + numbers + (runs * 3).saturating_sub(1)
}

/// Bytes of `n` in decimal.
fn num_len(n: i64) -> usize {
    let sign = usize::from(n < 0);
    sign + n
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |l| l as usize + 1)
}

/// The largest per-partition size `limit` such that the sizes, each cut to `limit`, add up to
/// at most `cap`: the largest maps give up their oldest runs first, and none gives up more than
/// it must. `None` when everything fits.
pub fn fair_limit(sizes: &mut [usize], cap: usize) -> Option<usize> {
    if sizes.iter().sum::<usize>() <= cap {
        return None;
    }
    sizes.sort_unstable();
    let mut remaining = cap;
    let n = sizes.len();
    for (k, &s) in sizes.iter().enumerate() {
        let others = n - k;
        if s.saturating_mul(others) <= remaining {
            remaining -= s;
        } else {
            return Some(remaining / others);
        }
    }
    None
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

    fn runs(m: &OffsetMap) -> Vec<Run> {
        m.runs().collect()
    }

    /// One record per transaction: record `i` at upstream `2i` (its commit marker at `2i+1`),
    /// downstream `i`.
    fn transactions(n: i64) -> OffsetMap {
        map(&(0..n).map(|i| (2 * i, i)).collect::<Vec<_>>())
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
            runs(&m),
            [Run {
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
            runs(&m),
            [Run { u: 0, d: 0, len: 3 }, Run { u: 7, d: 3, len: 2 }]
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
        assert_eq!(m.len(), 2);
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
            runs(&m),
            [
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
    fn history_is_not_capped_by_a_count() {
        // 10,000 transactions: the first one still translates (the old cap was 256 runs).
        let m = transactions(10_000);
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.translate(0), Some(Translation::Exact(0)));
        assert_eq!(m.translate(1), Some(Translation::Exact(1)), "a marker");
        assert_eq!(m.translate(10_001), Some(Translation::Exact(5001)));
        assert_eq!(
            m.translate(20_000),
            Some(Translation::BehindReplication(10_000))
        );
    }

    #[test]
    fn pruning_keeps_what_the_lowest_group_offset_needs() {
        let mut m = transactions(100);
        // The lowest group is at 41, the commit marker after record 20 (upstream 40): it must
        // still translate to record 21, as must everything above it.
        let want: Vec<_> = (41..=200).map(|u| m.translate(u)).collect();
        let dropped = m.prune_below(41);
        assert_eq!(dropped, 20, "runs of records 0..20 go");
        assert_eq!(m.first_upstream(), Some(40), "the run before 41 stays");
        assert_eq!(m.translate(39), None);
        assert_eq!(m.translate(41), Some(Translation::Exact(21)));
        let got: Vec<_> = (41..=200).map(|u| m.translate(u)).collect();
        assert_eq!(got, want, "nothing at or above the lowest offset changes");
        // A group exactly at a run start keeps that run and no older one.
        assert_eq!(m.prune_below(60), 10);
        assert_eq!(m.first_upstream(), Some(60));
        assert_eq!(m.translate(60), Some(Translation::Exact(30)));
        // Offsets older than the map prune nothing; a group past the end keeps the last run.
        assert_eq!(m.prune_below(0), 0);
        assert_eq!(m.prune_below(1_000), 69);
        assert_eq!(
            runs(&m),
            [Run {
                u: 198,
                d: 99,
                len: 1
            }]
        );
        assert_eq!(
            m.translate(5_000),
            Some(Translation::BehindReplication(100))
        );
        assert_eq!(m.drop_oldest(5), 0, "the last run always stays");
    }

    #[test]
    fn a_memory_cap_drops_the_oldest_runs() {
        let mut m = transactions(1_000);
        let before = m.heap_bytes();
        let limit = before / 2;
        let dropped = m.drop_to_bytes(limit);
        assert!(m.heap_bytes() <= limit, "{} > {limit}", m.heap_bytes());
        assert_eq!(m.len(), 1_000 - dropped);
        let mut one_less = transactions(1_000);
        one_less.drop_oldest(dropped - 1);
        assert!(one_less.heap_bytes() > limit, "no more dropped than needed");
        let first = m.first_upstream().unwrap();
        assert_eq!(first, 2 * dropped as i64, "the oldest went first");
        assert_eq!(m.translate(first - 1), None);
        assert_eq!(
            m.translate(first),
            Some(Translation::Exact(dropped as i64)),
            "what stays is exact"
        );
        assert_eq!(m.drop_to_bytes(0), 1_000 - dropped - 1);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn fair_limit_cuts_the_largest_maps_first() {
        assert_eq!(fair_limit(&mut [10, 20], 30), None);
        let mut sizes = [100, 10, 50];
        let limit = fair_limit(&mut sizes, 100).unwrap();
        assert_eq!(limit, 45);
        assert_eq!(sizes.iter().map(|&s| s.min(limit)).sum::<usize>(), 100);
        assert_eq!(fair_limit(&mut [7, 7, 7], 9), Some(3));
        assert_eq!(fair_limit(&mut [5], 0), Some(0));
    }

    #[test]
    fn memory_per_run() {
        assert_eq!(BYTES_PER_RUN, 12);
        let m = transactions(CHUNK as i64 * 100);
        // Full chunks; the chunk list's spare capacity is the only other cost.
        let spare = (m.chunks.capacity() - m.chunks.len()) * size_of::<Arc<Chunk>>();
        assert_eq!(
            m.heap_bytes(),
            m.len() * BYTES_PER_RUN + m.chunks.len() * CHUNK_OVERHEAD + spare
        );
        assert_eq!(m.chunks.len(), 100);
        // A clone shares every chunk; a record after it copies only the last one (not full).
        let m = transactions(CHUNK as i64 * 100 - 1);
        let mut clone = m.clone();
        clone.record(CHUNK as i64 * 200 + 1, CHUNK as i64 * 100);
        let shared = m
            .chunks
            .iter()
            .zip(&clone.chunks)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(shared, m.chunks.len() - 1);
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
        assert_eq!(OffsetMap::from_runs(runs(&m)), m, "persisted as is");
        // A restart at 9 whose first record is 12: 9..12 translate to it, older runs stay.
        m.record_first(9, 12, 5);
        assert_eq!(m.translate(10), Some(Translation::Exact(5)));
        assert_eq!(m.translate(3), Some(Translation::Exact(0)));
    }

    #[test]
    fn from_runs_round_trips() {
        let m = map(&[(0, 0), (1, 1), (5, 2)]);
        assert_eq!(OffsetMap::from_runs(runs(&m)), m);
    }

    #[test]
    fn long_runs_and_far_offsets_fit_the_compact_layout() {
        let big = i64::from(u32::MAX);
        let m = OffsetMap::from_runs(vec![
            Run {
                u: 0,
                d: 0,
                len: 3 * big + 5,
            },
            Run {
                u: 5 * big,
                d: 10,
                len: 2,
            },
        ]);
        assert_eq!(
            m.translate(2 * big + 7),
            Some(Translation::Exact(2 * big + 7))
        );
        assert_eq!(m.translate(3 * big + 5), Some(Translation::Exact(10)));
        assert_eq!(m.translate(5 * big + 1), Some(Translation::Exact(11)));
        let whole: i64 = m.runs().map(|r| r.len).sum();
        assert_eq!(whole, 3 * big + 7);
        assert_eq!(OffsetMap::from_deltas(&m.to_deltas()), Ok(m));
    }

    #[test]
    fn delta_encoding() {
        // Record 0..3 at 10.., marker at 3, records 4..6 at 13..
        let m = map(&[(0, 10), (1, 11), (2, 12), (4, 13), (5, 14)]);
        assert_eq!(m.to_deltas(), [0, 10, 3, 1, 0, 2]);
        assert_eq!(
            m.encoded_len(),
            serde_json::to_string(&m.to_deltas()).unwrap().len()
        );
        assert_eq!(OffsetMap::from_deltas(&m.to_deltas()), Ok(m));
        assert_eq!(OffsetMap::from_deltas(&[]), Ok(OffsetMap::default()));
        assert!(OffsetMap::from_deltas(&[1, 2]).is_err());
        assert!(OffsetMap::from_deltas(&[0, 0, -1]).is_err());
        assert!(OffsetMap::from_deltas(&[0, 0, 5, -2, 0, 1]).is_err());
        assert!(OffsetMap::from_deltas(&[i64::MAX, 0, 1, 5, 0, 1]).is_err());
        let t = transactions(1000);
        assert_eq!(
            t.encoded_len(),
            serde_json::to_string(&t.to_deltas()).unwrap().len()
        );
        assert_eq!(t.encoded_len(), 2 + 5 + 999 * 6, "1,0,1, per transaction");
    }

    #[test]
    fn fitting_a_record_keeps_the_newest_runs() {
        let mut m = transactions(1000);
        let max = 600;
        let dropped = m.fit_encoded(max);
        assert!(m.encoded_len() <= max);
        let mut one_more = transactions(1000);
        one_more.drop_oldest(dropped - 1);
        assert!(one_more.encoded_len() > max, "no more dropped than needed");
        assert_eq!(m.fit_encoded(max), 0);
        let all_but_one = m.len() - 1;
        assert_eq!(m.fit_encoded(0), all_but_one);
    }

    #[test]
    fn clear_forgets_everything() {
        let mut m = transactions(10);
        m.clear();
        assert!(m.is_empty());
        assert_eq!(m.translate(3), None);
    }
}

/// Property test: the map against a reference model built from the full list of records
/// (docs/architecture.md says how to run it longer: `PROPTEST_CASES`).
#[cfg(test)]
mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// What the record path does to the map of one partition.
    #[derive(Debug, Clone)]
    enum Op {
        /// Copy the next `n` records.
        Copy(usize),
        /// The position moves past markers and aborted or compacted offsets, up to the next
        /// record.
        Pass,
        /// Another writer (or a retry) takes `n` downstream offsets.
        DownstreamGap(i64),
        /// A second copy from `n` records back (a restart from an older position).
        Rewind(usize),
        /// A restart at the current position.
        Restart,
        /// Retention deletes the next `n` records before they are copied.
        Lose(usize),
        /// Pruned below the `i`th record's offset plus `delta`.
        Prune(usize, i64),
        /// A memory cap drops the `n` oldest runs.
        DropOldest(usize),
        /// A progress record holds at most `n` bytes of runs.
        Fit(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (1usize..40).prop_map(Op::Copy),
            2 => Just(Op::Pass),
            1 => prop_oneof![1i64..5, Just(1i64 << 33)].prop_map(Op::DownstreamGap),
            1 => (0usize..20).prop_map(Op::Rewind),
            1 => Just(Op::Restart),
            1 => (1usize..10).prop_map(Op::Lose),
            1 => (0usize..400, -1i64..=1).prop_map(|(i, d)| Op::Prune(i, d)),
            1 => (0usize..20).prop_map(Op::DropOldest),
            1 => (10usize..200).prop_map(Op::Fit),
        ]
    }

    /// The source log: the offsets of the records that can be copied. The offsets between are
    /// transaction markers, aborted records or compacted away: never copied. Mostly small gaps
    /// (one marker per transaction), sometimes far apart.
    fn log() -> impl Strategy<Value = Vec<i64>> {
        prop::collection::vec(
            prop_oneof![8 => Just(0i64), 6 => Just(1i64), 3 => 2i64..6, 1 => Just(1i64 << 32)],
            1..300,
        )
        .prop_map(|gaps| {
            let mut at = 0i64;
            gaps.into_iter()
                .map(|g| {
                    at += g;
                    let u = at;
                    at += 1;
                    u
                })
                .collect()
        })
    }

    /// What a correct map answers: the latest copy of each record, and where it starts.
    #[derive(Default)]
    struct Model {
        /// upstream -> downstream of the copied records (the latest copy of each).
        copied: BTreeMap<i64, i64>,
    }

    impl Model {
        fn translate(&self, u: i64) -> Option<Translation> {
            if let Some((_, &d)) = self.copied.range(u..).next() {
                return Some(Translation::Exact(d));
            }
            self.copied
                .values()
                .next_back()
                .map(|&d| Translation::BehindReplication(d + 1))
        }
    }

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(128)
    }

    /// Offsets worth asking about: every record, its neighbours, and the middle of each gap.
    fn probes(records: &[i64]) -> Vec<i64> {
        let mut p = vec![0, records[records.len() - 1] + 2];
        for w in records.windows(2) {
            p.push(w[0] + (w[1] - w[0]) / 2);
        }
        for &r in records {
            p.extend([r - 1, r, r + 1]);
        }
        p
    }

    fn check(m: &OffsetMap, model: &Model, probes: &[i64], next_d: i64, position: i64) {
        // The layout: runs sorted, not overlapping, counted right.
        let all: Vec<Run> = m.runs().collect();
        assert_eq!(all.len(), m.len());
        for w in all.windows(2) {
            assert!(w[1].u >= w[0].u + w[0].len, "overlapping runs {w:?}");
        }
        assert!(all.iter().all(|r| r.len >= 0));
        assert_eq!(OffsetMap::from_deltas(&m.to_deltas()).as_ref(), Ok(m));
        assert_eq!(
            m.encoded_len(),
            serde_json::to_string(&m.to_deltas()).unwrap().len()
        );
        let first = m.first_upstream();
        for &u in probes {
            let got = m.translate(u);
            match first {
                Some(f) if u >= f => {
                    assert_eq!(got, model.translate(u), "u={u} runs={all:?}");
                }
                _ => assert_eq!(got, None, "u={u} older than the map {first:?}"),
            }
            if let Some(t) = got {
                assert!(
                    t.offset() <= next_d,
                    "u={u} -> {t:?} past what was written ({next_d})"
                );
            }
        }
        // Back again, for every record still in the map.
        for (&u, &d) in &model.copied {
            if first.is_some_and(|f| u >= f) {
                assert_eq!(m.translate_back(d, position), Some(u), "back from d={d}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

        #[test]
        fn translation_equals_the_model(
            records in log(),
            start in 0usize..3,
            first_d in 0i64..1000,
            ops in prop::collection::vec(op(), 1..60),
        ) {
            let mut m = OffsetMap::default();
            let mut model = Model::default();
            // Copying starts at the log start (0) or at a stored position.
            let mut idx = start.min(records.len() - 1);
            let mut position = if idx == 0 { 0 } else { records[idx - 1] + 1 };
            let mut floor = Some(position);
            let mut d = first_d;
            let probes = probes(&records);
            for op in ops {
                match op {
                    Op::Copy(n) => {
                        for _ in 0..n {
                            let Some(&u) = records.get(idx) else { break };
                            match floor.take() {
                                Some(f) => m.record_first(f, u, d),
                                None => m.record(u, d),
                            }
                            model.copied.split_off(&u);
                            model.copied.insert(u, d);
                            d += 1;
                            idx += 1;
                            position = u + 1;
                        }
                    }
                    Op::Pass => {
                        position = records.get(idx).copied().unwrap_or(position).max(position);
                    }
                    Op::DownstreamGap(n) => d += n,
                    Op::Rewind(n) => {
                        idx = idx.saturating_sub(n);
                        if let Some(&u) = records.get(idx) {
                            position = position.min(u);
                        }
                        floor = Some(position);
                    }
                    Op::Restart => floor = Some(position),
                    Op::Lose(n) => {
                        let lost = &records[idx..(idx + n).min(records.len())];
                        if let Some(&last) = lost.last() {
                            idx += lost.len();
                            position = last + 1;
                            floor = Some(position);
                        }
                    }
                    Op::Prune(i, delta) => {
                        let f = records[i % records.len()] + delta;
                        let before = m.first_upstream();
                        let len = m.len();
                        let dropped = m.prune_below(f);
                        prop_assert_eq!(m.len(), len - dropped);
                        match before {
                            Some(b) if f >= b => {
                                let after = m.first_upstream().unwrap();
                                prop_assert!(after <= f, "pruned past {}: {}", f, after);
                                // Nothing a group at or above f needs is gone.
                                let kept = m.runs().take_while(|r| r.u <= f).count();
                                prop_assert_eq!(kept, 1);
                            }
                            _ => prop_assert_eq!(dropped, 0),
                        }
                    }
                    Op::DropOldest(n) => {
                        let len = m.len();
                        let dropped = m.drop_oldest(n);
                        prop_assert_eq!(dropped, n.min(len.saturating_sub(1)));
                    }
                    Op::Fit(max) => {
                        m.fit_encoded(max);
                        prop_assert!(m.encoded_len() <= max || m.len() <= 1);
                    }
                }
                check(&m, &model, &probes, d, position);
            }
        }
    }
}

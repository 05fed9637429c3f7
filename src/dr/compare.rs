//! Comparing one source partition with its remote partition on the target, record by record,
//! through the mirror's offset map: pure, fed by two streams of [`Rec`] in offset order, so that
//! every verdict is tested without a cluster ([`super::verify`] does the reading).
//!
//! The map's runs say where each copied source record went. A source record maps to a target
//! offset: a record there is compared with it (equal, or altered in named fields), none there
//! means the copy is missing (deleted on the target by retention, say). A target record at an
//! offset no source record maps to is not a copy: extra (produced there by hand) — or a
//! duplicate, when it holds the same bytes as a source record near it (at-least-once copies
//! again what it had not stored when it was killed). A target record the map does point to,
//! whose source record the source no longer has (compacted or deleted there since), is counted,
//! not a difference. Source records the mirror does not copy by design (they have been on the
//! target already: loop safety) are counted too. Transaction markers and compaction gaps are in
//! neither stream and in no run, so they are never differences.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::offset_map::Run;

/// 128 bits of SHA-256.
pub type Digest = [u8; 16];

pub fn digest(parts: &[&[u8]]) -> Digest {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        // Length-prefixed: ("ab", "c") and ("a", "bc") differ.
        ctx.update(&(p.len() as u64).to_be_bytes());
        ctx.update(p);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&ctx.finish().as_ref()[..16]);
    out
}

/// What is compared of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub key: Digest,
    pub value: Digest,
    /// The headers in order, without strait's provenance header.
    pub headers: Digest,
    /// The CreateTime timestamp; `None` when the broker set it (LogAppendTime), which a copy
    /// cannot keep.
    pub timestamp: Option<i64>,
}

impl Content {
    /// The fields in which `self` and `other` differ.
    fn differences(&self, other: &Content) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.key != other.key {
            out.push("key");
        }
        if self.value != other.value {
            out.push("value");
        }
        if self.headers != other.headers {
            out.push("headers");
        }
        if let (Some(a), Some(b)) = (self.timestamp, other.timestamp) {
            if a != b {
                out.push("timestamp");
            }
        }
        out
    }

    /// One digest of all of it, to find a duplicate.
    fn whole(&self) -> Digest {
        let ts = self.timestamp.unwrap_or(i64::MIN).to_be_bytes();
        digest(&[&self.key, &self.value, &self.headers, &ts])
    }
}

/// One record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub offset: i64,
    /// `None` when the record is not in the sample (only its presence is checked).
    pub content: Option<Content>,
    /// Source records only: it has been on the target already; the mirror does not copy it.
    pub loop_skipped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A copied source record whose copy is not on the target.
    Missing,
    /// A target record that is no copy of a source record.
    Extra,
    /// A copy whose content differs from its source record.
    Altered,
    /// A source record in the copied range that the map has no copy of.
    NotCopied,
    /// A target record with the same content as a source record copied elsewhere.
    Duplicate,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Missing => "missing",
            Kind::Extra => "extra",
            Kind::Altered => "altered",
            Kind::NotCopied => "not-copied",
            Kind::Duplicate => "duplicate",
        }
    }
}

/// Consecutive records with the same kind of difference: offsets are inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub kind: Kind,
    /// The source offsets concerned (none for an extra record).
    pub source: Option<(i64, i64)>,
    /// The target offsets concerned (none for a missing or not-copied record).
    pub target: Option<(i64, i64)>,
    /// For altered records: which fields differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<&'static str>,
}

/// The most differences kept per partition; the rest are counted.
pub const DIFFERENCES_KEPT: usize = 1000;
/// How many recent source records a target record is compared with to tell a duplicate from an
/// extra record, and how many unexplained target records wait for a later source record.
const DUPLICATE_WINDOW: usize = 10_000;

/// What the comparison of one partition found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub source_records: u64,
    pub target_records: u64,
    /// Pairs found where the map says (content compared, or only present when not sampled).
    pub matched: u64,
    /// Of the matched: how many had their content compared.
    pub compared: u64,
    pub missing: u64,
    pub extra: u64,
    pub altered: u64,
    pub not_copied: u64,
    pub duplicates: u64,
    /// Target records whose source record the source no longer holds.
    pub gone_at_source: u64,
    /// Source records not copied by design (loop safety).
    pub loop_skipped: u64,
}

impl Counts {
    /// Differences that make the partition fail; duplicates only where they must not exist.
    pub fn failures(&self, duplicates_fail: bool) -> u64 {
        self.missing
            + self.extra
            + self.altered
            + self.not_copied
            + if duplicates_fail { self.duplicates } else { 0 }
    }
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub counts: Counts,
    pub differences: Vec<Difference>,
    /// Differences beyond [`DIFFERENCES_KEPT`].
    pub differences_dropped: u64,
}

impl Outcome {
    fn note(
        &mut self,
        kind: Kind,
        source: Option<i64>,
        target: Option<i64>,
        fields: Vec<&'static str>,
    ) {
        match kind {
            Kind::Missing => self.counts.missing += 1,
            Kind::Extra => self.counts.extra += 1,
            Kind::Altered => self.counts.altered += 1,
            Kind::NotCopied => self.counts.not_copied += 1,
            Kind::Duplicate => self.counts.duplicates += 1,
        }
        if let Some(last) = self.differences.last_mut() {
            let follows = |range: Option<(i64, i64)>, next: Option<i64>| match (range, next) {
                (Some((_, end)), Some(n)) => n == end + 1,
                (None, None) => true,
                _ => false,
            };
            if last.kind == kind
                && last.fields == fields
                && kind != Kind::Duplicate
                && follows(last.source, source)
                && follows(last.target, target)
            {
                last.source = last.source.map(|(a, _)| (a, source.unwrap_or(a)));
                last.target = last.target.map(|(a, _)| (a, target.unwrap_or(a)));
                return;
            }
        }
        if self.differences.len() >= DIFFERENCES_KEPT {
            self.differences_dropped += 1;
            return;
        }
        self.differences.push(Difference {
            kind,
            source: source.map(|o| (o, o)),
            target: target.map(|o| (o, o)),
            fields,
        });
    }
}

/// Where the runs put source offset `u`.
fn target_of(runs: &[Run], u: i64) -> Option<i64> {
    let i = runs.partition_point(|r| r.u + r.len <= u);
    runs.get(i).filter(|r| r.u <= u).map(|r| r.d + (u - r.u))
}

/// Which source offset the runs put at target offset `d`.
pub fn source_of(runs: &[Run], d: i64) -> Option<i64> {
    let i = runs.partition_point(|r| r.d + r.len <= d);
    runs.get(i).filter(|r| r.d <= d).map(|r| r.u + (d - r.d))
}

/// Tells duplicates from extra records: the content of recent source records, and the target
/// records not explained yet, each bounded by [`DUPLICATE_WINDOW`].
#[derive(Default)]
struct Duplicates {
    recent: VecDeque<Digest>,
    /// Content -> (the latest source offset with it, how many of `recent` have it).
    recent_at: HashMap<Digest, (i64, usize)>,
    waiting: HashMap<Digest, VecDeque<i64>>,
    waiting_order: VecDeque<(Digest, i64)>,
}

impl Duplicates {
    /// A source record was dealt with: remember its content, and see whether it explains a
    /// target record that waits.
    fn source(&mut self, out: &mut Outcome, rec: &Rec) {
        let Some(c) = &rec.content else { return };
        let whole = c.whole();
        if let Some(d) = self.waiting.get_mut(&whole).and_then(VecDeque::pop_front) {
            out.note(Kind::Duplicate, Some(rec.offset), Some(d), Vec::new());
            self.waiting_order.retain(|&(_, o)| o != d);
        }
        self.recent.push_back(whole);
        let entry = self.recent_at.entry(whole).or_insert((rec.offset, 0));
        *entry = (rec.offset, entry.1 + 1);
        if self.recent.len() > DUPLICATE_WINDOW {
            if let Some(old) = self.recent.pop_front() {
                if let Some(e) = self.recent_at.get_mut(&old) {
                    e.1 -= 1;
                    if e.1 == 0 {
                        self.recent_at.remove(&old);
                    }
                }
            }
        }
    }

    /// A target record no source record maps to.
    fn target(&mut self, out: &mut Outcome, rec: &Rec) {
        let Some(c) = &rec.content else {
            out.note(Kind::Extra, None, Some(rec.offset), Vec::new());
            return;
        };
        let whole = c.whole();
        if let Some(&(u, _)) = self.recent_at.get(&whole) {
            out.note(Kind::Duplicate, Some(u), Some(rec.offset), Vec::new());
            return;
        }
        self.waiting.entry(whole).or_default().push_back(rec.offset);
        self.waiting_order.push_back((whole, rec.offset));
        if self.waiting_order.len() > DUPLICATE_WINDOW {
            if let Some((w, d)) = self.waiting_order.pop_front() {
                if let Some(q) = self.waiting.get_mut(&w) {
                    q.retain(|&o| o != d);
                }
                out.note(Kind::Extra, None, Some(d), Vec::new());
            }
        }
    }

    /// What still waits is no copy of anything read.
    fn finish(self, out: &mut Outcome) {
        let mut rest: Vec<i64> = self.waiting_order.into_iter().map(|(_, d)| d).collect();
        rest.sort_unstable();
        for d in rest {
            out.note(Kind::Extra, None, Some(d), Vec::new());
        }
    }
}

/// Compares the two streams, each in offset order (a read error ends the comparison and is
/// returned). `runs` are the partition's offset map, sorted; the streams cover the copied range.
pub fn compare<E>(
    runs: &[Run],
    mut source: impl Iterator<Item = Result<Rec, E>>,
    mut target: impl Iterator<Item = Result<Rec, E>>,
) -> Result<Outcome, E> {
    let mut out = Outcome::default();
    let mut dupes = Duplicates::default();
    let mut s = source.next().transpose()?;
    let mut t = target.next().transpose()?;
    out.counts.source_records += u64::from(s.is_some());
    out.counts.target_records += u64::from(t.is_some());
    loop {
        // Which stream moves on: the source, the target, or both.
        let (advance_source, advance_target) = match (&s, &t) {
            (None, None) => break,
            (Some(sr), _) if sr.loop_skipped => {
                out.counts.loop_skipped += 1;
                (true, false)
            }
            (Some(sr), tr) => match (target_of(runs, sr.offset), tr) {
                (None, _) => {
                    out.note(Kind::NotCopied, Some(sr.offset), None, Vec::new());
                    dupes.source(&mut out, sr);
                    (true, false)
                }
                (Some(d), Some(tr)) if tr.offset < d => {
                    unpaired(runs, &mut out, &mut dupes, tr);
                    (false, true)
                }
                (Some(d), Some(tr)) if tr.offset == d => {
                    out.counts.matched += 1;
                    if let (Some(a), Some(b)) = (&sr.content, &tr.content) {
                        out.counts.compared += 1;
                        let fields = a.differences(b);
                        if !fields.is_empty() {
                            out.counts.matched -= 1;
                            out.note(Kind::Altered, Some(sr.offset), Some(d), fields);
                        }
                    }
                    dupes.source(&mut out, sr);
                    (true, true)
                }
                (Some(d), _) => {
                    out.note(Kind::Missing, Some(sr.offset), Some(d), Vec::new());
                    dupes.source(&mut out, sr);
                    (true, false)
                }
            },
            (None, Some(tr)) => {
                unpaired(runs, &mut out, &mut dupes, tr);
                (false, true)
            }
        };
        if advance_source {
            s = source.next().transpose()?;
            out.counts.source_records += u64::from(s.is_some());
        }
        if advance_target {
            t = target.next().transpose()?;
            out.counts.target_records += u64::from(t.is_some());
        }
    }
    dupes.finish(&mut out);
    // In the order of where they are, for reading.
    out.differences.sort_by_key(|d| {
        (
            d.source.map(|s| s.0).or(d.target.map(|t| t.0)),
            d.kind.as_str(),
        )
    });
    Ok(out)
}

/// A target record at an offset the current source record does not map to: a copy whose source
/// record is gone from the source, or no copy at all (a duplicate or an extra record).
fn unpaired(runs: &[Run], out: &mut Outcome, dupes: &mut Duplicates, rec: &Rec) {
    if source_of(runs, rec.offset).is_some() {
        out.counts.gone_at_source += 1;
    } else {
        dupes.target(out, rec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(value: &str) -> Content {
        Content {
            key: digest(&[b"k"]),
            value: digest(&[value.as_bytes()]),
            headers: digest(&[]),
            timestamp: Some(1),
        }
    }

    fn rec(offset: i64, value: &str) -> Result<Rec, ()> {
        Ok(Rec {
            offset,
            content: Some(content(value)),
            loop_skipped: false,
        })
    }

    fn run(u: i64, d: i64, len: i64) -> Run {
        Run { u, d, len }
    }

    type Range = Option<(i64, i64)>;

    fn kinds(o: &Outcome) -> Vec<(Kind, Range, Range)> {
        o.differences
            .iter()
            .map(|d| (d.kind, d.source, d.target))
            .collect()
    }

    #[test]
    fn a_faithful_copy_through_gaps_on_both_sides_matches() {
        // Source 0..3, a marker at 3, 4..6; the target has a marker at 2 (exactly-once).
        let runs = [run(0, 0, 2), run(2, 3, 1), run(4, 4, 2)];
        let source = vec![
            rec(0, "a"),
            rec(1, "b"),
            rec(2, "c"),
            rec(4, "d"),
            rec(5, "e"),
        ];
        let target = vec![
            rec(0, "a"),
            rec(1, "b"),
            rec(3, "c"),
            rec(4, "d"),
            rec(5, "e"),
        ];
        let o = compare(&runs, source.into_iter(), target.into_iter()).unwrap();
        assert_eq!(o.differences, vec![]);
        assert_eq!(o.counts.matched, 5);
        assert_eq!(o.counts.compared, 5);
        assert_eq!(o.counts.failures(true), 0);
    }

    #[test]
    fn each_difference_is_named_by_kind_and_offsets() {
        // Source 0..10 copied to 0..10, then a record produced on the target by hand at 10,
        // source 10..12 copied to 11..13.
        let runs = [run(0, 0, 10), run(10, 11, 2)];
        let mut source: Vec<_> = (0..12).map(|i| rec(i, &format!("v{i}"))).collect();
        // Target: 0 and 1 deleted by retention, 5 altered, the extra record at 10.
        let mut target: Vec<_> = (2..10).map(|i| rec(i, &format!("v{i}"))).collect();
        target[3] = rec(5, "changed");
        target.push(rec(10, "by hand"));
        target.push(rec(11, "v10"));
        target.push(rec(12, "v11"));
        // Source record 7 was gone at the source since (compacted), the target keeps it.
        source.remove(7).unwrap();
        let o = compare(&runs, source.into_iter(), target.into_iter()).unwrap();
        assert_eq!(
            kinds(&o),
            vec![
                (Kind::Missing, Some((0, 1)), Some((0, 1))),
                (Kind::Altered, Some((5, 5)), Some((5, 5))),
                (Kind::Extra, None, Some((10, 10))),
            ]
        );
        assert_eq!(o.differences[1].fields, vec!["value"]);
        assert_eq!(o.counts.gone_at_source, 1);
        assert_eq!(o.counts.missing, 2);
        assert_eq!(o.counts.extra, 1);
        assert_eq!(o.counts.altered, 1);
        assert_eq!(o.counts.matched, 8);
    }

    #[test]
    fn a_copy_made_twice_is_a_duplicate_not_an_extra_record() {
        // At-least-once killed after copying 3..5 without storing it: copied again at 5..7.
        let runs = [run(0, 0, 3), run(3, 5, 2)];
        let source = vec![
            rec(0, "a"),
            rec(1, "b"),
            rec(2, "c"),
            rec(3, "d"),
            rec(4, "e"),
        ];
        let target = vec![
            rec(0, "a"),
            rec(1, "b"),
            rec(2, "c"),
            rec(3, "d"),
            rec(4, "e"),
            rec(5, "d"),
            rec(6, "e"),
        ];
        let o = compare(&runs, source.into_iter(), target.into_iter()).unwrap();
        assert_eq!(
            kinds(&o),
            vec![
                (Kind::Duplicate, Some((3, 3)), Some((3, 3))),
                (Kind::Duplicate, Some((4, 4)), Some((4, 4))),
            ]
        );
        assert_eq!(o.counts.failures(false), 0);
        assert_eq!(o.counts.failures(true), 2);
    }

    #[test]
    fn loop_skipped_and_unsampled_records_are_counted_not_compared() {
        let runs = [run(0, 0, 1), run(2, 1, 1)];
        let skipped = Ok(Rec {
            offset: 1,
            content: None,
            loop_skipped: true,
        });
        let unsampled = |o| -> Result<Rec, ()> {
            Ok(Rec {
                offset: o,
                content: None,
                loop_skipped: false,
            })
        };
        let source = vec![rec(0, "a"), skipped, unsampled(2), unsampled(3)];
        let target = vec![rec(0, "a"), unsampled(1)];
        let o = compare(&runs, source.into_iter(), target.into_iter()).unwrap();
        assert_eq!(o.counts.loop_skipped, 1);
        assert_eq!(o.counts.matched, 2);
        assert_eq!(o.counts.compared, 1);
        // Source record 3 is in the copied range but in no run.
        assert_eq!(kinds(&o), vec![(Kind::NotCopied, Some((3, 3)), None)]);
    }

    #[test]
    fn a_read_error_ends_the_comparison() {
        let runs = [run(0, 0, 2)];
        let source = vec![rec(0, "a"), Err(())];
        let target = vec![rec(0, "a"), rec(1, "b")];
        assert!(compare(&runs, source.into_iter(), target.into_iter()).is_err());
    }

    #[test]
    fn the_runs_translate_both_ways() {
        let runs = [run(0, 0, 2), run(5, 3, 2)];
        assert_eq!(target_of(&runs, 1), Some(1));
        assert_eq!(target_of(&runs, 2), None);
        assert_eq!(target_of(&runs, 6), Some(4));
        assert_eq!(source_of(&runs, 2), None);
        assert_eq!(source_of(&runs, 3), Some(5));
        assert_eq!(source_of(&runs, 5), None);
    }
}

//! Measures what the offset map costs: heap bytes per run (counted by a wrapping allocator, so
//! the figure is what the process really holds, not what the map says it holds), the same for
//! the copy published for checkpoints, and bytes per run in the progress record. The figures in
//! docs/architecture.md and config/strait.example.yaml (`offset_map_memory`) come from here.
//!
//!   cargo run --release --example offset_map_memory
//!
//! The offset map's property test (src/offset_map.rs, `properties`) runs 128 cases in CI; for a
//! long run: `PROPTEST_CASES=100000 cargo test --release --lib offset_map::properties`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use strait::offset_map::OffsetMap;

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// A partition written by one transactional producer: `records(t)` records in transaction `t`,
/// each transaction followed by its commit marker.
fn transactional(transactions: i64, records: impl Fn(i64) -> i64) -> OffsetMap {
    let mut m = OffsetMap::default();
    let (mut u, mut d) = (0, 0);
    for t in 0..transactions {
        for _ in 0..records(t) {
            m.record(u, d);
            u += 1;
            d += 1;
        }
        u += 1; // the commit marker
    }
    m
}

fn main() {
    println!("| map | runs | heap bytes/run (allocator) | heap bytes/run (map's count) | published copy bytes/run | progress record bytes/run |");
    println!("|---|---|---|---|---|---|");
    for (name, n, per) in [
        ("1 record a transaction", 10_000i64, 1i64),
        ("1 record a transaction", 1_000_000, 1),
        ("1 record a transaction", 5_000_000, 1),
        ("1-3 records a transaction", 1_000_000, 0),
        ("1-100 records a transaction", 1_000_000, -1),
    ] {
        let before = live();
        let m = transactional(n, |t| match per {
            0 => 1 + t % 3,
            -1 => 1 + (t * 7919) % 100,
            p => p,
        });
        let held = live() - before;
        let before_copy = live();
        let mut copy = m.clone();
        // The record path goes on after publishing: its first record copies the chunk being
        // filled.
        let end = m.runs().last().expect("runs");
        copy.record(end.u + end.len + 1, end.d + end.len);
        let copied = live() - before_copy;
        let runs = m.len();
        let encoded = m.encoded_len();
        println!(
            "| {name} | {runs} | {:.2} | {:.2} | {:.4} | {:.2} |",
            held as f64 / runs as f64,
            m.heap_bytes() as f64 / runs as f64,
            copied as f64 / runs as f64,
            encoded as f64 / runs as f64,
        );
        drop(copy);
    }
}

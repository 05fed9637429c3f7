//! Small helpers every test uses: random names, deadlines, the repository layout.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often [`wait_until`] re-evaluates its condition.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Random bytes from the kernel (tests need no reproducible randomness, only uniqueness).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf
}

pub fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes::<8>())
}

/// A name no other test (and no earlier run against the same clusters) uses:
/// `t-<test>-<8 random hex digits>`. Topic-safe: `[a-z0-9_-]`.
pub fn unique_name(test: &str) -> String {
    format!("t-{}-{:08x}", test.replace('_', "-"), random_u64() as u32)
}

/// Polls `condition` until it returns true; panics with `what` once `timeout` has passed.
/// Returns the time it took.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    wait_for(timeout, what, || condition().then_some(()));
    start.elapsed()
}

/// Polls `probe` until it returns `Some`; panics with `what` once `timeout` has passed.
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(POLL_EVERY.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// Polls `probe` until it returns `Ok`; panics with `what` and the last `Err` (what was seen
/// instead) once `timeout` has passed.
pub fn wait_seen<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let mut seen;
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(e) => seen = e,
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last seen:\n{seen}");
        }
        std::thread::sleep(POLL_EVERY.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// The crate root (where `harness/kafka.sh` lives).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Scratch space of the integration tests: `target/tmp/strait-it`. Sub-directories are named
/// `<test-process pid>-...` so that [`remove_stale_dirs`] can delete those of dead runs.
pub fn scratch_root() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("strait-it");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A fresh scratch directory, removed on drop.
pub fn scratch_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{}-{label}-", std::process::id()))
        .tempdir_in(scratch_root())
        .expect("create temp dir")
}

/// Deletes scratch directories left behind by test processes that no longer exist (a test run
/// killed with SIGKILL cannot clean up after itself; its watchdogs only kill its children).
pub fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(scratch_root()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('-').next()?.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks for existence.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

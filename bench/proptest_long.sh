#!/usr/bin/env bash
# The property tests run long: the record decoders, the config loader and the partition state
# machine (and any other proptest of the crate) with CASES cases each instead of proptest's
# default 256, which is what CI runs.
#
#   bench/proptest_long.sh [CASES] [FILTER]
#
# defaults: 20000 cases, every proptest (`proptests` in the test path); FILTER narrows the run,
# e.g. `mirror::partitions::proptests`. Built with the `proptest` profile of Cargo.toml:
# optimized, with debug assertions and overflow checks kept on, so that an arithmetic overflow
# panics as in CI's debug build (BENCH_PROFILE=dev runs the debug build instead: no extra build,
# slower cases). A failure prints the minimal input proptest shrank it to and records its seed
# in proptest-regressions/<module>.txt, which proptest replays first on every later run: commit
# that file with the fix. Takes minutes; not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-20000}
FILTER=${2:-proptests}
export PROPTEST_CASES=$CASES
# Shrinking a failure found by a long run can take long too; bound it.
export PROPTEST_MAX_SHRINK_ITERS=${PROPTEST_MAX_SHRINK_ITERS:-50000}
PROFILE=${BENCH_PROFILE:-proptest}
echo "proptests matching '$FILTER', $CASES cases each ($PROFILE build)"
start=$(date +%s)
cargo test --profile "$PROFILE" --lib -- "$FILTER" --test-threads "$(nproc)"
echo "done in $(( $(date +%s) - start )) s"

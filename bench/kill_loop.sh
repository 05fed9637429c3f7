#!/usr/bin/env bash
# The kill -9 loop (not CI: about 20 minutes). RECORDS records stream at RATE per second into a
# fresh 8-partition topic of a local single-node cluster while the replicator copies it to a
# second one; the replicator gets kill -9 (and an immediate restart) KILLS times, each a random
# 1-6 s (drawn from SEED) after the restarted replicator has copied again (the target's end
# offsets moved), so that every kill interrupts copying however long the replicator takes to
# start; no kill once every record is copied (the result says how many were made). After the
# stream, once every record is on the target, the replicator stops and the target is compared
# with the source record by record: every record there at least once, first copies in source
# order per partition, key, value, headers and timestamp unaltered; duplicates counted.
# First strait, then MirrorMaker 2 (dedicated mode, the harness's properties: offsets flushed
# every second) on the same two clusters, each on its own topic.
#
#   bench/kill_loop.sh [SEED] [KILLS] [RECORDS] [RATE]     defaults: 14 20 1000000 2000
#
# Environment: KILL_LOOP_REPLICATORS (default strait,mm2), KILL_LOOP_RELEASE=1 for a release
# build of strait and the harness (default: the debug build the tests use),
# KILL_LOOP_EXACTLY_ONCE=1 for strait's `delivery: exactly_once` and MM2's exactly-once
# (KIP-618), checked by a read_committed reader (duplicates must then be 0).
# The test is tests/integration/faults.rs `kill9_loop` (ignored in `cargo test`); its whole
# output goes to target/kill-loop-SEED.log, the `[kill-loop]` lines are the results.
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${1:-14}; KILLS=${2:-20}; RECORDS=${3:-1000000}; RATE=${4:-2000}
LOG=target/kill-loop-$SEED.log
release=()
[ "${KILL_LOOP_RELEASE:-0}" = 1 ] && release=(--release)
mkdir -p target
printf '[kill-loop] seed %s, %s kills, %s records at %s/s; log: %s\n' \
  "$SEED" "$KILLS" "$RECORDS" "$RATE" "$LOG" >&2
set +e
KILL_LOOP_SEED=$SEED KILL_LOOP_KILLS=$KILLS KILL_LOOP_RECORDS=$RECORDS KILL_LOOP_RATE=$RATE \
  cargo test "${release[@]}" --test integration faults::kill9_loop -- --ignored --exact --nocapture \
  >"$LOG" 2>&1
status=$?
set -e
grep -E 'kill -9 at|every record on the target|^\[kill-loop\]|panicked at|^test result' "$LOG" >&2 || true
if [ "$status" -ne 0 ]; then
  printf '[kill-loop] failed (exit %s); see %s\n' "$status" "$LOG" >&2
  exit "$status"
fi
grep '^\[kill-loop\]' "$LOG"

#!/usr/bin/env bash
# Every figure of docs/benchmarks.md that issue 20 asks for, by one command: bench/compare.sh
# (strait against MirrorMaker 2 with tasks.max 1 and 4: throughput and CPU per GB, also from lz4
# and zstd sources, the null-replicator and Kafka-tool ceilings, latency runs against the floor,
# freshness, failover replay, idle broker CPU) and then bench/scale.sh (10,000 partitions,
# 10,000 groups, 100 ms to the source). Each rewrites its own part of the page.
#
#   bench/all.sh [--quick]
#
# The full sizes take about 1 h 20 min on the 2-core machine (compare.sh about 40 min,
# scale.sh about 40 min; estimated, not yet run at full size). --quick runs both at a small
# scale (15 minutes here, for checking the scripts; its figures mean little: a copy of 20 MB
# takes less than the 100 ms between two end-offset polls): 20,000 records, 2 latency runs of 10 s, 20 topics x 5
# partitions, 50 groups, 20,000 WAN records. Every variable of either script's header passes
# through (for example LAT_RUNS=5 bench/all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[all] %s\n' "$*" >&2; }
compare_args=()
if [ "${1:-}" = --quick ]; then
  compare_args=(20000 1024 16)
  export LAT_RUNS=${LAT_RUNS:-2} LAT_SECONDS=${LAT_SECONDS:-10} LAT_WARMUP=${LAT_WARMUP:-3}
  export REPLAY_SECONDS=${REPLAY_SECONDS:-10} IDLE_SECONDS=${IDLE_SECONDS:-10}
  export TOPICS=${TOPICS:-20} PARTITIONS=${PARTITIONS:-5} GROUP_COUNT=${GROUP_COUNT:-50}
  export WAN_RECORDS=${WAN_RECORDS:-20000}
elif [ $# -gt 0 ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
t0=$SECONDS
log "bench/compare.sh ${compare_args[*]}"
bench/compare.sh "${compare_args[@]}"
log "bench/scale.sh"
bench/scale.sh
log "done in $(((SECONDS - t0) / 60)) min: docs/benchmarks.md"

#!/usr/bin/env bash
# Throughput of strait alone: N pre-loaded records of SIZE bytes in P partitions on cluster A,
# then time from strait's start until all are on B (observed from B's end offsets), and strait's
# peak RSS (VmHWM) and CPU seconds.
#
#   bench/throughput.sh [N] [SIZE] [P]        defaults: 1000000 1024 8
#
# BENCH_CONSUMER / BENCH_PRODUCER: librdkafka overrides as inline YAML maps, for tuning runs.
# Uses its own clusters (ports 39092 / 39192) in target/bench-run, stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}; SIZE=${2:-1024}; P=${3:-8}
export STRAIT_HARNESS_RUN=$PWD/target/bench-run
K=harness/kafka.sh
A=127.0.0.1:39092; B=127.0.0.1:39192
cleanup() { [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; $K stop-all >/dev/null 2>&1 || true; }
trap cleanup EXIT

cargo build --release --quiet --bin strait --example end_offsets
$K resolve >/dev/null
$K start bA 39092 & $K start bB 39192 & wait
$K tool org.apache.kafka.tools.TopicCommand --bootstrap-server $A --create --topic bench \
  --partitions "$P" --replication-factor 1 >/dev/null
echo "pre-loading $N records of $SIZE bytes into $P partitions..."
$K tool org.apache.kafka.tools.ProducerPerformance --topic bench --num-records "$N" --record-size "$SIZE" \
  --throughput -1 --producer-props bootstrap.servers=$A acks=all linger.ms=5 batch.size=262144 \
  compression.type=none | tail -1

cfg=$STRAIT_HARNESS_RUN/strait-bench.yaml
cat >"$cfg" <<YAML
clusters:
  A: { bootstrap_servers: "$A", consumer: ${BENCH_CONSUMER:-{\}} }
  B: { bootstrap_servers: "$B", producer: ${BENCH_PRODUCER:-{\}} }
mirrors:
  - source: A
    target: B
    topics: ["bench"]
    replication_factor: 1
    refresh_topics_interval: 10s
YAML
start=$(date +%s.%N)
./target/release/strait run --config "$cfg" 2>"$STRAIT_HARNESS_RUN/strait-bench.log" &
SPID=$!
if ! ./target/release/examples/end_offsets "$B" A.bench "$N" 600 >/dev/null; then
  echo "records did not all arrive; see $STRAIT_HARNESS_RUN/strait-bench.log"; exit 1
fi
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$SPID/status)
read -r utime stime < <(awk '{print $14, $15}' /proc/$SPID/stat)
tck=$(getconf CLK_TCK)
kill -TERM "$SPID"; wait "$SPID" || true; SPID=
secs=$(echo "$end - $start" | bc -l)
awk -v n="$N" -v s="$secs" -v size="$SIZE" -v hwm="$hwm" -v cpu="$(( (utime + stime) ))" -v tck="$tck" 'BEGIN {
  printf "replicated %d records of %d B in %.1f s (from strait start, incl. its startup; end offsets polled every 100 ms)\n", n, size, s
  printf "  %.0f records/s, %.1f MB/s\n", n / s, n * size / s / 1e6
  printf "  peak RSS %.1f MiB, CPU %.1f s (%.2f CPU s per GB)\n", hwm / 1024, cpu / tck, (cpu / tck) / (n * size / 1e9)
}'

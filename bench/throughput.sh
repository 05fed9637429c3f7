#!/usr/bin/env bash
# Throughput of strait alone: N pre-loaded records of SIZE bytes in P partitions on cluster A,
# then time from strait's start until all are on B (observed from B's end offsets), and strait's
# peak RSS (VmHWM) and CPU seconds.
#
#   bench/throughput.sh [N] [SIZE] [P] [--runs R] [--vs OTHER_BIN]
#
# defaults: 1000000 1024 8, one run. With --runs, R runs on the same cluster pair, each on a
# fresh topic (deleted afterwards), after one unmeasured warm-up run (fresh brokers are slow
# until their JIT has warmed up); with --vs, the runs alternate between strait's release build
# (or STRAIT_BIN) and OTHER_BIN (A B A B ...), and a summary of the medians follows: for
# before/after figures of a change, build the old commit's binary first and pass it.
#
# BENCH_CONSUMER / BENCH_PRODUCER: librdkafka overrides as inline YAML maps, for tuning runs.
# Uses its own clusters (ports 39092 / 39192) in target/bench-run (or BENCH_RUN_DIR: a tmpfs
# there takes the disk's writeback out of the figures), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
positional=()
RUNS=1
OTHER=
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --vs) OTHER=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) positional+=("$1"); shift ;;
  esac
done
N=${positional[0]:-1000000}; SIZE=${positional[1]:-1024}; P=${positional[2]:-8}
export STRAIT_HARNESS_RUN=${BENCH_RUN_DIR:-$PWD/target/bench-run}
K=harness/kafka.sh
A=127.0.0.1:39092; B=127.0.0.1:39192
BIN_A=${STRAIT_BIN:-./target/release/strait}
cleanup() { [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; $K stop-all >/dev/null 2>&1 || true; }
trap cleanup EXIT

cargo build --release --quiet --bin strait --example end_offsets
[ -z "$OTHER" ] || [ -x "$OTHER" ] || { echo "--vs: $OTHER is not an executable"; exit 2; }
$K resolve >/dev/null
$K start bA 39092 & $K start bB 39192 & wait

topics() { # BOOTSTRAP ACTION TOPIC
  $K tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" "--$2" --topic "$3" "${@:4}" >/dev/null
}

# One run of binary BIN on a fresh topic; prints "records/s peak_MiB cpu_s" on the last line.
run() { # BIN TOPIC
  local bin=$1 topic=$2
  topics $A create "$topic" --partitions "$P" --replication-factor 1
  echo "pre-loading $N records of $SIZE bytes into $P partitions of $topic..." >&2
  $K tool org.apache.kafka.tools.ProducerPerformance --topic "$topic" --num-records "$N" --record-size "$SIZE" \
    --throughput -1 --producer-props bootstrap.servers=$A acks=all linger.ms=5 batch.size=262144 \
    compression.type=none | tail -1 >&2
  # Flush the pre-load (and the last run's deletions) to disk first, so that writeback does not
  # compete with the measured run.
  sync
  local cfg=$STRAIT_HARNESS_RUN/strait-bench.yaml
  cat >"$cfg" <<YAML
clusters:
  A: { bootstrap_servers: "$A", consumer: ${BENCH_CONSUMER:-{\}} }
  B: { bootstrap_servers: "$B", producer: ${BENCH_PRODUCER:-{\}} }
mirrors:
  - source: A
    target: B
    topics: ["$topic"]
    replication_factor: 1
    refresh_topics_interval: 10s
http: { enabled: false }
YAML
  local start end hwm utime stime
  start=$(date +%s.%N)
  "$bin" run --config "$cfg" 2>"$STRAIT_HARNESS_RUN/strait-bench.log" &
  SPID=$!
  if ! ./target/release/examples/end_offsets "$B" "A.$topic" "$N" 600 >/dev/null; then
    echo "records did not all arrive; see $STRAIT_HARNESS_RUN/strait-bench.log" >&2; exit 1
  fi
  end=$(date +%s.%N)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$SPID/status)
  read -r utime stime < <(awk '{print $14, $15}' /proc/$SPID/stat)
  kill -TERM "$SPID"; wait "$SPID" || true; SPID=
  topics $A delete "$topic"
  topics $B delete "A.$topic"
  awk -v n="$N" -v s="$(echo "$end - $start" | bc -l)" -v size="$SIZE" -v hwm="$hwm" \
    -v cpu="$((utime + stime))" -v tck="$(getconf CLK_TCK)" 'BEGIN {
    printf "replicated %d records of %d B in %.1f s (from strait start, incl. its startup; end offsets polled every 100 ms)\n", n, size, s > "/dev/stderr"
    printf "  %.0f records/s, %.1f MB/s\n", n / s, n * size / s / 1e6 > "/dev/stderr"
    printf "  peak RSS %.1f MiB, CPU %.1f s (%.2f CPU s per GB)\n", hwm / 1024, cpu / tck, (cpu / tck) / (n * size / 1e9) > "/dev/stderr"
    printf "%.0f %.1f %.1f\n", n / s, hwm / 1024, cpu / tck
  }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

results_a=(); results_b=()
if [ "$RUNS" -gt 1 ]; then
  echo "=== warm-up (not measured): $BIN_A" >&2
  run "$BIN_A" bench-warmup >/dev/null
fi
for ((i = 1; i <= RUNS; i++)); do
  echo "=== run $i: $BIN_A" >&2
  results_a+=("$(run "$BIN_A" "bench-a$i")")
  if [ -n "$OTHER" ]; then
    echo "=== run $i: $OTHER" >&2
    results_b+=("$(run "$OTHER" "bench-b$i")")
  fi
done
summary() { # LABEL RESULTS...
  local label=$1; shift
  printf '%s: records/s %s (median %s); peak RSS MiB median %s; CPU s median %s\n' "$label" \
    "$(printf '%s ' "$@" | awk '{ for (i = 1; i <= NF; i += 3) printf "%s%s", $i, (i + 3 <= NF ? " " : "") }')" \
    "$(printf '%s\n' "$@" | awk '{print $1}' | median)" \
    "$(printf '%s\n' "$@" | awk '{print $2}' | median)" \
    "$(printf '%s\n' "$@" | awk '{print $3}' | median)"
}
echo
summary "$BIN_A" "${results_a[@]}"
[ -z "$OTHER" ] || summary "$OTHER" "${results_b[@]}"

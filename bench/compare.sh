#!/usr/bin/env bash
# strait and Apache MirrorMaker 2 side by side on the same two local clusters, one after the
# other on fresh topics: throughput (N pre-loaded records of SIZE bytes in P partitions, until
# all are on the target), peak RSS and CPU seconds per GB, and freshness (a new matching topic's
# first record on the target). Plus a ceiling row: Kafka's own ProducerPerformance into the
# target and ConsumerPerformance from the source, alone.
#
#   bench/compare.sh [N] [SIZE] [P]          defaults: 2000000 1024 16
#
# MM2 runs in dedicated mode from the same Kafka 4.1.1 jars as the brokers, with its defaults
# except: replication factors 1 (single-broker clusters), refresh.topics.interval.seconds 10
# (strait's default refresh; MM2's own default of 600 s would make freshness 10 minutes) and
# tasks.max = MM2_TASKS (default 1, MM2's default). Results go to stdout and to
# target/bench-run/compare.md. Uses its own clusters (ports 39092 / 39192), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000000}; SIZE=${2:-1024}; P=${3:-16}
MM2_TASKS=${MM2_TASKS:-1}
export STRAIT_HARNESS_RUN=$PWD/target/bench-run
K=harness/kafka.sh
A=127.0.0.1:39092; B=127.0.0.1:39192
OUT=$STRAIT_HARNESS_RUN/compare.md
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; $K stop-all >/dev/null 2>&1 || true; }
trap cleanup EXIT

log() { printf '[compare] %s\n' "$*" >&2; }
tool() { $K tool "$@"; }
create() { tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" --create --topic "$2" \
  --partitions "$3" --replication-factor 1 >/dev/null; }
preload() { # TOPIC
  tool org.apache.kafka.tools.ProducerPerformance --topic "$1" --num-records "$N" --record-size "$SIZE" \
    --throughput -1 --producer-props bootstrap.servers=$A acks=all linger.ms=5 batch.size=262144 \
    compression.type=none | tail -1
}
wait_for() { # TOPIC COUNT -> seconds since the call
  ./target/release/examples/end_offsets "$B" "$1" "$2" 900
}
proc_stats() { # PID -> "rss_kib cpu_seconds"
  local hwm ut st
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$1/status")
  read -r ut st < <(awk '{print $14, $15}' "/proc/$1/stat")
  echo "$hwm $(echo "($ut + $st) / $(getconf CLK_TCK)" | bc -l)"
}

# One replicator run, started (pid $2) at $4 (date +%s.%N) on a topic copied as $3.
measure() { # NAME PID REMOTE STARTED
  local name=$1 pid=$2 remote=$3 started=$4 first all rss cpu
  wait_for "$remote" 1 >/dev/null
  first=$(echo "$(date +%s.%N) - $started" | bc -l)
  all=$(wait_for "$remote" "$N")
  read -r rss cpu < <(proc_stats "$pid")
  local total steady
  total=$(echo "$first + $all" | bc -l)
  steady=$(echo "$N / $all" | bc -l)
  log "$name: first record after ${first}s, all $N after another ${all}s; RSS ${rss} KiB; CPU ${cpu}s"
  printf '%s %s %s %s %s %s\n' "$name" "$first" "$all" "$steady" "$rss" "$cpu" >>"$STRAIT_HARNESS_RUN/rows"
}

freshness() { # NAME TOPIC REMOTE -> appends seconds
  create $A "$2" 1
  local t0
  t0=$(date +%s.%N)
  tool org.apache.kafka.tools.ProducerPerformance --topic "$2" --num-records 1 --record-size 100 \
    --throughput -1 --producer-props bootstrap.servers=$A >/dev/null
  wait_for "$3" 1 >/dev/null
  local secs
  secs=$(echo "$(date +%s.%N) - $t0" | bc -l)
  log "$1: new topic's first record on the target after ${secs}s"
  printf '%s %s\n' "$1" "$secs" >>"$STRAIT_HARNESS_RUN/fresh"
}

cargo build --release --quiet --bin strait --example end_offsets
$K resolve >/dev/null
$K stop-all >/dev/null 2>&1 || true
$K start bA 39092 & $K start bB 39192 & wait
rm -f "$STRAIT_HARNESS_RUN/rows" "$STRAIT_HARNESS_RUN/fresh"

# --- Ceiling: the brokers alone --------------------------------------------------------------
create $B ceiling $P
log "ceiling: ProducerPerformance into the target"
prod=$(tool org.apache.kafka.tools.ProducerPerformance --topic ceiling --num-records "$N" --record-size "$SIZE" \
  --throughput -1 --producer-props bootstrap.servers=$B acks=all linger.ms=5 batch.size=262144 | tail -1)
prod_rps=$(echo "$prod" | sed -E 's/.* ([0-9.]+) records\/sec.*/\1/')
create $A bench-c $P
preload bench-c >/dev/null
log "ceiling: ConsumerPerformance from the source"
cons=$(tool org.apache.kafka.tools.ConsumerPerformance --bootstrap-server $A --topic bench-c \
  --messages "$N" 2>/dev/null | tail -1)
# start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
cons_rps=$(echo "$cons" | awk -F', *' '{print $6}')

# --- strait ----------------------------------------------------------------------------------
create $A bench-s $P
log "strait: pre-loading $N x $SIZE B into $P partitions"
preload bench-s >/dev/null
cfg=$STRAIT_HARNESS_RUN/strait.yaml
cat >"$cfg" <<YAML
clusters:
  A: { bootstrap_servers: "$A" }
  B: { bootstrap_servers: "$B" }
mirrors:
  - source: A
    target: B
    topics: ["bench-s.*"]
    replication_factor: 1
http: { listen: "127.0.0.1:0" }
YAML
started=$(date +%s.%N)
./target/release/strait run --config "$cfg" 2>"$STRAIT_HARNESS_RUN/strait.log" &
SPID=$!
measure strait $SPID A.bench-s "$started"
freshness strait bench-s-fresh A.bench-s-fresh
kill -TERM $SPID; wait $SPID || true; SPID=

# --- MirrorMaker 2 ---------------------------------------------------------------------------
create $A bench-m $P
log "MM2: pre-loading $N x $SIZE B into $P partitions"
preload bench-m >/dev/null
mm2cfg=$STRAIT_HARNESS_RUN/mm2.properties
cat >"$mm2cfg" <<PROPS
clusters = A, B
A.bootstrap.servers = $A
B.bootstrap.servers = $B
A->B.enabled = true
A->B.topics = bench-m.*
B->A.enabled = false
B->A.emit.heartbeats.enabled = false
replication.factor = 1
offset-syncs.topic.replication.factor = 1
checkpoints.topic.replication.factor = 1
heartbeats.topic.replication.factor = 1
offset.storage.replication.factor = 1
status.storage.replication.factor = 1
config.storage.replication.factor = 1
refresh.topics.interval.seconds = 10
tasks.max = $MM2_TASKS
B.scheduled.rebalance.max.delay.ms = 0
PROPS
started=$(date +%s.%N)
$K mm2 "$mm2cfg"
mpid=$(cat "$STRAIT_HARNESS_RUN/mm2/pid")
measure mm2 "$mpid" A.bench-m "$started"
freshness mm2 bench-m-fresh A.bench-m-fresh
$K stop-mm2 >/dev/null

# --- Report ----------------------------------------------------------------------------------
gb=$(echo "$N * $SIZE / 1000000000" | bc -l)
{
  echo "| | records/s (first to last record) | MB/s | first record after start | all after start | peak RSS | CPU s per GB | new topic visible after |"
  echo "|---|---|---|---|---|---|---|---|"
  while read -r name first all steady rss cpu; do
    fresh=$(awk -v n="$name" '$1 == n {print $2}' "$STRAIT_HARNESS_RUN/fresh")
    awk -v name="$name" -v first="$first" -v all="$all" -v steady="$steady" -v rss="$rss" -v cpu="$cpu" \
        -v gb="$gb" -v size="$SIZE" -v fresh="$fresh" 'BEGIN {
      printf "| %s | %.0f | %.1f | %.1f s | %.1f s | %.0f MiB | %.1f | %.1f s |\n",
        name, steady, steady * size / 1e6, first, first + all, rss / 1024, cpu / gb, fresh }'
  done <"$STRAIT_HARNESS_RUN/rows"
  awk -v p="$prod_rps" -v c="$cons_rps" -v size="$SIZE" 'BEGIN {
    printf "| ceiling: ProducerPerformance into the target alone | %.0f | %.1f | | | | | |\n", p, p * size / 1e6
    printf "| ceiling: ConsumerPerformance from the source alone | %.0f | %.1f | | | | | |\n", c, c * size / 1e6 }'
  echo
  echo "$N records of $SIZE B in $P partitions; MM2 tasks.max=$MM2_TASKS; $(nproc) cores; $(date -u +%Y-%m-%d)."
} | tee "$OUT"

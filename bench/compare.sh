#!/usr/bin/env bash
# strait and Apache MirrorMaker 2 side by side on the same two local clusters, one after the
# other on fresh topics, each workload on each replicator (latency first, on the fresh clusters):
#   throughput  N pre-loaded records of SIZE bytes in P partitions, until all are on the target
#               (target end offsets polled every 100 ms); peak RSS and CPU seconds per GB;
#   freshness   a new matching topic's first record on the target;
#   latency     LAT_RATE records/s for LAT_SECONDS (SIZE bytes, P partitions) after LAT_WARMUP
#               seconds of the same stream unmeasured: producer timestamp to arrival on the
#               target, p50 / p99 / max (and the seconds with records over 250 ms);
#   replay      a group commits mid-stream while REPLAY_RATE records/s flow for REPLAY_SECONDS;
#               after translation to the target, records replayed and skipped.
# Plus a ceiling row: Kafka's own ProducerPerformance into the target and ConsumerPerformance
# from the source, alone.
#
#   bench/compare.sh [N] [SIZE] [P]          defaults: 2000000 1024 16
#
# MM2 runs in dedicated mode from the same Kafka 4.1.1 jars as the brokers, with its defaults
# except: replication factors 1 (single-broker clusters); refresh.topics.interval.seconds and
# refresh.groups.interval.seconds 10 (MM2's own 600 s would make freshness and the replay
# workload's new group wait 10 minutes); emit.checkpoints.interval.seconds and
# sync.group.offsets.interval.seconds 5 with sync.group.offsets.enabled (strait's defaults);
# tasks.max = MM2_TASKS (default 1, MM2's default). strait runs with its defaults. The latency
# workload runs a third time on MM2 with strait's fetch coalescing on MM2's source consumer.
# Writes docs/benchmarks.md and docs/benchmarks.png (bench/report.py; the chart needs
# matplotlib, installed into target/bench-venv from the Python package index on first use).
# Uses its own clusters (ports 39092 / 39192), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000000}; SIZE=${2:-1024}; P=${3:-16}
MM2_TASKS=${MM2_TASKS:-1}
LAT_RATE=${LAT_RATE:-5000}; LAT_SECONDS=${LAT_SECONDS:-60}; LAT_WARMUP=${LAT_WARMUP:-15}
REPLAY_RATE=${REPLAY_RATE:-5000}; REPLAY_SECONDS=${REPLAY_SECONDS:-30}
export STRAIT_HARNESS_RUN=$PWD/target/bench-run
K=harness/kafka.sh
A=127.0.0.1:39092; B=127.0.0.1:39192
RES=$STRAIT_HARNESS_RUN/results.tsv
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
  result "$name" first_s "$first"; result "$name" all_s "$all"; result "$name" records_per_s "$steady"
  result "$name" rss_kib "$rss"; result "$name" cpu_s "$cpu"
}
result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }
W=./target/release/examples/workloads

latency() { # NAME TOPIC REMOTE
  create $A "$2" "$P"
  # One record first, so that the remote topic exists before the measured stream starts.
  tool org.apache.kafka.tools.ProducerPerformance --topic "$2" --num-records 1 --record-size 10 \
    --throughput -1 --producer-props bootstrap.servers=$A >/dev/null
  wait_for "$3" 1 >/dev/null
  log "$1: latency, $LAT_RATE records/s for $LAT_SECONDS s after a ${LAT_WARMUP} s warm-up"
  local count missing p50 p99 max
  read -r _ count missing p50 p99 max < <($W latency $A "$2" $B "$3" "$LAT_RATE" "$LAT_SECONDS" "$SIZE" "$P" "$LAT_WARMUP") || true
  log "$1: $count records, $missing missing; p50 ${p50} ms, p99 ${p99} ms, max ${max} ms"
  result "$1" lat_count "$count"; result "$1" lat_missing "$missing"
  result "$1" lat_p50_ms "$p50"; result "$1" lat_p99_ms "$p99"; result "$1" lat_max_ms "$max"
}

replay() { # NAME TOPIC REMOTE GROUP
  create $A "$2" "$P"
  log "$1: failover replay, $REPLAY_RATE records/s for $REPLAY_SECONDS s, group $4 commits halfway"
  local replayed skipped maxpp untranslated
  read -r _ replayed skipped maxpp untranslated < <($W replay $A "$2" $B "$3" "$4" "$REPLAY_RATE" "$REPLAY_SECONDS" "$P") || true
  log "$1: replayed $replayed (at most $maxpp per partition), skipped $skipped; $untranslated of $P partitions without a translated offset"
  result "$1" untranslated_partitions "$untranslated"
  result "$1" replayed "$replayed"; result "$1" skipped "$skipped"; result "$1" replay_max_per_partition "$maxpp"
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
  result "$1" fresh_s "$secs"
}

cargo build --release --quiet --bin strait --example end_offsets --example workloads
$K resolve >/dev/null
$K stop-all >/dev/null 2>&1 || true
$K start bA 39092 & $K start bB 39192 & wait
rm -f "$RES" "$STRAIT_HARNESS_RUN/strait.log"

# The configurations of both replicators (each started twice: once for the latency workload on
# the fresh clusters, once for the rest).
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
refresh.groups.interval.seconds = 10
A->B.groups = bench-.*
A->B.sync.group.offsets.enabled = true
emit.checkpoints.interval.seconds = 5
sync.group.offsets.interval.seconds = 5
tasks.max = $MM2_TASKS
B.scheduled.rebalance.max.delay.ms = 0
PROPS
start_strait() { ./target/release/strait run --config "$cfg" 2>>"$STRAIT_HARNESS_RUN/strait.log" & SPID=$!; }
stop_strait() { kill -TERM $SPID; wait $SPID || true; SPID=; }

# --- Latency first, on the fresh clusters ------------------------------------------------------
# After the gigabytes of the throughput phases, the brokers' tail latency on a small machine is
# set by their own after-effects (page cache writeback, JVM heaps) rather than by the
# replicator; measured first, the three latency runs see the same quiet brokers.
# Floor: the same workload produced to and read from one topic on the source broker, no
# replication in between.
create $A bench-direct "$P"
read -r _ _ _ p50 p99 max < <($W latency $A bench-direct $A bench-direct "$LAT_RATE" "$LAT_SECONDS" "$SIZE" "$P" "$LAT_WARMUP") || true
log "latency floor (no replication): p50 ${p50} ms, p99 ${p99} ms, max ${max} ms"
result direct lat_p50_ms "$p50"; result direct lat_p99_ms "$p99"; result direct lat_max_ms "$max"
start_strait
latency strait bench-s-lat A.bench-s-lat
stop_strait
$K mm2 "$mm2cfg"
latency mm2 bench-m-lat A.bench-m-lat
$K stop-mm2 >/dev/null
# MM2 once more with strait's fetch coalescing on its source consumer (the Java consumer's
# defaults are fetch.min.bytes 1 and fetch.max.wait.ms 500): how much of the latency difference
# is that default.
mm2tuned=$STRAIT_HARNESS_RUN/mm2-fetch.properties
{ cat "$mm2cfg"; printf 'A.consumer.fetch.min.bytes = 65536\nA.consumer.fetch.max.wait.ms = 20\n'; } >"$mm2tuned"
$K mm2 "$mm2tuned"
latency mm2-fetch bench-mf-lat A.bench-mf-lat
$K stop-mm2 >/dev/null

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
result ceiling-producer records_per_s "$prod_rps"
result ceiling-consumer records_per_s "$cons_rps"

# --- strait ----------------------------------------------------------------------------------
create $A bench-s $P
log "strait: pre-loading $N x $SIZE B into $P partitions"
preload bench-s >/dev/null
started=$(date +%s.%N)
start_strait
measure strait $SPID A.bench-s "$started"
freshness strait bench-s-fresh A.bench-s-fresh
replay strait bench-s-rep A.bench-s-rep bench-s-group
stop_strait

# --- MirrorMaker 2 ---------------------------------------------------------------------------
create $A bench-m $P
log "MM2: pre-loading $N x $SIZE B into $P partitions"
preload bench-m >/dev/null
started=$(date +%s.%N)
$K mm2 "$mm2cfg"
mpid=$(cat "$STRAIT_HARNESS_RUN/mm2/pid")
measure mm2 "$mpid" A.bench-m "$started"
freshness mm2 bench-m-fresh A.bench-m-fresh
replay mm2 bench-m-rep A.bench-m-rep bench-m-group
$K stop-mm2 >/dev/null

# --- Report ----------------------------------------------------------------------------------
cat >"$STRAIT_HARNESS_RUN/settings.txt" <<SETTINGS
records=$N
record_size=$SIZE
partitions=$P
latency_rate=$LAT_RATE
latency_seconds=$LAT_SECONDS
latency_warmup=$LAT_WARMUP
replay_rate=$REPLAY_RATE
replay_seconds=$REPLAY_SECONDS
mm2_tasks=$MM2_TASKS
cores=$(nproc)
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
memory_gib=$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)
kernel=$(uname -r)
java=$(java -version 2>&1 | head -n 1)
rustc=$(rustc --version)
strait=$(./target/release/strait --version)
kafka=4.1.1
date=$(date -u +%Y-%m-%d)
SETTINGS
cp "$cfg" "$STRAIT_HARNESS_RUN/strait-bench.yaml"
PY=python3
VENV=target/bench-venv
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
  PY=$VENV/bin/python
elif python3 -m venv "$VENV" >/dev/null 2>&1 && "$VENV/bin/pip" install -q matplotlib >/dev/null 2>&1; then
  PY=$VENV/bin/python
else
  log "matplotlib could not be installed into $VENV; the report gets no chart"
fi
"$PY" bench/report.py "$STRAIT_HARNESS_RUN" docs/benchmarks.md docs/benchmarks.png

#!/usr/bin/env bash
# strait and Apache MirrorMaker 2 side by side on the same two local clusters, one after the
# other on fresh topics, each workload on each replicator (latency first, on the fresh clusters):
#   latency     LAT_RATE records/s for LAT_SECONDS (SIZE bytes, P partitions) after LAT_WARMUP
#               seconds of the same stream unmeasured: producer timestamp to arrival on the
#               target, p50 / p99 / max; LAT_RUNS runs each of strait, of the floor (the same
#               stream produced to and read from one topic, no replication) and of MM2 with
#               strait's fetch coalescing on its source consumer, one run of MM2 as it comes;
#   throughput  N pre-loaded records of SIZE bytes in P partitions, until all are on the target
#               (target end offsets polled every 100 ms); peak RSS and CPU seconds per GB; the
#               same again with the source records compressed by each of CODECS (pre-loaded with
#               compression.type=CODEC; both replicators write them uncompressed, their default);
#   freshness   FRESH_RUNS new matching topics: creation on the source to the first record on
#               the target (bench/workloads.rs freshness), each and the median;
#   replay      a group commits mid-stream while REPLAY_RATE records/s flow for REPLAY_SECONDS;
#               after translation to the target, records replayed and skipped;
#   idle        CPU of the source broker over IDLE_SECONDS while strait mirrors one idle topic of
#               P partitions, against the same span with strait stopped (and strait's own CPU).
# Plus the ceiling: a null replicator (bench/null_replicator.rs: strait's own clients and
# settings, no bookkeeping) copying N records the way strait's throughput run does, Kafka's
# ProducerPerformance into the target with strait's producer settings (linger.ms 5, batch.size
# 1000000, 16 MiB of buffer, idempotent, acks=all) and ConsumerPerformance from the source.
#
#   bench/compare.sh [N] [SIZE] [P]          defaults: 2000000 1024 16
#
# Environment (defaults): MM2_TASKS ("1 4": every MM2 throughput run is made with each tasks.max,
# and the tables take the better; the last one also runs freshness, replay and the coalesced
# latency), LAT_RUNS (3), LAT_RATE (5000), LAT_SECONDS (60), LAT_WARMUP (15), FRESH_RUNS (3),
# REPLAY_RATE (5000), REPLAY_SECONDS (30), CODECS ("lz4 zstd"), IDLE_SECONDS (60).
#
# MM2 runs in dedicated mode from the same Kafka 4.1.1 jars as the brokers, with its defaults
# except: replication factors 1 (single-broker clusters); refresh.topics.interval.seconds and
# refresh.groups.interval.seconds 10 (MM2's own 600 s would make freshness and the replay
# workload's new group wait 10 minutes); emit.checkpoints.interval.seconds and
# sync.group.offsets.interval.seconds 5 with sync.group.offsets.enabled (strait's defaults);
# tasks.max as above. strait runs with its defaults.
# Writes docs/benchmarks.md and docs/benchmarks.png (bench/report.py; the chart needs
# matplotlib, installed into target/bench-venv from the Python package index on first use).
# Uses its own clusters (ports 39092 / 39192), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000000}; SIZE=${2:-1024}; P=${3:-16}
MM2_TASKS=${MM2_TASKS:-1 4}
LAT_RUNS=${LAT_RUNS:-3}
LAT_RATE=${LAT_RATE:-5000}; LAT_SECONDS=${LAT_SECONDS:-60}; LAT_WARMUP=${LAT_WARMUP:-15}
FRESH_RUNS=${FRESH_RUNS:-3}
REPLAY_RATE=${REPLAY_RATE:-5000}; REPLAY_SECONDS=${REPLAY_SECONDS:-30}
CODECS=${CODECS:-lz4 zstd}
IDLE_SECONDS=${IDLE_SECONDS:-60}
read -r -a mm2_tasks <<<"$MM2_TASKS"
MM2_TUNED=${mm2_tasks[${#mm2_tasks[@]} - 1]}
export STRAIT_HARNESS_RUN=$PWD/target/bench-run
K=harness/kafka.sh
A=127.0.0.1:39092; B=127.0.0.1:39192
RES=$STRAIT_HARNESS_RUN/results.tsv
SPID= NPID=
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
  [ -n "$NPID" ] && kill "$NPID" 2>/dev/null
  $K stop-all >/dev/null 2>&1 || true
}
trap cleanup EXIT

log() { printf '[compare] %s\n' "$*" >&2; }
tool() { $K tool "$@"; }
create() { tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" --create --topic "$2" \
  --partitions "$3" --replication-factor 1 >/dev/null; }
delete() { tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" --delete --topic "$2" >/dev/null; }
preload() { # TOPIC [CODEC]
  tool org.apache.kafka.tools.ProducerPerformance --topic "$1" --num-records "$N" --record-size "$SIZE" \
    --throughput -1 --producer-props bootstrap.servers=$A acks=all linger.ms=5 batch.size=262144 \
    compression.type="${2:-none}" | tail -1
}
wait_for() { # TOPIC COUNT -> seconds since the call
  ./target/release/examples/end_offsets "$B" "$1" "$2" 900
}
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
proc_stats() { # PID -> "rss_kib cpu_seconds"
  echo "$(awk '/VmHWM/ {print $2}' "/proc/$1/status") $(cpu_s "$1")"
}
broker_pid() { cat "$STRAIT_HARNESS_RUN/$1/pid"; }
result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }
W=./target/release/examples/workloads

# One replicator run, started (pid $2) at $4 (date +%s.%N) on a topic copied as $3.
measure() { # NAME PID REMOTE STARTED
  local name=$1 pid=$2 remote=$3 started=$4 first all rss cpu
  wait_for "$remote" 1 >/dev/null
  first=$(echo "$(date +%s.%N) - $started" | bc -l)
  all=$(wait_for "$remote" "$N")
  read -r rss cpu < <(proc_stats "$pid")
  local steady
  steady=$(echo "$N / $all" | bc -l)
  log "$name: first record after ${first}s, all $N after another ${all}s ($(printf %.0f "$steady") records/s); RSS ${rss} KiB; CPU ${cpu}s"
  result "$name" first_s "$first"; result "$name" all_s "$all"; result "$name" records_per_s "$steady"
  result "$name" rss_kib "$rss"; result "$name" cpu_s "$cpu"
}

latency() { # NAME TOPIC REMOTE [existing: the source topic is there already]
  [ "${4:-}" = existing ] || create $A "$2" "$P"
  if [ "$2" != "$3" ]; then
    # One record first, so that the remote topic exists before the measured stream starts.
    tool org.apache.kafka.tools.ProducerPerformance --topic "$2" --num-records 1 --record-size 10 \
      --throughput -1 --producer-props bootstrap.servers=$A >/dev/null
    wait_for "$3" 1 >/dev/null
  fi
  local dst=$B
  [ "$2" != "$3" ] || dst=$A
  log "$1: latency, $LAT_RATE records/s for $LAT_SECONDS s after a ${LAT_WARMUP} s warm-up"
  local count missing p50 p99 max
  read -r _ count missing p50 p99 max < <($W latency $A "$2" "$dst" "$3" "$LAT_RATE" "$LAT_SECONDS" "$SIZE" "$P" "$LAT_WARMUP") || true
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

freshness() { # NAME TOPIC_PREFIX REMOTE_PREFIX: FRESH_RUNS new topics, one after the other
  local i secs
  for i in $(seq 1 "$FRESH_RUNS"); do
    secs=$($W freshness $A "$2-$i" $B "$3-$i" 120 | awk '{print $2}') || secs=nan
    log "$1: new topic $2-$i: first record on the target after ${secs}s"
    result "$1" "fresh_s_$i" "$secs"
  done
}

# CPU seconds of the source and target brokers and of PID (if any) over IDLE_SECONDS.
idle_window() { # NAME [PID]
  local a b s0= a0 b0 a1 b1
  a=$(broker_pid bA); b=$(broker_pid bB)
  a0=$(cpu_s "$a"); b0=$(cpu_s "$b"); [ -z "${2:-}" ] || s0=$(cpu_s "$2")
  log "$1: CPU of the brokers over ${IDLE_SECONDS}s"
  # The measured span itself: nothing to wait for.
  sleep "$IDLE_SECONDS"
  a1=$(cpu_s "$a"); b1=$(cpu_s "$b")
  result "$1" source_broker_cpu_pct "$(echo "100 * ($a1 - $a0) / $IDLE_SECONDS" | bc -l)"
  result "$1" target_broker_cpu_pct "$(echo "100 * ($b1 - $b0) / $IDLE_SECONDS" | bc -l)"
  if [ -n "${2:-}" ]; then
    result "$1" replicator_cpu_pct "$(echo "100 * ($(cpu_s "$2") - $s0) / $IDLE_SECONDS" | bc -l)"
  fi
  log "$1: source broker $(echo "100 * ($a1 - $a0) / $IDLE_SECONDS" | bc -l | xargs printf %.2f) % of a core, target broker $(echo "100 * ($b1 - $b0) / $IDLE_SECONDS" | bc -l | xargs printf %.2f) %"
}

cargo build --release --quiet --bin strait --example end_offsets --example workloads --example null_replicator
$K resolve >/dev/null
$K stop-all >/dev/null 2>&1 || true
$K start bA 39092 & $K start bB 39192 & wait
rm -f "$RES" "$STRAIT_HARNESS_RUN/strait.log"

# The configurations of both replicators.
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
mm2_config() { # TASKS -> path
  local path=$STRAIT_HARNESS_RUN/mm2-t$1.properties
  cat >"$path" <<PROPS
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
tasks.max = $1
B.scheduled.rebalance.max.delay.ms = 0
PROPS
  echo "$path"
}
for t in 1 "${mm2_tasks[@]}"; do mm2_config "$t" >/dev/null; done
start_strait() { # [CONFIG]
  ./target/release/strait run --config "${1:-$cfg}" 2>>"$STRAIT_HARNESS_RUN/strait.log" & SPID=$!
}
stop_strait() { kill -TERM $SPID; wait $SPID || true; SPID=; }
start_mm2() { $K mm2 "$1"; MPID=$(cat "$STRAIT_HARNESS_RUN/mm2/pid"); }

# --- Latency first, on the fresh clusters ------------------------------------------------------
# After the gigabytes of the throughput phases, the brokers' tail latency on a small machine is
# set by their own after-effects (page cache writeback, JVM heaps) rather than by the
# replicator; measured first, the latency runs see the same quiet brokers.
# Floor: the same workload produced to and read from one topic on the source broker, no
# replication in between.
for i in $(seq 1 "$LAT_RUNS"); do
  latency "direct-$i" "bench-direct-$i" "bench-direct-$i"
done
start_strait
for i in $(seq 1 "$LAT_RUNS"); do
  latency "strait-lat-$i" "bench-s-lat-$i" "A.bench-s-lat-$i"
done
stop_strait
# The replication floor: the null replicator (strait's clients with strait's settings, nothing
# else) in strait's place, so that what the second broker and the copy itself cost on this
# machine is apart from what strait's record path adds.
for i in $(seq 1 "$LAT_RUNS"); do
  # Both topics first: the null replicator reads the partitions the source topic has at its start.
  create $A "bench-n-lat-$i" "$P"
  create $B "null.bench-n-lat-$i" "$P"
  ./target/release/examples/null_replicator --config "$cfg" --source A --target B "bench-n-lat-$i" \
    "null.bench-n-lat-$i" 1000000000000 >/dev/null 2>>"$STRAIT_HARNESS_RUN/null-lat.log" &
  NPID=$!
  latency "null-lat-$i" "bench-n-lat-$i" "null.bench-n-lat-$i" existing
  kill "$NPID"; wait "$NPID" 2>/dev/null || true; NPID=
done
start_mm2 "$STRAIT_HARNESS_RUN/mm2-t1.properties"
latency mm2-lat-1 bench-m-lat A.bench-m-lat
$K stop-mm2 >/dev/null
# MM2 with strait's fetch coalescing on its source consumer (the Java consumer's defaults are
# fetch.min.bytes 1 and fetch.max.wait.ms 500) and tasks.max as its users set it: how much of the
# latency difference is that default.
mm2tuned=$STRAIT_HARNESS_RUN/mm2-fetch.properties
{ cat "$(mm2_config "$MM2_TUNED")"; printf 'A.consumer.fetch.min.bytes = 65536\nA.consumer.fetch.max.wait.ms = 20\n'; } >"$mm2tuned"
start_mm2 "$mm2tuned"
for i in $(seq 1 "$LAT_RUNS"); do
  latency "mm2-fetch-lat-$i" "bench-mf-lat-$i" "A.bench-mf-lat-$i"
done
$K stop-mm2 >/dev/null

# --- Idle: what a mirror of an idle topic costs the source broker ---------------------------
# Before the throughput phases: no topic deletion (whose files go a minute later) falls into
# the measured spans.
idle_window idle-none
idlecfg=$STRAIT_HARNESS_RUN/strait-idle.yaml
sed 's/topics: \["bench-s\.\*"\]/topics: ["bench-idle"]/' "$cfg" >"$idlecfg"
create $A bench-idle $P
tool org.apache.kafka.tools.ProducerPerformance --topic bench-idle --num-records 1 --record-size 10 \
  --throughput -1 --producer-props bootstrap.servers=$A >/dev/null
start_strait "$idlecfg"
wait_for A.bench-idle 1 >/dev/null
idle_window idle-strait $SPID
stop_strait
# The same without the check of the source's topic list between refreshes (it only runs when
# watch_topics_interval is shorter than refresh_topics_interval): what new topics in 2 s cost.
nowatch=$STRAIT_HARNESS_RUN/strait-idle-nowatch.yaml
sed 's/    replication_factor: 1/    replication_factor: 1\n    watch_topics_interval: 10s/' "$idlecfg" >"$nowatch"
start_strait "$nowatch"
wait_for A.bench-idle 1 >/dev/null
idle_window idle-nowatch $SPID
stop_strait

# --- Ceiling: the brokers alone, and a replicator that only copies ----------------------------
create $B ceiling $P
log "ceiling: ProducerPerformance into the target with strait's producer settings"
# src/kafka/mod.rs RECORD_PRODUCER_DEFAULTS and the forced settings: linger.ms 5, batch.size
# 1000000, queue.buffering.max.kbytes 16384 (the Java producer's buffer.memory), no
# compression, idempotent with acks=all.
prod=$(tool org.apache.kafka.tools.ProducerPerformance --topic ceiling --num-records "$N" --record-size "$SIZE" \
  --throughput -1 --producer-props bootstrap.servers=$B acks=all enable.idempotence=true linger.ms=5 \
  batch.size=1000000 buffer.memory=16777216 compression.type=none | tail -1)
prod_rps=$(echo "$prod" | sed -E 's/.* ([0-9.]+) records\/sec.*/\1/')
result ceiling-producer records_per_s "$prod_rps"
delete $B ceiling
create $A bench-c $P
preload bench-c >/dev/null
log "ceiling: ConsumerPerformance from the source"
cons=$(tool org.apache.kafka.tools.ConsumerPerformance --bootstrap-server $A --topic bench-c \
  --messages "$N" 2>/dev/null | tail -1)
# start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
cons_rps=$(echo "$cons" | awk -F', *' '{print $6}')
result ceiling-consumer records_per_s "$cons_rps"
log "ceiling: the null replicator (strait's clients, nothing else) copies bench-c"
create $B null.bench-c $P
sync
started=$(date +%s.%N)
./target/release/examples/null_replicator --config "$cfg" --source A --target B bench-c null.bench-c "$N" \
  --hold 900 >"$STRAIT_HARNESS_RUN/null.out" 2>"$STRAIT_HARNESS_RUN/null.log" &
NPID=$!
measure null "$NPID" null.bench-c "$started"
kill "$NPID"; wait "$NPID" 2>/dev/null || true; NPID=
log "null replicator's own count: $(cat "$STRAIT_HARNESS_RUN/null.out")"
delete $A bench-c; delete $B null.bench-c

# --- strait ----------------------------------------------------------------------------------
# One run per codec on a fresh topic (deleted afterwards); the uncompressed one is followed by
# freshness and replay on the same instance.
for codec in none $CODECS; do
  name=strait; topic=bench-s
  [ "$codec" = none ] || { name=strait-$codec; topic=bench-s-$codec; }
  create $A $topic $P
  log "$name: pre-loading $N x $SIZE B into $P partitions (compression $codec)"
  preload $topic "$codec" >/dev/null
  sync
  started=$(date +%s.%N)
  start_strait
  measure "$name" $SPID "A.$topic" "$started"
  if [ "$codec" = none ]; then
    freshness strait bench-s-fresh A.bench-s-fresh
    replay strait bench-s-rep A.bench-s-rep bench-s-group
  fi
  stop_strait
  delete $A $topic; delete $B "A.$topic"
done

# --- MirrorMaker 2 ---------------------------------------------------------------------------
for t in "${mm2_tasks[@]}"; do
  for codec in none $CODECS; do
    name=mm2-t$t; topic=bench-m$t
    [ "$codec" = none ] || { name=mm2-t$t-$codec; topic=bench-m$t-$codec; }
    create $A $topic $P
    log "$name: pre-loading $N x $SIZE B into $P partitions (compression $codec)"
    preload $topic "$codec" >/dev/null
    sync
    started=$(date +%s.%N)
    start_mm2 "$STRAIT_HARNESS_RUN/mm2-t$t.properties"
    measure "$name" "$MPID" "A.$topic" "$started"
    $K stop-mm2 >/dev/null
    delete $A $topic; delete $B "A.$topic"
  done
done
start_mm2 "$STRAIT_HARNESS_RUN/mm2-t$MM2_TUNED.properties"
freshness "mm2-t$MM2_TUNED" bench-m-fresh A.bench-m-fresh
replay "mm2-t$MM2_TUNED" bench-m-rep A.bench-m-rep bench-m-group
$K stop-mm2 >/dev/null

# --- Report ----------------------------------------------------------------------------------
cat >"$STRAIT_HARNESS_RUN/settings.txt" <<SETTINGS
records=$N
record_size=$SIZE
partitions=$P
latency_rate=$LAT_RATE
latency_seconds=$LAT_SECONDS
latency_warmup=$LAT_WARMUP
latency_runs=$LAT_RUNS
fresh_runs=$FRESH_RUNS
replay_rate=$REPLAY_RATE
replay_seconds=$REPLAY_SECONDS
codecs=$CODECS
idle_seconds=$IDLE_SECONDS
mm2_tasks=$MM2_TASKS
mm2_tuned=$MM2_TUNED
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
cp "$STRAIT_HARNESS_RUN/mm2-t${mm2_tasks[0]}.properties" "$STRAIT_HARNESS_RUN/mm2.properties"
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

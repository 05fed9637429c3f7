#!/usr/bin/env bash
# kill -9 loop: KILLS SIGKILLs of the replicator at seeded random moments while RECORDS records
# stream into the source (RATE records/s, P partitions), each followed at once by a restart;
# then, once the target has caught up, every source record is looked for on the target:
# lost, duplicated, out of order (first copies not in source order) and altered records.
# Each kill comes a seeded random 1-6 s after the replicator, (re)started, has copied again
# (the target's end offsets moved): so every kill interrupts copying, however long the
# replicator takes to start (MM2's Connect runtime takes seconds). Kills that would come after
# the stream has ended are not made (the count says how many were).
# Runs strait (release build), then Apache MirrorMaker 2 (dedicated mode, from the brokers'
# Kafka 4.1.1 jars) on the same clusters with the same schedule, each on its own topic.
#
#   bench/kill_loop.sh [RECORDS] [KILLS] [SEED]       defaults: 1000000 20 1
#
# RATE (default 2000), P (default 8), REPLICATORS (default "strait mm2"). Not part of CI (it
# takes about ten minutes). Prints one `result` line per replicator and appends them to
# target/bench-run/kill-loop.tsv. Uses its own clusters (ports 39092 / 39192), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-1000000}; KILLS=${2:-20}; SEED=${3:-1}
RATE=${RATE:-2000}; P=${P:-8}; REPLICATORS=${REPLICATORS:-strait mm2}
export STRAIT_HARNESS_RUN=${BENCH_RUN_DIR:-$PWD/target/bench-run}
K=harness/kafka.sh
A=127.0.0.1:39092; B=127.0.0.1:39192
W=./target/release/examples/workloads
RES=$STRAIT_HARNESS_RUN/kill-loop.tsv
SPID=
cleanup() {
  [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
  kill_mm2
  $K stop-all >/dev/null 2>&1 || true
}
trap cleanup EXIT
log() { printf '[kill-loop] %s\n' "$*" >&2; }
kill_mm2() {
  local f=$STRAIT_HARNESS_RUN/mm2/pid
  [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
}

cargo build --release --quiet --bin strait --example workloads
$K resolve >/dev/null
$K stop-all >/dev/null 2>&1 || true
$K start bA 39092 & $K start bB 39192 & wait
mkdir -p "$STRAIT_HARNESS_RUN"

SECONDS_TOTAL=$(( (RECORDS + RATE - 1) / RATE ))
# The delays (after copying resumed) before each kill: uniform in [1, 6) s.
mapfile -t DELAYS < <(awk -v seed="$SEED" -v n="$KILLS" \
  'BEGIN { srand(seed); for (i = 0; i < n; i++) printf "%.2f\n", 1 + rand() * 5 }')
log "$RECORDS records at $RATE/s over $P partitions (${SECONDS_TOTAL} s); kill delays: ${DELAYS[*]}"

cfg=$STRAIT_HARNESS_RUN/kill-loop-strait.yaml
cat >"$cfg" <<YAML
clusters:
  A: { bootstrap_servers: "$A" }
  B: { bootstrap_servers: "$B" }
mirrors:
  - source: A
    target: B
    topics: ["kl-s"]
    replication_factor: 1
http: { listen: "127.0.0.1:0" }
YAML
mm2cfg=$STRAIT_HARNESS_RUN/kill-loop-mm2.properties
cat >"$mm2cfg" <<PROPS
clusters = A, B
A.bootstrap.servers = $A
B.bootstrap.servers = $B
A->B.enabled = true
A->B.topics = kl-m
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
# A killed worker's tasks are reassigned at once, not after Connect's 5 min grace period.
B.scheduled.rebalance.max.delay.ms = 0
PROPS

start_replicator() { # NAME
  case $1 in
    strait)
      ./target/release/strait run --config "$cfg" 2>>"$STRAIT_HARNESS_RUN/kill-loop-strait.log" &
      SPID=$! ;;
    mm2)
      # In the background: a kill may come before MM2 has finished starting.
      ($K mm2 "$mm2cfg" >/dev/null 2>&1 || true) &
      # Wait until its JVM is known, so that the next kill finds it.
      for _ in $(seq 100); do [ -s "$STRAIT_HARNESS_RUN/mm2/pid" ] && break; sleep 0.1; done ;;
  esac
}
kill_replicator() { # NAME
  case $1 in
    strait) kill -9 "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID= ;;
    mm2) kill_mm2; sleep 0.5 ;;
  esac
}
stop_replicator() { # NAME
  case $1 in
    strait) kill -TERM "$SPID"; wait "$SPID" || true; SPID= ;;
    mm2) kill_mm2 ;;
  esac
}

for name in $REPLICATORS; do
  case $name in strait) topic=kl-s ;; mm2) topic=kl-m ;; *) echo "unknown replicator $name"; exit 2 ;; esac
  $K tool org.apache.kafka.tools.TopicCommand --bootstrap-server $A --create --topic "$topic" \
    --partitions "$P" --replication-factor 1 >/dev/null
  start_replicator "$name"
  $W stream $A "$topic" "$RATE" "$RECORDS" "$P" >/dev/null &
  stream=$!
  kills=0
  for delay in "${DELAYS[@]}"; do
    # Until the replicator copies (again): the target's end offsets move.
    base=$($W ends $B "A.$topic")
    while kill -0 "$stream" 2>/dev/null && [ "$($W ends $B "A.$topic")" = "$base" ]; do sleep 0.2; done
    kill -0 "$stream" 2>/dev/null || break
    sleep "$delay"
    kill -0 "$stream" 2>/dev/null || break
    kill_replicator "$name"
    kills=$((kills + 1))
    start_replicator "$name"
  done
  wait "$stream"
  log "$name: $kills kills done, stream finished; waiting for the target to catch up"
  read -r _ total lost dups disorder altered < <($W verify $A "$topic" $B "A.$topic" 900)
  stop_replicator "$name"
  pct=$(echo "scale=2; 100 * $dups / $total" | bc -l)
  printf 'result\t%s\trecords=%s\tkills=%s\tlost=%s\tduplicates=%s (%s %%)\tout_of_order=%s\taltered=%s\n' \
    "$name" "$total" "$kills" "$lost" "$dups" "$pct" "$disorder" "$altered" | tee -a "$RES"
done

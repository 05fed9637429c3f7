#!/usr/bin/env bash
# The cost of exactly-once (`delivery: exactly_once`) side by side with at-least-once and with
# MirrorMaker 2's exactly-once (KIP-618), on the same two local clusters, one replicator after
# the other on fresh topics:
#   throughput  N pre-loaded records of SIZE bytes in P partitions, until all N are readable on
#               the target with a read_committed consumer (bench/end_offsets.rs --records: with
#               transactions the end offsets count commit markers too); records/s, CPU seconds
#               per GB (user + system of the replicator from its start), peak RSS;
#   latency     LAT_RATE records/s for LAT_SECONDS after LAT_WARMUP seconds unmeasured: producer
#               timestamp to arrival at a read_committed consumer of the target, p50 / p99 / max.
# strait runs at-least-once, then exactly-once with transaction_interval 50ms, 200ms (the
# default) and 1s: the documented trade-off between throughput and latency; then at-least-once
# once more (`alo-2`), so that the spread between two runs of the same thing is in the table.
# MM2 runs from the same Kafka jars as the brokers with `B.exactly.once.source.support =
# enabled` and `A.consumer.isolation.level = read_committed`, otherwise as in bench/compare.sh.
#
#   bench/exactly_once.sh [N] [SIZE] [P]      defaults: 1000000 1024 16
#
# Writes the section between the `exactly-once` markers of docs/benchmarks.md. Uses its own
# clusters (ports 39292 / 39392), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}; SIZE=${2:-1024}; P=${3:-16}
LAT_RATE=${LAT_RATE:-5000}; LAT_SECONDS=${LAT_SECONDS:-30}; LAT_WARMUP=${LAT_WARMUP:-10}
MODES=${MODES:-"alo eos-50ms eos-200ms eos-1s alo-2 mm2-eos"}
export STRAIT_HARNESS_RUN=$PWD/target/bench-eos
K=harness/kafka.sh
A=127.0.0.1:39292; B=127.0.0.1:39392
RES=$STRAIT_HARNESS_RUN/results.tsv
RPID=
cleanup() {
  [ -n "$RPID" ] && kill -9 "$RPID" 2>/dev/null
  $K stop-mm2 >/dev/null 2>&1 || true
  $K stop-all >/dev/null 2>&1 || true
}
trap cleanup EXIT

log() { printf '[exactly-once] %s\n' "$*" >&2; }
tool() { $K tool "$@"; }
result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }
create() { tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" --create --topic "$2" \
  --partitions "$3" --replication-factor 1 >/dev/null; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
W=./target/release/examples/workloads
E=./target/release/examples/end_offsets

strait_config() { # MODE PREFIX -> path
  local cfg=$STRAIT_HARNESS_RUN/$1.yaml delivery=at_least_once interval=200ms
  case $1 in
    eos-*) delivery=exactly_once; interval=${1#eos-} ;;
  esac
  cat >"$cfg" <<YAML
clusters:
  A: { bootstrap_servers: "$A" }
  B: { bootstrap_servers: "$B" }
mirrors:
  - source: A
    target: B
    topics: ["$2.*"]
    replication_factor: 1
    delivery: $delivery
    transaction_interval: $interval
http: { listen: "127.0.0.1:0" }
YAML
  echo "$cfg"
}
mm2_config() { # PREFIX -> path
  local cfg=$STRAIT_HARNESS_RUN/mm2.properties
  cat >"$cfg" <<PROPS
clusters = A, B
A.bootstrap.servers = $A
B.bootstrap.servers = $B
A->B.enabled = true
A->B.topics = $1.*
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
B.exactly.once.source.support = enabled
A.consumer.isolation.level = read_committed
B.scheduled.rebalance.max.delay.ms = 0
PROPS
  echo "$cfg"
}

cargo build --release --quiet --bin strait --example end_offsets --example workloads
$K resolve >/dev/null
$K stop-all >/dev/null 2>&1 || true
$K start xA 39292 & $K start xB 39392 & wait
rm -f "$RES"
mkdir -p "$STRAIT_HARNESS_RUN"

for mode in $MODES; do
  prefix=eos-$(echo "$mode" | tr -cd 'a-z0-9')
  topic=$prefix-tp
  create $A "$topic" "$P"
  log "$mode: pre-loading $N x $SIZE B into $P partitions"
  tool org.apache.kafka.tools.ProducerPerformance --topic "$topic" --num-records "$N" --record-size "$SIZE" \
    --throughput -1 --producer-props bootstrap.servers=$A acks=all linger.ms=5 batch.size=262144 >/dev/null
  started=$(date +%s.%N)
  if [ "$mode" = mm2-eos ]; then
    $K mm2 "$(mm2_config "$prefix")"
    RPID=$(cat "$STRAIT_HARNESS_RUN/mm2/pid")
  else
    ./target/release/strait run --config "$(strait_config "$mode" "$prefix")" 2>"$STRAIT_HARNESS_RUN/$mode.log" &
    RPID=$!
  fi
  all=$($E "$B" "A.$topic" "$N" 900 --records)
  copied=$(echo "$(date +%s.%N) - $started" | bc -l)
  cpu=$(cpu_s "$RPID"); rss=$(rss_kib "$RPID")
  gb=$(echo "$N * $SIZE / 1000000000" | bc -l)
  log "$mode: all $N readable after ${copied}s; CPU ${cpu}s; peak RSS ${rss} KiB"
  result "$mode" records_per_s "$(echo "$N / $all" | bc -l)"
  result "$mode" cpu_s_per_gb "$(echo "$cpu / $gb" | bc -l)"
  result "$mode" rss_kib "$rss"

  # Latency on a second topic, the replicator still running.
  lat=$prefix-lat
  create $A "$lat" "$P"
  tool org.apache.kafka.tools.ProducerPerformance --topic "$lat" --num-records 1 --record-size 10 \
    --throughput -1 --producer-props bootstrap.servers=$A >/dev/null
  $E "$B" "A.$lat" 1 300 --records >/dev/null
  read -r _ count missing p50 p99 max < <($W latency $A "$lat" $B "A.$lat" "$LAT_RATE" "$LAT_SECONDS" "$SIZE" "$P" "$LAT_WARMUP") || true
  log "$mode: latency $count records, $missing missing; p50 ${p50} ms, p99 ${p99} ms, max ${max} ms"
  result "$mode" lat_p50_ms "$p50"; result "$mode" lat_p99_ms "$p99"; result "$mode" lat_max_ms "$max"
  result "$mode" lat_missing "$missing"
  if [ "$mode" = mm2-eos ]; then
    $K stop-mm2 >/dev/null
  else
    kill -TERM "$RPID"; wait "$RPID" || true
  fi
  RPID=
done

python3 - "$RES" "$N" "$SIZE" "$P" "$LAT_RATE" "$LAT_SECONDS" "$(nproc)" <<'PY' | python3 bench/section.py exactly-once Exactly-once
import sys
res, n, size, p, rate, secs, cores = sys.argv[1:]
rows = {}
for line in open(res):
    name, key, value = line.rstrip("\n").split("\t")
    try:
        rows.setdefault(name, {})[key] = float(value)
    except ValueError:
        rows.setdefault(name, {})[key] = float("nan")
names = {
    "alo": "strait, at-least-once",
    "eos-50ms": "strait, exactly-once, transaction_interval 50ms",
    "eos-200ms": "strait, exactly-once, transaction_interval 200ms (default)",
    "eos-1s": "strait, exactly-once, transaction_interval 1s",
    "alo-2": "strait, at-least-once, run again after the exactly-once runs",
    "mm2-eos": "MirrorMaker 2, exactly-once (KIP-618)",
}
out = []
out.append(f"Run by `bench/exactly_once.sh` on this machine ({cores} cores, both single-broker clusters and")
out.append(f"the replicator on it). Throughput: {int(n):,} pre-loaded records of {size} B in {p} partitions, until")
out.append("all are readable by a read_committed consumer of the target; CPU is user + system time of the")
out.append(f"replicator from its start. Latency: {int(rate):,} records/s for {secs} s, producer timestamp to a")
out.append("read_committed consumer of the target.")
out.append("")
out.append("| replicator | records/s | CPU s per GB | peak RSS | latency p50 | p99 | max |")
out.append("|---|---|---|---|---|---|---|")
for key, label in names.items():
    r = rows.get(key)
    if not r:
        continue
    out.append(f"| {label} | {r['records_per_s']:,.0f} | {r['cpu_s_per_gb']:.2f} | {r['rss_kib'] / 1024:.0f} MiB | "
               f"{r['lat_p50_ms']:.0f} ms | {r['lat_p99_ms']:.0f} ms | {r['lat_max_ms']:.0f} ms |")
print("\n".join(out))
PY

#!/usr/bin/env bash
# strait scaled out (`deployment`, docs/scaling.md) on two local clusters:
#   throughput  N pre-loaded records of SIZE bytes in P partitions, copied by 1, 2 and 3
#               instances sharing the mirror (a fresh topic each), until all are on the target;
#               records/s, MB/s, CPU seconds per GB over all instances and per instance, peak RSS
#               per instance;
#   takeover    3 instances copy a stream of RATE records/s; after WARMUP seconds one is killed
#               with SIGKILL; the time until the survivors logged the shards gained, and until
#               every partition of the target holds what its source partition held at the kill
#               (RUNS times, a fresh topic each).
#
#   bench/scale_out.sh [N] [SIZE] [P]         defaults: 1000000 1024 24
#
# Every instance runs on this machine with the brokers, so the figures say how the work spreads
# and what it costs, not what separate hosts would reach. Writes the section between the
# `scale-out` markers of docs/benchmarks.md. Uses its own clusters (ports 39092 / 39192),
# stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}; SIZE=${2:-1024}; P=${3:-24}
RATE=${RATE:-20000}; WARMUP=${WARMUP:-15}; RUNS=${RUNS:-3}
SESSION=${SESSION:-10s}
export STRAIT_HARNESS_RUN=$PWD/target/bench-scale
K=harness/kafka.sh
A=127.0.0.1:39092; B=127.0.0.1:39192
RES=$STRAIT_HARNESS_RUN/results.tsv
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  $K stop-all >/dev/null 2>&1 || true
}
trap cleanup EXIT

log() { printf '[scale-out] %s\n' "$*" >&2; }
tool() { $K tool "$@"; }
result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }
create() { tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" --create --topic "$2" \
  --partitions "$3" --replication-factor 1 >/dev/null; }
wait_for() { ./target/release/examples/end_offsets "$B" "$1" "$2" 900; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

config() { # NAME TOPIC_PATTERN -> path
  local cfg=$STRAIT_HARNESS_RUN/$1.yaml
  cat >"$cfg" <<YAML
clusters:
  A: { bootstrap_servers: "$A" }
  B: { bootstrap_servers: "$B" }
mirrors:
  - source: A
    target: B
    topics: ["$2"]
    replication_factor: 1
    refresh_topics_interval: 2s
deployment: { name: "$1", session_timeout: $SESSION }
http: { listen: "127.0.0.1:0" }
YAML
  echo "$cfg"
}
start_instances() { # CONFIG COUNT LOGPREFIX
  PIDS=()
  for i in $(seq 1 "$2"); do
    HOSTNAME=instance-$i ./target/release/strait run --config "$1" 2>"$3-$i.log" &
    PIDS+=($!)
  done
}
stop_instances() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

cargo build --release --quiet --bin strait --example end_offsets
$K resolve >/dev/null
$K stop-all >/dev/null 2>&1 || true
$K start sA 39092 & $K start sB 39192 & wait
rm -f "$RES"
mkdir -p "$STRAIT_HARNESS_RUN"

# --- Throughput with 1, 2 and 3 instances ----------------------------------------------------
for n in 1 2 3; do
  topic=scale-$n
  create $A $topic "$P"
  log "$n instance(s): pre-loading $N x $SIZE B into $P partitions"
  tool org.apache.kafka.tools.ProducerPerformance --topic $topic --num-records "$N" --record-size "$SIZE" \
    --throughput -1 --producer-props bootstrap.servers=$A acks=all linger.ms=5 batch.size=262144 >/dev/null
  cfg=$(config "bench-$n" "$topic")
  started=$(date +%s.%N)
  start_instances "$cfg" "$n" "$STRAIT_HARNESS_RUN/throughput-$n"
  wait_for "A.$topic" 1 >/dev/null
  first=$(echo "$(date +%s.%N) - $started" | bc -l)
  all=$(wait_for "A.$topic" "$N")
  cpu=0; rss_max=0
  for p in "${PIDS[@]}"; do
    c=$(cpu_s "$p"); r=$(rss_kib "$p")
    cpu=$(echo "$cpu + $c" | bc -l)
    [ "$r" -gt "$rss_max" ] && rss_max=$r
  done
  stop_instances
  gb=$(echo "$N * $SIZE / 1000000000" | bc -l)
  rps=$(echo "$N / $all" | bc -l)
  log "$n instance(s): first record after ${first}s, all after another ${all}s ($(printf %.0f "$rps") records/s); CPU ${cpu}s in all; peak RSS ${rss_max} KiB"
  result "i$n" records_per_s "$rps"
  result "i$n" mb_per_s "$(echo "$rps * $SIZE / 1000000" | bc -l)"
  result "i$n" cpu_s_per_gb "$(echo "$cpu / $gb" | bc -l)"
  result "i$n" cpu_s_per_gb_per_instance "$(echo "$cpu / $gb / $n" | bc -l)"
  result "i$n" rss_kib_max "$rss_max"
done

# --- Takeover after a SIGKILL ----------------------------------------------------------------
for run in $(seq 1 "$RUNS"); do
  topic=takeover-$run
  create $A $topic "$P"
  cfg=$(config "bench-takeover-$run" "$topic")
  start_instances "$cfg" 3 "$STRAIT_HARNESS_RUN/takeover-$run"
  tool org.apache.kafka.tools.ProducerPerformance --topic $topic --num-records $((RATE * (WARMUP + 60))) \
    --record-size "$SIZE" --throughput "$RATE" --producer-props bootstrap.servers=$A acks=all linger.ms=5 \
    >/dev/null 2>&1 &
  producer=$!
  sleep "$WARMUP"
  victim=${PIDS[0]}
  killed=$(date +%s.%N)
  kill -9 "$victim"
  killed_iso=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
  # Every partition of the remote topic holds what its source partition held right after the
  # kill: the killed instance's partitions too, copied again by their new owners.
  ./target/release/examples/end_offsets "$B" "A.$topic" 0 900 --like "$A" "$topic" >/dev/null
  caught=$(echo "$(date +%s.%N) - $killed" | bc -l | awk '{printf "%.2f", $1}')
  # The first "shards gained" a survivor logged after the kill.
  resumed=$(python3 - "$killed_iso" "$STRAIT_HARNESS_RUN/takeover-$run-2.log" "$STRAIT_HARNESS_RUN/takeover-$run-3.log" <<'PY'
import sys, datetime, re
def parse(ts):
    ts = re.sub(r"(\.\d{6})\d*", r"\1", ts.rstrip("Z"))
    return datetime.datetime.fromisoformat(ts)
killed = parse(sys.argv[1])
times = []
for path in sys.argv[2:]:
    for line in open(path, errors="replace"):
        if "shards gained" in line:
            t = parse(line.split()[0])
            if t > killed:
                times.append((t - killed).total_seconds())
print(f"{min(times):.2f}" if times else "nan")
PY
)
  log "takeover $run: shards gained by a survivor ${resumed}s after the SIGKILL; everything sent before it on the target after ${caught}s"
  result "takeover-$run" resumed_s "$resumed"
  result "takeover-$run" caught_up_s "$caught"
  wait "$producer" || true
  PIDS=("${PIDS[@]:1}")
  stop_instances
done

python3 - "$RES" "$N" "$SIZE" "$P" "$RATE" "$SESSION" "$(nproc)" <<'PY' | python3 bench/section.py scale-out Scale-out
import sys, statistics
res, n, size, p, rate, session, cores = sys.argv[1:]
rows = {}
for line in open(res):
    name, key, value = line.rstrip("\n").split("\t")
    rows.setdefault(name, {})[key] = float(value) if value != "nan" else float("nan")
out = []
out.append(f"Run by `bench/scale_out.sh` on this machine ({cores} cores; both single-broker clusters")
out.append("and every instance on it): the instances share one mirror through `deployment`. Each")
out.append(f"throughput row copies {int(n):,} pre-loaded records of {size} B in {p} partitions into a fresh")
out.append("remote topic; CPU is user + system time of every instance until the last record arrived.")
out.append("")
out.append("| instances | records/s | MB/s | CPU s per GB, all | CPU s per GB per instance | peak RSS per instance |")
out.append("|---|---|---|---|---|---|")
for i in (1, 2, 3):
    r = rows.get(f"i{i}")
    if not r:
        continue
    out.append(f"| {i} | {r['records_per_s']:,.0f} | {r['mb_per_s']:.1f} | {r['cpu_s_per_gb']:.2f} | "
               f"{r['cpu_s_per_gb_per_instance']:.2f} | {r['rss_kib_max'] / 1024:.0f} MiB |")
res_s = [r["resumed_s"] for k, r in rows.items() if k.startswith("takeover")]
cau_s = [r["caught_up_s"] for k, r in rows.items() if k.startswith("takeover")]
out.append("")
out.append(f"Takeover: three instances copy {int(rate):,} records/s into {p} partitions; one is killed with")
out.append(f"SIGKILL (session timeout {session}). Per run, seconds from the kill until a survivor gained its")
out.append("shards, and until every remote partition held what its source partition held at the kill:")
out.append("")
out.append("| run | shards gained | caught up |")
out.append("|---|---|---|")
for i, (a, b) in enumerate(zip(res_s, cau_s), 1):
    out.append(f"| {i} | {a:.2f} s | {b:.2f} s |")
if res_s:
    out.append(f"| median | {statistics.median(res_s):.2f} s | {statistics.median(cau_s):.2f} s |")
print("\n".join(out))
PY

#!/usr/bin/env bash
# strait and Apache MirrorMaker 2 at scale on two local single-broker clusters, each replicator
# on fresh clusters (and so fresh topics) for each workload:
#   partitions  TOPICS topics x PARTITIONS partitions on the source, RECORDS records of 100 B in
#               every partition; the replicator is started and creates the remote topics;
#               seconds from its start until every remote partition holds its records (end
#               offsets of all of them polled every 500 ms), peak RSS (VmHWM), peak threads,
#               idle CPU over IDLE_SECONDS once everything is copied (% of a core), and memory
#               per partition: (peak RSS - peak RSS of an instance that copied one partition of
#               the same records on the same clusters just before) / partitions (for MM2 that
#               says little: a JVM's RSS follows its heap);
#   groups      GROUP_COUNT consumer groups on the source, each with committed offsets for all
#               GROUP_PARTITIONS partitions of a mirrored topic of GROUP_RECORDS records per
#               partition (committed before the replicator starts, through the admin API); the
#               replicator is started; seconds from its start until every group has a
#               checkpoint for every partition in `A.checkpoints.internal` on the target, the
#               span from the first checkpoint to the one that completed the last group (within
#               one checkpoint interval, 5 s for both?), peak threads (/proc/PID/status,
#               sampled every second) and peak RSS;
#   wan         WAN_LATENCY_MS of latency each way (toxiproxy, harness/toxiproxy.sh) between the
#               replicator and the source cluster, whose EXTERNAL listener advertises the proxy
#               so that every connection of the replicator goes through it; WAN_RECORDS
#               pre-loaded records of WAN_SIZE bytes in WAN_PARTITIONS partitions; records/s,
#               MB/s, CPU per GB and peak RSS per run: strait with its defaults and with each
#               of WAN_VARIANTS (source consumer properties, `;`-separated inline YAML maps),
#               MM2 with its defaults and with its source consumer's fetch sizes raised.
# MM2 runs every workload once per tasks.max in MM2_TASKS.
#
#   bench/scale.sh [WORKLOAD...]     workloads: partitions groups wan (default: all three)
#   bench/scale.sh --report          only render docs/benchmarks.md from the last results
#
# Environment (full-scale defaults): TOPICS 500, PARTITIONS 20, RECORDS 10; GROUP_COUNT 10000,
# GROUP_PARTITIONS 4, GROUP_RECORDS 100; WAN_RECORDS 1000000, WAN_SIZE 1024, WAN_PARTITIONS 16,
# WAN_LATENCY_MS 50 (so 100 ms round trip); IDLE_SECONDS 60; MM2_TASKS "1 4" ("none": strait
# only); BROKER_HEAP 3g
# (each broker's -Xmx, STRAIT_KAFKA_HEAP of harness/kafka.sh), MM2_HEAP 2g; TIMEOUT 900 (s, per
# wait); THREAD_LIMIT 4000 (a replicator with more threads is killed and the run marked
# aborted, so that a run-away does not take the machine down). A small run:
#   TOPICS=20 PARTITIONS=5 GROUP_COUNT=50 WAN_RECORDS=20000 IDLE_SECONDS=10 bench/scale.sh
#
# The brokers need a file descriptor per partition segment and two memory maps per segment
# index: the script raises `ulimit -n` as far as the hard limit allows and refuses to start
# when it or vm.max_map_count is too low for the partitions asked for.
# Writes the section between the `scale` markers of docs/benchmarks.md (results in
# target/bench-at-scale/results.tsv). Uses its own clusters (ports 39092 / 39192, the source's
# proxied listener 39094, the proxy 39095 and its API 39096), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
TOPICS=${TOPICS:-500}; PARTITIONS=${PARTITIONS:-20}; RECORDS=${RECORDS:-10}
GROUP_COUNT=${GROUP_COUNT:-10000}; GROUP_PARTITIONS=${GROUP_PARTITIONS:-4}
GROUP_RECORDS=${GROUP_RECORDS:-100}
WAN_RECORDS=${WAN_RECORDS:-1000000}; WAN_SIZE=${WAN_SIZE:-1024}; WAN_PARTITIONS=${WAN_PARTITIONS:-16}
WAN_LATENCY_MS=${WAN_LATENCY_MS:-50}
WAN_VARIANTS=${WAN_VARIANTS:-"{queued.max.messages.kbytes: 65536, fetch.max.bytes: 67108864};{queued.max.messages.kbytes: 65536, fetch.max.bytes: 67108864, max.partition.fetch.bytes: 4194304};{queued.max.messages.kbytes: 65536, fetch.max.bytes: 67108864, max.partition.fetch.bytes: 4194304, socket.receive.buffer.bytes: 8388608}"}
IDLE_SECONDS=${IDLE_SECONDS:-60}
MM2_TASKS=${MM2_TASKS:-1 4}
BROKER_HEAP=${BROKER_HEAP:-3g}; MM2_HEAP=${MM2_HEAP:-2g}
TIMEOUT=${TIMEOUT:-900}; THREAD_LIMIT=${THREAD_LIMIT:-4000}
# strait's emit_checkpoints_interval (src/config/defaults.rs), and MM2's as set below.
CHECKPOINT_INTERVAL_S=5
export STRAIT_HARNESS_RUN=$PWD/target/bench-at-scale
export STRAIT_KAFKA_HEAP=$BROKER_HEAP STRAIT_MM2_HEAP=$MM2_HEAP
K=harness/kafka.sh
A=127.0.0.1:39092; B=127.0.0.1:39192
EXT_PORT=39094; PROXY_PORT=39095; PROXY_API=39096
RES=$STRAIT_HARNESS_RUN/results.tsv
T=./target/release/examples/scale_tool
E=./target/release/examples/end_offsets
read -r -a mm2_tasks <<<"$MM2_TASKS"
[ "$MM2_TASKS" != none ] || mm2_tasks=()

log() { printf '[scale] %s\n' "$*" >&2; }
result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }

report() {
  python3 - "$RES" "$STRAIT_HARNESS_RUN/settings.txt" <<'PY' | python3 bench/section.py scale "At scale"
import statistics, sys
res_path, settings_path = sys.argv[1:]
res = {}
for line in open(res_path):
    name, key, value = line.rstrip("\n").split("\t")
    try:
        res.setdefault(name, {})[key] = float(value)
    except ValueError:
        res.setdefault(name, {})[key] = value
st = dict(l.rstrip("\n").split("=", 1) for l in open(settings_path) if "=" in l)
for w in ("partitions", "groups", "wan"):
    for k, v in res.get(f"{w}:settings", {}).items():
        st[k] = f"{v:.0f}" if isinstance(v, float) else v
# The MM2 runs present, by tasks.max (a partial run keeps the other workloads' rows).
tasks = sorted({k.split(":", 1)[1][5:] for k in res if ":mm2-t" in k}, key=int)

def num(name, key):
    v = res.get(name, {}).get(key)
    return v if isinstance(v, float) and v == v else None

def f(v, digits=0, unit=""):
    return "n/a" if v is None else f"{v:,.{digits}f}{unit}"

def table(workload, rows):
    """rows: (label, key function(name) -> value, digits, target text, target check or None)."""
    names = ["strait"] + [f"mm2-t{t}" for t in tasks]
    names = [n for n in names if f"{workload}:{n}" in res]
    head = ["strait"] + [f"MM2, tasks.max {n[5:]}" for n in names if n != "strait"]
    out = ["| | " + " | ".join(head) + " | target | met |",
           "|---|" + "---|" * len(head) + "---|---|"]
    for label, value, digits, target, check in rows:
        vals = [value(f"{workload}:{n}") for n in names]
        met = ""
        if check is not None and "strait" in names:
            met = "yes" if vals[0] is not None and check(vals[0]) else "**no**"
        out.append(f"| {label} | " + " | ".join(
            v if isinstance(v, str) else f(v, digits) for v in vals) + f" | {target} | {met} |")
    return out

def aborted(name):
    a = res.get(name, {}).get("aborted")
    return f" (**{a}**)" if isinstance(a, str) else ""

out = []
out.append(f"Run of {st['date']} by `bench/scale.sh` on this machine ({st['cores']} cores, "
           f"{st['memory_gib']} GiB; both single-broker clusters, -Xmx {st['broker_heap']}, and the "
           f"replicator on it). Each replicator ran on fresh clusters; MM2 with tasks.max "
           f"{' and '.join(tasks) or '(not run)'} ({st['mm2_settings']}).")
if "partitions:strait" in res or any(k.startswith("partitions:mm2") for k in res):
    out.append("")
    out.append(f"**{int(st['topics']) * int(st['partitions']):,} partitions** ({st['topics']} "
               f"topics × {st['partitions']}, {st['records']} records of 100 B in each), the "
               f"remote topics created by the replicator. Memory per partition: (peak RSS − peak "
               f"RSS of an instance that copied one partition of the same records) / "
               f"partitions. Idle CPU: over {st['idle_seconds']} s right after the last "
               f"partition was complete.")
    out.append("")
    mib = lambda n: num(n, "rss_kib") / 1024 if num(n, "rss_kib") is not None else None
    def per(n):
        if None in (num(n, "rss_kib"), num(n, "base_rss_kib"), num(n, "partitions")):
            return None
        kib = (num(n, "rss_kib") - num(n, "base_rss_kib")) / num(n, "partitions")
        # A JVM's RSS follows its heap's growth, which the partitions need not move.
        return kib if kib >= 0 else "n/a (below the one-partition peak)"
    out.extend(table("partitions", [
        ("every partition on the target, s after start", lambda n: num(n, "all_s") if not aborted(n)
         else "not done" + aborted(n), 1, "≤ 60 s", lambda v: v <= 60),
        ("partitions complete", lambda n: num(n, "done_partitions"), 0, "", None),
        ("peak RSS, MiB", mib, 0, "≤ 256 MiB", lambda v: v <= 256),
        ("peak RSS with one partition, MiB",
         lambda n: num(n, "base_rss_kib") / 1024 if num(n, "base_rss_kib") else None, 0, "", None),
        ("memory per partition, KiB", per, 1, "", None),
        ("peak threads", lambda n: num(n, "threads"), 0, "", None),
        ("idle CPU afterwards, % of a core", lambda n: num(n, "idle_cpu_pct"), 1, "≤ 5 %",
         lambda v: v <= 5),
        ("CPU seconds until all copied", lambda n: num(n, "cpu_s"), 1, "", None),
    ]))
if "groups:strait" in res or any(k.startswith("groups:mm2") for k in res):
    out.append("")
    out.append(f"**{int(st['group_count']):,} consumer groups**, each with committed offsets for "
               f"the {st['group_partitions']} partitions of a mirrored topic ({st['group_records']} "
               f"records per partition), committed before the replicator started. Checkpoint "
               f"interval {st['checkpoint_interval_s']} s for both (strait's default; MM2's "
               f"`emit.checkpoints.interval.seconds = 5`, `refresh.groups.interval.seconds = 10`, "
               f"`sync.group.offsets.enabled = true`). \"First to last\" is the span of the "
               f"checkpoint records' timestamps from the first one to the one that completed the "
               f"last group.")
    out.append("")
    span = lambda n: ((num(n, "last_ts_ms") - num(n, "first_ts_ms")) / 1000
                      if None not in (num(n, "last_ts_ms"), num(n, "first_ts_ms"))
                      and num(n, "last_ts_ms") >= 0 else None)
    iv = float(st["checkpoint_interval_s"])
    out.extend(table("groups", [
        ("every group checkpointed, s after start",
         lambda n: num(n, "all_s") if num(n, "done_groups") == float(st["group_count"])
         else "not done" + aborted(n), 1, "", None),
        ("groups checkpointed", lambda n: num(n, "done_groups"), 0, f"{int(st['group_count']):,}",
         lambda v: v == float(st["group_count"])),
        ("topic copied (first record on the target), s after start",
         lambda n: num(n, "replicating_s"), 1, "", None),
        ("first to last checkpoint, s", span, 1, f"≤ {iv:.0f} s (one interval)",
         lambda v: v <= iv),
        ("peak threads", lambda n: num(n, "threads"), 0, "≤ 64", lambda v: v <= 64),
        ("peak RSS, MiB", lambda n: num(n, "rss_kib") / 1024 if num(n, "rss_kib") else None, 0,
         "≤ 256 MiB", lambda v: v <= 256),
        ("commits (setup), s", lambda n: num(n, "commit_s"), 1, "", None),
    ]))
wan = [k for k in res if k.startswith("wan:") and k != "wan:settings"]
if wan:
    out.append("")
    out.append(f"**WAN**: {st['wan_latency_ms']} ms of latency each way ({2 * int(st['wan_latency_ms'])} "
               f"ms round trip, toxiproxy) between the replicator and the source; "
               f"{int(st['wan_records']):,} pre-loaded records of {st['wan_size']} B in "
               f"{st['wan_partitions']} partitions. The proxy delays data inside its own process, "
               f"so the TCP connections on either side of it are loopback ones: the figures show "
               f"what the clients' request pipelining reaches over that round trip, not what a "
               f"long-distance TCP window allows (on a real WAN link the socket buffers also have "
               f"to hold a round trip of data).")
    out.append("")
    out.append("| replicator | source consumer settings | records/s | MB/s | CPU s per GB | peak RSS, MiB | target | met |")
    out.append("|---|---|---|---|---|---|---|---|")
    for k in sorted(wan, key=lambda k: res[k].get("order", 0)):
        d = res[k]
        mbps = num(k, "records_per_s") * float(st["wan_size"]) / 1e6 if num(k, "records_per_s") else None
        gb = float(st["wan_records"]) * float(st["wan_size"]) / 1e9
        cpu = num(k, "cpu_s") / gb if num(k, "cpu_s") is not None else None
        strait = d.get("replicator", "").startswith("strait")
        target = "≥ 50 MB/s" if strait else ""
        met = ("yes" if mbps and mbps >= 50 else "**no**") if strait else ""
        rss = num(k, "rss_kib") / 1024 if num(k, "rss_kib") else None
        out.append(f"| {d.get('replicator', '')} | {d.get('settings', '')} | {f(num(k, 'records_per_s'))}"
                   f"{aborted(k)} | {f(mbps, 1)} | {f(cpu, 1)} | {f(rss)} | {target} | {met} |")
print("\n".join(out))
PY
}

if [ "${1:-}" = --report ]; then
  report
  exit 0
fi
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(partitions groups wan)
for w in "${workloads[@]}"; do
  case $w in partitions | groups | wan) ;; *) log "unknown workload '$w'"; exit 2 ;; esac
done

RPID= MPID= SAMPLER= TPID=
cleanup() {
  [ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null || true
  [ -z "$RPID" ] || kill "$RPID" 2>/dev/null || true
  [ -z "$TPID" ] || kill "$TPID" 2>/dev/null || true
  $K stop-all >/dev/null 2>&1 || true
}
trap cleanup EXIT

# --- Limits ------------------------------------------------------------------------------------
# Each broker holds every partition: one open .log per segment, two mapped indexes.
need_fds=$((TOPICS * PARTITIONS + 5000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  ulimit -Hn "$need_fds" 2>/dev/null && ulimit -n "$need_fds" 2>/dev/null || true
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
  log "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); $TOPICS x $PARTITIONS partitions need about $need_fds file descriptors per broker"
  exit 1
fi
if [ "$(cat /proc/sys/vm/max_map_count)" -lt $((2 * TOPICS * PARTITIONS + 10000)) ]; then
  log "vm.max_map_count is $(cat /proc/sys/vm/max_map_count); $TOPICS x $PARTITIONS partitions need about $((2 * TOPICS * PARTITIONS + 10000)) memory maps per broker"
  exit 1
fi
log "file descriptors: $(ulimit -n), memory maps: $(cat /proc/sys/vm/max_map_count)"

cargo build --release --quiet --bin strait --example end_offsets --example scale_tool
$K resolve >/dev/null
$K stop-all >/dev/null 2>&1 || true
mkdir -p "$STRAIT_HARNESS_RUN"
# The rows of the workloads run now are replaced; the others' stay for the report.
touch "$RES"
for w in "${workloads[@]}"; do
  grep -v "^$w:" "$RES" >"$RES.tmp" || true
  mv "$RES.tmp" "$RES"
done

# --- Helpers -----------------------------------------------------------------------------------
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }

fresh_clusters() { # [EXTERNAL]: STRAIT_KAFKA_EXTERNAL of the source
  $K stop-all >/dev/null 2>&1 || true
  STRAIT_KAFKA_EXTERNAL=${1:-} $K start sA 39092 & STRAIT_KAFKA_EXTERNAL= $K start sB 39192 & wait
}

# Samples PID's thread count every second into $STRAIT_HARNESS_RUN/threads (the peak), and
# kills PID beyond THREAD_LIMIT (leaving `aborted` in the file).
start_sampler() { # PID
  local pid=$1 out=$STRAIT_HARNESS_RUN/threads
  echo 0 >"$out"
  (
    peak=0
    while kill -0 "$pid" 2>/dev/null; do
      n=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      if [ "${n:-0}" -gt "$peak" ]; then peak=$n; echo "$peak" >"$out"; fi
      if [ "$peak" -gt "$THREAD_LIMIT" ]; then
        echo "aborted" >>"$out"
        kill -9 "$pid" 2>/dev/null
        exit 0
      fi
      sleep 1
    done
  ) &
  SAMPLER=$!
}
stop_sampler() { # NAME
  [ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null || true
  wait "$SAMPLER" 2>/dev/null || true
  SAMPLER=
  result "$1" threads "$(head -1 "$STRAIT_HARNESS_RUN/threads")"
  if grep -q aborted "$STRAIT_HARNESS_RUN/threads"; then
    log "$1: more than $THREAD_LIMIT threads: killed"
    result "$1" aborted "more than $THREAD_LIMIT threads, killed"
  fi
}

strait_config() { # NAME TOPICS_REGEX GROUPS_REGEX [SOURCE_BOOTSTRAP [CONSUMER_MAP]] -> path
  local path=$STRAIT_HARNESS_RUN/$1.yaml
  cat >"$path" <<YAML
clusters:
  A: { bootstrap_servers: "${4:-$A}", consumer: ${5:-{\}} }
  B: { bootstrap_servers: "$B" }
mirrors:
  - source: A
    target: B
    topics: ["$2"]
    groups: ["$3"]
    replication_factor: 1
http: { listen: "127.0.0.1:0" }
YAML
  echo "$path"
}
start_strait() { # CONFIG LOG
  ./target/release/strait run --config "$1" 2>"$2" &
  RPID=$!
}
stop_replicator() {
  if [ -n "$MPID" ]; then
    $K stop-mm2 >/dev/null 2>&1 || true
  elif [ -n "$RPID" ]; then
    kill -TERM "$RPID" 2>/dev/null || true
    wait "$RPID" 2>/dev/null || true
  fi
  RPID= MPID=
}
mm2_config() { # NAME TOPICS_REGEX GROUPS_REGEX TASKS [SOURCE_BOOTSTRAP [EXTRA_LINES]] -> path
  local path=$STRAIT_HARNESS_RUN/$1.properties
  cat >"$path" <<PROPS
clusters = A, B
A.bootstrap.servers = ${5:-$A}
B.bootstrap.servers = $B
A->B.enabled = true
A->B.topics = $2
A->B.groups = $3
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
A->B.sync.group.offsets.enabled = true
emit.checkpoints.interval.seconds = $CHECKPOINT_INTERVAL_S
sync.group.offsets.interval.seconds = 5
tasks.max = $4
B.scheduled.rebalance.max.delay.ms = 0
${6:-}
PROPS
  echo "$path"
}
start_mm2() { # CONFIG; 1 (with the row marked) when MM2 does not start
  if ! $K mm2 "$1" >/dev/null; then
    log "MirrorMaker 2 did not start (see $STRAIT_HARNESS_RUN/mm2/mm2.log): its run is left out"
    return 1
  fi
  MPID=$(cat "$STRAIT_HARNESS_RUN/mm2/pid")
  RPID=$MPID
}
# Runs CMD... (its standard output into $STRAIT_HARNESS_RUN/wait.out) while the replicator
# lives: the command's exit status, or 1 as soon as the replicator is gone (the command is then
# stopped), so that a replicator that died or was killed does not cost a whole TIMEOUT.
# (A killed child of this script stays a zombie until waited for: `kill -0` would still see it.)
alive() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] && [ -e "/proc/$1" ]; }
while_alive() { # CMD...
  "$@" >"$STRAIT_HARNESS_RUN/wait.out" &
  local w=$!
  while kill -0 "$w" 2>/dev/null; do
    if ! alive "$RPID"; then
      kill "$w" 2>/dev/null || true
      wait "$w" 2>/dev/null || true
      log "the replicator (pid $RPID) is gone"
      return 1
    fi
    sleep 0.5
  done
  wait "$w"
}

# The replicators of a workload: strait, then MM2 once per tasks.max.
replicators() { echo strait; for t in "${mm2_tasks[@]}"; do echo "mm2-t$t"; done; }

# --- partitions ----------------------------------------------------------------------------
partitions_run() { # WHO
  local who=$1 name=partitions:$1 cfg base started all
  log "$name: fresh clusters"
  fresh_clusters
  # One partition first: the same replicator's peak RSS for one partition of the records.
  $T create-topics $A bp 1 1
  $T fill $A bp "$RECORDS" 100
  if [ "$who" = strait ]; then
    base=$(strait_config "$who-base" "bp[0-9]+" "none")
    start_strait "$base" "$STRAIT_HARNESS_RUN/$who-base.log"
  else
    base=$(mm2_config "$who-base" "bp[0-9]+" "none" "${who#mm2-t}")
    start_mm2 "$base" || { result "$name" not_started 1; return 0; }
  fi
  $T wait-partitions $B A.bp 1 "$RECORDS" "$TIMEOUT" >/dev/null
  result "$name" base_rss_kib "$(hwm_kib "$RPID")"
  stop_replicator
  log "$name: creating $TOPICS topics x $PARTITIONS partitions, $RECORDS records in each"
  $T create-topics $A sp "$TOPICS" "$PARTITIONS"
  $T fill $A sp "$RECORDS" 100
  if [ "$who" = strait ]; then
    cfg=$(strait_config "$who-partitions" "sp[0-9]+" "none")
    started=$(now)
    start_strait "$cfg" "$STRAIT_HARNESS_RUN/$who-partitions.log"
  else
    cfg=$(mm2_config "$who-partitions" "sp[0-9]+" "none" "${who#mm2-t}")
    started=$(now)
    start_mm2 "$cfg" || { result "$name" not_started 1; return 0; }
  fi
  start_sampler "$RPID"
  local out
  if while_alive $T wait-partitions $B A.sp "$TOPICS" "$RECORDS" "$TIMEOUT"; then
    out=$(cat "$STRAIT_HARNESS_RUN/wait.out")
    all=$(since "$started")
    result "$name" all_s "$all"
    result "$name" done_partitions "$(echo "$out" | awk '{print $3}')"
    result "$name" partitions $((TOPICS * PARTITIONS))
    result "$name" rss_kib "$(hwm_kib "$RPID")"
    local c0 c1
    c0=$(cpu_s "$RPID")
    result "$name" cpu_s "$c0"
    log "$name: every partition on the target $(printf %.1f "$all") s after start; peak RSS $(hwm_kib "$RPID") KiB; idle CPU over ${IDLE_SECONDS}s"
    # The measured span itself: nothing to wait for.
    sleep "$IDLE_SECONDS"
    c1=$(cpu_s "$RPID")
    result "$name" idle_cpu_pct "$(echo "100 * ($c1 - $c0) / $IDLE_SECONDS" | bc -l)"
    log "$name: idle CPU $(echo "100 * ($c1 - $c0) / $IDLE_SECONDS" | bc -l | xargs printf %.2f) % of a core"
  else
    log "$name: not every partition arrived within ${TIMEOUT}s"
    kill -0 "$RPID" 2>/dev/null && result "$name" rss_kib "$(hwm_kib "$RPID")"
    grep -q aborted "$STRAIT_HARNESS_RUN/threads" || result "$name" aborted "not complete after ${TIMEOUT}s"
  fi
  stop_sampler "$name"
  stop_replicator
}

# --- groups --------------------------------------------------------------------------------
groups_run() { # WHO
  local who=$1 name=groups:$1 cfg started out
  log "$name: fresh clusters; $GROUP_COUNT groups on a topic of $GROUP_PARTITIONS partitions"
  fresh_clusters
  $T create-topics $A sg 1 "$GROUP_PARTITIONS"
  $T fill $A sg "$GROUP_RECORDS" 100
  out=$($T commit-groups $A bench-g- "$GROUP_COUNT" sg00000 "$GROUP_PARTITIONS" "$GROUP_RECORDS")
  log "$name: $out"
  result "$name" commit_s "$(echo "$out" | awk '{print $2}')"
  [ "$(echo "$out" | awk '{print $4}')" = 0 ] || { log "$name: some commits failed"; exit 1; }
  if [ "$who" = strait ]; then
    cfg=$(strait_config "$who-groups" "sg[0-9]+" "bench-g-.*")
    started=$(now)
    start_strait "$cfg" "$STRAIT_HARNESS_RUN/$who-groups.log"
  else
    cfg=$(mm2_config "$who-groups" "sg[0-9]+" "bench-g-.*" "${who#mm2-t}")
    started=$(now)
    start_mm2 "$cfg" || { result "$name" not_started 1; return 0; }
  fi
  start_sampler "$RPID"
  local replicating
  if while_alive $E "$B" A.sg00000 1 "$TIMEOUT"; then replicating=$(since "$started"); else replicating=nan; fi
  result "$name" replicating_s "$replicating"
  local secs= done= first= last=
  while_alive $T checkpoints $B A.checkpoints.internal bench-g- "$GROUP_COUNT" "$GROUP_PARTITIONS" \
    "$TIMEOUT" || true
  read -r _ secs done first last <"$STRAIT_HARNESS_RUN/wait.out" || true
  done=${done:-0} first=${first:--1} last=${last:--1}
  result "$name" all_s "$(since "$started")"
  result "$name" done_groups "$done"
  result "$name" first_ts_ms "$first"; result "$name" last_ts_ms "$last"
  kill -0 "$RPID" 2>/dev/null && result "$name" rss_kib "$(hwm_kib "$RPID")"
  stop_sampler "$name"
  log "$name: $done of $GROUP_COUNT groups checkpointed, $(printf %.1f "$(since "$started")") s after start; first to last checkpoint $([ "$last" -ge 0 ] && echo "($last - $first) / 1000" | bc -l | xargs printf %.1f || echo n/a) s; peak threads $(head -1 "$STRAIT_HARNESS_RUN/threads")"
  stop_replicator
}

# --- wan -----------------------------------------------------------------------------------
toxiproxy_api() { # METHOD PATH [BODY]
  curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$PROXY_API$2" >/dev/null
}
start_proxy() {
  local bin deadline
  bin=$(harness/toxiproxy.sh build)
  LOG_LEVEL=info "$bin" -host 127.0.0.1 -port "$PROXY_API" >"$STRAIT_HARNESS_RUN/toxiproxy.log" 2>&1 &
  TPID=$!
  deadline=$((SECONDS + 30))
  until toxiproxy_api GET /version; do
    [ $SECONDS -lt $deadline ] || { log "toxiproxy did not answer on port $PROXY_API"; exit 1; }
    kill -0 "$TPID" || { log "toxiproxy exited: $(tail -3 "$STRAIT_HARNESS_RUN/toxiproxy.log")"; exit 1; }
    sleep 0.1
  done
  toxiproxy_api POST /proxies "{\"name\":\"source\",\"listen\":\"127.0.0.1:$PROXY_PORT\",\"upstream\":\"127.0.0.1:$EXT_PORT\",\"enabled\":true}"
  for stream in upstream downstream; do
    toxiproxy_api POST /proxies/source/toxics "{\"name\":\"lat-$stream\",\"type\":\"latency\",\"stream\":\"$stream\",\"toxicity\":1.0,\"attributes\":{\"latency\":$WAN_LATENCY_MS,\"jitter\":0}}"
  done
  log "wan: toxiproxy on 127.0.0.1:$PROXY_PORT -> $EXT_PORT with ${WAN_LATENCY_MS} ms each way"
}
WAN_ORDER=0
wan_run() { # REPLICATOR_LABEL SETTINGS_LABEL KIND(strait|mm2) CONSUMER_MAP_OR_PROPS [TASKS]
  local label=$1 settings=$2 kind=$3 extra=$4 tasks=${5:-1}
  WAN_ORDER=$((WAN_ORDER + 1))
  local topic=wan$WAN_ORDER name=wan:$WAN_ORDER cfg started first all
  $T create-topics $A "$topic" 1 "$WAN_PARTITIONS" 2>/dev/null
  log "$name: $label, $settings: pre-loading $WAN_RECORDS x $WAN_SIZE B"
  $K tool org.apache.kafka.tools.ProducerPerformance --topic "${topic}00000" --num-records "$WAN_RECORDS" \
    --record-size "$WAN_SIZE" --throughput -1 --producer-props bootstrap.servers=$A acks=all \
    linger.ms=5 batch.size=262144 >/dev/null
  sync
  if [ "$kind" = strait ]; then
    cfg=$(strait_config "wan-$WAN_ORDER" "${topic}00000" "none" "127.0.0.1:$PROXY_PORT" "$extra")
    started=$(now)
    start_strait "$cfg" "$STRAIT_HARNESS_RUN/wan-$WAN_ORDER.log"
  else
    cfg=$(mm2_config "wan-$WAN_ORDER" "${topic}00000" "none" "$tasks" "127.0.0.1:$PROXY_PORT" "$extra")
    started=$(now)
    start_mm2 "$cfg" || { result "$name" not_started 1; return 0; }
  fi
  result "$name" order "$WAN_ORDER"
  result "$name" replicator "$label"
  result "$name" settings "$settings"
  if while_alive $E "$B" "A.${topic}00000" 1 "$TIMEOUT" && first=$(since "$started") &&
    while_alive $E "$B" "A.${topic}00000" "$WAN_RECORDS" "$TIMEOUT" &&
    all=$(cat "$STRAIT_HARNESS_RUN/wait.out"); then
    result "$name" first_s "$first"
    result "$name" records_per_s "$(echo "$WAN_RECORDS / $all" | bc -l)"
    result "$name" rss_kib "$(hwm_kib "$RPID")"
    result "$name" cpu_s "$(cpu_s "$RPID")"
    log "$name: $(echo "$WAN_RECORDS / $all" | bc -l | xargs printf %.0f) records/s ($(echo "$WAN_RECORDS * $WAN_SIZE / $all / 1000000" | bc -l | xargs printf %.1f) MB/s), first record after $(printf %.1f "$first") s"
  else
    result "$name" aborted "not complete after ${TIMEOUT}s"
  fi
  stop_replicator
  $K tool org.apache.kafka.tools.TopicCommand --bootstrap-server $A --delete --topic "${topic}00000" >/dev/null
  $K tool org.apache.kafka.tools.TopicCommand --bootstrap-server $B --delete --topic "A.${topic}00000" >/dev/null
}
wan_workload() {
  log "wan: fresh clusters, the source's EXTERNAL listener advertising the proxy"
  fresh_clusters "$EXT_PORT:$PROXY_PORT"
  start_proxy
  wan_run strait "defaults" strait "{}"
  local v
  IFS=';' read -r -a variants <<<"$WAN_VARIANTS"
  for v in "${variants[@]}"; do
    wan_run strait "\`consumer: $v\`" strait "$v"
  done
  local raised="A.consumer.fetch.max.bytes = 67108864
A.consumer.max.partition.fetch.bytes = 4194304
A.consumer.receive.buffer.bytes = 8388608"
  for t in "${mm2_tasks[@]}"; do
    wan_run "MM2, tasks.max $t" "defaults" mm2 "" "$t"
    wan_run "MM2, tasks.max $t" "fetch.max.bytes 64 MiB, max.partition.fetch.bytes 4 MiB, receive.buffer.bytes 8 MiB" mm2 "$raised" "$t"
  done
  kill "$TPID" 2>/dev/null || true
  wait "$TPID" 2>/dev/null || true
  TPID=
}

# --- Run -----------------------------------------------------------------------------------
for w in "${workloads[@]}"; do
  case $w in
    partitions)
      for kv in topics=$TOPICS partitions=$PARTITIONS records=$RECORDS idle_seconds=$IDLE_SECONDS; do
        result partitions:settings "${kv%%=*}" "${kv#*=}"
      done
      for who in $(replicators); do partitions_run "$who"; done ;;
    groups)
      for kv in group_count=$GROUP_COUNT group_partitions=$GROUP_PARTITIONS \
        group_records=$GROUP_RECORDS checkpoint_interval_s=$CHECKPOINT_INTERVAL_S; do
        result groups:settings "${kv%%=*}" "${kv#*=}"
      done
      for who in $(replicators); do groups_run "$who"; done ;;
    wan)
      for kv in wan_records=$WAN_RECORDS wan_size=$WAN_SIZE wan_partitions=$WAN_PARTITIONS \
        wan_latency_ms=$WAN_LATENCY_MS; do
        result wan:settings "${kv%%=*}" "${kv#*=}"
      done
      wan_workload ;;
  esac
done
$K stop-all >/dev/null 2>&1 || true

cat >"$STRAIT_HARNESS_RUN/settings.txt" <<SETTINGS
mm2_tasks=$MM2_TASKS
mm2_settings=dedicated mode, its defaults except replication factors 1 and the intervals named below
broker_heap=$BROKER_HEAP
cores=$(nproc)
memory_gib=$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)
date=$(date -u +%Y-%m-%d)
SETTINGS
report

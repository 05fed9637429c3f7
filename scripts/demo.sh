#!/usr/bin/env bash
# strait's main job in one command: mirror a topic from Kafka cluster A to cluster B.
#
#   scripts/demo.sh            set everything up, show the mirrored records, keep running
#                              until Ctrl-C, then stop strait and both clusters cleanly
#   scripts/demo.sh --detach   same, but leave everything running and return
#   scripts/demo.sh --stop     stop what a detached (or interrupted) demo left running
#
# Steps: resolve the Kafka 4.1.1 jars (Maven, cached), build strait (release), start clusters
# A (127.0.0.1:19092) and B (127.0.0.1:29092) with harness/kafka.sh (reused if already
# running), create topic `orders` (3 partitions) on A, produce 10 keyed records, run
# `strait run --config config/local.yaml` in the background (log: harness/run/strait.log), wait
# until `A.orders` on B holds every record of `orders`, and print them with the console consumer.
# Then the mission: a consumer group `billing` on A that has read part of `orders`, what
# `strait status` says of the mirror, the group's position translated to B (`strait translate`)
# and the plan of a failover of the group to B (`strait failover --dry-run`, nothing changed).
#
# Needs Java 17, Maven and a Rust toolchain.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAFKA="$ROOT/harness/kafka.sh"
RUN=${STRAIT_HARNESS_RUN:-$ROOT/harness/run}
export STRAIT_HARNESS_RUN=$RUN
CONFIG="$ROOT/config/local.yaml"
STRAIT_BIN="$ROOT/target/release/strait"
STRAIT_LOG="$RUN/strait.log"
STRAIT_PID="$RUN/strait.pid"
A_PORT=19092
B_PORT=29092
A=127.0.0.1:$A_PORT
B=127.0.0.1:$B_PORT
TOPIC=orders
REMOTE=A.orders
WAIT_S=90

step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
  printf '\ndemo failed: %s\n' "$*" >&2
  exit 1
}
tool() { "$KAFKA" tool "$@"; }

strait_running() {
  [ -f "$STRAIT_PID" ] && kill -0 "$(cat "$STRAIT_PID")" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$(cat "$STRAIT_PID")/cmdline" 2>/dev/null | grep -F -- "$CONFIG" >/dev/null
}

stop_strait() {
  if strait_running; then
    local pid i
    pid=$(cat "$STRAIT_PID")
    info "stopping strait (pid $pid, SIGTERM: drains and saves its progress)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 160; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      info "strait still running after 40 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$STRAIT_PID"
}

stop_everything() {
  step "stopping strait and the clusters"
  stop_strait
  "$KAFKA" stop A
  "$KAFKA" stop B
  info "stopped. Logs stay in $RUN"
}

# Cluster NAME already running from harness/run? Otherwise the port must be free.
ensure_cluster() { # NAME PORT
  local name=$1 port=$2
  local status
  status=$("$KAFKA" status 2>/dev/null || true)
  # (not `status | grep -q`: with pipefail, grep's early exit would fail the pipeline)
  if grep -q "^$name: running" <<<"$status"; then
    info "cluster $name already running on 127.0.0.1:$port, reusing it"
  else
    "$KAFKA" start "$name" "$port"
  fi
}

# Sum of the end offsets of TOPIC on BOOTSTRAP (0 if the topic does not exist yet).
end_offset_sum() { # BOOTSTRAP TOPIC
  tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$1" --topic "$2" --time -1 2>/dev/null |
    awk -F: '{ s += $NF } END { print s + 0 }'
}

mode=run
case ${1:-} in
  "") ;;
  --detach) mode=detach ;;
  --stop)
    stop_everything
    exit 0
    ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument '$1' (use --detach, --stop or --help)" ;;
esac

t0=$SECONDS
mkdir -p "$RUN"

step "1/10 resolving the Kafka 4.1.1 jars (Maven, cached after the first run)"
"$KAFKA" resolve >/dev/null

step "2/10 building strait (cargo build --release; the first build compiles librdkafka and takes a few minutes)"
{ command -v pkg-config >/dev/null && pkg-config --exists libcurl; } ||
  die "libcurl's headers are missing (the bundled librdkafka links libcurl for OpenID Connect): install them, e.g. apt-get install libcurl4-openssl-dev pkg-config"
(cd "$ROOT" && cargo build --release --bin strait)

step "3/10 starting Kafka clusters A ($A) and B ($B)"
ensure_cluster A "$A_PORT" &
pa=$!
ensure_cluster B "$B_PORT" &
pb=$!
wait $pa || die "cluster A did not start (see $RUN/A/logs/server.log)"
wait $pb || die "cluster B did not start (see $RUN/B/logs/server.log)"

step "4/10 creating topic '$TOPIC' (3 partitions) on A and producing 10 keyed records"
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$A" --create --if-not-exists \
  --topic "$TOPIC" --partitions 3 --replication-factor 1
for i in $(seq 1 10); do
  printf 'customer-%d|{"order":%d,"item":"item-%d","qty":%d}\n' $((i % 4)) "$i" "$i" $((i % 3 + 1))
done | tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$A" --topic "$TOPIC" \
  --property parse.key=true --property 'key.separator=|'
expected=$(end_offset_sum "$A" "$TOPIC")
info "'$TOPIC' on A now holds $expected records"

step "5/10 starting strait: strait run --config config/local.yaml (log: ${STRAIT_LOG#"$ROOT"/})"
if strait_running; then
  info "strait already running (pid $(cat "$STRAIT_PID")), reusing it (scripts/demo.sh --stop first to run a new build)"
else
  # setsid: Ctrl-C in this terminal must not reach strait directly; the demo stops it with
  # one SIGTERM (a second signal would abort strait's graceful shutdown).
  setsid "$STRAIT_BIN" run --config "$CONFIG" >>"$STRAIT_LOG" 2>&1 </dev/null &
  echo $! >"$STRAIT_PID"
  # The background job is this script's copy until setsid has exec'd strait in it (same pid:
  # a background job of a script is no process-group leader, so setsid does not fork): wait
  # for that before judging whether strait runs.
  for ((i = 0; i < 100; i++)); do
    strait_running && break
    kill -0 "$(cat "$STRAIT_PID")" 2>/dev/null || break
    sleep 0.1
  done
  strait_running || {
    tail -n 20 "$STRAIT_LOG" >&2
    die "strait did not start; see $STRAIT_LOG"
  }
  info "strait started (pid $(cat "$STRAIT_PID"))"
fi

step "6/10 waiting until '$REMOTE' on B holds all $expected records"
for ((i = 0; ; i++)); do
  strait_running || {
    tail -n 20 "$STRAIT_LOG" >&2
    die "strait exited; see $STRAIT_LOG"
  }
  have=$(end_offset_sum "$B" "$REMOTE")
  [ "$have" -ge "$expected" ] && break
  ((i < WAIT_S)) || die "only $have of $expected records in $REMOTE after ${WAIT_S}s; see $STRAIT_LOG"
  sleep 1
done
info "'$REMOTE' on B holds $have records ($((SECONDS - t0)) s since the demo started)"

step "7/10 the records of '$REMOTE' on B (partition, offset, key, value):"
tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$B" --topic "$REMOTE" \
  --from-beginning --max-messages "$have" --timeout-ms 20000 \
  --property print.partition=true --property print.offset=true --property print.key=true 2>&1 |
  grep -v '^Processed a total of'

GROUP=billing
step "8/10 consumer group '$GROUP' on A has read the first 2 records of each partition of '$TOPIC'"
tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$A" \
  --reset-offsets --group "$GROUP" --topic "$TOPIC" --to-offset 2 --execute >/dev/null
info "committed: offset 2 on each of the 3 partitions of '$TOPIC'"
# strait stores what it copied once a second; translate needs those positions.
for ((i = 0; ; i++)); do
  exact=$("$STRAIT_BIN" translate --config "$CONFIG" --group "$GROUP" --from A --to B -o json 2>/dev/null |
    grep -o '"exactness": *"exact"' | wc -l || true)
  [ "$exact" -ge 3 ] && break
  ((i < WAIT_S)) || die "no exact translation of '$GROUP' after ${WAIT_S}s; see $STRAIT_LOG"
  sleep 1
done

step "9/10 strait status (what the mirror copied, its lag, heartbeats and checkpoints)"
"$STRAIT_BIN" status --config "$CONFIG"

step "10/10 the group's position on B: strait translate, then the failover plan (--dry-run)"
info "strait translate --config config/local.yaml --group $GROUP --from A --to B"
"$STRAIT_BIN" translate --config "$CONFIG" --group "$GROUP" --from A --to B
echo
info "strait failover --config config/local.yaml --from A --to B --groups $GROUP --dry-run"
# A preflight check that fails (exit 5) is part of what a dry run shows: not a demo failure.
rc=0
(cd "$RUN" && "$STRAIT_BIN" failover --config "$CONFIG" --from A --to B --groups "$GROUP" --dry-run) || rc=$?
case $rc in
  0 | 5) ;;
  *) die "strait failover --dry-run exited with $rc" ;;
esac

cat <<EOF

strait keeps mirroring every topic of A to B (config/local.yaml). Try:
  harness/kafka.sh tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server $A --topic $TOPIC
  harness/kafka.sh tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server $B --topic $REMOTE --from-beginning
  tail -f ${STRAIT_LOG#"$ROOT"/}
EOF

if [ "$mode" = detach ]; then
  echo "Everything keeps running. Stop it with: scripts/demo.sh --stop"
  exit 0
fi

echo "Press Ctrl-C to stop strait and both clusters."
trap 'stop_everything; exit 0' INT TERM
while strait_running; do sleep 1; done
tail -n 20 "$STRAIT_LOG" >&2
stop_everything
die "strait exited on its own; see $STRAIT_LOG"

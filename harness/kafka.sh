#!/usr/bin/env bash
# Local Apache Kafka 4.1.1 clusters (single-node KRaft, broker + controller in one JVM) built
# from the Maven jars of harness/pom.xml. No Docker, no Kafka tarball: Java 17 and Maven only.
#
#   harness/kafka.sh resolve               download the jars once (cached), print the libs dir
#   harness/kafka.sh start NAME PORT       fresh cluster NAME: client PORT, controller PORT+1
#   harness/kafka.sh stop NAME             SIGTERM, SIGKILL after 30 s
#   harness/kafka.sh stop-all              stop every cluster (and MirrorMaker 2) of the run dir
#   harness/kafka.sh status                list clusters of the run dir
#   harness/kafka.sh tool CLASS ARGS...    run a Kafka CLI class, e.g.
#       harness/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:19092 --list
#   harness/kafka.sh mm2 CONFIG            start MirrorMaker 2 (dedicated mode) with CONFIG
#   harness/kafka.sh stop-mm2
#
# Environment:
#   STRAIT_KAFKA_CACHE   jar cache root (default: $HOME/.cache/strait); jars go to
#                        $STRAIT_KAFKA_CACHE/kafka-<version>/libs
#   STRAIT_KAFKA_VERSION Kafka version (default 4.1.1; the tests also use 3.9.1 and 4.4.0)
#   STRAIT_HARNESS_RUN   run dir holding one sub-directory per cluster (default: harness/run)
#   STRAIT_KAFKA_HEAP    the broker's -Xmx (default 768m; bench/scale.sh raises it for 10,000
#                        partitions); STRAIT_MM2_HEAP the same for MirrorMaker 2 (default 1g)
#   STRAIT_KAFKA_EXTERNAL  LISTEN:ADVERTISED (ports): `start` adds a listener EXTERNAL on
#                        127.0.0.1:LISTEN that advertises 127.0.0.1:ADVERTISED, for a proxy
#                        there that forwards to LISTEN (bench/scale.sh's WAN workload): clients
#                        that bootstrap through the proxy keep going through it
#
# Everything a cluster writes lives in RUN/NAME: server.properties, data/ (log.dirs and the
# KRaft metadata log), logs/server.log, stdout.log, pid. `start` wipes RUN/NAME first.
set -euo pipefail

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The default version; STRAIT_KAFKA_VERSION picks another (the version matrix of the tests:
# 3.9.x runs from harness/pom-3.9.xml with log4j 1 configs, every 4.x from harness/pom.xml).
KAFKA_VERSION=${STRAIT_KAFKA_VERSION:-4.1.1}
case $KAFKA_VERSION in
  3.*)
    POM=$HARNESS_DIR/pom-3.9.xml
    SLF4J_BINDING=slf4j-reload4j-
    log_config() { echo "-Dlog4j.configuration=file:$CONF/$1-log4j.properties"; }
    ;;
  *)
    POM=$HARNESS_DIR/pom.xml
    SLF4J_BINDING=log4j-slf4j-impl-
    log_config() { echo "-Dlog4j2.configurationFile=$CONF/$1-log4j2.xml"; }
    ;;
esac
# Served without connect-mirror (no MirrorMaker 2 of that version): brokers and tools only.
BROKERS_ONLY="4.4.0"
CACHE_ROOT=${STRAIT_KAFKA_CACHE:-$HOME/.cache/strait}
KLIB=$CACHE_ROOT/kafka-$KAFKA_VERSION/libs
CONF=$HARNESS_DIR/conf
RUN=${STRAIT_HARNESS_RUN:-$HARNESS_DIR/run}
MARKER=.strait-resolved
START_TIMEOUT_S=90
STOP_TIMEOUT_S=30

# Same GC/JIT flags as Kafka's kafka-run-class.sh.
JVM_PERF=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true)

log() { printf '[kafka.sh] %s\n' "$*" >&2; }
die() {
  printf '[kafka.sh] error: %s\n' "$*" >&2
  exit 1
}

need_libs() {
  [ -f "$KLIB/$MARKER" ] || die "Kafka jars not resolved yet; run: $0 resolve"
}

# Short-lived admin JVM: small heap, C1 only, serial GC; WARN+ to stderr so stdout stays parseable.
ktool() {
  need_libs
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    "$(log_config tools)" -cp "$KLIB/*" "$@"
}

resolve() {
  if [ -f "$KLIB/$MARKER" ]; then
    echo "$KLIB"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven 3.8+ (and Java 17)"
  command -v java >/dev/null || die "java not found: install a Java 17 JDK"
  mkdir -p "$(dirname "$KLIB")"
  # Serialise concurrent resolves (demo and tests started together).
  exec 9>"$(dirname "$KLIB")/.resolve.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [ ! -f "$KLIB/$MARKER" ]; then
    local t0=$SECONDS
    log "resolving Kafka $KAFKA_VERSION jars with Maven into $KLIB"
    rm -rf "$KLIB"
    # Versions listed in BROKERS_ONLY have brokers and tools on Maven Central but no
    # connect-mirror jar: resolved without MirrorMaker 2.
    local no_mirror=()
    case " $BROKERS_ONLY " in *" $KAFKA_VERSION "*) no_mirror=(-Dno.mirror) ;; esac
    mvn -q -B -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" "${no_mirror[@]}" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KLIB" 2>&1 |
      sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2 ||
      die "Maven could not resolve ${POM#"$HARNESS_DIR"/} for Kafka $KAFKA_VERSION (is the Maven repository reachable?)"
    local v
    v=$(java -cp "$KLIB/*" kafka.Kafka --version 2>/dev/null) ||
      die "smoke test 'kafka.Kafka --version' failed (Java 17 required)"
    v=${v%%$'\n'*}
    case $v in
      "$KAFKA_VERSION"*) ;;
      *) die "smoke test printed '$v', expected $KAFKA_VERSION" ;;
    esac
    # Exactly one SLF4J binding, or the broker logs nothing and readiness never fires.
    ls "$KLIB" | grep "^$SLF4J_BINDING" >/dev/null || die "${SLF4J_BINDING%-} missing from $KLIB"
    touch "$KLIB/$MARKER"
    log "resolved Kafka $v ($(ls "$KLIB" | grep -c '\.jar$') jars) in $((SECONDS - t0)) s"
  fi
  echo "$KLIB"
}

# Is something accepting connections on 127.0.0.1:PORT?
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# PID is alive and is the JVM started from DIR (guards against recycled pids in stale pid files).
our_pid() {
  local pid=$1 dir=$2
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F -- "$dir" >/dev/null
}

pid_of() { # DIR -> pid if DIR/pid names a live JVM of DIR
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 1
  pid=$(cat "$dir/pid")
  our_pid "$pid" "$dir" && echo "$pid"
}

# A Kafka Uuid: URL-safe base64 of 16 random bytes without padding, not starting with '-'.
cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [ "${id:0:1}" != "-" ] && break
  done
  echo "$id"
}

wait_for_line() { # FILE TEXT PID TIMEOUT_S
  local f=$1 text=$2 pid=$3 t=$4 i
  for ((i = 0; i < t * 4; i++)); do
    grep -qF -- "$text" "$f" 2>/dev/null && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      log "process $pid exited before logging '$text'; last lines of $f:"
      tail -n 20 "$f" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.25
  done
  log "timeout after ${t}s waiting for '$text' in $f"
  return 1
}

start() { # NAME PORT
  [ $# -eq 2 ] || die "usage: $0 start NAME PORT"
  local name=$1 port=$2 dir=$RUN/$1
  [[ $name =~ ^[A-Za-z0-9_-]+$ ]] || die "cluster name must match [A-Za-z0-9_-]+: '$name'"
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65535)) || die "bad port '$port'"
  local cport=$((port + 1)) pid ext_listen= ext_adv=
  if [ -n "${STRAIT_KAFKA_EXTERNAL:-}" ]; then
    [[ $STRAIT_KAFKA_EXTERNAL =~ ^([0-9]+):([0-9]+)$ ]] ||
      die "STRAIT_KAFKA_EXTERNAL must be LISTEN_PORT:ADVERTISED_PORT, not '$STRAIT_KAFKA_EXTERNAL'"
    ext_listen=${BASH_REMATCH[1]} ext_adv=${BASH_REMATCH[2]}
  fi
  need_libs
  if pid=$(pid_of "$dir"); then
    die "cluster $name is already running (pid $pid); stop it first: $0 stop $name"
  fi
  for p in "$port" "$cport" $ext_listen; do
    port_in_use "$p" && die "port $p on 127.0.0.1 is already in use (another broker?); pick another PORT or stop it"
  done
  local t0=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  {
    cat "$CONF/broker-base.properties"
    printf 'controller.quorum.voters=1@127.0.0.1:%s\n' "$cport"
    if [ -n "$ext_listen" ]; then
      printf 'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT\n'
      printf 'listeners=PLAINTEXT://127.0.0.1:%s,EXTERNAL://127.0.0.1:%s,CONTROLLER://127.0.0.1:%s\n' "$port" "$ext_listen" "$cport"
      printf 'advertised.listeners=PLAINTEXT://127.0.0.1:%s,EXTERNAL://127.0.0.1:%s\n' "$port" "$ext_adv"
    else
      printf 'listeners=PLAINTEXT://127.0.0.1:%s,CONTROLLER://127.0.0.1:%s\n' "$port" "$cport"
      printf 'advertised.listeners=PLAINTEXT://127.0.0.1:%s\n' "$port"
    fi
    printf 'log.dirs=%s\n' "$dir/data"
  } >"$dir/server.properties"
  local cid
  cid=$(cluster_id)
  ktool kafka.tools.StorageTool format --config "$dir/server.properties" --cluster-id "$cid" \
    >"$dir/format.out" 2>&1 || {
    cat "$dir/format.out" >&2
    die "formatting $dir/data failed"
  }
  # setsid: the broker outlives this script and ignores the terminal's Ctrl-C; stop it with `stop`.
  setsid java -Xms256m "-Xmx${STRAIT_KAFKA_HEAP:-768m}" "${JVM_PERF[@]}" \
    -Dkafka.logs.dir="$dir/logs" "$(log_config broker)" \
    -cp "$KLIB/*" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  if ! wait_for_line "$dir/logs/server.log" "Kafka Server started" "$pid" "$START_TIMEOUT_S"; then
    tail -n 20 "$dir/stdout.log" >&2 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    die "cluster $name did not start; see $dir/logs/server.log"
  fi
  log "cluster $name started in $((SECONDS - t0)) s: bootstrap 127.0.0.1:$port (controller $cport, pid $pid, dir $dir)"
}

stop_pid() { # PID: SIGTERM, SIGKILL after STOP_TIMEOUT_S. Exit status 143 of the JVM is normal.
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < STOP_TIMEOUT_S * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  log "pid $pid still alive after ${STOP_TIMEOUT_S}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

stop() { # NAME
  [ $# -eq 1 ] || die "usage: $0 stop NAME"
  local dir=$RUN/$1 pid
  if pid=$(pid_of "$dir"); then
    stop_pid "$pid"
    log "stopped $1 (pid $pid)"
  else
    log "$1 is not running"
  fi
  rm -f "$dir/pid"
}

stop_all() {
  local d
  [ -d "$RUN" ] || return 0
  for d in "$RUN"/*/; do
    d=${d%/}
    [ -f "$d/pid" ] || continue
    if [ "$(basename "$d")" = mm2 ]; then stop_mm2; else stop "$(basename "$d")"; fi
  done
}

status() {
  local d pid port any=0
  if [ -d "$RUN" ]; then
    for d in "$RUN"/*/; do
      d=${d%/}
      [ -f "$d/pid" ] || continue
      any=1
      port=$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\).*$/\1/p' "$d/server.properties" 2>/dev/null || true)
      if pid=$(pid_of "$d"); then
        echo "$(basename "$d"): running pid $pid${port:+ bootstrap 127.0.0.1:$port}"
      else
        echo "$(basename "$d"): not running (stale pid file)"
      fi
    done
  fi
  [ $any -eq 1 ] || echo "no clusters in $RUN"
}

mm2() { # CONFIG
  [ $# -eq 1 ] || die "usage: $0 mm2 CONFIG"
  local cfg dir=$RUN/mm2 pid
  cfg=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
  [ -f "$cfg" ] || die "no such file: $1"
  need_libs
  case " $BROKERS_ONLY " in
    *" $KAFKA_VERSION "*) die "Kafka $KAFKA_VERSION has no connect-mirror jar on Maven Central: no MirrorMaker 2 of this version" ;;
  esac
  if pid=$(pid_of "$dir"); then die "MirrorMaker 2 already running (pid $pid)"; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  setsid java -Xms256m "-Xmx${STRAIT_MM2_HEAP:-1g}" "${JVM_PERF[@]}" \
    -Dkafka.logs.dir="$dir" "$(log_config mm2)" \
    -cp "$KLIB/*" org.apache.kafka.connect.mirror.MirrorMaker "$cfg" >"$dir/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  wait_for_line "$dir/mm2.log" "Kafka MirrorMaker started" "$pid" 120 ||
    die "MirrorMaker 2 did not start; see $dir/mm2.log"
  log "MirrorMaker 2 started (pid $pid, log $dir/mm2.log)"
}

stop_mm2() { stop mm2; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  resolve) resolve ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  stop-all) stop_all ;;
  status) status ;;
  tool)
    [ $# -ge 1 ] || die "usage: $0 tool CLASS ARGS..."
    ktool "$@"
    ;;
  mm2) mm2 "$@" ;;
  stop-mm2) stop_mm2 ;;
  libs)
    need_libs
    echo "$KLIB"
    ;;
  *) usage ;;
esac

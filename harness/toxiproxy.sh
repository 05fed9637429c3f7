#!/usr/bin/env bash
# Toxiproxy (a userspace TCP proxy that can cut connections and add latency), built from its Go
# module for the fault tests (tests/integration/faults.rs): this kernel has no netem.
#
#   harness/toxiproxy.sh build    build toxiproxy-server once (cached), print its path
#
# Needs Go 1.22+ on the PATH. The binary goes to harness/.toxiproxy-VERSION/ (git-ignored);
# Go's module and build caches make a rebuild after `git clean` take seconds.
set -euo pipefail

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=v2.12.0
DEST=$HARNESS_DIR/.toxiproxy-$VERSION
BIN=$DEST/toxiproxy-server

die() {
  printf '[toxiproxy.sh] error: %s\n' "$*" >&2
  exit 1
}

build() {
  if [ -x "$BIN" ]; then
    echo "$BIN"
    return 0
  fi
  command -v go >/dev/null ||
    die "go not found: install Go 1.22+ (the fault tests build toxiproxy $VERSION from its Go module)"
  mkdir -p "$DEST"
  # Serialise concurrent builds (several test binaries or CI steps at once).
  exec 9>"$DEST/.build.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [ ! -x "$BIN" ]; then
    local tmp t0=$SECONDS
    tmp=$(mktemp -d "$DEST/build.XXXXXX")
    printf '[toxiproxy.sh] building toxiproxy %s with go install\n' "$VERSION" >&2
    GOBIN=$tmp GOFLAGS=-buildvcs=false go install "github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION" >&2 ||
      die "go install of toxiproxy $VERSION failed (is the Go module proxy reachable?)"
    mv "$tmp/server" "$BIN"
    rmdir "$tmp"
    "$BIN" -version >/dev/null 2>&1 || die "the built $BIN does not run"
    printf '[toxiproxy.sh] built %s in %d s\n' "$BIN" "$((SECONDS - t0))" >&2
  fi
  echo "$BIN"
}

case ${1:-} in
  build) build ;;
  *) die "usage: $0 build" ;;
esac

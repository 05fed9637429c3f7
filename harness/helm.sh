#!/usr/bin/env bash
# Helm, built from its Go module for the chart check (tests/integration/deploy_manifests.rs renders
# deploy/helm/strait with `helm template` and checks what it renders; `helm lint` runs too).
#
#   harness/helm.sh build    build helm once (cached), print its path
#
# Needs Go 1.26+ (helm v4.3.2's go.mod) on the PATH. The binary goes to harness/.helm-VERSION/ (git-ignored);
# Go's module and build caches make a rebuild after `git clean` take seconds.
set -euo pipefail

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=v4.3.2
DEST=$HARNESS_DIR/.helm-$VERSION
BIN=$DEST/helm

die() {
  printf '[helm.sh] error: %s\n' "$*" >&2
  exit 1
}

build() {
  if [ -x "$BIN" ]; then
    echo "$BIN"
    return 0
  fi
  command -v go >/dev/null ||
    die "go not found: install Go 1.26+ (the chart check builds helm $VERSION from its Go module)"
  mkdir -p "$DEST"
  # Serialise concurrent builds (several test binaries or CI steps at once).
  exec 9>"$DEST/.build.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [ ! -x "$BIN" ]; then
    local tmp t0=$SECONDS
    tmp=$(mktemp -d "$DEST/build.XXXXXX")
    printf '[helm.sh] building helm %s with go install\n' "$VERSION" >&2
    GOBIN=$tmp GOFLAGS=-buildvcs=false go install "helm.sh/helm/v4/cmd/helm@$VERSION" >&2 ||
      die "go install of helm $VERSION failed (is the Go module proxy reachable?)"
    mv "$tmp/helm" "$BIN"
    rmdir "$tmp"
    "$BIN" version >/dev/null 2>&1 || die "the built $BIN does not run"
    printf '[helm.sh] built %s in %d s\n' "$BIN" "$((SECONDS - t0))" >&2
  fi
  echo "$BIN"
}

case ${1:-} in
  build) build ;;
  *) die "usage: $0 build" ;;
esac

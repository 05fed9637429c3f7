# Sourced by harness/toxiproxy.sh and harness/helm.sh: builds one command of a Go module once,
# into harness/.NAME-VERSION/ (git-ignored), with `go install` from the Go module proxy. Go's
# module and build caches make a rebuild after `git clean` take seconds.
#
#   go_tool_build NAME VERSION PACKAGE BINARY MIN_GO CHECK_ARGS...
#
# prints the binary's path; NAME is the tool's name in messages and in the folder, PACKAGE the
# command's package (without @VERSION), BINARY the file go install writes and the name it is
# kept under, MIN_GO the Go version its go.mod needs, CHECK_ARGS what the built binary is run
# with to check that it works.

go_tool_build() {
  local name=$1 version=$2 package=$3 binary=$4 min_go=$5
  shift 5
  local harness dest bin
  harness=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  dest=$harness/.$name-$version
  bin=$dest/$binary
  die() {
    printf '[%s.sh] error: %s\n' "$name" "$*" >&2
    exit 1
  }
  if [ -x "$bin" ]; then
    echo "$bin"
    return 0
  fi
  command -v go >/dev/null ||
    die "go not found: install Go $min_go+ ($name $version is built from its Go module)"
  mkdir -p "$dest"
  # Serialise concurrent builds (several test binaries or CI steps at once).
  exec 9>"$dest/.build.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [ ! -x "$bin" ]; then
    local tmp t0=$SECONDS
    tmp=$(mktemp -d "$dest/build.XXXXXX")
    printf '[%s.sh] building %s %s with go install\n' "$name" "$name" "$version" >&2
    GOBIN=$tmp GOFLAGS=-buildvcs=false go install "$package@$version" >&2 ||
      die "go install of $name $version failed (is the Go module proxy reachable?)"
    mv "$tmp/${package##*/}" "$bin"
    rmdir "$tmp"
    "$bin" "$@" >/dev/null 2>&1 || die "the built $bin does not run"
    printf '[%s.sh] built %s in %d s\n' "$name" "$bin" "$((SECONDS - t0))" >&2
  fi
  echo "$bin"
}

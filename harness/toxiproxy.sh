#!/usr/bin/env bash
# Toxiproxy (a userspace TCP proxy that can cut connections and add latency), built from its Go
# module for the fault tests (tests/integration/faults.rs): this kernel has no netem.
#
#   harness/toxiproxy.sh build    build toxiproxy-server once (cached), print its path
#
# Needs Go 1.22+ on the PATH. The binary goes to harness/.toxiproxy-VERSION/ (git-ignored);
# harness/go-tool.sh does the build.
set -euo pipefail

# shellcheck source=go-tool.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"

case ${1:-} in
  build) go_tool_build toxiproxy v2.12.0 github.com/Shopify/toxiproxy/v2/cmd/server toxiproxy-server 1.22 -version ;;
  *) printf '[toxiproxy.sh] error: usage: %s build\n' "$0" >&2; exit 1 ;;
esac

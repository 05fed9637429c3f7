#!/usr/bin/env bash
# Helm, built from its Go module for the chart check (tests/integration/deploy_manifests.rs runs
# `helm lint` on deploy/helm/strait and checks what `helm template` renders).
#
#   harness/helm.sh build    build helm once (cached), print its path
#
# Needs Go 1.26+ (helm v4.3.2's go.mod) on the PATH. The binary goes to harness/.helm-VERSION/
# (git-ignored); harness/go-tool.sh does the build.
set -euo pipefail

# shellcheck source=go-tool.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"

case ${1:-} in
  build) go_tool_build helm v4.3.2 helm.sh/helm/v4/cmd/helm helm 1.26 version ;;
  *) printf '[helm.sh] error: usage: %s build\n' "$0" >&2; exit 1 ;;
esac

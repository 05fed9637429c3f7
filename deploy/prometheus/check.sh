#!/usr/bin/env bash
# Checks strait's Prometheus alert rules: syntax (promtool check rules) and behaviour
# (promtool test rules with the unit tests in alerts.test.yml).
#
#   bash deploy/prometheus/check.sh
#
# Works from any directory. Uses `promtool` from PATH, or $PROMTOOL if set. Otherwise it
# fetches Debian's `prometheus` package with `apt-get download` (no system-wide install:
# the package is unpacked with `dpkg -x` into a cache directory) and reuses that copy on
# later runs. Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/strait/promtool/
# Exit code: 0 when both checks pass, non-zero otherwise.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rules="$script_dir/alerts.yml"
tests="$script_dir/alerts.test.yml"

log() { printf 'check.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -f "$rules" ]] || die "rule file not found: $rules"
[[ -f "$tests" ]] || die "rule test file not found: $tests"

cache_dir="${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/strait/promtool"
cached_promtool="$cache_dir/root/usr/bin/promtool"
work=""

# Runs a command as root: directly when we are root, through sudo when it is available
# without a password prompt; fails otherwise.
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 1
    fi
}

# Downloads Debian's prometheus package into the cache and unpacks it there.
fetch_promtool() {
    command -v apt-get >/dev/null 2>&1 \
        || die "promtool is not on PATH and apt-get is not available to fetch it; install promtool (from the Prometheus release tarball) or set PROMTOOL=/path/to/promtool"
    command -v dpkg >/dev/null 2>&1 \
        || die "promtool is not on PATH and dpkg is not available to unpack Debian's package; install promtool or set PROMTOOL"

    mkdir -p "$cache_dir"
    work="$(mktemp -d "$cache_dir/tmp.XXXXXX")"
    # Remove the scratch directory however the script ends.
    trap 'rm -rf "$work"' EXIT
    # apt-get runs its downloads as the unprivileged user _apt; let it write here.
    chmod 0755 "$work"

    log "promtool not found; downloading Debian package 'prometheus' with apt-get download"
    if ! (cd "$work" && apt-get download prometheus) >"$work/download.log" 2>&1; then
        log "apt-get download failed; refreshing package lists (apt-get update) and retrying"
        as_root apt-get update >"$work/update.log" 2>&1 || {
            cat "$work/download.log" >&2
            cat "$work/update.log" >&2 2>/dev/null || true
            die "apt-get update failed (it needs root or password-less sudo); install promtool yourself or set PROMTOOL"
        }
        (cd "$work" && apt-get download prometheus) >"$work/download.log" 2>&1 || {
            cat "$work/download.log" >&2
            die "apt-get download prometheus failed; is Debian's package archive reachable?"
        }
    fi

    local deb
    deb="$(find "$work" -maxdepth 1 -name 'prometheus_*.deb' -print -quit)"
    [[ -n "$deb" ]] || { cat "$work/download.log" >&2; die "apt-get download did not produce prometheus_*.deb"; }
    log "downloaded $(basename "$deb")"

    dpkg -x "$deb" "$work/root" || die "dpkg -x failed on $(basename "$deb")"
    [[ -x "$work/root/usr/bin/promtool" ]] || die "$(basename "$deb") contains no usr/bin/promtool"
    "$work/root/usr/bin/promtool" --version >/dev/null 2>&1 \
        || die "the extracted promtool does not run on this machine"

    # Replace the cached copy in one step so an interrupted run never leaves half a tree.
    rm -rf "$cache_dir/root"
    mv "$work/root" "$cache_dir/root"
    basename "$deb" >"$cache_dir/package"
    log "cached promtool in $cache_dir"
}

if [[ -n "${PROMTOOL:-}" ]]; then
    [[ -x "$PROMTOOL" ]] || die "PROMTOOL=$PROMTOOL is not an executable file"
    promtool="$PROMTOOL"
elif command -v promtool >/dev/null 2>&1; then
    promtool="$(command -v promtool)"
else
    if [[ ! -x "$cached_promtool" ]] || ! "$cached_promtool" --version >/dev/null 2>&1; then
        fetch_promtool
    fi
    promtool="$cached_promtool"
fi

log "using $promtool ($("$promtool" --version 2>&1 | head -n 1))"

# promtool resolves rule_files in the test file relative to the test file's directory.
status=0
log "promtool check rules ${rules#"$PWD/"}"
"$promtool" check rules "$rules" || status=1
log "promtool test rules ${tests#"$PWD/"}"
"$promtool" test rules "$tests" || status=1

if [[ "$status" -ne 0 ]]; then
    log "FAILED"
    exit "$status"
fi
log "OK: rules are valid and all rule tests pass"

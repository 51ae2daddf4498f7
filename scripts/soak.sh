#!/usr/bin/env bash
# Soak oauthlens under mixed load for MINUTES and judge it:
#   scripts/soak.sh MINUTES      (CI runs 1; fractions such as 0.5 work)
# wrk through plain proxying to the test origin, in parallel with token
# exchanges against the fake GitHub through intercepted HTTPS (and plain
# HTTP) cycling through every error scenario, and requests meant to fail.
# Prints requests done, errors annotated (from /metrics), RSS at start
# (after warm-up), middle and end, descriptors at start and end, and the
# failures that were not meant to happen; exits non-zero if RSS grew more
# than 5% between middle and end, if descriptors did not return to the
# baseline, or on any unexpected failure. Loopback only.
# Environment: OAUTHLENS_BIN (default: build it in $SOAK_BUILD, default
# build/), SOAK_REPORT=FILE (the JSON report), SOAK_KEEP=1 (keep the
# temporary directory with the proxy's log). More knobs: soak.py --help.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; then
	echo "usage: scripts/soak.sh MINUTES" >&2
	exit 2
fi
minutes=$1
shift

deps_apt "${DEPS_BUILD[@]}" wrk python3 curl openssl

bin=${OAUTHLENS_BIN:-}
if [ -z "$bin" ]; then
	dir=${SOAK_BUILD:-build}
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$dir" -j"$(nproc)" --target oauthlens >/dev/null
	bin=$dir/oauthlens
fi

args=(--minutes "$minutes" --bin "$bin")
[ -n "${SOAK_REPORT:-}" ] && args+=(--report "$SOAK_REPORT")
[ "${SOAK_KEEP:-0}" = 1 ] && args+=(--keep)
exec python3 scripts/soak/soak.py "${args[@]}" "$@"

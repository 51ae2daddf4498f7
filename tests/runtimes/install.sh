#!/bin/sh
# Install Deno and Bun (the npm registry's binary packages, pinned by
# package-lock.json) into tests/runtimes/node_modules (git-ignored) for
# tests/integration/test_runtime_deno.py and test_runtime_bun.py.
# Idempotent: does nothing when node_modules already matches the lock.
# Needs npm; exits 0 without doing anything when npm is absent (the tests
# then fail under CI and skip by hand, with a message).
set -eu
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
	echo "tests/runtimes/install.sh: npm not found; Deno and Bun tests cannot run" >&2
	exit 0
fi
# npm writes node_modules/.package-lock.json after a successful install.
if [ -f node_modules/.package-lock.json ] &&
    [ node_modules/.package-lock.json -nt package-lock.json ] &&
    [ -x node_modules/@deno/linux-x64-glibc/deno ] &&
    [ -x node_modules/@oven/bun-linux-x64/bin/bun ]; then
	exit 0
fi
exec npm ci --no-audit --no-fund --loglevel=error

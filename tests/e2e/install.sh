#!/bin/sh
# Install and build what tests/integration/test_e2e_nextauth.py runs:
#   tests/e2e/nextauth  the Next.js + Auth.js app (npm ci, then next build
#                       into .next when a source is newer than the build);
#   tests/e2e/driver    playwright-core, which drives Debian's chromium.
# Both node_modules and .next are git-ignored; versions are pinned by each
# directory's package-lock.json. Idempotent: does nothing when both match
# their lock and the build is current. Needs node and npm; exits 0 without
# doing anything when node is absent (the test then skips with a message,
# as the other Node tests do).
set -eu
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1; then
	echo "tests/e2e/install.sh: node not found; the Next.js test will be" \
	    "skipped" >&2
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "tests/e2e/install.sh: npm not found; cannot install the" \
	    "Next.js app" >&2
	exit 1
fi

# npm writes node_modules/.package-lock.json after a successful install.
npm_ci() {
	if [ -f "$1/node_modules/.package-lock.json" ] &&
	    [ "$1/node_modules/.package-lock.json" -nt "$1/package-lock.json" ]
	then
		return 0
	fi
	(cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}
npm_ci nextauth
npm_ci driver

# next build, unless .next/BUILD_ID is newer than every source and the
# installed modules. Telemetry off: the build must not reach the network.
stale=$(find nextauth -path nextauth/node_modules -prune -o \
    -path nextauth/.next -prune -o -type f -newer nextauth/.next/BUILD_ID \
    -print 2>/dev/null | head -n 1)
if [ ! -f nextauth/.next/BUILD_ID ] || [ -n "$stale" ] ||
    [ nextauth/node_modules/.package-lock.json -nt nextauth/.next/BUILD_ID ]
then
	echo "tests/e2e/install.sh: next build (about a minute)" >&2
	(cd nextauth && NEXT_TELEMETRY_DISABLED=1 \
	    node_modules/.bin/next build >&2)
fi

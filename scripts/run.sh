#!/usr/bin/env bash
# Install what is missing, build a release oauthlens into build/, and run it
# with conf/oauthlens.conf on 127.0.0.1:8080. Extra arguments go to the
# daemon (for example --lang en or --log-format json).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

deps_apt "${DEPS_BUILD[@]}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

# What to paste in the app's shell: the proxy variables and each runtime's
# CA variable (this also creates the CA on first run).
{
	echo "oauthlens is starting. In the shell that runs your app, paste:"
	echo
	build/oauthlens -c conf/oauthlens.conf --env "$@" | sed 's/^/  /'
	echo
	echo "(or: eval \"\$(build/oauthlens --env)\"; or start the app with build/oauthlens run -- CMD;"
	echo "build/oauthlens --print-ca explains each runtime). Stop with Ctrl-C."
	echo
} >&2
exec build/oauthlens -c conf/oauthlens.conf "$@"

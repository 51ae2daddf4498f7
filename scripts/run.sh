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

cat >&2 <<MSG
oauthlens is starting on 127.0.0.1:8080. In the shell that runs your app:

  export HTTP_PROXY=http://127.0.0.1:8080 HTTPS_PROXY=http://127.0.0.1:8080
  export http_proxy=\$HTTP_PROXY https_proxy=\$HTTPS_PROXY

Stop it with Ctrl-C.
MSG
exec build/oauthlens -c conf/oauthlens.conf "$@"

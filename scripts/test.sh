#!/usr/bin/env bash
# Build oauthlens and run every test through ctest: once as a normal build
# (build/), once under AddressSanitizer + UBSan (build-asan/). Exits
# non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

deps_apt "${DEPS_BUILD[@]}" "${DEPS_TEST[@]}"

jobs=$(nproc)
run_suite() {
	local dir=$1; shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j"$jobs"
	(cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900)
}

echo "== normal build =="
run_suite build

if [ "${OAUTHLENS_SKIP_ASAN:-0}" != 1 ]; then
	echo "== ASan + UBSan build =="
	export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	CC=clang run_suite build-asan -DOAUTHLENS_SANITIZE=ON
fi

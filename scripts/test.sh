#!/usr/bin/env bash
# Build oauthlens and run every test through ctest: a normal build (build/),
# static analysis, then the whole suite again under AddressSanitizer + UBSan
# (build-asan/), then each fuzz target for a minute. Exits non-zero if
# anything fails.
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    the normal build's suite only
#   scripts/test.sh --lint     static analysis only
#   scripts/test.sh --valgrind the valgrind memcheck scenario only (it also
#                              runs in every normal suite, 10-30 s)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

mode=${1:-all}
deps_apt "${DEPS_BUILD[@]}" "${DEPS_TEST[@]}"
deps_node
tests/node/install.sh
tests/runtimes/install.sh
tests/e2e/install.sh

jobs=$(nproc)
run_suite() {
	local dir=$1; shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DOAUTHLENS_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs"
	(cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900)
}

if [ "$mode" = --lint ]; then
	exec scripts/lint.sh
fi
if [ "$mode" = --valgrind ]; then
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$jobs"
	cd build
	OAUTHLENS_REQUIRE_VALGRIND=1 exec ctest --output-on-failure \
	    -R '^integ_test_valgrind$' --timeout 300
fi

echo "== normal build =="
run_suite build
[ "$mode" = --quick ] && exit 0

echo "== static analysis =="
scripts/lint.sh

echo "== ASan + UBSan build =="
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
CC=clang run_suite build-asan -DOAUTHLENS_SANITIZE=ON
unset ASAN_OPTIONS UBSAN_OPTIONS

if [ -x scripts/fuzz.sh ]; then
	echo "== fuzzing, 60 s per target =="
	scripts/fuzz.sh all 60
fi

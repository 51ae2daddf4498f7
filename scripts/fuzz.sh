#!/usr/bin/env bash
# scripts/fuzz.sh TARGET SECONDS
#
# Run one libFuzzer target (tests/fuzz/fuzz_TARGET.c) for SECONDS on a copy
# of its committed corpus (tests/fuzz/corpus/TARGET/), building build-fuzz/
# (clang, ASan + UBSan) first if needed. TARGET "all" runs every target,
# as many at once as there are CPUs (FUZZ_JOBS overrides).
#
# Exits non-zero if the target crashed, leaked, timed out or ran out of
# memory; each such input is copied into tests/fuzz/corpus/TARGET/ so that
# the replay test (ctest fuzz_replay_TARGET) keeps failing until the bug is
# fixed; the run's log stays in build-fuzz/fuzz-run/TARGET.XXXXXX/. Extra
# libFuzzer flags may be given in FUZZ_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 TARGET|all SECONDS" >&2
	local src t list=
	for src in tests/fuzz/fuzz_*.c; do
		t=$(basename "$src" .c)
		list="$list ${t#fuzz_}"
	done
	echo "targets:$list" >&2
	exit 2
}

[ $# -eq 2 ] || usage
target=$1
secs=$2
case $secs in
'' | *[!0-9]*) usage ;;
esac

build="build-fuzz"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

build_fuzzers() {
	if [ ! -f "$build/CMakeCache.txt" ]; then
		CC=clang cmake -S . -B "$build" -DOAUTHLENS_FUZZ=ON \
		    -DOAUTHLENS_SANITIZE=ON -DOAUTHLENS_TESTS=OFF >/dev/null
	fi
	cmake --build "$build" -j"$(nproc)" >/dev/null
}

# The dictionary a target uses, if any.
dict_for() {
	case $1 in
	request_head | response_framing | chunked) echo tests/fuzz/http.dict ;;
	inspect) echo tests/fuzz/inspect.dict ;;
	config) echo tests/fuzz/json.dict ;;
	esac
}

# Run one target; returns non-zero on any finding.
run_one() {
	local t=$1 bin="$build/fuzz_$1" corpus="tests/fuzz/corpus/$1"
	local work dict rc=0 f found=0 sum same
	local -a args

	if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
		echo "fuzz.sh: no target $t ($bin, $corpus)" >&2
		return 2
	fi
	# A directory of its own: runs may overlap on a shared machine.
	mkdir -p "$build/fuzz-run"
	work=$(mktemp -d "$build/fuzz-run/$t.XXXXXX")
	mkdir -p "$work/corpus" "$work/artifacts"
	cp "$corpus"/* "$work/corpus/"
	args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
	    -print_final_stats=1 -artifact_prefix="$work/artifacts/")
	dict=$(dict_for "$t")
	[ -n "$dict" ] && args+=(-dict="$dict")
	# shellcheck disable=SC2086
	"$bin" "${args[@]}" ${FUZZ_ARGS:-} "$work/corpus" \
	    >"$work/log" 2>&1 || rc=$?
	for f in "$work"/artifacts/crash-* "$work"/artifacts/leak-* \
	    "$work"/artifacts/timeout-* "$work"/artifacts/oom-*; do
		[ -e "$f" ] || continue
		found=1
		# A committed reproducer that still fails is not a new one.
		sum=$(sha1sum <"$f" | cut -d' ' -f1)
		same=$(cd "$corpus" && sha1sum -- * | awk -v s="$sum" \
		    '$1 == s { print $2; exit }')
		if [ -n "$same" ]; then
			echo "fuzz.sh: $t: fails on $corpus/$same (known)"
			continue
		fi
		cp "$f" "$corpus/"
		echo "fuzz.sh: $t: regression input $corpus/$(basename "$f")"
	done
	grep -E '^#[0-9]+[[:space:]]+DONE|^stat::' "$work/log" |
	    sed "s/^/$t: /" || true
	if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
		echo "fuzz.sh: $t FAILED (exit $rc); log: $work/log" >&2
		grep -E 'invariant failed|ERROR: |SUMMARY: |^    #[0-9]+ ' \
		    "$work/log" | head -30 >&2 || true
		return 1
	fi
	echo "fuzz.sh: $t: no finding in ${secs}s"
	rm -rf "$work"
}

build_fuzzers
if [ "$target" != all ]; then
	run_one "$target"
	exit
fi

# Every target, FUZZ_JOBS at a time; each leaves its exit status behind.
jobs=${FUZZ_JOBS:-$(nproc)}
mkdir -p "$build/fuzz-run"
status=$(mktemp -d "$build/fuzz-run/status.XXXXXX")
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	t=${t#fuzz_}
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		sleep 1
	done
	(rc=0; run_one "$t" || rc=$?; echo "$rc" >"$status/$t") &
done
wait
failed=0
for f in "$status"/*; do
	[ "$(cat "$f")" = 0 ] || failed=1
done
rm -rf "$status"
exit $failed

#!/usr/bin/env bash
# Static analysis of proxy/: cppcheck (warnings, performance, portability)
# and clang-tidy (the clang static analyzer and bugprone checks). Exits
# non-zero on any finding. Needs a configured build with a compile
# database; makes build-lint/ when none is given.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-lint}
cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null

echo "== cppcheck =="
cppcheck --enable=warning,performance,portability --std=c11 --quiet \
    --inline-suppr --error-exitcode=1 -I proxy \
    --include=/usr/include/x86_64-linux-gnu/sys/queue.h -D__GNUC__ \
    --suppress=missingIncludeSystem proxy/*.c

echo "== clang-tidy =="
checks='-*,clang-analyzer-*,bugprone-*'
for c in easily-swappable-parameters narrowing-conversions \
    reserved-identifier assignment-in-if-condition \
    implicit-widening-of-multiplication-result; do
	checks="$checks,-bugprone-$c"
done
checks="$checks,-clang-analyzer-security.insecureAPI.*"
out=$(clang-tidy -p "$build" --quiet --checks="$checks" proxy/*.c 2>&1 |
    grep -E 'warning:|error:' || true)
if [ -n "$out" ]; then
	echo "$out"
	exit 1
fi
echo "lint: clean"

#!/usr/bin/env bash
# Instructions oauthlens executes per plain-HTTP request, counted by
# valgrind's callgrind: deterministic, unlike wall-clock figures on a
# shared machine.  Not a test, and builds nothing.
#
# One keep-alive connection from curl sends N small GETs (absolute form,
# the same URL each time) through BINARY to a loopback origin, which
# answers each with one write of a nginx-like head and a 100-byte body.
# Only oauthlens runs under callgrind: the origin (origin.py, Python) and
# curl are separate processes.  The run is done with N requests and with
# 2N, and the figure is (Ir(2N) - Ir(N)) / N, so start-up, the readiness
# probe and shutdown cancel out.  Every transfer is checked: status 200,
# 100 bytes, and one connection for all of them (else the figure would
# include connection set-up).
#
# Usage: scripts/bench/callgrind.sh [-n N] [-o DIR] [-l LEVEL] [-s] BINARY
#   -n N      requests of the smaller run (default 1000; the other is 2N)
#   -o DIR    keep the two profiles as DIR/callgrind.N.out and
#             DIR/callgrind.2N.out: scripts/bench/cgdiff.py DIR [DIR2]
#             prints each function's cost per request (and compares two)
#   -l LEVEL  oauthlens --log-level (default warn, as scripts/bench.sh)
#   -s        the origin writes the head (Python http.server's five fields)
#             and the body apart, as http.server does: oauthlens then
#             reads most answers in two parts (about 3,000 more per
#             request; the set-up of the first figures, taken with
#             http.server and --log-level error)
# Prints "Ir N=... 2N=... per_request=...".  Needs valgrind, curl, python3.
# Takes about a minute; every wait is bounded.
set -uo pipefail
SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")

N=1000 OUT= LEVEL=warn SPLIT=
usage() { sed -n '/^# Usage:/,/^# Takes/p' "$SELF" | sed 's/^# \{0,1\}//'; \
    exit "${1:-0}"; }
while getopts n:o:l:sh opt; do
	case $opt in
	n) N=$OPTARG ;;
	o) OUT=$OPTARG ;;
	l) LEVEL=$OPTARG ;;
	s) SPLIT=split ;;
	h) usage 0 ;;
	*) usage 2 >&2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage 2 >&2
BIN=$(readlink -f "$1")
[ -x "$BIN" ] || { echo "callgrind: $1 is not executable" >&2; exit 2; }
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "callgrind: -n wants a count" >&2; exit 2; }
for tool in valgrind curl python3; do
	command -v "$tool" >/dev/null ||
	    { echo "callgrind: $tool is missing" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/oauthlens-callgrind.XXXXXX)
ORIGIN_PID= VG_PID=
cleanup() {
	[ -n "$VG_PID" ] && kill -KILL "$VG_PID" 2>/dev/null
	[ -n "$ORIGIN_PID" ] && kill -TERM "$ORIGIN_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "callgrind: $*" >&2; exit 1; }

# ---- the origin ------------------------------------------------------------
python3 "$HERE/origin.py" "$WORK/origin.port" $SPLIT >"$WORK/origin.log" 2>&1 &
ORIGIN_PID=$!
for _ in $(seq 100); do
	[ -s "$WORK/origin.port" ] && break
	sleep 0.1
done
[ -s "$WORK/origin.port" ] || die "the origin did not start: $(cat "$WORK/origin.log")"
OPORT=$(cat "$WORK/origin.port")
URL=http://127.0.0.1:$OPORT/small

# ---- oauthlens -------------------------------------------------------------
free_port() {
	python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
echo '{}' >"$WORK/oauthlens.conf"
OL=("$BIN" -c "$WORK/oauthlens.conf" --certs "$WORK/certs"
    --log-level "$LEVEL" --log-target stderr)
# The CA is made once, outside the measured runs (key generation is
# random, and costs more than all the requests).
"${OL[@]}" --print-ca >"$WORK/print-ca.out" 2>&1 ||
    die "$BIN --print-ca failed: $(cat "$WORK/print-ca.out")"

# start n: starts oauthlens under callgrind (profile to $WORK/callgrind.n.out)
# on a free port, PPORT, and waits until one request through it is
# answered (in both runs, so it cancels out).  A port another process took
# meanwhile costs a retry on another one (3 tries).
start() {
	local n=$1 try i
	for try in 1 2 3; do
		PPORT=$(free_port)
		valgrind --tool=callgrind \
		    --callgrind-out-file="$WORK/callgrind.$n.out" \
		    "${OL[@]}" -l "127.0.0.1:$PPORT" >"$WORK/ol.$n.log" 2>&1 &
		VG_PID=$!
		for i in $(seq 300); do
			kill -0 "$VG_PID" 2>/dev/null || break
			curl -sf -m 5 -o /dev/null -x "127.0.0.1:$PPORT" \
			    "$URL" && return 0
			sleep 0.1
		done
		kill -KILL "$VG_PID" 2>/dev/null
		wait "$VG_PID" 2>/dev/null
		VG_PID=
	done
	die "oauthlens did not answer: $(grep -v '^==' "$WORK/ol.$n.log" |
	    tail -n 5)"
}

# one_run n: sets IR, the Ir of a whole oauthlens run that relays n requests
one_run() {
	local n=$1 f=$WORK/callgrind.$1.out i sum
	start "$n"
	for ((i = 0; i < n; i++)); do
		printf 'url = "%s"\noutput = "/dev/null"\n' "$URL"
	done >"$WORK/curl.$n"
	timeout 600 curl -s -m 600 -x "127.0.0.1:$PPORT" -K "$WORK/curl.$n" \
	    -w '%{http_code} %{size_download} %{num_connects}\n' \
	    >"$WORK/transfers.$n" || die "curl failed (N=$n, exit $?," \
	    "$(wc -l <"$WORK/transfers.$n") transfers; oauthlens said:" \
	    "$(grep -v '^==' "$WORK/ol.$n.log" | tail -n 5))"
	sum=$(awk '$1 == 200 && $2 == 100 { ok++ } { c += $3 }
	    END { printf "%d %d", ok, c }' "$WORK/transfers.$n")
	[ "$sum" = "$n 1" ] || die "N=$n: expected $n answers of 200 with" \
	    "100 bytes on 1 connection, got (answers connections) $sum"
	kill -INT "$VG_PID"
	for i in $(seq 300); do
		kill -0 "$VG_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$VG_PID" 2>/dev/null && die "oauthlens did not stop on SIGINT"
	wait "$VG_PID"
	VG_PID=
	IR=$(awk '/^(summary|totals):/ { print $2; exit }' "$f")
}

one_run "$N"
IR1=$IR
one_run $((2 * N))
IR2=$IR
[ -n "$IR1" ] && [ -n "$IR2" ] || die "no totals in the callgrind output"
if [ -n "$OUT" ]; then
	mkdir -p "$OUT" &&
	    cp "$WORK/callgrind.$N.out" "$OUT/callgrind.N.out" &&
	    cp "$WORK/callgrind.$((2 * N)).out" "$OUT/callgrind.2N.out" ||
	    die "cannot write to $OUT"
fi
echo "Ir N=$IR1 2N=$IR2 per_request=$(( (IR2 - IR1) / N ))"

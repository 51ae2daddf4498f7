#!/usr/bin/env bash
# Benchmark oauthlens against squid, tinyproxy and mitmdump, and against
# talking to the origin directly, on loopback.  Not a test: it prints a
# table of medians, ratios and the exact commands it ran.
#
# Layout: the proxy under test runs pinned to core 0; the load generator
# (wrk, or scripts/bench/connload.c for CONNECT tunnels) and the origin (one
# nginx process serving /small = 100 bytes and /1m = 1 MiB) share core 1.
# Every target is measured in turn, the order rotating each repetition.
# Intercepted HTTPS: the origin also serves TLS for "localhost" with a
# certificate from a CA made for the run; oauthlens and mitmdump intercept
# CONNECT localhost:PORT with their own CA, which connload trusts and
# verifies (squid and tinyproxy do not intercept: no figures for them).
#
# Usage: scripts/bench.sh [--quick] [--reps N] [--duration SECS]
#            [--conns N] [--idle N] [--only LIST] [--quiet-wait SECS]
#            [--nice N] [--no-build] [--keep]
set -uo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."
ROOT=$PWD
. scripts/deps.sh

REPS=3 DUR=5 CONNS=50 IDLE=1000 WARM=2 ONLY= BUILD=1 KEEP=0
QUIET_MAX=10 QUIET_WAIT=30 QUIET_BUDGET=180 RETRIES=20 NICE=0
ALL_TARGETS="direct oauthlens squid tinyproxy mitmdump oauthlens_squid"

usage() {
	sed -n '2,/^# .*--keep\]$/p' "$SELF" | sed 's/^# \{0,1\}//'
	cat <<-EOF

	  --quick          one repetition of 2-second runs (for iteration)
	  --reps N         repetitions (default $REPS; medians reported)
	  --duration SECS  length of each load run (default $DUR)
	  --conns N        concurrent connections / tunnels (default $CONNS)
	  --idle N         idle connections and tunnels for RSS (default $IDLE)
	  --only LIST      comma-separated subset of: ${ALL_TARGETS// /,}
	  --no-build       use build/oauthlens as it is (default: build it)
	  --quiet-wait S   before each target, wait up to S seconds for other
	                   processes to leave both cores under $QUIET_MAX% busy
	                   (default $QUIET_WAIT, $QUIET_BUDGET in all; the machine
	                   may be shared); a run that others disturbed anyway
	                   is repeated (up to 3 times, $RETRIES repeats in all)
	  --nice N         run everything at this nice value (e.g. -10 as root),
	                   ahead of neighbours at nice 0 on a shared machine
	  --keep           keep the temporary directory (configs, logs)
	Environment: OAUTHLENS_BIN overrides build/oauthlens.
	EOF
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) REPS=1 DUR=2 WARM=1 QUIET_WAIT=10 QUIET_BUDGET=30 RETRIES=4 ;;
	--quiet-wait) QUIET_WAIT=${2:?}; shift ;;
	--reps) REPS=${2:?}; shift ;;
	--duration) DUR=${2:?}; shift ;;
	--conns) CONNS=${2:?}; shift ;;
	--idle) IDLE=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--no-build) BUILD=0 ;;
	--nice) NICE=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) usage 0 ;;
	*) echo "bench: unknown option $1" >&2; usage 2 >&2 ;;
	esac
	shift
done

say() { printf 'bench: %s\n' "$*" >&2; }

if [ "$NICE" != 0 ]; then	# inherited by every process started below
	renice -n "$NICE" -p $$ >/dev/null ||
	    { say "cannot renice to $NICE"; exit 2; }
fi

# ---- dependencies ----------------------------------------------------------
# One package at a time, so one that fails to install costs only its target;
# a peer's package only when --only keeps a target that needs it.
needs() {	# target... : whether --only keeps one of them
	local t
	[ -z "$ONLY" ] && return 0
	for t in "$@"; do
		[[ ",$ONLY," == *",$t,"* ]] && return 0
	done
	return 1
}
for pkg in gcc libc6-dev libssl-dev openssl wrk nginx-light squid tinyproxy \
    mitmproxy iproute2 procps; do
	case $pkg in
	squid) needs squid oauthlens_squid || continue ;;
	tinyproxy) needs tinyproxy || continue ;;
	mitmproxy) needs mitmdump || continue ;;
	esac
	deps_apt "$pkg" || say "could not install $pkg (continuing)"
done
for tool in cc wrk nginx taskset ss python3 openssl; do
	command -v "$tool" >/dev/null ||
	    { say "$tool is missing: cannot benchmark"; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { say "needs 2 cores (proxy on 0, load on 1)"; exit 1; }

OUTDIR=$ROOT/build-bench
mkdir -p "$OUTDIR"
cc -O2 -Wall -Wextra -o "$OUTDIR/connload" scripts/bench/connload.c \
    -lssl -lcrypto || { say "connload does not build"; exit 1; }
CONNLOAD=$OUTDIR/connload
LUA=$ROOT/scripts/bench/proxy.lua
CHECK=$ROOT/scripts/bench/check.py

OAUTHLENS=${OAUTHLENS_BIN:-$ROOT/build/oauthlens}
if [ "$BUILD" = 1 ] && [ -z "${OAUTHLENS_BIN:-}" ] &&
    ls proxy/*.c >/dev/null 2>&1; then
	say "building oauthlens (Release) into build/"
	{ cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null &&
	    cmake --build build -j2 >/dev/null; } ||
	    say "oauthlens does not build (an older build/oauthlens, if any," \
	    "is measured)"
fi

# ---- targets ---------------------------------------------------------------
TARGETS=()
for t in $ALL_TARGETS; do
	[ -n "$ONLY" ] && [[ ",$ONLY," != *",$t,"* ]] && continue
	case $t in
	oauthlens) [ -x "$OAUTHLENS" ] ||
		    { say "oauthlens: $OAUTHLENS not found, skipped"; continue; } ;;
	squid) command -v squid >/dev/null ||
		    { say "squid: not installed, skipped"; continue; } ;;
	tinyproxy) command -v tinyproxy >/dev/null ||
		    { say "tinyproxy: not installed, skipped"; continue; } ;;
	mitmdump) command -v mitmdump >/dev/null ||
		    { say "mitmdump: not installed, skipped"; continue; } ;;
	oauthlens_squid) [ -x "$OAUTHLENS" ] && command -v squid >/dev/null ||
		    { say "oauthlens_squid: needs oauthlens and squid," \
		    "skipped"; continue; } ;;
	esac
	TARGETS+=("$t")
done
[ ${#TARGETS[@]} -gt 0 ] || { say "no target to measure"; exit 1; }

# ---- scratch directory, ports, cleanup -------------------------------------
WORK=$(mktemp -d /tmp/oauthlens-bench.XXXXXX)
chmod 755 "$WORK"	# squid and tinyproxy drop to their own users
mkdir -m 1777 "$WORK/run"
RESULTS=$WORK/results.tsv CMDS=$WORK/commands.txt
: >"$RESULTS"; : >"$CMDS"
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Enough descriptors for IDLE tunnels (two each) in every process we start.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
MAXFD=$(ulimit -n)
[ "$MAXFD" -gt $((IDLE * 2 + 200)) ] ||
    say "warning: ulimit -n is $MAXFD, too few for $IDLE idle tunnels"

read -r ORIGIN_PORT TUNNEL_PORT TLS_PORT P_oauthlens P_squid P_tinyproxy \
    P_mitmdump P_oauthlens_squid P_parent < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(9)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
P_direct=$ORIGIN_PORT

fill() {	# template -> stdout with this run's values
	sed -e "s|@DIR@|$WORK|g" -e "s|@RUN@|$WORK/run|g" \
	    -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" \
	    -e "s|@TUNNEL_PORT@|$TUNNEL_PORT|g" -e "s|@PORT@|$2|g" \
	    -e "s|@TLS_PORT@|$TLS_PORT|g" \
	    -e "s|@MAXFD@|$MAXFD|g" "$1"
}

# ---- helpers ---------------------------------------------------------------
logcmd() {	# remembers a command line exactly as run
	local line
	printf -v line '%q ' "$@"
	grep -qxF -- "${line% }" "$CMDS" || printf '%s\n' "${line% }" >>"$CMDS"
}

logged() {	# cmd... : runs cmd, remembering it
	logcmd "$@"
	"$@"
}

start_bg() {	# name cmd... : starts cmd in the background, sets BGPID
	local name=$1; shift
	logcmd "$@"
	"$@" >"$WORK/$name.out" 2>&1 &
	BGPID=$!
	PIDS+=("$BGPID")
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	local keep=() q
	for q in "${PIDS[@]}"; do
		[ "$q" = "$pid" ] || keep+=("$q")
	done
	PIDS=("${keep[@]}")
}

wait_listen() {	# port pid : until something listens on port (20 s)
	local i
	for i in $(seq 200); do
		kill -0 "$2" 2>/dev/null || return 1
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.1
	done
	return 1
}

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# user + nice + system ticks of one core (softirq is not charged to any
# process, so it is left out on both sides of the comparison), plus steal:
# time the hypervisor gave this virtual core to someone else, which no
# process here shows but which slows every one of them
core_ticks() { awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $9}' /proc/stat; }
# steal ticks of both cores
steal_ticks() { awk '$1 == "cpu" {print $9}' /proc/stat; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fd_count() { ls "/proc/$1/fd" | wc -l; }
HZ=$(getconf CLK_TCK)

record() {	# rep target metric value [flag]
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$RESULTS"
}

# ---- origin ----------------------------------------------------------------
# The TLS origin's certificate: EC P-256 for "localhost" (as GitHub's is
# ECDSA P-256), from a CA made for this run, which the proxies trust
# upstream and connload trusts for the direct baseline.
make_certs() {
	local d=$WORK
	logged openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$d/bench-ca-key.pem" -out "$d/bench-ca.pem" -days 2 \
	    -subj "/CN=oauthlens bench CA" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign &&
	logged openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$d/origin-key.pem" -out "$d/origin.pem" -days 2 \
	    -subj /CN=localhost -CA "$d/bench-ca.pem" \
	    -CAkey "$d/bench-ca-key.pem" \
	    -addext subjectAltName=DNS:localhost,DNS:$PARENT_NAME \
	    -addext basicConstraints=critical,CA:FALSE \
	    -addext keyUsage=critical,digitalSignature \
	    -addext extendedKeyUsage=serverAuth
}
# oauthlens_squid: oauthlens with a Squid as its upstream proxy. Loopback
# always goes direct, so that target names the origin PARENT_NAME, which
# --resolve maps to 127.0.0.1 (oauthlens asks the parent for the address).
PARENT_NAME=origin.bench
make_certs >"$WORK/certs.out" 2>&1 ||
    { say "cannot make the TLS origin's certificate:"; \
    cat "$WORK/certs.out" >&2; exit 1; }
BENCH_CA=$WORK/bench-ca.pem TLS_NAME=localhost

mkdir -p "$WORK/www" "$WORK/nginx-body" "$WORK/nginx-proxy"
head -c 100 /dev/zero | tr '\0' x >"$WORK/www/small"
head -c 1048576 /dev/urandom >"$WORK/www/1m"
fill scripts/bench/nginx.conf.in 0 >"$WORK/nginx.conf"
start_bg nginx taskset -c 1 nginx -e "$WORK/nginx-error.log" -p "$WORK" \
    -c "$WORK/nginx.conf"
ORIGIN_PID=$BGPID
{ wait_listen "$TUNNEL_PORT" "$ORIGIN_PID" &&
    wait_listen "$TLS_PORT" "$ORIGIN_PID"; } ||
    { say "nginx (origin) did not start:"; cat "$WORK/nginx.out" >&2; exit 1; }
# The TLS rows need the origin's TLS to verify as connload will check it.
TLS_OK=1
if out=$(python3 "$CHECK" tls "127.0.0.1:$TLS_PORT" - "$TLS_NAME" \
    "$BENCH_CA" /small 100); then
	say "direct: check tls: $out"
else
	TLS_OK=0
	say "direct: check tls: $out"
	say "the TLS origin does not work: no intercepted HTTPS figures"
fi

# ---- the proxies -----------------------------------------------------------
fill scripts/bench/squid.conf.in "$P_squid" >"$WORK/squid.conf"
fill scripts/bench/tinyproxy.conf.in "$P_tinyproxy" >"$WORK/tinyproxy.conf"
printf '{"connect_ports": [443, %s, %s], "max_connections": 20000}\n' \
    "$TUNNEL_PORT" "$TLS_PORT" >"$WORK/oauthlens.conf"
# The parent of oauthlens_squid: the same Squid config, its own port, pid
# and log, and CONNECT to the TLS origin allowed (intercepted HTTPS).
fill scripts/bench/squid.conf.in "$P_parent" |
    sed -e "s|/squid\\.pid|/parent-squid.pid|" \
    -e "s|/squid-cache\\.log|/parent-squid-cache.log|" \
    -e "s|^acl bench_ports port .*|& $TLS_PORT|" >"$WORK/parent-squid.conf"

# origin_host / tunnel_host / tls_name target: how the target's clients name
# the origin for plain requests, blind tunnels and intercepted HTTPS.
origin_host() { [ "$1" = oauthlens_squid ] && echo "$PARENT_NAME" ||
    echo 127.0.0.1; }
tunnel_host() { [ "$1" = oauthlens_squid ] && echo "tunnel.$PARENT_NAME" ||
    echo 127.0.0.1; }
tls_name() { [ "$1" = oauthlens_squid ] && echo "$PARENT_NAME" ||
    echo "$TLS_NAME"; }

# The parent Squid runs (idle but for that target) for the whole run.
PARENT_PID=
start_parent() {
	[ -n "$PARENT_PID" ] && kill -0 "$PARENT_PID" 2>/dev/null && return 0
	start_bg parent-squid taskset -c 0 squid -N \
	    -f "$WORK/parent-squid.conf"
	PARENT_PID=$BGPID
	wait_listen "$P_parent" "$PARENT_PID" || {
		say "the parent squid did not start:"
		tail -n 20 "$WORK/parent-squid.out" >&2; return 1; }
}

start_target() {	# target : starts it pinned to core 0; sets TPID
	local t=$1
	case $t in
	oauthlens)
		# its CA is made in ol-certs on the first start
		start_bg "$t" taskset -c 0 "$OAUTHLENS" -c "$WORK/oauthlens.conf" \
		    -l "127.0.0.1:$P_oauthlens" --log-level warn \
		    --certs "$WORK/ol-certs" --intercept "$TLS_NAME" \
		    --upstream-ca "$BENCH_CA" ;;
	squid)
		start_bg "$t" taskset -c 0 squid -N -f "$WORK/squid.conf" ;;
	tinyproxy)
		start_bg "$t" taskset -c 0 tinyproxy -d \
		    -c "$WORK/tinyproxy.conf" ;;
	oauthlens_squid)
		start_parent || return 1
		local lo=127.0.0.1
		start_bg "$t" taskset -c 0 "$OAUTHLENS" \
		    -c "$WORK/oauthlens.conf" \
		    -l "$lo:$P_oauthlens_squid" --log-level warn \
		    --certs "$WORK/ols-certs" --intercept "$PARENT_NAME" \
		    --upstream-ca "$BENCH_CA" \
		    --upstream-proxy "http://$lo:$P_parent" \
		    --resolve "$PARENT_NAME:$ORIGIN_PORT:$lo:$ORIGIN_PORT" \
		    --resolve "tunnel.$PARENT_NAME:$TUNNEL_PORT:$lo:$TUNNEL_PORT" \
		    --resolve "$PARENT_NAME:$TLS_PORT:$lo:$TLS_PORT" ;;
	mitmdump)
		# --ignore-hosts: tunnels to the origin are relayed blind, as
		# the other proxies do; absolute-form requests are proxied.
		# CONNECT localhost:TLS_PORT is intercepted (its CA is made in
		# the confdir on the first start).
		start_bg "$t" taskset -c 0 mitmdump --mode regular \
		    --listen-host 127.0.0.1 --listen-port "$P_mitmdump" -q \
		    --set "confdir=$WORK/mitm" --ignore-hosts '^127\.0\.0\.1$' \
		    --set "ssl_verify_upstream_trusted_ca=$BENCH_CA" ;;
	esac
	TPID=$BGPID
	local port_var=P_$t
	if ! wait_listen "${!port_var}" "$TPID"; then
		say "$t did not start; its output:"
		tail -n 20 "$WORK/$t.out" >&2
		stop_pid "$TPID"
		return 1
	fi
}

# preflight target : proves the exact requests the load sends are answered
# (the wrk absolute-form trick, the 1 MiB body, a CONNECT tunnel); says so
# the first time, and on every failure.
preflight() {
	local t=$1 port_var=P_$1 ok=0 what out
	local p=127.0.0.1:${!port_var} url=http://$(origin_host "$t"):$ORIGIN_PORT
	for what in "get $p $url/small 100" "get $p $url/1m 1048576" \
	    "connect $p $(tunnel_host "$t"):$TUNNEL_PORT /small 100"; do
		# shellcheck disable=SC2086
		if out=$(python3 "$CHECK" $what); then
			[ -n "${SHOWN[$t]:-}" ] || say "$t: check $what: $out"
		else
			ok=1
			say "$t: check $what: $out"
		fi
	done
	SHOWN[$t]=1
	return $ok
}
declare -A SHOWN

# tls_ca target: the CA a client trusts for the target's TLS: the origin's
# for direct, else the proxy's own; nothing for a proxy that does not
# intercept.
tls_ca() {
	case $1 in
	direct) echo "$BENCH_CA" ;;
	oauthlens) echo "$WORK/ol-certs/ca.pem" ;;
	oauthlens_squid) echo "$WORK/ols-certs/ca.pem" ;;
	mitmdump) echo "$WORK/mitm/mitmproxy-ca-cert.pem" ;;
	esac
}

# preflight_tls target: proves interception works as connload will use it
# (CONNECT localhost:TLS_PORT, a handshake verified against the proxy's CA,
# two GETs inside); says so the first time, and on every failure.
preflight_tls() {
	local t=$1 port_var=P_$1 out
	if out=$(python3 "$CHECK" tls "127.0.0.1:${!port_var}" \
	    "$(tls_name "$t"):$TLS_PORT" "$(tls_name "$t")" "$(tls_ca "$t")" \
	    /small 100); then
		[ -n "${SHOWN[$t-tls]:-}" ] || say "$t: check tls: $out"
		SHOWN[$t-tls]=1
		return 0
	fi
	say "$t: check tls: $out"
	return 1
}

# ---- measurements ----------------------------------------------------------
# The machine may be shared: a neighbour's process on core 0 steals from the
# proxy, one on core 1 from the load generator and the origin.  Each load run
# is bracketed by snapshots of both cores and of our own processes; what is
# left is other processes' share, and a run they disturbed is done again.

# children_ticks: sets CT, the CPU ticks of this shell's reaped descendants
# (so, across a load command, that command's), from the `times` builtin.  It
# must run in this shell, not in a $(...) subshell: hence CT and the file.
children_ticks() {
	times >"$WORK/times"
	CT=$(awk -v h="$HZ" 'NR == 2 {
		split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%d", ((u[1] + s[1]) * 60 + u[2] + s[2]) * h }' \
	    "$WORK/times")
}

# wait_quiet max_secs: waits (within QUIET_BUDGET) until other processes
# leave both cores under QUIET_MAX %; sets U0 U1, their last sample.
wait_quiet() {
	local a0 a1 b0 b1 w0 w waited=0
	for (( ; ; )); do
		a0=$(core_ticks 0) a1=$(core_ticks 1) w0=$EPOCHREALTIME
		sleep 1
		b0=$(core_ticks 0) b1=$(core_ticks 1) w=$EPOCHREALTIME
		read -r U0 U1 < <(awk -v a="$((b0 - a0))" -v b="$((b1 - a1))" \
		    -v w="$w" -v w0="$w0" -v h="$HZ" 'BEGIN {
			s = (w - w0) * h / 100
			printf "%d %d\n", a / s, b / s }')
		[ "$U0" -le "$QUIET_MAX" ] && [ "$U1" -le "$QUIET_MAX" ] && return
		if [ "$waited" -ge "$1" ] || [ "$QUIET_BUDGET" -le 0 ]; then
			say "other processes still use core 0: $U0%," \
			    "core 1: $U1%; measuring anyway"
			return
		fi
		[ "$waited" = 0 ] && say "other processes use core 0: $U0%," \
		    "core 1: $U1%; waiting up to ${1}s for quiet"
		sleep 1
		waited=$((waited + 2)) QUIET_BUDGET=$((QUIET_BUDGET - 2))
	done
}

# background rep target: other processes' load before a target's block.
background() {
	wait_quiet "$QUIET_WAIT"
	record "$1" "$2" bg0_pct "$U0"
	record "$1" "$2" bg1_pct "$U1"
}

# sched_wait_ms pid: how long the process's threads have waited, runnable,
# for a CPU (/proc/PID/task/*/schedstat, second field, ns).
sched_wait_ms() {
	cat "/proc/$1/task/"*/schedstat 2>/dev/null |
	    awk '{s += $2} END {printf "%d", s / 1e6}'
}

# measured target cmd...: runs a load command, and again (at most 3 times,
# RETRIES in all) when other processes disturbed it: when the proxy waited
# for its core more than QUIET_MAX % of the run while others used as much of
# it (their share of time the proxy left idle does no harm, and the proxy
# also waits for the kernel's softirq threads), or for direct, when others took
# more than QUIET_MAX % of core 1, which wrk and nginx saturate; with
# LOAD_BOUND set (the TLS rows: connload's handshakes and nginx's TLS on
# core 1 are often the limit, not the proxy), also when others took that
# much of core 1 through a proxy.  Sets OUT (the output), PTICKS (the
# proxy's CPU ticks), WAIT0 (% of the run the proxy waited), OTHER0 and
# OTHER1 (% of each core other processes used).
measured() {
	local t=$1; shift
	local try k0 k1 n0 p0 c0 w0 q0 k0b k1b n0b p0b c0b w q0b bad st0
	for try in 1 2 3; do
		st0=$(steal_ticks)
		k0=$(core_ticks 0) k1=$(core_ticks 1) n0=$(cpu_ticks "$ORIGIN_PID")
		p0=0 q0=0
		[ "$t" != direct ] && p0=$(cpu_ticks "$TPID") \
		    q0=$(sched_wait_ms "$TPID")
		children_ticks
		c0=$CT w0=$EPOCHREALTIME
		OUT=$("$@" 2>&1)
		w=$EPOCHREALTIME
		children_ticks
		c0b=$CT
		p0b=0 q0b=0
		[ "$t" != direct ] && p0b=$(cpu_ticks "$TPID") \
		    q0b=$(sched_wait_ms "$TPID")
		k0b=$(core_ticks 0) k1b=$(core_ticks 1)
		n0b=$(cpu_ticks "$ORIGIN_PID")
		PTICKS=$((p0b - p0))
		read -r OTHER0 OTHER1 WAIT0 STEAL < <(awk -v w="$w" \
		    -v w0="$w0" -v h="$HZ" -v a="$((k0b - k0 - PTICKS))" \
		    -v b="$((k1b - k1 - (n0b - n0) - (c0b - c0)))" \
		    -v q="$((q0b - q0))" -v st="$(($(steal_ticks) - st0))" \
		    'BEGIN {
			s = (w - w0) * h / 100
			printf "%d %d %d %d\n", (a > 0 ? a / s : 0),
			    (b > 0 ? b / s : 0), q / 10 / (w - w0), st / 2 / s
		}')
		if [ "$t" = direct ]; then
			OTHER0=0 bad=$OTHER1
		else	# the proxy also waits for the kernel's own threads
			bad=$((WAIT0 < OTHER0 ? WAIT0 : OTHER0))
			[ -n "${LOAD_BOUND:-}" ] && [ "$OTHER1" -gt "$bad" ] &&
			    bad=$OTHER1
		fi
		# The guest's scheduler does not see steal: judge it apart.
		[ "$STEAL" -gt "$bad" ] && bad=$STEAL
		[ "$bad" -le "$QUIET_MAX" ] && return
		[ "$try" = 3 ] || [ "$RETRIES" -le 0 ] && break
		RETRIES=$((RETRIES - 1))
		say "disturbed: $(disturbance $t): again"
		wait_quiet $((QUIET_WAIT < 20 ? QUIET_WAIT : 20))
	done
	say "disturbed: $(disturbance "$t"); kept"
}

disturbance() {
	if [ "$1" = direct ]; then
		echo "other processes took ${OTHER1}% of core 1" \
		    "(the hypervisor stole ${STEAL}% of both cores)"
	else
		echo "the proxy waited for core 0 ${WAIT0}% of the run" \
		    "(others used ${OTHER0}% of core 0, ${OTHER1}% of core 1;" \
		    "the hypervisor stole ${STEAL}% of both cores)"
	fi
}

# record_other rep target: what measured() saw, for the report.
record_other() {
	if [ "$2" != direct ]; then
		record "$1" "$2" other0_pct "$OTHER0"
		record "$1" "$2" wait0_pct "$WAIT0"
	fi
	record "$1" "$2" other1_pct "$OTHER1"
	record "$1" "$2" steal_pct "$STEAL"
}

# record_cpu rep target metric count secs flag: the proxy's CPU per 10k
# (from PTICKS) and how busy it kept its core.
record_cpu() {
	record "$1" "$2" "${3}_cpu10k" "$(awk -v c="$PTICKS" -v h="$HZ" \
	    -v n="$4" 'BEGIN {printf "%.3f", n ? c / h / n * 10000 : 0}')" "$6"
	record "$1" "$2" "${3}_busy" "$(awk -v c="$PTICKS" -v h="$HZ" \
	    -v s="$5" 'BEGIN {printf "%.0f", c / h / s * 100}')" "$6"
}

# run_wrk rep target path body_bytes record(0/1) [secs]
run_wrk() {
	local rep=$1 t=$2 path=$3 size=$4 keep=$5 dur=${6:-$DUR}
	local port_var=P_$2 url= line flag=
	local cmd=(timeout $((dur + 30)) taskset -c 1 wrk -t1 -c"$CONNS"
	    -d"${dur}s" --timeout 10s -s "$LUA")
	if [ "$t" = direct ]; then
		cmd+=("http://127.0.0.1:$ORIGIN_PORT$path")
	else
		url=http://$(origin_host "$t"):$ORIGIN_PORT$path
		cmd+=("http://127.0.0.1:${!port_var}/")
	fi
	if [ "$keep" = 0 ]; then	# warm-up
		BENCH_URL=$url "${cmd[@]}" >/dev/null 2>&1
		return 0
	fi
	logcmd env BENCH_URL="$url" "${cmd[@]}"
	measured "$t" env BENCH_URL="$url" "${cmd[@]}"
	line=$(grep '^wrkresult' <<<"$OUT")
	if [ -z "$line" ]; then
		say "$t $path: wrk failed: $(tail -n 3 <<<"$OUT")"
		return 1
	fi
	local requests duration_us bytes p50_us p99_us err_connect err_read
	local err_write err_status err_timeout
	eval "${line#wrkresult }"
	if [ "$requests" -eq 0 ] || [ "$err_status" -ne 0 ] ||
	    [ "$err_connect" -ne 0 ] || [ "$err_timeout" -ne 0 ] ||
	    [ $((bytes / requests)) -lt "$size" ]; then
		flag='!'
		say "$t $path: errors: $line"
	fi
	local secs rps m=small
	secs=$(awk -v d="$duration_us" 'BEGIN {print d / 1e6}')
	rps=$(awk -v r="$requests" -v s="$secs" 'BEGIN {printf "%.1f", r / s}')
	[ "$size" -gt 100 ] && m=large
	if [ "$m" = small ]; then
		record "$rep" "$t" small_rps "$rps" "$flag"
		record "$rep" "$t" small_p99_ms \
		    "$(awk -v u="$p99_us" 'BEGIN {print u / 1000}')" "$flag"
	else
		record "$rep" "$t" large_mibs "$(awk -v r="$requests" \
		    -v s="$secs" -v b="$size" \
		    'BEGIN {printf "%.1f", r * b / 1048576 / s}')" "$flag"
	fi
	record_other "$rep" "$t"
	[ "$t" != direct ] &&
	    record_cpu "$rep" "$t" "$m" "$requests" "$secs" "$flag"
	say "$t $path: $rps req/s$([ "$err_read" -gt 0 ] &&
	    echo ", $err_read connections closed by the proxy")"
}

# run_tunnels rep target ka|new|tlska|tlsnew|tlslat
# The tls modes talk TLS to the TLS origin through the tunnel (intercepted),
# or directly; tlslat is tlsnew one connection at a time: its median is the
# latency of a new connection, where under -c CONNS it would be mostly
# queueing (CONNS / rate).
run_tunnels() {
	local rep=$1 t=$2 mode=$3 port_var=P_$2 flag= line
	local cmode=$mode nconns=$CONNS m=$mode target
	target=$(tunnel_host "$t"):$TUNNEL_PORT
	local LOAD_BOUND=	# seen by measured()
	case $mode in
	ka) m=tun ;;
	new) m=newtun ;;
	tlslat) cmode=tlsnew nconns=1 ;;
	esac
	local cmd=(timeout $((DUR + 60)) taskset -c 1 "$CONNLOAD" -m "$cmode"
	    -c "$nconns" -d "$DUR")
	if [[ $mode == tls* ]]; then
		LOAD_BOUND=1
		cmd+=(-n "$(tls_name "$t")" -C "$(tls_ca "$t")")
		target=$(tls_name "$t"):$TLS_PORT
		[ "$t" = direct ] && target=127.0.0.1:$TLS_PORT
	fi
	cmd+=(-t "$target")
	if [ "$t" = direct ]; then
		cmd+=(-D)
	else
		cmd+=(-p "127.0.0.1:${!port_var}")
	fi
	logcmd "${cmd[@]}"
	measured "$t" "${cmd[@]}"
	line=$(grep '^mode=' <<<"$OUT")
	if [ -z "$line" ]; then
		say "$t tunnels $mode: connload failed: $OUT"
		return 1
	fi
	local mode_ conns secs count rate p50_us p99_us errors connect_errors
	eval "${line/mode=/mode_=}"
	if [ "$errors" -ne 0 ] || [ "$connect_errors" -ne 0 ] ||
	    [ "$count" -eq 0 ]; then
		flag='!'
		say "$t tunnels $mode: errors: $OUT"
	fi
	local p50 p99
	p50=$(awk -v u="$p50_us" 'BEGIN {print u / 1000}')
	p99=$(awk -v u="$p99_us" 'BEGIN {print u / 1000}')
	record_other "$rep" "$t"
	if [ "$mode" = tlslat ]; then	# latency only: the proxy is idle
		record "$rep" "$t" tlslat_p50_ms "$p50" "$flag"
		say "$t tunnels $mode: p50 $p50 ms ($rate/s, 1 at a time)"
		return 0
	fi
	record "$rep" "$t" "${m}_rate" "$rate" "$flag"
	case $mode in
	ka|tlska) record "$rep" "$t" "${m}_p99_ms" "$p99" "$flag" ;;
	tlsnew) record "$rep" "$t" tlsnew_p50_ms "$p50" "$flag" ;;
	esac
	say "$t tunnels $mode: $rate/s"
	[ "$t" != direct ] &&
	    record_cpu "$rep" "$t" "$m" "$count" "$secs" "$flag"
}

# bench_tls rep target: the intercepted HTTPS rows (direct: TLS to the
# origin), for the targets that intercept; a target whose interception
# fails its check gets no figures and a mark saying so.
bench_tls() {
	local rep=$1 t=$2 m
	if [ -z "$(tls_ca "$t")" ]; then
		record "$rep" "$t" tls_na 1
		return 0
	fi
	[ "$TLS_OK" = 1 ] || return 0
	if [ "$t" != direct ] && ! preflight_tls "$t"; then
		say "$t: intercepted HTTPS does not work: no TLS figures"
		record "$rep" "$t" tls_failed 1
		return 1
	fi
	for m in tlska tlsnew tlslat; do
		run_tunnels "$rep" "$t" "$m"
	done
}

# measure_idle rep target idleconn|idletun : RSS per idle connection
measure_idle() {
	local rep=$1 t=$2 mode=$3 port_var=P_$2 flag= per=1 i
	[ "$mode" = idletun ] && per=2
	sleep 0.5
	local rss0 fd0 rss1 fd1 cpid ready
	rss0=$(rss_kib "$TPID") fd0=$(fd_count "$TPID")
	start_bg idle taskset -c 1 "$CONNLOAD" -m "$mode" \
	    -p "127.0.0.1:${!port_var}" -t "$(tunnel_host "$t"):$TUNNEL_PORT" \
	    -c "$IDLE" -d 120
	cpid=$BGPID
	for i in $(seq 400); do
		ready=$(grep -m1 '^ready' "$WORK/idle.out")
		[ -n "$ready" ] && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	# The proxy holds them once its descriptor count shows them (less 1%:
	# the baseline may include a preflight socket on its way out).
	local want=$((fd0 + IDLE * per - IDLE / 100))
	for i in $(seq 100); do
		fd1=$(fd_count "$TPID")
		[ "$fd1" -ge "$want" ] && break
		sleep 0.1
	done
	sleep 1
	rss1=$(rss_kib "$TPID") fd1=$(fd_count "$TPID")
	stop_pid "$cpid"
	if [ "$ready" != "ready $IDLE failed 0" ] || [ "$fd1" -lt "$want" ]; then
		flag='!'
		say "$t $mode: ${ready:-no ready line}; proxy fds $fd0 -> $fd1"
	fi
	local m=rss_conn_kib
	[ "$mode" = idletun ] && m=rss_tun_kib
	local v
	v=$(awk -v a="$rss0" -v b="$rss1" -v n="$IDLE" \
	    'BEGIN {printf "%.2f", (b - a) / n}')
	record "$rep" "$t" "$m" "$v" "$flag"
	say "$t $mode: RSS $rss0 -> $rss1 KiB, $v KiB each"
}

bench_direct() {
	local rep=$1
	background "$rep" direct
	run_wrk "$rep" direct /small 100 0 "$WARM"
	run_wrk "$rep" direct /small 100 1
	run_wrk "$rep" direct /1m 1048576 1
	run_tunnels "$rep" direct ka
	run_tunnels "$rep" direct new
	bench_tls "$rep" direct
}

bench_proxy() {
	local rep=$1 t=$2
	background "$rep" "$t"
	# A fresh process for each idle measurement, and the load after the
	# idle tunnels: memory freed by earlier connections would hide cost.
	start_target "$t" || return 1
	preflight "$t" || { say "$t: preflight failed, skipped"; \
	    stop_pid "$TPID"; return 1; }
	measure_idle "$rep" "$t" idleconn
	stop_pid "$TPID"
	start_target "$t" || return 1
	preflight "$t" || { stop_pid "$TPID"; return 1; }
	measure_idle "$rep" "$t" idletun
	run_wrk "$rep" "$t" /small 100 0 "$WARM"
	run_wrk "$rep" "$t" /small 100 1
	run_wrk "$rep" "$t" /1m 1048576 1
	run_tunnels "$rep" "$t" ka
	run_tunnels "$rep" "$t" new
	bench_tls "$rep" "$t"
	if ! kill -0 "$TPID" 2>/dev/null; then
		say "$t died during the load; its output:"
		tail -n 20 "$WORK/$t.out" >&2
	fi
	stop_pid "$TPID"
}

# ---- the run ---------------------------------------------------------------
START=$(date +%s)
say "origin nginx on :$ORIGIN_PORT (GET), :$TUNNEL_PORT (CONNECT target)" \
    "and :$TLS_PORT (TLS, CONNECT $TLS_NAME:$TLS_PORT); targets:" \
    "${TARGETS[*]}; $REPS x ${DUR}s runs, -c $CONNS, $IDLE idle"
n=${#TARGETS[@]}
for rep in $(seq "$REPS"); do
	for i in $(seq 0 $((n - 1))); do
		t=${TARGETS[$(((i + rep - 1) % n))]}
		say "== repetition $rep: $t =="
		if [ "$t" = direct ]; then
			bench_direct "$rep"
		else
			bench_proxy "$rep" "$t"
		fi
	done
done
ELAPSED=$(($(date +%s) - START))

# ---- report ----------------------------------------------------------------
versions() {
	echo "machine: $(nproc) cores, $(uname -sr)," \
	    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "origin: $(nginx -v 2>&1 | sed 's/.*: //'), 1 process, core 1," \
	    "sendfile, keepalive_requests 100000000, no access log"
	echo "load: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)," \
	    "connload (scripts/bench/connload.c), core 1"
	echo "TLS: origin :$TLS_PORT with an EC P-256 certificate for" \
	    "$TLS_NAME from a CA made for the run; connload ($(openssl \
	    version | cut -d' ' -f1-2)) verifies the certificate it gets" \
	    "(through a proxy: against the proxy's CA), offers ALPN" \
	    "http/1.1, never resumes (a full handshake per new connection)"
	local t
	for t in "${TARGETS[@]}"; do
		case $t in
		oauthlens) echo "oauthlens: $("$OAUTHLENS" --version 2>&1 |
		    head -n1), $OAUTHLENS built $(date -r "$OAUTHLENS" \
		    '+%F %T')$([ -n "${OAUTHLENS_BIN:-}" ] ||
		    echo ", tree at $(git rev-parse --short HEAD)$(
		    git diff --quiet HEAD -- proxy 2>/dev/null ||
		    echo ' + uncommitted proxy/ changes')")" ;;
		squid) echo "squid: $(squid -v | head -n1)" ;;
		tinyproxy) echo "tinyproxy: $(tinyproxy -v 2>&1 | head -n1)" ;;
		mitmdump) echo "mitmdump: $(mitmdump --version 2>&1 |
		    head -n1)" ;;
		oauthlens_squid) echo "oauthlens_squid: the oauthlens above" \
		    "with --upstream-proxy, a second squid (same config, core" \
		    "0) as its parent; the origin named $PARENT_NAME" \
		    "(--resolve); CPU and RSS figures are oauthlens's alone" ;;
		esac
	done
	echo "settings: $REPS repetition(s), ${DUR}s per run after a ${WARM}s" \
	    "warm-up, $CONNS connections, $IDLE idle, nice $NICE;" \
	    "took ${ELAPSED}s"
	echo "configs: scripts/bench/{nginx,squid,tinyproxy}.conf.in with this" \
	    "run's ports; oauthlens: $(cat "$WORK/oauthlens.conf")"
	[ "$TLS_OK" = 1 ] ||
	    echo "WARNING: the TLS origin failed its check: no TLS figures"
}
REPORT=$OUTDIR/report-$(date +%Y%m%d-%H%M%S).txt
python3 scripts/bench/report.py "$RESULTS" "$CMDS" \
    <(versions) "${TARGETS[@]}" | tee "$REPORT"
cp "$RESULTS" "${REPORT%.txt}.tsv"
say "report saved to $REPORT"

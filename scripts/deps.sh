# Sourced by run.sh, test.sh and bench.sh: installs the Debian packages that
# are missing, with apt-get as root or through sudo otherwise.

deps_apt() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "oauthlens: installing ${missing[*]}" >&2
	if [ -z "${DEPS_UPDATED:-}" ]; then
		$sudo apt-get update -q >&2 || return 1
		DEPS_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
	    --no-install-recommends "${missing[@]}" >&2
}

# What building the daemon needs.
DEPS_BUILD=(build-essential cmake pkg-config libevent-dev libssl-dev
    libyajl-dev libhttp-parser-dev zlib1g-dev libexpat1-dev libsystemd-dev
    openssl ca-certificates)

# What the test suite needs on top: real clients and the sanitizer/fuzzer
# toolchain.
DEPS_TEST=(curl python3 python3-requests python3-requests-oauthlib
    python3-websockets clang libclang-rt-14-dev clang-tidy cppcheck systemd
    chromium valgrind iproute2 wrk python3-aiohttp git squid
    openjdk-17-jdk-headless php-cli php-curl ruby golang-go wget
    groff-base man-db mandoc libnss3-tools)

# Node may come from another source than Debian (whose npm conflicts with
# such a nodejs): install Debian's only where the commands are missing.
deps_node() {
	command -v node >/dev/null 2>&1 || deps_apt nodejs
	command -v npm >/dev/null 2>&1 || deps_apt npm
}

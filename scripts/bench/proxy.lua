-- wrk script for scripts/bench.sh.
-- With BENCH_URL set, wrk sends an absolute-form request line
-- ("GET http://127.0.0.1:ORIGIN/small HTTP/1.1", Host: the origin) to the
-- address on its command line, which is the proxy under test: that is how
-- wrk loads a forward proxy.  Without it, wrk sends its usual origin-form
-- request (the direct baseline).  Setting wrk.path/wrk.headers here and not
-- defining request() keeps wrk on its precomputed static request, so Lua
-- costs nothing per request.
local url = os.getenv("BENCH_URL")
if url and url ~= "" then
	wrk.path = url
	wrk.headers["Host"] = url:match("^http://([^/]+)")
end

-- One machine-readable line for bench.sh; latency in microseconds.
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
	    "wrkresult requests=%d duration_us=%d bytes=%d p50_us=%d " ..
	    "p99_us=%d err_connect=%d err_read=%d err_write=%d " ..
	    "err_status=%d err_timeout=%d\n",
	    summary.requests, summary.duration, summary.bytes,
	    latency:percentile(50), latency:percentile(99), e.connect,
	    e.read, e.write, e.status, e.timeout))
end

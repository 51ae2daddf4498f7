-- wrk script for scripts/soak.sh: plain proxying through oauthlens.
-- wrk connects to the proxy (the URL on its command line); every request
-- line is absolute-form, aimed at the origin given after "--":
--   wrk ... -s scripts/soak/proxy.lua http://127.0.0.1:PROXY -- 127.0.0.1:ORIGIN
-- done() prints one line "SOAK-WRK {json}" with the totals and the
-- responses by status, for soak.py to parse.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	local origin = args[1]
	local function r(method, path, headers, body)
		headers = headers or {}
		headers["Host"] = origin
		return wrk.format(method, "http://" .. origin .. path, headers,
		    body)
	end
	local body = string.rep("oauthlens soak body ", 256)	-- 5 KiB
	-- Only requests that must succeed: wrk counts any other status as
	-- an error. (No HEAD: wrk's parser would wait for a body.)
	reqs = {
		r("GET", "/echo?soak=1"),
		r("GET", "/bytes/1024"),
		r("GET", "/bytes/65536"),
		r("GET", "/bytes/20000?chunked=1"),
		r("POST", "/echo?post=1",
		    { ["Content-Type"] = "application/octet-stream" }, body),
		r("GET", "/status/204"),
		r("GET", "/conninfo"),
		r("GET", "/trailers"),
	}
	n = math.random(#reqs)
	statuses = {}
end

function request()
	n = n % #reqs + 1
	return reqs[n]
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
	local st = {}
	for _, t in ipairs(threads) do
		for k, v in pairs(t:get("statuses")) do
			st[k] = (st[k] or 0) + v
		end
	end
	local parts = {}
	for k, v in pairs(st) do
		table.insert(parts, string.format('"%d": %d', k, v))
	end
	local e = summary.errors
	io.write(string.format('SOAK-WRK {"requests": %d, "duration_us": %d, ' ..
	    '"bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
	    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, ' ..
	    '"max_us": %d, "statuses": {%s}}\n', summary.requests,
	    summary.duration, summary.bytes, e.connect, e.read, e.write,
	    e.status, e.timeout, latency:percentile(50),
	    latency:percentile(99), latency.max, table.concat(parts, ", ")))
end

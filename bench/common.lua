-- common.lua - shared by the wrk scripts of bench/ (loaded with dofile; the
-- directory comes from BENCH_LUA_DIR, set by bench/run.py).
--
-- Each wrk thread has its own Lua state: setup() numbers the threads, so
-- that each starts at another place in the per-user lists and the users
-- are spread over the connections. done() prints one line that run.py
-- reads: "BENCH_JSON {...}" with requests/s, latency percentiles (wrk's
-- own histogram, microseconds) and every kind of error. wrk counts a
-- response with a status of 400 or more in errors.status; the endpoints
-- measured here answer no 3xx, so that count is the non-2xx count.

local M = {}

local threads = 0

-- Numbers the threads; call from the script's setup().
function M.setup(thread)
	threads = threads + 1
	thread:set("thread_no", threads)
end

-- The lines of a file, without empty ones.
function M.lines(path)
	local out = {}
	local f = assert(io.open(path, "r"), "cannot open " .. path)
	for line in f:lines() do
		if line ~= "" then
			out[#out + 1] = line
		end
	end
	f:close()
	assert(#out > 0, path .. " is empty")
	return out
end

-- Splits a line at spaces.
function M.fields(line)
	local out = {}
	for w in line:gmatch("%S+") do
		out[#out + 1] = w
	end
	return out
end

-- A cursor over a list that starts at a different place in each thread.
function M.cycle(list)
	local n = #list
	local i = ((thread_no or 1) * 7919) % n
	return function()
		i = i % n + 1
		return list[i]
	end
end

-- Percent-encodes a query value (RFC 3986 unreserved characters stay).
function M.urlencode(s)
	return (s:gsub("[^%w%-%._~]", function(c)
		return string.format("%%%02X", string.byte(c))
	end))
end

function M.done(summary, latency, requests)
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format(
		'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"bytes":%d,' ..
		'"latency_ms":{"mean":%.3f,"stdev":%.3f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f},' ..
		'"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
		summary.requests, secs, summary.requests / secs, summary.bytes,
		latency.mean / 1000, latency.stdev / 1000,
		latency:percentile(50) / 1000, latency:percentile(90) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000,
		e.connect, e.read, e.write, e.status, e.timeout))
end

return M

-- users.lua - GET /api/users?q=&limit=20: user search.
-- wrk ... -s users.lua URL -- TOKENS QUERIES
-- TOKENS: one access token a line; QUERIES: one search string a line.
local C = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")
setup = C.setup
done = C.done

local next_token, next_query

function init(args)
	next_token = C.cycle(C.lines(args[1]))
	next_query = C.cycle(C.lines(args[2]))
end

function request()
	return wrk.format("GET", "/api/users?limit=20&q=" .. C.urlencode(next_query()),
		{["Authorization"] = "Bearer " .. next_token()})
end

-- search.lua - GET /api/search/messages?q=&limit=20: full-text search over
-- the caller's chats (1M messages).
-- wrk ... -s search.lua URL -- TOKENS WORDS
local C = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")
setup = C.setup
done = C.done

local next_token, next_word

function init(args)
	next_token = C.cycle(C.lines(args[1]))
	next_word = C.cycle(C.lines(args[2]))
end

function request()
	return wrk.format("GET", "/api/search/messages?limit=20&q=" .. C.urlencode(next_word()),
		{["Authorization"] = "Bearer " .. next_token()})
end

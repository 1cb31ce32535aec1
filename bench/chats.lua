-- chats.lua - GET /api/chats: the chat list (a user with 100 chats).
-- wrk ... -s chats.lua URL -- TOKENS
local C = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")
setup = C.setup
done = C.done

local next_token

function init(args)
	next_token = C.cycle(C.lines(args[1]))
end

function request()
	return wrk.format("GET", "/api/chats", {["Authorization"] = "Bearer " .. next_token()})
end

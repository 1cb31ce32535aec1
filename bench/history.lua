-- history.lua - GET /api/chats/{id}/messages: the newest 50 messages (no
-- cursor, the default limit) of a chat with 1,000.
-- wrk ... -s history.lua URL -- PAIRS
-- PAIRS: "TOKEN CHAT_ID" a line, a member and the chat.
local C = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")
setup = C.setup
done = C.done

local next_pair

function init(args)
	local pairs_ = {}
	for _, line in ipairs(C.lines(args[1])) do
		local f = C.fields(line)
		pairs_[#pairs_ + 1] = {token = f[1], path = "/api/chats/" .. f[2] .. "/messages"}
	end
	next_pair = C.cycle(pairs_)
end

function request()
	local p = next_pair()
	return wrk.format("GET", p.path, {["Authorization"] = "Bearer " .. p.token})
end

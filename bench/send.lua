-- send.lua - POST /api/chats/{id}/messages {text, client_id}.
-- wrk ... -s send.lua URL -- PAIRS RUN_ID
-- PAIRS: "TOKEN CHAT_ID" a line (a member and the chat it sends into).
-- Every request carries a new client_id, as a real client's does.
local C = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")
setup = C.setup
done = C.done

local next_pair, run_id
local n = 0

function init(args)
	local list = {}
	for _, line in ipairs(C.lines(args[1])) do
		local f = C.fields(line)
		list[#list + 1] = {token = f[1], path = "/api/chats/" .. f[2] .. "/messages"}
	end
	next_pair = C.cycle(list)
	-- The run's id and the clock: the warm-up and the run that follows
	-- (seconds apart) must not send the same client_ids, or the run's
	-- sends would be repeats.
	run_id = (args[2] or "") .. "-" .. tostring(os.time())
end

function request()
	local p = next_pair()
	n = n + 1
	local body = string.format(
		'{"text":"bench message %d from wrk thread %d","client_id":"wrk-%s-%d-%d"}',
		n, thread_no or 0, run_id, thread_no or 0, n)
	return wrk.format("POST", p.path, {
		["Authorization"] = "Bearer " .. p.token,
		["Content-Type"] = "application/json",
	}, body)
end

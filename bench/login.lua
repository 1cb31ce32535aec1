-- login.lua - POST /api/auth/login {login, password}: scrypt-bound.
-- wrk ... -s login.lua URL -- CREDENTIALS
-- CREDENTIALS: "LOGIN PASSWORD" a line, of registered users.
local C = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")
setup = C.setup
done = C.done

local next_cred

function init(args)
	local list = {}
	for _, line in ipairs(C.lines(args[1])) do
		local f = C.fields(line)
		list[#list + 1] = string.format('{"login":"%s","password":"%s"}', f[1], f[2])
	end
	next_cred = C.cycle(list)
end

function request()
	return wrk.format("POST", "/api/auth/login", {["Content-Type"] = "application/json"},
		next_cred())
end

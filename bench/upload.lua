-- upload.lua - POST /api/files, multipart with one part "file".
-- wrk ... -s upload.lua URL -- TOKENS BYTES
-- The body is built once per thread: BYTES of filler in one file part.
local C = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")
setup = C.setup
done = C.done

local next_token, body
local boundary = "----wrkbench7MA4YWxkTrZu0gW"

function init(args)
	next_token = C.cycle(C.lines(args[1]))
	local size = tonumber(args[2])
	-- Filler that is not all one byte: 64 distinct characters repeated.
	local chunk = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
	local data = string.rep(chunk, math.floor(size / #chunk)) .. chunk:sub(1, size % #chunk)
	body = "--" .. boundary .. "\r\n" ..
		'Content-Disposition: form-data; name="file"; filename="bench.bin"\r\n' ..
		"Content-Type: application/octet-stream\r\n\r\n" ..
		data .. "\r\n--" .. boundary .. "--\r\n"
end

function request()
	return wrk.format("POST", "/api/files", {
		["Authorization"] = "Bearer " .. next_token(),
		["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
	}, body)
end

-- wrk: POST commands, round robin over many contexts (the rate limit is
-- per tab), each with a unique nonce (run prefix, thread, counter).
-- args: API_KEY RUN_PREFIX THREADS CTX_REF...
local n = 0
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "threads.lua")
function init(args)
    local threads = tonumber(args[3])
    auth, prefix = "Bearer " .. args[1], args[2]
    paths = {}
    for i = 4, #args do paths[#paths + 1] = "/api/v1/contexts/" .. args[i] .. "/commands" end
    offset = share_start(#paths, threads)
end
function request()
    n = n + 1
    local body = string.format(
        '{"type":"set_field","selector":"#email","value":"bench@example.com","nonce":"%s-%d-%d"}',
        prefix, tid, n)
    return wrk.format("POST", paths[(n + offset) % #paths + 1], {
        ["Authorization"] = auth,
        ["Content-Type"] = "application/json",
    }, body)
end

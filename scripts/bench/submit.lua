-- wrk: POST submit, round robin over many tabs (tab tokens), each request
-- with a unique Idempotency-Key and unique data (run prefix, thread,
-- counter): the same data from the same tab again would be refused as a
-- duplicate submission (CB_SUBMIT_DEDUPE_S).
-- args: FORM_ID RUN_PREFIX THREADS TOKEN...
local n = 0
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "threads.lua")
function init(args)
    local form, threads = args[1], tonumber(args[3])
    prefix = args[2]
    path = "/api/v1/forms/" .. form .. "/submit"
    tokens = {}
    for i = 4, #args do tokens[#tokens + 1] = "Bearer " .. args[i] end
    -- The threads start on distant tabs, so no two requests share a tab.
    offset = share_start(#tokens, threads)
end
function request()
    n = n + 1
    local id = string.format("%s-%d-%d", prefix, tid, n)
    return wrk.format("POST", path, {
        ["Authorization"] = tokens[(n + offset) % #tokens + 1],
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = '"' .. id .. '"',
    }, '{"data":{"full_name":"Bench Mark","email":"bench@example.com","topic":"sales",'
        .. '"message":"load test ' .. id .. '","subscribe":false}}')
end

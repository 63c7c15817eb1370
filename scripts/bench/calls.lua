-- wrk: POST signed call events (Standard Webhooks 1.0), each a new event:
-- the lines of cb-bench-calls (webhook-id, timestamp, signature, body),
-- thread t sending lines t, t+THREADS, ...; past the end of its share a
-- thread starts again (a replay: answered 200, counted apart by the bench).
-- args: SOURCE_ID FILE THREADS
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "threads.lua")
function init(args)
    local threads = tonumber(args[3])
    path = "/api/v1/webhooks/calls/" .. args[1]
    reqs = {}
    local i = 0
    for line in io.lines(args[2]) do
        if i % threads == tid - 1 then
            local id, ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
            reqs[#reqs + 1] = wrk.format("POST", path, {
                ["Content-Type"] = "application/json",
                ["webhook-id"] = id,
                ["webhook-timestamp"] = ts,
                ["webhook-signature"] = sig,
            }, body)
        end
        i = i + 1
    end
    n = 0
end
function request()
    n = n + 1
    return reqs[(n - 1) % #reqs + 1]
end

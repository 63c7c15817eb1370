-- wrk: what the bench's request scripts share, loaded by each with dofile
-- from beside it.  Every thread gets its number, tid (1..N), before its
-- init(); a thread going round robin over a list starts at its own share
-- of it (share_start), so no two threads begin on the same item.
local nthreads = 0
function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
end
-- Where this thread's round robin over count items starts (threads of them).
function share_start(count, threads)
    return (tid - 1) * math.floor(count / threads)
end

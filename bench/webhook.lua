-- wrk script of bench/webhook.py: sends pre-built, signed WeChat deliveries and logs every
-- answer. Run with one wrk thread per connection (-t N -c N), so that each response belongs
-- to the request sent just before it on that thread.
--
--   wrk -t N -c N -d 10s -s webhook.lua URL -- DIR INTERVAL_MS REPEAT
--
-- DIR/req.<id>  (id = 1..N, one file per thread): records "<length>\n<raw HTTP request>".
-- DIR/out.<id>  written here: per answer "<index> <status> <length>\n<body>\n" (index 1-based
--               into req.<id>).
-- INTERVAL_MS   > 0: pace this connection to one request every INTERVAL_MS (constant rate,
--               wrk's delay() hook; Debian's wrk 4.1 has no wrk2 -R); bench/webhook.py cuts
--               the pacing block out when it is 0, since wrk arms a timer per request whenever
--               delay() exists.
-- REPEAT        "1": start the list again when it is done (the bare endpoint keeps no state);
--               "0": stop the thread after the last answer (gridbot: every delivery is unique).
-- done() prints one line "BENCHJSON {...}": duration, requests, errors, latency percentiles
-- (µs) and per thread how many requests were sent and whether the list ran out.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local reqs = {}
local out
local repeat_list = false
sent = 0
completed = 0
exhausted = 0
local current = 0

function init(args)
  local dir = args[1]
  interval_ms = tonumber(args[2]) or 0
  repeat_list = args[3] == "1"
  local f = assert(io.open(dir .. "/req." .. id, "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = data:find("\n", pos, true)
    local len = tonumber(data:sub(pos, nl - 1))
    reqs[#reqs + 1] = data:sub(nl + 1, nl + len)
    pos = nl + len + 1
  end
  out = assert(io.open(dir .. "/out." .. id, "wb"))
  out:setvbuf("no")
end

function request()
  if sent >= #reqs and not repeat_list then
    exhausted = 1
    return "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
  end
  sent = sent + 1
  current = (sent - 1) % #reqs + 1
  return reqs[current]
end

function response(status, headers, body)
  completed = completed + 1
  out:write(current .. " " .. status .. " " .. #body .. "\n" .. body .. "\n")
  if not repeat_list and completed >= #reqs then
    exhausted = 1
    wrk.thread:stop()
  end
end

-- BEGIN PACING
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local next_at = nil

function delay()
  local now = now_ms()
  if next_at == nil then
    next_at = now + math.random() * interval_ms -- stagger the connections
  end
  local wait = next_at - now
  next_at = next_at + interval_ms
  if wait < 0 then
    return 0
  end
  return wait
end
-- END PACING

function done(summary, latency, requests)
  local per = {}
  for _, t in ipairs(threads) do
    per[#per + 1] = string.format('{"id":%d,"sent":%d,"completed":%d,"exhausted":%d}',
      t:get("id"), t:get("sent") or 0, t:get("completed") or 0, t:get("exhausted") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"duration_us":%d,"requests":%d,"errors":{"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d},"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"threads":[%s]}\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, table.concat(per, ",")))
end

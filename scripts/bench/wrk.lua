-- wrk script of scripts/bench/bench.py: one request shape per run, set by environment.
--
--   BENCH_METHOD  GET (default) or PUT
--   BENCH_PATH    request path; "%d" in it is replaced by a group index
--   BENCH_GROUPS  groups the "%d" rotates over (default 1)
--   BENCH_SERIES  PUT only: series in the body (one gauge family, text format)
--   BENCH_THREADS must equal wrk's -t, so that threads take disjoint groups
--
-- Prints one machine-readable line at the end (latencies in microseconds):
--   BENCH requests=N bytes=N duration_us=N p50=N p90=N p99=N max=N errors=N non2xx=N
-- Owns the request shapes only; the orchestration and the verdicts are bench.py's.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/metrics"
local groups = tonumber(os.getenv("BENCH_GROUPS") or "1")
local series = tonumber(os.getenv("BENCH_SERIES") or "10")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")

local function gauge_body(n)
  local lines = { "# HELP bench_series A benchmark gauge.", "# TYPE bench_series gauge" }
  for i = 0, n - 1 do
    lines[#lines + 1] = string.format('bench_series{idx="%d",kind="bench"} %d.5', i, i)
  end
  return table.concat(lines, "\n") .. "\n"
end

local body = nil
local headers = {}
if method == "PUT" then
  body = gauge_body(series)
  headers["Content-Type"] = "text/plain; version=0.0.4"
end

-- Per-thread state (each wrk thread runs its own copy of this file).
local counter = 0
local rotating = string.find(path, "%d", 1, true) ~= nil
if not rotating then
  -- A static request: wrk builds it once (with the Host header) and reuses it.
  wrk.method = method
  wrk.path = path
  wrk.body = body
  for name, value in pairs(headers) do
    wrk.headers[name] = value
  end
end

local next_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

local function rotating_request()
  local id = thread_id or 0
  local group = (id + counter * threads) % groups
  counter = counter + 1
  local group_path = string.gsub(path, "%%d", tostring(group))
  return wrk.format(method, group_path, headers, body)
end
if rotating then
  request = rotating_request
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d bytes=%d duration_us=%d p50=%d p90=%d p99=%d max=%d errors=%d non2xx=%d\n",
    summary.requests, summary.bytes, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end

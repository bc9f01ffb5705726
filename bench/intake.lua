-- wrk script: POST /api/cases with a different body on every request (public classes, points
-- scattered ±0.01° around (121.46, 30.92), inside the district). At the end it prints one line
-- `RESULT ok=… non2xx=… errors=… rps=… p50_ms=… p99_ms=…` for bench/intake.sh to read.
local classes = { "C0101", "C0102", "E0101" }
local threads = {}
local n = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  wrk.method = "POST"
  wrk.path = "/api/cases"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local lon = 121.46 + (math.random() - 0.5) * 0.02
  local lat = 30.92 + (math.random() - 0.5) * 0.02
  local body = string.format(
    '{"class":"%s","lon":%.6f,"lat":%.6f,"description":"bench report %d-%d"}',
    classes[math.random(#classes)], lon, lat, tid or 0, n)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT ok=%d non2xx=%d errors=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests - e.status, e.status, e.connect + e.read + e.write + e.timeout,
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

-- wrk script: GET /api/locate on points read from a CSV (id,lon,lat), round-robin per thread.
local points = {}
local path = os.getenv("GRIDLINK_WRK_POINTS") or "target/bench-points-wrk.csv"
for line in io.lines(path) do
  local _, lon, lat = line:match("([^,]*),([^,]*),([^,]*)")
  if lon then points[#points + 1] = "/api/locate?lon=" .. lon .. "&lat=" .. lat end
end
local i = 0
function init(args)
  i = math.random(#points)
end
function request()
  i = i % #points + 1
  return wrk.format("GET", points[i])
end

-- wrk script: request every tile of a list (z/x/y per line) under a URL prefix and suffix,
-- e.g. GRIDLINK_TILE_PREFIX=/tiles/towns,roads/ GRIDLINK_TILE_SUFFIX=.mvt
local prefix = os.getenv("GRIDLINK_TILE_PREFIX") or "/"
local suffix = os.getenv("GRIDLINK_TILE_SUFFIX") or ""
local list = os.getenv("GRIDLINK_TILE_LIST") or "target/bench-tiles-z15.txt"
local paths = {}
for line in io.lines(list) do
  if #line > 0 then paths[#paths + 1] = prefix .. line .. suffix end
end
local i = 0
function init(args)
  i = math.random(#paths)
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

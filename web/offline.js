// Offline map (离线地图): the district's tiles read from a PMTiles archive written by
// `gridlink export pmtiles` instead of from the server's /tiles/…, through MapLibre's PMTiles
// protocol (npm `pmtiles`, served by gridlink at /vendor/pmtiles, no CDN).
//
// Two ways in: a link `/?pmtiles=/offline/fengxian.pmtiles` (any URL the page may fetch with
// Range requests; `gridlink serve --offline-dir DIR` serves DIR at /offline/), or the 离线地图
// control, which opens a .pmtiles file from the device (nothing is uploaded). Either way the
// style's `gridlink` vector source is pointed at the archive; the archive holds the same tiles
// as the source (same layers, same bytes), so every style layer, legend and popup works as
// before. Clicking the control again goes back to the server's tiles. Without either, nothing
// here changes the map.

import { toast } from "./api.js";

const STYLE = "/styles/district.json";
/** PMTiles tile type of Mapbox Vector Tiles. */
const MVT = 1;

const offline = {
  protocol: null,
  url: null,    // pmtiles://… while an archive is in use
  name: null,   // what the user knows it as: the file name or the link
  button: null,
};

function protocol() {
  if (!offline.protocol) {
    // metadata: true makes the protocol's TileJSON carry the archive's vector_layers and
    // attribution, as the server's TileJSON does.
    offline.protocol = new pmtiles.Protocol({ metadata: true });
    maplibregl.addProtocol("pmtiles", offline.protocol.tile);
  }
  return offline.protocol;
}

// For every setStyle while an archive is in use: the style's tile source reads the archive.
export function transformStyle(_previous, next) {
  if (!offline.url || !next.sources?.gridlink) return next;
  return { ...next, sources: { ...next.sources, gridlink: { type: "vector", url: offline.url } } };
}

function show() {
  const button = offline.button;
  if (!button) return;
  button.classList.toggle("active", Boolean(offline.url));
  const title = offline.url ? `离线地图：${offline.name}（点击恢复在线地图）` : "离线地图：打开 .pmtiles 文件";
  button.title = title;
  button.setAttribute("aria-label", title);
  window.gridlink.offline = offline.url ? { url: offline.url, name: offline.name } : null;
}

// Switches the map to `archive` (a pmtiles.PMTiles). The style is set at once, so a map that is
// still loading never asks the server for tiles; the archive is checked alongside and, if it is
// not a vector tile archive, the map goes back online with a message.
function use(map, archive, name) {
  protocol().add(archive);
  offline.url = `pmtiles://${archive.source.getKey()}`;
  offline.name = name;
  map.setStyle(STYLE, { diff: false, transformStyle });
  show();
  // The archive's attribution opens the compact attribution box; on a phone it covers the map.
  map.once("idle", () => document.querySelector(".maplibregl-ctrl-attrib")?.classList.remove("maplibregl-compact-show"));
  archive.getHeader().then((header) => {
    if (header.tileType !== MVT) throw new Error("不是矢量瓦片（MVT）文件");
    toast(`已切换到离线地图：${name}（${header.minZoom}–${header.maxZoom} 级）`);
  }).catch((error) => {
    if (offline.url !== `pmtiles://${archive.source.getKey()}`) return;
    toast(`离线地图无法打开：${name}：${error.message}`, "error");
    online(map);
  });
}

function online(map) {
  offline.url = null;
  offline.name = null;
  map.setStyle(STYLE, { diff: false, transformStyle });
  show();
}

class OfflineControl {
  constructor(map) {
    this.map = map;
  }

  onAdd() {
    this.box = document.createElement("div");
    this.box.className = "maplibregl-ctrl maplibregl-ctrl-group";
    this.box.innerHTML = `<button type="button" class="gridlink-ctrl-offline"><span aria-hidden="true">离</span></button>
      <input type="file" accept=".pmtiles,application/octet-stream" hidden>`;
    offline.button = this.box.querySelector("button");
    const input = this.box.querySelector("input");
    offline.button.addEventListener("click", () => (offline.url ? online(this.map) : input.click()));
    input.addEventListener("change", () => {
      const file = input.files?.[0];
      input.value = "";
      if (file) use(this.map, new pmtiles.PMTiles(new pmtiles.FileSource(file)), file.name);
    });
    show();
    return this.box;
  }

  onRemove() {
    this.box.remove();
  }
}

// Adds the control and follows a `?pmtiles=URL` link. Call right after the map is made.
export function init(map) {
  window.gridlink = window.gridlink || {};
  if (typeof pmtiles === "undefined") return; // the library did not load: the map stays online
  map.addControl(new OfflineControl(map), "top-right");
  const link = new URLSearchParams(location.search).get("pmtiles");
  if (link) {
    const url = new URL(link, location.href).href;
    use(map, new pmtiles.PMTiles(url), link);
  }
}

// What the map shows and where: the camera's padding (on a phone the panel lies over the bottom
// of the map, so every fit and flight must land above it), the district view and its control,
// "my location", and the pick marker with the highlighted feature (where the user clicked or
// what the search found).
//
// The padding is MapLibre's own (`map.setPadding`): once set, fitBounds, flyTo, easeTo and the
// controls (zoom buttons, geolocate) all centre on the visible part of the map, so no caller has
// to remember the panel — and none may pass its own `padding` to flyTo/easeTo (it would replace
// the panel's). fitBounds' `padding` is a margin on top of it.

import { getJson, toast } from "./api.js";

const HIGHLIGHT = "#e4007f";
const EMPTY = { type: "FeatureCollection", features: [] };

const view = {
  map: null,
  district: null,          // [[w, s], [e, n]]
  padding: { top: 0, right: 0, bottom: 0, left: 0 },
  pendingPadding: null,
  marker: null,
  highlight: EMPTY,
  highlightToken: 0,
};

window.gridlink = Object.assign(window.gridlink || {}, { pick: null, highlight: null, padding: view.padding });

// The part of the map the panel covers, as padding: on a phone the panel is laid over the
// bottom of the map; on a desktop it stands beside it and covers nothing.
export function panelPadding(map = view.map) {
  const box = map.getContainer().getBoundingClientRect();
  const pad = { top: 0, right: 0, bottom: 0, left: 0 };
  const panel = document.querySelector("#panel");
  if (!panel || getComputedStyle(panel).display === "none") return pad;
  const r = panel.getBoundingClientRect();
  const overlapW = Math.min(r.right, box.right) - Math.max(r.left, box.left);
  const overlapH = Math.min(r.bottom, box.bottom) - Math.max(r.top, box.top);
  if (overlapW <= 0 || overlapH <= 0) return pad;
  if (overlapW >= box.width * 0.6) pad.bottom = Math.round(box.bottom - Math.max(r.top, box.top));
  else pad.left = Math.round(Math.min(r.right, box.right) - box.left);
  // Never leave less than a third of the map: a panel taller than that still lets the target
  // be seen, near the top.
  pad.bottom = Math.min(pad.bottom, Math.round(box.height * 0.67));
  return pad;
}

const samePadding = (a, b) => ["top", "right", "bottom", "left"].every((k) => a[k] === b[k]);

// Brings the camera's padding in line with the panel (after a tab change, the panel toggle or a
// resize). While the camera is moving the change waits for the move to end, so it never breaks
// off a flight halfway; the centre is kept, so what the flight brought to the centre stays in
// view.
export function syncPadding(map = view.map) {
  if (!map) return;
  const pad = panelPadding(map);
  document.body.style.setProperty("--map-inset-bottom", `${pad.bottom}px`);
  if (samePadding(pad, view.padding) && !view.pendingPadding) return;
  if (map.isMoving()) {
    if (!view.pendingPadding) map.once("moveend", () => {
      view.pendingPadding = null;
      syncPadding(map);
    });
    view.pendingPadding = pad;
    return;
  }
  view.padding = pad;
  window.gridlink.padding = pad;
  map.setPadding(pad);
}

export function setDistrict(extent) {
  view.district = extent ? [[extent[0], extent[1]], [extent[2], extent[3]]] : null;
}

export function fitDistrict(map = view.map, { animate = true } = {}) {
  if (!view.district) return;
  // Clear of the control buttons down the right edge, too.
  const controls = map.getContainer().querySelector(".maplibregl-ctrl-top-right")?.getBoundingClientRect().width || 0;
  map.fitBounds(view.district, { padding: { top: 16, bottom: 16, left: 16, right: 16 + controls }, duration: animate ? 600 : 0 });
}

// A map control with one button that shows the whole district.
class DistrictControl {
  onAdd(map) {
    this.box = document.createElement("div");
    this.box.className = "maplibregl-ctrl maplibregl-ctrl-group";
    this.box.innerHTML = `<button type="button" class="gridlink-ctrl-district" title="显示全区" aria-label="显示全区"><span aria-hidden="true">全</span></button>`;
    this.box.querySelector("button").addEventListener("click", () => fitDistrict(map));
    return this.box;
  }

  onRemove() {
    this.box.remove();
  }
}

// The map's controls: zoom, whole district, my location, scale. `onLocated` gets the position
// (a LngLat) each time "my location" finds one.
export function addControls(map, { onLocated }) {
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new DistrictControl(), "top-right");
  // Positions from navigator.geolocation are WGS84 on standard browsers (the W3C Geolocation
  // API reports WGS84), and gridlink's layers and tiles are WGS84 too (CGCS2000 is the same at
  // this precision): the position is drawn and located as it comes, with no GCJ-02 shift.
  // GCJ-02 comes from Chinese map SDKs (Amap, Tencent, WeChat's location API), which neither
  // page uses; the residents' page (report-place.js) sends its GPS points as WGS84 too.
  // Browsers offer geolocation only on secure origins (https, or localhost): on plain http
  // over a network the control shows as unavailable.
  const geolocate = new maplibregl.GeolocateControl({
    positionOptions: { enableHighAccuracy: true, timeout: 15_000, maximumAge: 30_000 },
    fitBoundsOptions: { maxZoom: 16 },
    trackUserLocation: false,
    showAccuracyCircle: true,
  });
  geolocate.on("geolocate", (position) => {
    const lngLat = { lng: position.coords.longitude, lat: position.coords.latitude };
    window.gridlink.myLocation = { ...lngLat, accuracy: position.coords.accuracy };
    onLocated(lngLat);
  });
  geolocate.on("error", (error) => {
    const why = { 1: "未获得定位权限", 2: "无法获取位置", 3: "定位超时" }[error.code] || error.message || "定位失败";
    toast(`我的位置：${why}`, "error");
  });
  geolocate.on("outofmaxbounds", () => toast("我的位置不在地图范围内", "error"));
  map.addControl(geolocate, "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  return geolocate;
}

export function init(map) {
  view.map = map;
  window.addEventListener("resize", () => setTimeout(() => syncPadding(map), 0));
}

// ---------------------------------------------------------------------------------------------
// The pick marker and the highlighted feature.

// Sources and layers again after every style load (setStyle drops them).
export function addLayers(map) {
  if (!map.getSource("pick-highlight")) map.addSource("pick-highlight", { type: "geojson", data: view.highlight });
  const polygon = ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]];
  const point = ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]];
  map.addLayer({
    id: "pick-highlight-fill", type: "fill", source: "pick-highlight", filter: polygon,
    paint: { "fill-color": HIGHLIGHT, "fill-opacity": 0.12 },
  });
  map.addLayer({
    id: "pick-highlight-line", type: "line", source: "pick-highlight",
    filter: ["!", point],
    layout: { "line-join": "round", "line-cap": "round" },
    paint: { "line-color": HIGHLIGHT, "line-width": ["match", ["geometry-type"], ["LineString", "MultiLineString"], 5, 3], "line-opacity": 0.75 },
  });
  map.addLayer({
    id: "pick-highlight-point", type: "circle", source: "pick-highlight", filter: point,
    paint: { "circle-radius": 13, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": HIGHLIGHT, "circle-stroke-width": 3 },
  });
}

// The marker where the user clicked, or where the search result lies.
export function showPick(lngLat) {
  const at = [lngLat.lng, lngLat.lat];
  if (!view.marker) {
    view.marker = new maplibregl.Marker({ color: HIGHLIGHT }).setLngLat(at).addTo(view.map);
    view.marker.getElement().classList.add("pick-marker");
  } else {
    view.marker.setLngLat(at);
  }
  window.gridlink.pick = { lng: lngLat.lng, lat: lngLat.lat };
}

function setHighlight(data, which) {
  view.highlight = data;
  view.map.getSource("pick-highlight")?.setData(data);
  window.gridlink.highlight = which;
}

// Draws the whole feature `id` of `layer` (from the OGC API, so polygons are not cut at tile
// edges) as the highlighted one; the answer of an older call is dropped.
export async function highlightFeature(layer, id) {
  const token = ++view.highlightToken;
  try {
    const feature = await getJson(`/ogc/collections/${encodeURIComponent(layer)}/items/${encodeURIComponent(id)}`);
    if (token !== view.highlightToken) return null;
    setHighlight({ type: "FeatureCollection", features: [feature] }, { layer, id: String(id) });
    return feature;
  } catch {
    if (token === view.highlightToken) setHighlight(EMPTY, null);
    return null;
  }
}

export function clearPick() {
  view.highlightToken += 1;
  view.marker?.remove();
  view.marker = null;
  window.gridlink.pick = null;
  setHighlight(EMPTY, null);
}

// The bounds of a GeoJSON geometry.
export function boundsOf(geometry) {
  const bounds = new maplibregl.LngLatBounds();
  const walk = (c) => (typeof c[0] === "number" ? bounds.extend(c) : c.forEach(walk));
  walk(geometry.coordinates);
  return bounds;
}

// The emergency (应急) tab and the live emergency layers of the map:
//
// - the incident: a point picked on the map (or a dragged marker) or a major hazard source
//   (from the list, /ogc/collections/hazard_sources/items, or clicked on the map);
// - 周边: the duty officer's around report (/api/around, drawn by app.js's renderer);
// - 泄漏影响区: the ERG isolation and protective action zones (POST /api/hazmat/zone) drawn on
//   the map with a wind arrow, the distances with their source and verified flag, and what lies
//   in the zones (protected targets, villages, shelters not to use, safe shelters, …);
// - 安置疏散: a shelter allocation (POST /api/shelters/allocate) for a number of people at the
//   incident or for the people of the leak zone, avoiding the zones, drawn as lines from the
//   incident (or the villages' population centres) to the shelters;
// - the shelters coloured by live free capacity (/api/shelters, refreshed on `shelter` stream
//   events), the stations coloured by their latest level (/api/feeds/latest?format=geojson,
//   refreshed on `alert` events and every minute), and the live list of active alerts
//   (/api/alerts?active=true, then `alert` events, with a toast for each new one).
//
// Stream events come through cases.js's EventSource (onStream), so the page holds one.

import { auth, api, getJson, $, $$, escapeHtml, shortTime, fullTime, toast } from "./api.js";
import { onStream } from "./cases.js";
import { distanceText as metres } from "./format.js";

export const LEVELS = {
  blue: { name: "蓝色", colour: "#1f6fe0" },
  yellow: { name: "黄色", colour: "#f2c200" },
  orange: { name: "橙色", colour: "#f07800" },
  red: { name: "红色", colour: "#e00000" },
};
const STATION_COLOURS = { rain_gauges: "#3498db", water_level_stations: "#1f618d", weather_stations: "#9b59b6" };
const FREE_CLASSES = [
  { name: "空余 ≥ 50%", colour: "#1a9850" },
  { name: "空余 20–50%", colour: "#c9a800" },
  { name: "空余 < 20%", colour: "#e67e22" },
  { name: "已满", colour: "#c0392b" },
  { name: "未开放", colour: "#95a5a6" },
];
const ZONE_STYLE = {
  isolation: { name: "初始隔离区", fill: "#e60000", line: "#a30000" },
  protective_action: { name: "防护行动区", fill: "#ff9f1a", line: "#c76a00" },
};
const SKIP_REASONS = { excluded: "位于泄漏影响区", closed: "未开放", full: "已报满", no_free_capacity: "无空余" };
const BLOCK_REASONS = { path_blocked: "无法绕开排除区域到达", path_too_long: "绕开排除区域后超出最远步行距离" };
const WIND_MODELS = { steady: "稳定风向", low_wind: "微风（风向不定，±30°）", calm: "静风（无风向，四周均按防护距离）" };
const DIRECTIONS = ["北", "东北", "东", "东南", "南", "西南", "西", "西北"];
const EMPTY = { type: "FeatureCollection", features: [] };
const STATION_REFRESH_MS = 60_000;

const em = {
  map: null,
  ctx: null,
  incident: null,          // { lon, lat, hazard: {id, name, chemicalIds[]} | null }
  marker: null,
  hazards: [],             // hazard-source features (staff)
  hazardsLoaded: false,
  chemicals: [],           // the picker's current list
  zone: null,              // last /api/hazmat/zone answer
  alloc: null,             // last /api/shelters/allocate answer (+ request)
  data: { zones: EMPTY, wind: EMPTY, alloc: EMPTY },
  shelters: null,          // /api/shelters
  stations: null,          // /api/feeds/latest?format=geojson
  alerts: new Map(),       // active alerts by id
  alertsToken: 0,
  shelterTimer: null,
  stationTimer: null,
  selectedStation: null,
  zoneToken: 0,
  allocToken: 0,
  aroundToken: 0,
};

// Exposed for the browser test and for debugging.
window.gridlink = Object.assign(window.gridlink || {}, {
  lastHazmat: null, lastAllocation: null, alertsLoaded: false, alertEvents: 0, shelterEvents: 0,
  shelterLoads: 0, stationLoads: 0,
});

const fmt = (n) => (n == null ? "—" : Number(n).toLocaleString("zh-CN"));
const levelBadge = (level, text) =>
  `<span class="badge level" data-level="${escapeHtml(level)}" style="background:${LEVELS[level]?.colour || "#999"}">${escapeHtml(text || `${LEVELS[level]?.name || level}预警`)}</span>`;
// A shelter as every list names it: names repeat (two shelters of one kind in a village), so
// the code and the address go with the name. `s`: an allocation item ({shelter, name, address})
// or a feature ({id, name, properties: {address}}).
export const shelterLabel = (s) => {
  const code = s.shelter ?? s.id;
  const address = s.address ?? s.properties?.address;
  return `<b>${escapeHtml(s.name || code)}</b> <small class="shelter-code">${escapeHtml(code)}</small>${address ? `<br><small class="shelter-address">${escapeHtml(address)}</small>` : ""}`;
};
const zoneTags = (zones = []) => zones.map((z) => `<span class="tag zone-${escapeHtml(z)}">${escapeHtml(ZONE_STYLE[z]?.name || z)}</span>`).join("");
const directionName = (deg) => DIRECTIONS[Math.round((((deg % 360) + 360) % 360) / 45) % 8];

export function isActive() {
  return !$("#tab-emergency").hidden;
}

// ---------------------------------------------------------------------------------------------
// Map layers (added again after every style load: setStyle drops them).

function addSource(map, id, data, extra = {}) {
  if (!map.getSource(id)) map.addSource(id, { type: "geojson", data, ...extra });
}

// Adds the emergency sources and layers, hides the tile layers they replace and returns, per
// catalogue layer, the style layers its panel switch should control from now on.
export function addLayers(map) {
  em.map = map;
  const style = map.getStyle();
  const tileCircles = (sourceLayer) =>
    style.layers.filter((l) => l.source === "gridlink" && l["source-layer"] === sourceLayer && l.type === "circle").map((l) => l.id);
  const firstCircle = style.layers.find((l) => l.type === "circle" && l.source === "gridlink")?.id;
  const firstSymbol = style.layers.find((l) => l.type === "symbol")?.id;
  const controls = {};

  // The leak zones under the point layers.
  addSource(map, "em-zones", em.data.zones);
  const zoneColour = (part) => ["match", ["get", "zone"], "isolation", ZONE_STYLE.isolation[part], ZONE_STYLE.protective_action[part]];
  map.addLayer({
    id: "em-zones-fill", type: "fill", source: "em-zones",
    paint: { "fill-color": zoneColour("fill"), "fill-opacity": ["match", ["get", "zone"], "isolation", 0.32, 0.2] },
  }, firstCircle);
  map.addLayer({
    id: "em-zones-line", type: "line", source: "em-zones",
    paint: { "line-color": zoneColour("line"), "line-width": 2, "line-dasharray": ["match", ["get", "zone"], "isolation", ["literal", [1, 0]], ["literal", [4, 2]]] },
  }, firstCircle);

  // Shelters by live free capacity, instead of the tile layer's circles.
  const shelterTiles = tileCircles("shelters");
  if (shelterTiles.length) {
    addSource(map, "shelters-live", em.shelters || EMPTY, { promoteId: "code" });
    const free = ["to-number", ["get", "free"], 0];
    map.addLayer({
      id: "shelters-live-circle", type: "circle", source: "shelters-live", minzoom: 8,
      metadata: { "gridlink:layer": "shelters", "gridlink:legend": FREE_CLASSES[0].colour },
      paint: {
        "circle-color": ["case",
          ["==", ["get", "status"], "closed"], FREE_CLASSES[4].colour,
          ["any", ["==", ["get", "status"], "full"], ["<=", free, 0]], FREE_CLASSES[3].colour,
          ["<", ["to-number", ["get", "free_ratio"], 0], 0.2], FREE_CLASSES[2].colour,
          ["<", ["to-number", ["get", "free_ratio"], 0], 0.5], FREE_CLASSES[1].colour,
          FREE_CLASSES[0].colour],
        "circle-radius": ["interpolate", ["linear"], ["zoom"],
          9, ["interpolate", ["linear"], ["to-number", ["get", "capacity"], 0], 0, 3.5, 5000, 6, 30000, 9],
          15, ["interpolate", ["linear"], ["to-number", ["get", "capacity"], 0], 0, 7, 5000, 11, 30000, 16]],
        "circle-stroke-color": ["case",
          ["boolean", ["feature-state", "inZone"], false], "#000000",
          ["boolean", ["feature-state", "assigned"], false], "#1f3a5f",
          "#ffffff"],
        "circle-stroke-width": ["case",
          ["boolean", ["feature-state", "inZone"], false], 3.5,
          ["boolean", ["feature-state", "assigned"], false], 3.5, 1.5],
        "circle-opacity": 0.92,
      },
    }, firstSymbol);
    map.addLayer({
      id: "shelters-live-label", type: "symbol", source: "shelters-live", minzoom: 13,
      metadata: { "gridlink:layer": "shelters" },
      layout: {
        "text-field": ["concat", "空 ", ["to-string", ["get", "free"]], " / ", ["to-string", ["get", "capacity"]]],
        "text-font": ["DejaVu Sans Book"], "text-size": 11, "text-anchor": "bottom", "text-offset": [0, -1.1],
      },
      paint: { "text-color": "#1f3a5f", "text-halo-color": "#fff", "text-halo-width": 1.2 },
    });
    for (const id of shelterTiles) map.setLayoutProperty(id, "visibility", "none");
    controls.shelters = { replace: shelterTiles, with: ["shelters-live-circle", "shelters-live-label"] };
  }

  // Stations by their latest level, one style layer per station layer (so each panel switch
  // keeps its meaning).
  addSource(map, "stations-live", em.stations || EMPTY, { promoteId: "station" });
  for (const [layerId, colour] of Object.entries(STATION_COLOURS)) {
    const tiles = tileCircles(layerId);
    if (!tiles.length) continue;
    const styleId = `stations-live-${layerId}`;
    const level = ["coalesce", ["get", "level"], "none"];
    map.addLayer({
      id: styleId, type: "circle", source: "stations-live", minzoom: 8,
      filter: ["==", ["get", "layer"], layerId],
      metadata: { "gridlink:layer": layerId, "gridlink:legend": colour },
      paint: {
        "circle-color": ["match", level, "blue", LEVELS.blue.colour, "yellow", LEVELS.yellow.colour, "orange", LEVELS.orange.colour, "red", LEVELS.red.colour, "#ffffff"],
        "circle-radius": ["case", ["boolean", ["feature-state", "selected"], false], 12,
          ["interpolate", ["linear"], ["to-number", ["get", "level_rank"], 0], 0, 4.5, 4, 9]],
        "circle-stroke-color": ["case", ["boolean", ["feature-state", "selected"], false], "#000000", colour],
        "circle-stroke-width": ["case", ["boolean", ["feature-state", "selected"], false], 3, 2.5],
      },
    }, firstSymbol);
    for (const id of tiles) map.setLayoutProperty(id, "visibility", "none");
    controls[layerId] = { replace: tiles, with: [styleId] };
  }

  // Allocation lines, the wind arrow: on top.
  addSource(map, "em-alloc", em.data.alloc);
  map.addLayer({
    id: "em-alloc-line", type: "line", source: "em-alloc", filter: ["==", ["geometry-type"], "LineString"],
    layout: { "line-cap": "round" },
    paint: {
      "line-color": ["match", ["get", "route"], "around_zones", "#7a3e9d", "#1f3a5f"],
      "line-width": ["interpolate", ["linear"], ["to-number", ["get", "people"], 0], 0, 1.5, 5000, 4, 30000, 7],
      "line-opacity": 0.8,
    },
  });
  map.addLayer({
    id: "em-alloc-origin", type: "circle", source: "em-alloc", filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-color": "#ffffff", "circle-radius": 4, "circle-stroke-color": "#1f3a5f", "circle-stroke-width": 2 },
  });
  addSource(map, "em-wind", em.data.wind);
  map.addLayer({
    id: "em-wind-line", type: "line", source: "em-wind", filter: ["==", ["geometry-type"], "LineString"],
    layout: { "line-cap": "round" },
    paint: { "line-color": "#5b2c6f", "line-width": 3, "line-dasharray": [2, 1.5] },
  });
  map.addLayer({
    id: "em-wind-head", type: "fill", source: "em-wind", filter: ["==", ["geometry-type"], "Polygon"],
    paint: { "fill-color": "#5b2c6f", "fill-opacity": 0.9 },
  });
  applyShelterStates();
  selectStation(em.selectedStation, { fly: false });
  return controls;
}

function setData(id, data) {
  const source = em.map?.getSource(id);
  if (source) source.setData(data);
}

// Legends under the layer panel's rows of the replaced layers.
export function legendHtml(layerId) {
  if (layerId === "shelters" && em.map?.getLayer("shelters-live-circle")) {
    const totals = em.shelters?.totals;
    return `<div class="legend live-legend" data-legend="shelters">${FREE_CLASSES.map((c) => `<span><i style="background:${c.colour}"></i>${escapeHtml(c.name)}</span>`).join("")}
      ${totals ? `<span class="totals">开放场所空余 ${fmt(totals.free_in_open_shelters)} / 总容量 ${fmt(totals.capacity)}</span>` : ""}</div>`;
  }
  if (layerId === "weather_stations" && em.map?.getLayer("stations-live-weather_stations")) {
    return `<div class="legend live-legend" data-legend="stations">站点按最新读数预警等级：${Object.values(LEVELS).map((l) => `<span><i style="background:${l.colour}"></i>${l.name}</span>`).join("")}<span><i class="ring"></i>无预警</span></div>`;
  }
  return "";
}

function refreshLegend() {
  const old = $('#tab-layers [data-legend="shelters"]');
  if (old) old.outerHTML = legendHtml("shelters");
}

// ---------------------------------------------------------------------------------------------
// Popups of the live layers.

export function popupHtml(feature) {
  const layerId = feature.layer?.id || "";
  const p = feature.properties || {};
  const row = (k, v) => (v == null || v === "" ? "" : `<tr><td>${escapeHtml(k)}</td><td>${v}</td></tr>`);
  if (layerId === "shelters-live-circle") {
    return `<strong>应急避难场所</strong><table>
      ${row("名称", escapeHtml(p.name))}${row("编码", escapeHtml(p.code))}${row("类别", escapeHtml(`${p.class || ""} 类 · ${p.kind || ""}`))}
      ${row("状态", escapeHtml(p.status_name || p.status))}${row("容纳人数", fmt(p.capacity))}${row("已安置", fmt(p.occupancy))}
      ${row("空余", `<strong>${fmt(p.free)}</strong>（${Math.round((p.free_ratio || 0) * 100)}%）`)}
      ${row("更新", p.updated_time ? escapeHtml(fullTime(p.updated_time)) : "未上报（名录值）")}
      ${row("地址", escapeHtml(p.address))}${row("管理人", escapeHtml(`${p.manager || ""} ${p.phone || ""}`.trim()))}</table>`;
  }
  if (layerId.startsWith("stations-live-")) {
    const kinds = em.kinds || new Map();
    let readings = "";
    for (const [key, value] of Object.entries(p)) {
      if (!kinds.has(key)) continue;
      const k = kinds.get(key);
      const level = p[`${key}_level`];
      readings += row(k.title, `${escapeHtml(value)} ${escapeHtml(k.unit)} ${level ? levelBadge(level, LEVELS[level]?.name) : ""} <small>${escapeHtml(shortTime(p[`${key}_time`]))}</small>`);
    }
    return `<strong>${escapeHtml(p.name || p.station)}</strong><table>
      ${row("站点", escapeHtml(p.station))}${row("预警等级", p.level ? levelBadge(p.level) : "无")}
      ${readings || row("最新读数", "暂无")}</table>`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Live shelters and stations.

async function refreshShelters() {
  try {
    em.shelters = await getJson("/api/shelters");
    setData("shelters-live", em.shelters);
    window.gridlink.shelterLoads += 1;
    window.gridlink.shelters = em.shelters;
    refreshLegend();
  } catch (error) {
    console.warn("shelters", error);
  }
}

function scheduleShelterRefresh() {
  clearTimeout(em.shelterTimer);
  em.shelterTimer = setTimeout(refreshShelters, 250);
}

async function refreshStations() {
  try {
    em.stations = await getJson("/api/feeds/latest?format=geojson");
    setData("stations-live", em.stations);
    window.gridlink.stationLoads += 1;
    window.gridlink.stations = em.stations;
  } catch (error) {
    // A server without feeds (503): the tile layers' stations stay as they are.
    console.warn("stations", error);
  }
}

function scheduleStationRefresh() {
  clearTimeout(em.stationTimer);
  em.stationTimer = setTimeout(refreshStations, 250);
}

async function loadKinds() {
  try {
    const body = await getJson("/api/feeds/kinds");
    em.kinds = new Map(body.kinds.map((k) => [k.name, k]));
  } catch {
    em.kinds = new Map();
  }
}

// ---------------------------------------------------------------------------------------------
// The incident.

const samePlace = (a, b) => !!a && !!b && a.lon === b.lon && a.lat === b.lat && (a.hazard?.id || "") === (b.hazard?.id || "");

function setIncident(incident, { fly = false } = {}) {
  // A new place makes every answer about the old one wrong: the around report, the leak zone
  // and the allocation are cleared (drawings and lists), to be computed again for this place.
  const moved = em.incident && !samePlace(em.incident, incident) && hasResults();
  if (moved) clearResults();
  em.incident = incident;
  if (!em.marker) {
    em.marker = new maplibregl.Marker({ color: "#b03a2e", draggable: true }).setLngLat([incident.lon, incident.lat]).addTo(em.map);
    em.marker.getElement().classList.add("incident-marker");
    em.marker.on("dragend", () => {
      const { lng, lat } = em.marker.getLngLat();
      setIncident({ lon: lng, lat, hazard: null });
    });
  } else {
    em.marker.setLngLat([incident.lon, incident.lat]);
  }
  if (fly) em.map.flyTo({ center: [incident.lon, incident.lat], zoom: Math.max(em.map.getZoom(), 14) });
  const h = incident.hazard;
  $("#em-incident").dataset.lon = incident.lon;
  $("#em-incident").dataset.lat = incident.lat;
  $("#em-incident").dataset.hazard = h?.id || "";
  $("#em-incident").className = "";
  $("#em-incident").innerHTML = h
    ? `<strong>重大危险源：${escapeHtml(h.name)}</strong> <small>${escapeHtml(h.id)}</small><br><small>${escapeHtml(h.chemicals || "")}</small>`
    : `<strong>地图选点</strong> ${incident.lon.toFixed(6)}, ${incident.lat.toFixed(6)} <small id="em-place"></small>`;
  if ($("#em-hazard").value !== (h?.id || "")) $("#em-hazard").value = h?.id || "";
  renderHazardChemicals();
  if (!h) nameThePlace(incident);
  updateAllocOptions();
  if (moved) $("#em-incident").insertAdjacentHTML("beforeend", `<br><small class="warn" id="em-moved">事发地点已变更，原分析结果已清除，请重新计算。</small>`);
}

async function nameThePlace(incident) {
  try {
    const located = await getJson(`/api/locate?lon=${incident.lon}&lat=${incident.lat}`);
    if (em.incident !== incident) return;
    const place = $("#em-place");
    if (place) place.textContent = `· ${located.town?.name || ""} ${located.village?.name || ""}`;
  } catch (error) {
    if (em.incident !== incident) return;
    const place = $("#em-place");
    if (place) {
      place.textContent = `· ${error.message}`;
      place.classList.add("warn");
    }
  }
}

// A map click while the tab is open: a hazard source under the click becomes the incident,
// otherwise the point. Returns whether the click was taken.
export function pickAt(lngLat, features = []) {
  if (!isActive() || !$("#em-pick").checked) return false;
  const hazard = features.find((f) => f.sourceLayer === "hazard_sources");
  if (hazard) {
    const p = hazard.properties || {};
    const id = p.code || String(hazard.id);
    const known = em.hazards.find((f) => String(f.id) === id);
    const [lon, lat] = known?.geometry?.coordinates || hazard.geometry.coordinates;
    setIncident({ lon, lat, hazard: hazardInfo(known || { id, properties: p }) });
  } else {
    setIncident({ lon: lngLat.lng, lat: lngLat.lat, hazard: null });
  }
  return true;
}

function hazardInfo(feature) {
  const p = feature.properties || {};
  return {
    id: String(feature.id ?? p.code),
    name: p.name || String(feature.id),
    chemicals: p.chemicals || "",
    chemicalIds: String(p.chemical_ids || "").split(",").map((s) => s.trim()).filter(Boolean),
  };
}

async function loadHazards() {
  const select = $("#em-hazard");
  if (!auth.key) {
    em.hazards = [];
    em.hazardsLoaded = false;
    select.innerHTML = `<option value="">（需要工作人员密钥）</option>`;
    select.disabled = true;
    return;
  }
  try {
    const body = await getJson("/ogc/collections/hazard_sources/items?limit=1000");
    em.hazards = body.features.sort((a, b) => (a.properties.grade ?? 9) - (b.properties.grade ?? 9) || String(a.id).localeCompare(String(b.id)));
    em.hazardsLoaded = true;
    select.disabled = false;
    renderHazardOptions();
  } catch (error) {
    select.innerHTML = `<option value="">危险源加载失败：${escapeHtml(error.message)}</option>`;
  }
}

function renderHazardOptions() {
  const select = $("#em-hazard");
  const q = $("#em-hazard-filter").value.trim().toLowerCase();
  const shown = em.hazards.filter((f) => {
    if (!q) return true;
    const p = f.properties;
    return [f.id, p.name, p.enterprise, p.chemicals, p.address].some((v) => String(v || "").toLowerCase().includes(q));
  });
  const current = em.incident?.hazard?.id || "";
  select.innerHTML = `<option value="">— 选择重大危险源（${shown.length}/${em.hazards.length}）—</option>` +
    shown.map((f) => `<option value="${escapeHtml(f.id)}">${escapeHtml(f.properties.name)} · ${escapeHtml(f.properties.grade)} 级</option>`).join("");
  if (shown.some((f) => String(f.id) === current)) select.value = current;
}

function renderHazardChemicals() {
  const box = $("#em-hazard-chemicals");
  const ids = em.incident?.hazard?.chemicalIds || [];
  const known = (id) => em.chemicals.find((c) => c.id === id);
  box.innerHTML = ids.length
    ? `危险源的化学品：${ids.map((id) => `<button type="button" class="chip" data-chemical="${escapeHtml(id)}"${known(id) && !known(id).erg ? ` title="无 ERG 距离"` : ""}>${escapeHtml(known(id)?.name || id)}</button>`).join("")}`
    : "";
  if (ids.length && !ids.includes($("#em-chemical").value)) chooseChemical(ids.find((id) => known(id)?.erg) || ids[0]);
}

// ---------------------------------------------------------------------------------------------
// The chemical picker.

async function searchChemicals(q) {
  try {
    const body = await getJson(`/api/chemicals?limit=500${q ? `&q=${encodeURIComponent(q)}` : ""}`);
    em.chemicals = body.chemicals;
    const select = $("#em-chemical");
    const current = select.value;
    select.innerHTML = em.chemicals.length
      ? em.chemicals.map((c) => {
        const note = !c.erg ? "（无 ERG 距离，不能划区）" : c.erg.verified ? "" : "（距离未核实）";
        return `<option value="${escapeHtml(c.id)}"${c.erg ? "" : " disabled"}>${escapeHtml(c.name)} · ${escapeHtml(c.name_en)} · UN${escapeHtml(c.un)}${note}</option>`;
      }).join("")
      : `<option value="" disabled>无匹配的化学品</option>`;
    if (em.chemicals.some((c) => c.id === current && c.erg)) select.value = current;
    else if (!current || !em.chemicals.some((c) => c.id === current)) select.value = "";
    showChemical();
  } catch (error) {
    $("#em-chemical-info").innerHTML = `<span class="warn">${escapeHtml(error.message)}</span>`;
  }
}

async function chooseChemical(id) {
  const select = $("#em-chemical");
  if (![...select.options].some((o) => o.value === id)) {
    $("#em-chemical-search").value = "";
    await searchChemicals("");
  }
  select.value = id;
  showChemical();
}

function showChemical() {
  const c = em.chemicals.find((x) => x.id === $("#em-chemical").value);
  const info = $("#em-chemical-info");
  if (!c) {
    info.innerHTML = `<span class="hint">请选择化学品（可按中英文名、CAS 号、UN 号搜索）。</span>`;
    return;
  }
  info.innerHTML = `${escapeHtml(c.name)} · CAS ${escapeHtml(c.cas)} · UN${escapeHtml(c.un)} · ${escapeHtml(c.hazard_class)} 类` +
    (c.erg ? ` · ERG 指南 ${escapeHtml(c.erg.guide)} · ${c.erg.verified ? `<span class="ok">距离已核实</span>` : `<span class="warn">距离未核实</span>`}` : ` · <span class="warn">无 ERG 距离</span>`) +
    `<div id="em-responder"></div>`;
  if (c.responder?.length) showResponder(c.id);
}

// The responder record: what a handling unit needs at the leak, each line with its source
// (hover) so nobody mistakes a computed value for a card's.
const RESPONDER = [
  ["physical_state", "物态", (v) => ({ gas: "气体", liquefied_gas: "液化气体", liquid: "液体", solid: "固体" })[v] || v],
  ["vapour_density", "蒸气密度（空气=1）", (v) => `${v}${v > 1 ? "（比空气重，积聚低洼处）" : "（比空气轻）"}`],
  ["flash_point_c", "闪点", (v) => `${v} °C`],
  ["explosive_limits", "爆炸极限", (_, p) => `${p.lower_pct}–${p.upper_pct} %（体积）`],
  ["hazards", "主要危险", (v) => v],
  ["ppe", "防护装备", (v) => v],
  ["first_aid", "急救", (v) => v],
  ["fire_fighting", "灭火", (v) => v],
  ["spill", "泄漏处置（吸附/中和）", (v) => v],
];

async function showResponder(id) {
  let c;
  try {
    c = await getJson(`/api/chemicals/${encodeURIComponent(id)}`);
  } catch {
    return;
  }
  const box = $("#em-responder");
  if (!box || $("#em-chemical").value !== id || !c.responder) return;
  const rows = RESPONDER.filter(([key]) => c.responder[key]).map(([key, label, show]) => {
    const p = c.responder[key];
    return `<dt>${label}</dt><dd data-field="${key}" title="来源：${escapeHtml(p.source)}">${escapeHtml(String(show(p.value, p)))}</dd>`;
  });
  box.innerHTML = `<details class="responder" open><summary>处置要点（各项来源见悬停提示）</summary><dl>${rows.join("")}</dl></details>`;
}

// ---------------------------------------------------------------------------------------------
// The wind.

function showWind() {
  const deg = Number($("#em-wind-from").value);
  const valid = Number.isFinite(deg) && deg >= 0 && deg <= 360;
  const speed = Number($("#em-wind-speed").value);
  $("#em-compass-arrow").setAttribute("transform", `rotate(${valid ? deg + 180 : 0} 30 30)`);
  const model = !Number.isFinite(speed) ? "" : speed < 0.5 ? "calm" : speed < 2 ? "low_wind" : "steady";
  $("#em-wind-text").textContent = valid
    ? `${directionName(deg)}风：从${directionName(deg)}吹向${directionName(deg + 180)}，影响区在${directionName(deg + 180)}侧${model ? ` · ${WIND_MODELS[model]}` : ""}`
    : "风向为 0–360 度（风的来向，正北为 0，顺时针）";
}

function compassClick(event) {
  const svg = $("#em-compass");
  const r = svg.getBoundingClientRect();
  const dx = event.clientX - (r.left + r.width / 2);
  const dy = event.clientY - (r.top + r.height / 2);
  if (Math.hypot(dx, dy) < 3) return;
  let deg = (Math.atan2(dx, -dy) * 180) / Math.PI;
  deg = Math.round(((deg + 360) % 360) / 5) * 5 % 360;
  $("#em-wind-from").value = deg;
  showWind();
}

// ---------------------------------------------------------------------------------------------
// 周边.

async function runAround() {
  if (!needIncident()) return;
  const out = $("#em-result-around");
  const { lon, lat } = em.incident;
  const radius = Number($("#em-around-radius").value) || 1000;
  const token = ++em.aroundToken;
  delete out.dataset.ready;
  out.innerHTML = `<p class="hint">正在查询周边 ${metres(radius)}…</p>`;
  try {
    const report = await getJson(`/api/around?lon=${lon}&lat=${lat}&radius=${radius}`);
    if (token !== em.aroundToken) return;
    window.gridlink.lastEmergencyAround = report;
    out.innerHTML = "";
    em.ctx.renderAround(report, out);
    out.dataset.ready = "1";
  } catch (error) {
    if (token === em.aroundToken) out.innerHTML = `<p class="warn">${escapeHtml(error.message)}</p>`;
  }
}

function needIncident() {
  if (em.incident) return true;
  toast("请先在地图上点选事发地点，或选择重大危险源", "error");
  $("#em-incident").className = "warn";
  return false;
}

// ---------------------------------------------------------------------------------------------
// 泄漏影响区.

function zoneRequest() {
  const body = {
    chemical: $("#em-chemical").value || undefined,
    spill: $('input[name="em-spill"]:checked').value,
    time: $('input[name="em-time"]:checked').value,
    wind_from_deg: Number($("#em-wind-from").value),
    wind_speed_ms: Number($("#em-wind-speed").value),
  };
  if (em.incident.hazard) body.hazard_source = em.incident.hazard.id;
  else Object.assign(body, { lon: em.incident.lon, lat: em.incident.lat });
  return body;
}

async function runZone() {
  if (!needIncident()) return;
  const out = $("#em-result-zone");
  delete out.dataset.ready;
  if (!auth.key) {
    out.innerHTML = `<p class="warn">泄漏影响区分析需要工作人员密钥（在"案件"页填写）。</p>`;
    return;
  }
  const body = zoneRequest();
  const problem = !body.chemical && !body.hazard_source ? "请选择化学品。"
    : !(body.wind_from_deg >= 0 && body.wind_from_deg <= 360) ? "风向须为 0–360 度。"
      : !(body.wind_speed_ms >= 0 && body.wind_speed_ms <= 75) ? "风速须为 0–75 米/秒。" : null;
  if (problem) {
    out.innerHTML = `<p class="warn">${problem}</p>`;
    return;
  }
  const token = ++em.zoneToken;
  $("#em-run-zone").disabled = true;
  out.innerHTML = `<p class="hint">正在计算泄漏影响区…</p>`;
  try {
    const { body: answer } = await api("/api/hazmat/zone", { method: "POST", body });
    if (token !== em.zoneToken) return;
    em.zone = answer;
    window.gridlink.lastHazmat = answer;
    window.gridlink.lastHazmatRequest = body;
    drawZone(answer);
    renderZone(answer);
    updateAllocOptions();
    out.dataset.ready = "1";
    out.scrollIntoView({ block: "start", behavior: "smooth" });
  } catch (error) {
    if (token !== em.zoneToken) return;
    out.innerHTML = `<p class="warn">${escapeHtml(error.message)}${error.field ? `（${escapeHtml(error.field)}）` : ""}</p>`;
  } finally {
    $("#em-run-zone").disabled = false;
  }
}

// A point `metres` away from [lon, lat] towards `bearing` degrees (spherical Earth).
function destination([lon, lat], bearing, metres) {
  const R = 6371008.8;
  const d = metres / R;
  const b = (bearing * Math.PI) / 180;
  const f1 = (lat * Math.PI) / 180;
  const l1 = (lon * Math.PI) / 180;
  const f2 = Math.asin(Math.sin(f1) * Math.cos(d) + Math.cos(f1) * Math.sin(d) * Math.cos(b));
  const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(f1), Math.cos(d) - Math.sin(f1) * Math.sin(f2));
  return [(l2 * 180) / Math.PI, (f2 * 180) / Math.PI];
}

function windArrow(answer) {
  if (answer.wind.model === "calm") return EMPTY;
  const start = [answer.incident.lon, answer.incident.lat];
  const to = (answer.wind.from_deg + 180) % 360;
  const length = Math.max(answer.distances.protective_action_m || 0, answer.distances.isolation_m * 2) * 0.9;
  const tip = destination(start, to, length);
  const headLength = Math.min(length * 0.08, 400);
  const base = destination(start, to, length - headLength);
  const left = destination(base, to - 90, headLength * 0.55);
  const right = destination(base, to + 90, headLength * 0.55);
  return {
    type: "FeatureCollection",
    features: [
      { type: "Feature", properties: { part: "shaft" }, geometry: { type: "LineString", coordinates: [start, base] } },
      { type: "Feature", properties: { part: "head" }, geometry: { type: "Polygon", coordinates: [[tip, left, right, tip]] } },
    ],
  };
}

function drawZone(answer) {
  em.data.zones = answer.zones;
  em.data.wind = windArrow(answer);
  setData("em-zones", em.data.zones);
  setData("em-wind", em.data.wind);
  applyShelterStates();
  em.marker?.setLngLat([answer.incident.lon, answer.incident.lat]);
  const bounds = new maplibregl.LngLatBounds();
  for (const f of answer.zones.features) {
    const rings = f.geometry.type === "Polygon" ? f.geometry.coordinates : f.geometry.coordinates.flat();
    for (const ring of rings) for (const c of ring) bounds.extend(c);
  }
  if (!bounds.isEmpty()) em.map.fitBounds(bounds, { padding: 40, maxZoom: 15, duration: 600 });
}

function listCard(id, title, group, item, { empty = "无", open = true } = {}) {
  if (!group) return "";
  const features = group.features || [];
  const more = group.truncated ? `<p class="hint">共 ${fmt(group.total)} 处，列出最近的 ${fmt(group.count)} 处。</p>` : "";
  return `<details class="card list-card" ${open ? "open" : ""}><summary><h3>${title}</h3></summary>
    ${features.length ? `<ul class="em-list" id="${id}">${features.map(item).join("")}</ul>${more}` : `<p class="hint" id="${id}-empty">${empty}</p>`}</details>`;
}

function renderZone(a) {
  const d = a.distances;
  const e = a.exposure || {};
  const spill = a.spill === "large" ? "大量泄漏" : "少量泄漏";
  const time = a.time === "night" ? "夜间" : "白天";
  const where = a.incident.hazard_source
    ? `${escapeHtml(a.incident.hazard_source.name)}（${escapeHtml(a.incident.hazard_source.id)}）`
    : `${a.incident.lon.toFixed(5)}, ${a.incident.lat.toFixed(5)}`;
  const loc = a.incident.location || {};
  const verified = a.verified && d.verified;
  const warning = verified
    ? `<p class="ok verified" data-verified="true">✔ 距离数据已核实</p>`
    : `<div class="unverified" data-verified="false"><strong>⚠ 距离数据未经核实</strong>：${escapeHtml(a.chemical.name)} 的 ERG 距离尚未与原始资料逐项核对，划定的区域仅供参考，须以现场监测和专家意见为准。</div>`;
  const targets = e.protected_targets;
  const villages = e.villages;
  const cells = e.grid_cells;
  let html = `<div class="card zone-summary">
      <h3>${escapeHtml(a.chemical.name)} · ${spill} · ${time}</h3>
      <p class="place">事发：${where}<br><small>${escapeHtml([loc.town?.name, loc.village?.name, loc.cell?.id].filter(Boolean).join(" · "))}</small></p>
      ${warning}
      <dl>
        <dt><i class="zone-swatch" style="background:${ZONE_STYLE.isolation.fill}"></i>初始隔离距离</dt><dd data-distance="isolation" data-m="${escapeHtml(d.isolation_m)}">${metres(d.isolation_m)}（四周）</dd>
        <dt><i class="zone-swatch" style="background:${ZONE_STYLE.protective_action.fill}"></i>防护行动距离</dt><dd data-distance="protective" data-m="${escapeHtml(d.protective_action_m ?? "")}">${d.protective_action_m != null ? `${metres(d.protective_action_m)}（下风向）` : (a.spill === "large" ? "无（指南对此物质未给下风向距离，须按现场情况向下风向扩大隔离）" : "无（少量泄漏，指南未给下风向距离）")}</dd>
        <dt>风</dt><dd>${escapeHtml(directionName(a.wind.from_deg))}风 ${escapeHtml(a.wind.from_deg)}° · ${escapeHtml(a.wind.speed_ms)} 米/秒 · ${escapeHtml(WIND_MODELS[a.wind.model] || a.wind.model)}</dd>
        <dt>依据</dt><dd>ERG 指南 ${escapeHtml(d.guide)} · ${escapeHtml(d.basis === "table1" ? "表 1（初始隔离和防护行动距离）" : d.basis === "guide" ? "橙色指南（建议疏散距离）" : d.basis)}<br><small class="source">${escapeHtml(d.source)}</small></dd>
      </dl>
      <div class="counts">
        ${targets ? `<span>防护目标 <b>${fmt(targets.total)}</b> 处 · ${fmt(targets.people)} 人</span>` : ""}
        ${villages ? `<span>村居 <b>${fmt(villages.total)}</b> 个 · 人口 ${fmt(villages.people)}</span>` : ""}
        ${cells ? `<span>单元网格 <b>${fmt(cells.count)}</b> 个（隔离区 ${fmt(cells.in_isolation)}）</span>` : ""}
        ${e.cameras ? `<span>视频监控 <b>${fmt(e.cameras.total)}</b> 路</span>` : ""}
        ${e.hazard_sources ? `<span>其他危险源 <b>${fmt(e.hazard_sources.total)}</b> 处</span>` : ""}
      </div>
      ${a.notes?.length ? `<details class="notes"><summary>说明</summary><ul>${a.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul></details>` : ""}
      ${a.withheld?.length ? `<p class="hint">部分图层仅对工作人员开放：${escapeHtml(a.withheld.join("、"))}</p>` : ""}
    </div>`;
  const fly = (layer, f) => `data-layer="${escapeHtml(layer)}" data-id="${escapeHtml(f.id)}"`;
  html += listCard("em-targets", `受影响的防护目标（${fmt(targets?.total ?? 0)} 处，${fmt(targets?.people ?? 0)} 人）`, targets, (f) =>
    `<li ${fly("protected_targets", f)}><b>${escapeHtml(f.name || f.id)}</b> · ${escapeHtml(f.properties?.kind || "")} · <span class="num">${fmt(f.properties?.headcount)}</span> 人 · ${metres(f.distance_m)}${zoneTags(f.zones)}</li>`,
  { empty: "区内没有防护目标。" });
  html += listCard("em-villages", `涉及村居（${fmt(villages?.total ?? 0)} 个，人口 ${fmt(villages?.people ?? 0)}）`, villages, (f) =>
    `<li ${fly("villages", f)}><b>${escapeHtml(f.name || f.id)}</b> · 人口 <span class="num">${fmt(f.properties?.population)}</span>${f.properties?.town_name ? ` · ${escapeHtml(f.properties.town_name)}` : ""}${zoneTags(f.zones)}</li>`,
  { open: false });
  html += listCard("em-unsafe-shelters", `不得使用的避难场所（${fmt(e.shelters_in_zones?.total ?? 0)} 处）`, e.shelters_in_zones, (f) =>
    `<li ${fly("shelters", f)} class="unsafe">${shelterLabel(f)} · 可容纳 ${fmt(f.free_capacity)} · ${metres(f.distance_m)}${zoneTags(f.zones)}</li>`,
  { empty: "区内没有避难场所。" });
  const safe = a.safe_shelters || [];
  html += `<details class="card list-card" open><summary><h3>就近安全避难场所（区外，开放且有空位）</h3></summary>${safe.length
    ? `<ul class="em-list" id="em-safe-shelters">${safe.map((f) => `<li ${fly("shelters", f)}>${shelterLabel(f)} · 空余 ${fmt(f.free_capacity)} · ${metres(f.distance_m)} · 方位 ${escapeHtml(directionName(f.bearing_deg))}${f.upwind ? `<span class="tag upwind">上风向</span>` : `<span class="tag">非上风向</span>`}</li>`).join("")}</ul>`
    : `<p class="warn">附近没有区外开放且有空位的避难场所。</p>`}</details>`;
  if (e.hazard_sources?.features?.length) {
    html += listCard("em-zone-hazards", `区内其他重大危险源（${fmt(e.hazard_sources.total)} 处）`, e.hazard_sources, (f) =>
      `<li ${fly("hazard_sources", f)}><b>${escapeHtml(f.name || f.id)}</b> · ${escapeHtml(f.properties?.grade)} 级 · ${metres(f.distance_m)}${zoneTags(f.zones)}</li>`);
  }
  $("#em-result-zone").innerHTML = html;
}

// Shelters inside the zones get a black ring, assigned ones a blue ring.
function applyShelterStates() {
  const map = em.map;
  if (!map?.getSource("shelters-live")) return;
  map.removeFeatureState({ source: "shelters-live" });
  for (const f of em.zone?.exposure?.shelters_in_zones?.features || []) {
    if (em.data.zones.features.length) map.setFeatureState({ source: "shelters-live", id: f.id }, { inZone: true });
  }
  for (const a of em.alloc?.answer?.assignments || []) {
    if (em.data.alloc.features.length) map.setFeatureState({ source: "shelters-live", id: a.shelter }, { assigned: true });
  }
}

// A list item → fly to the feature (OGC API item, with the key for staff layers).
async function flyToListed(li) {
  try {
    const f = await getJson(`/ogc/collections/${encodeURIComponent(li.dataset.layer)}/items/${encodeURIComponent(li.dataset.id)}`);
    const bounds = new maplibregl.LngLatBounds();
    const walk = (c) => (typeof c[0] === "number" ? bounds.extend(c) : c.forEach(walk));
    walk(f.geometry.coordinates);
    if (f.geometry.type === "Point") em.map.flyTo({ center: f.geometry.coordinates, zoom: Math.max(em.map.getZoom(), 16) });
    else em.map.fitBounds(bounds, { padding: 60, maxZoom: 16 });
    $$(".em-list li.selected").forEach((x) => x.classList.remove("selected"));
    li.classList.add("selected");
  } catch (error) {
    toast(`无法定位：${error.message}`, "error");
  }
}

// ---------------------------------------------------------------------------------------------
// 安置疏散.

function updateAllocOptions() {
  const hasZone = !!em.zone?.zones?.features?.some((f) => f.properties.zone === "protective_action");
  const zoneRadio = $('input[name="em-alloc-source"][value="zone"]');
  zoneRadio.disabled = !hasZone;
  $("#em-alloc-zone-label").classList.toggle("disabled", !hasZone);
  if (!hasZone && zoneRadio.checked) $('input[name="em-alloc-source"][value="people"]').checked = true;
  $("#em-alloc-exclude").disabled = !em.zone;
  $("#em-alloc-exclude-label").classList.toggle("disabled", !em.zone);
  const byPeople = $('input[name="em-alloc-source"]:checked').value === "people";
  $("#em-alloc-people").disabled = !byPeople;
  $("#em-alloc-scope").disabled = byPeople;
  $("#em-alloc-commit").hidden = true;
}

function allocRequest() {
  const body = {};
  if ($('input[name="em-alloc-source"]:checked').value === "zone") {
    body.area = em.zone.zones.features.find((f) => f.properties.zone === "protective_action").geometry;
    body.scope = $("#em-alloc-scope").value;
  } else {
    body.lon = em.incident.lon;
    body.lat = em.incident.lat;
    body.people = Number($("#em-alloc-people").value);
  }
  if (em.zone && $("#em-alloc-exclude").checked) body.exclude = em.zone.zones;
  const detour = Number($("#em-alloc-detour").value);
  if (detour && detour !== 1.3) body.detour_factor = detour;
  const max = Number($("#em-alloc-max").value);
  if (max > 0) body.max_distance_m = max;
  return body;
}

async function runAllocation({ commit = false } = {}) {
  const out = $("#em-result-alloc");
  const byZone = $('input[name="em-alloc-source"]:checked').value === "zone";
  if (!byZone && !needIncident()) return;
  let body;
  if (commit) {
    body = { ...em.alloc.request, commit: true };
  } else {
    body = allocRequest();
    if (!byZone && !(Number.isInteger(body.people) && body.people >= 1)) {
      out.innerHTML = `<p class="warn">请填写需安置的人数（正整数）。</p>`;
      return;
    }
  }
  delete out.dataset.ready;
  const token = ++em.allocToken;
  $("#em-run-alloc").disabled = true;
  $("#em-alloc-commit").disabled = true;
  if (!commit) out.innerHTML = `<p class="hint">正在计算安置方案…</p>`;
  try {
    const { body: answer } = await api("/api/shelters/allocate", { method: "POST", body });
    if (token !== em.allocToken) return;
    em.alloc = { request: { ...body, commit: undefined }, answer };
    window.gridlink.lastAllocation = answer;
    window.gridlink.lastAllocationRequest = body;
    drawAllocation(answer);
    renderAllocation(answer);
    out.dataset.ready = "1";
    if (!commit) out.scrollIntoView({ block: "start", behavior: "smooth" });
    $("#em-alloc-commit").hidden = answer.committed || !auth.key || !answer.placed;
    if (answer.committed) {
      toast(`已登记安置 ${fmt(answer.placed)} 人`);
      scheduleShelterRefresh();
    }
  } catch (error) {
    if (token !== em.allocToken) return;
    out.innerHTML = `<p class="warn">${escapeHtml(error.message)}${error.field ? `（${escapeHtml(error.field)}）` : ""}</p>`;
  } finally {
    $("#em-run-alloc").disabled = false;
    $("#em-alloc-commit").disabled = false;
  }
}

function drawAllocation(answer) {
  const features = [];
  for (const g of answer.groups) {
    features.push({ type: "Feature", properties: { group: g.group, people: g.people, name: g.village?.name || "事发地点" }, geometry: { type: "Point", coordinates: [g.origin.lon, g.origin.lat] } });
  }
  // Each assignment's path exactly as the server computed it: straight, or round the zones.
  for (const a of answer.assignments) {
    if (a.path?.type !== "LineString") continue;
    features.push({
      type: "Feature",
      properties: { shelter: a.shelter, name: a.name, people: a.people, group: a.group, route: a.route },
      geometry: a.path,
    });
  }
  em.data.alloc = { type: "FeatureCollection", features };
  setData("em-alloc", em.data.alloc);
  applyShelterStates();
  const bounds = new maplibregl.LngLatBounds();
  for (const f of features) {
    if (f.geometry.type === "Point") bounds.extend(f.geometry.coordinates);
    else f.geometry.coordinates.forEach((c) => bounds.extend(c));
  }
  for (const f of em.data.zones.features) f.geometry.coordinates.flat().forEach((c) => bounds.extend(c));
  if (!bounds.isEmpty()) em.map.fitBounds(bounds, { padding: 40, maxZoom: 15, duration: 600 });
}

function renderAllocation(a) {
  const groups = a.groups || [];
  const groupName = (n) => groups[n]?.village?.name || (groups.length === 1 ? "事发地点" : `第 ${n + 1} 组`);
  const basis = { request: "按填写人数", grid_cells: "按区内单元网格人口", villages_pro_rata: "按村居人口比例", whole_villages: "按整村人口" }[a.basis] || a.basis;
  const unplacedGroups = groups.filter((g) => g.unplaced > 0);
  const around = a.assignments.filter((x) => x.route === "around_zones").length;
  const leaving = groups.filter((g) => g.in_zones?.length).length;
  let html = `<div class="card alloc-summary">
      <h3>${a.committed ? "安置已登记" : "安置方案（未登记）"}</h3>
      <div class="counts">
        <span>需安置 <b id="em-alloc-people-total">${fmt(a.people)}</b> 人</span>
        <span class="ok">已安排 <b id="em-alloc-placed">${fmt(a.placed)}</b> 人</span>
        <span class="${a.unplaced ? "warn" : ""}">未能安置 <b id="em-alloc-unplaced">${fmt(a.unplaced)}</b> 人</span>
      </div>
      <p class="hint">${escapeHtml(basis)}${groups.length > 1 ? `，${groups.length} 个村居` : ""}；可用场所 ${fmt(a.usable_shelters)} 处、空位 ${fmt(a.usable_free)}；步行距离 = 路径长度 × ${escapeHtml(a.detour_factor)}（路径为直线，或绕开排除区域的最短路径；未按路网计算）${a.max_distance_m ? `，最远 ${metres(a.max_distance_m)}` : ""}。${around ? `<span id="em-alloc-around">${fmt(around)} 条路线绕开排除区域（紫色）。</span>` : ""}${leaving ? `${fmt(leaving)} 组起点位于排除区域内，先径直撤出，不再进入任何排除区域。` : ""}</p>
      ${a.unplaced ? `<p class="warn">⚠ 有 ${fmt(a.unplaced)} 人无处安置：需开放更多场所、放宽步行距离或跨区转移。</p>` : ""}
    </div>`;
  html += `<div class="card"><h3>分配（${fmt(a.assignments.length)} 项）</h3>${a.assignments.length
    ? `<div class="table-wrap"><table id="em-assignments" class="em-table"><thead><tr><th>避难场所</th><th>来自</th><th class="num">人数</th><th class="num">步行</th><th class="num">剩余空位</th></tr></thead><tbody>
      ${a.assignments.map((x) => `<tr data-shelter="${escapeHtml(x.shelter)}" data-layer="shelters" data-id="${escapeHtml(x.shelter)}" data-route="${escapeHtml(x.route)}"><td>${shelterLabel(x)}</td><td>${escapeHtml(groupName(x.group))}</td><td class="num">${fmt(x.people)}</td><td class="num">${metres(x.walking_m)}${x.route === "around_zones" ? "<br><small>绕行</small>" : ""}</td><td class="num">${fmt(x.free_after)}</td></tr>`).join("")}
      </tbody></table></div>`
    : `<p class="warn">没有可用的避难场所。</p>`}</div>`;
  if (unplacedGroups.length) {
    html += `<details class="card list-card" open><summary><h3>未能安置（${fmt(unplacedGroups.length)} 组，${fmt(a.unplaced)} 人）</h3></summary>
      <ul class="em-list" id="em-unplaced">${unplacedGroups.map((g) => `<li class="unsafe"${g.village ? ` data-layer="villages" data-id="${escapeHtml(g.village.id)}"` : ""}><b>${escapeHtml(g.village?.name || "事发地点")}</b> · 未安置 <span class="num">${fmt(g.unplaced)}</span> / ${fmt(g.people)} 人</li>`).join("")}</ul></details>`;
  }
  if (a.skipped?.length) {
    html += `<details class="card list-card"><summary><h3>跳过的避难场所（${fmt(a.skipped.length)} 处）</h3></summary>
      <ul class="em-list" id="em-skipped">${a.skipped.map((s) => `<li data-layer="shelters" data-id="${escapeHtml(s.shelter)}">${shelterLabel(s)} · ${escapeHtml(SKIP_REASONS[s.reason] || s.reason)}${s.zone ? `（${escapeHtml(ZONE_STYLE[s.zone]?.name || s.zone)}）` : ""} · ${metres(s.distance_m)}</li>`).join("")}</ul></details>`;
  }
  if (a.blocked?.length) {
    html += `<details class="card list-card" open><summary><h3>无法安全到达（${fmt(a.blocked_total ?? a.blocked.length)} 对）</h3></summary>
      <ul class="em-list" id="em-blocked">${a.blocked.map((b) => `<li class="unsafe" data-layer="shelters" data-id="${escapeHtml(b.shelter)}" data-reason="${escapeHtml(b.reason)}">${escapeHtml(groupName(b.group))} → ${shelterLabel(b)} · ${escapeHtml(BLOCK_REASONS[b.reason] || b.reason)}${b.zones?.length ? `（直线穿越${escapeHtml(b.zones.map((z) => ZONE_STYLE[z]?.name || z).join("、"))}）` : ""} · 直线 ${metres(b.distance_m)}${b.walking_m != null ? ` · 绕行步行 ${metres(b.walking_m)}` : ""}</li>`).join("")}</ul>
      ${(a.blocked_total ?? 0) > a.blocked.length ? `<p class="hint">仅列出最近的 ${fmt(a.blocked.length)} 对。</p>` : ""}</details>`;
  }
  $("#em-result-alloc").innerHTML = html;
}

// ---------------------------------------------------------------------------------------------
// 清除.

function hasResults() {
  return !!(em.zone || em.alloc || ["#em-result-around", "#em-result-zone", "#em-result-alloc"].some((id) => $(id).innerHTML.trim()));
}

// Every answer about the incident (around report, leak zone, allocation) off the panel and the
// map; requests still under way are dropped when they come back. The incident itself stays.
function clearResults() {
  em.zoneToken += 1;
  em.allocToken += 1;
  em.aroundToken += 1;
  em.zone = null;
  em.alloc = null;
  em.data = { zones: EMPTY, wind: EMPTY, alloc: EMPTY };
  setData("em-zones", EMPTY);
  setData("em-wind", EMPTY);
  setData("em-alloc", EMPTY);
  applyShelterStates();
  window.gridlink.lastHazmat = null;
  window.gridlink.lastAllocation = null;
  window.gridlink.lastEmergencyAround = null;
  for (const id of ["#em-result-around", "#em-result-zone", "#em-result-alloc"]) {
    $(id).innerHTML = "";
    delete $(id).dataset.ready;
  }
  updateAllocOptions();
}

export function clearDrawings() {
  clearResults();
  em.marker?.remove();
  em.marker = null;
  em.incident = null;
  $("#em-hazard").value = "";
  $("#em-hazard-chemicals").innerHTML = "";
  $("#em-incident").className = "hint";
  $("#em-incident").innerHTML = "尚未选择：点击地图选点（点在危险源上即选该危险源），或从下方列表选择重大危险源。";
  for (const k of ["lon", "lat", "hazard"]) delete $("#em-incident").dataset[k];
  updateAllocOptions();
}

// ---------------------------------------------------------------------------------------------
// Alerts.

function alertHtml(alert) {
  const villages = alert.villages || [];
  const people = villages.reduce((sum, v) => sum + (v.population || 0), 0);
  const floods = alert.flood_points || [];
  return `<li class="alert-item" data-alert-id="${alert.id}" data-station="${escapeHtml(alert.station)}" data-level="${escapeHtml(alert.level)}" tabindex="0" title="在地图上定位站点">
      <div>${levelBadge(alert.level, `${alert.level_name || LEVELS[alert.level]?.name || alert.level}`)} <b>${escapeHtml(alert.station_name || alert.station)}</b>
        <small>${escapeHtml(shortTime(alert.reading_time || alert.raised_time))}</small></div>
      <div>${escapeHtml(alert.kind_title || alert.kind)} <b>${escapeHtml(alert.value)}</b> ${escapeHtml(alert.unit)}（阈值 ${escapeHtml(alert.threshold)} ${escapeHtml(alert.unit)}）</div>
      <div class="nearby">附近 2 公里：易涝点 <b data-flood-points="${floods.length}">${floods.length}</b> 处 · 村居 <b data-villages="${villages.length}">${villages.length}</b> 个（人口 ${fmt(people)}）${floods.length ? `<br><small>${escapeHtml(floods.slice(0, 3).map((f) => `${f.name || f.id} ${metres(f.distance_m)}`).join("、"))}</small>` : ""}</div>
    </li>`;
}

function renderAlerts() {
  const list = [...em.alerts.values()].sort((a, b) => (b.level_rank ?? rank(b.level)) - (a.level_rank ?? rank(a.level)) || b.raised_at - a.raised_at);
  $("#em-alerts").innerHTML = list.map(alertHtml).join("");
  $("#em-alerts-empty").hidden = list.length > 0 || !auth.key;
  $("#em-alerts-count").textContent = list.length ? `（${list.length}）` : "";
  const tab = $('#panel nav button[data-tab="emergency"]');
  const top = list[0]?.level;
  tab.dataset.alerts = list.length;
  tab.innerHTML = list.length ? `应急 <span class="dot" style="background:${LEVELS[top]?.colour || "#e00"}">${list.length}</span>` : "应急";
}

const rank = (level) => Object.keys(LEVELS).indexOf(level) + 1;

async function loadAlerts() {
  const token = ++em.alertsToken;
  if (!auth.key) {
    em.alerts.clear();
    window.gridlink.alertsLoaded = false;
    $("#em-alerts-hint").textContent = "实时预警需要工作人员密钥（在\"案件\"页填写）。";
    renderAlerts();
    return;
  }
  try {
    const body = await getJson("/api/alerts?active=true&limit=200");
    if (token !== em.alertsToken) return;
    em.alerts = new Map(body.alerts.map((a) => [a.id, a]));
    $("#em-alerts-hint").textContent = body.total > body.alerts.length ? `共 ${body.total} 条，显示最新 ${body.alerts.length} 条。` : "";
    window.gridlink.alertsLoaded = true;
    renderAlerts();
  } catch (error) {
    $("#em-alerts-hint").textContent = `预警加载失败：${error.message}`;
  }
}

function onAlert(event) {
  window.gridlink.alertEvents += 1;
  window.gridlink.lastAlertEvent = event;
  scheduleStationRefresh();
  if (event.change === "raised") {
    em.alerts.set(event.id, event);
    renderAlerts();
    const item = $(`#em-alerts [data-alert-id="${event.id}"]`);
    item?.classList.add("flash");
    setTimeout(() => item?.classList.remove("flash"), 2500);
    toast(`${LEVELS[event.level]?.name || event.level}预警 · ${event.station_name || event.station} · ${event.kind_title || event.kind} ${event.value} ${event.unit}`,
      event.level === "orange" || event.level === "red" ? "error" : "info");
  } else if (event.change === "ended") {
    if (em.alerts.delete(event.id)) renderAlerts();
  }
}

function selectStation(stationId, { fly = true } = {}) {
  const map = em.map;
  if (!map?.getSource("stations-live")) return;
  if (em.selectedStation && em.selectedStation !== stationId) map.removeFeatureState({ source: "stations-live", id: em.selectedStation }, "selected");
  em.selectedStation = stationId;
  if (!stationId) return;
  map.setFeatureState({ source: "stations-live", id: stationId }, { selected: true });
  if (fly) {
    const alert = [...em.alerts.values()].find((a) => a.station === stationId);
    const feature = em.stations?.features.find((f) => f.properties.station === stationId);
    const at = alert ? [alert.lon, alert.lat] : feature?.geometry.coordinates;
    if (at) map.flyTo({ center: at, zoom: Math.max(map.getZoom(), 14) });
  }
}

// ---------------------------------------------------------------------------------------------

// The key changed (set, replaced or cleared): staff-only parts reload.
export function onKeyChange() {
  // Without a key the staff-only answers (targets, hazard sources) leave the page.
  if (!auth.key && em.zone) clearDrawings();
  loadHazards();
  loadAlerts();
  $("#em-keyhint").hidden = !!auth.key;
  refreshShelters();
}

export function initEmergency(map, ctx) {
  em.map = map;
  em.ctx = ctx;
  $("#em-keyhint").hidden = !!auth.key;
  $("#em-hazard-filter").addEventListener("input", renderHazardOptions);
  $("#em-hazard").addEventListener("change", () => {
    const f = em.hazards.find((x) => String(x.id) === $("#em-hazard").value);
    if (!f) return;
    const [lon, lat] = f.geometry.coordinates;
    $("#em-chemical").value = "";
    setIncident({ lon, lat, hazard: hazardInfo(f) }, { fly: true });
  });
  $("#em-hazard-chemicals").addEventListener("click", (event) => {
    const b = event.target.closest("[data-chemical]");
    if (b) chooseChemical(b.dataset.chemical);
  });
  let timer = null;
  $("#em-chemical-search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => searchChemicals($("#em-chemical-search").value.trim()), 200);
  });
  $("#em-chemical").addEventListener("change", showChemical);
  $("#em-wind-from").addEventListener("input", showWind);
  $("#em-wind-speed").addEventListener("input", showWind);
  $("#em-compass").addEventListener("click", compassClick);
  $$("#em-modes button").forEach((b) => b.addEventListener("click", () => showMode(b.dataset.mode)));
  $("#em-run-around").addEventListener("click", runAround);
  $("#em-run-zone").addEventListener("click", runZone);
  $("#em-run-alloc").addEventListener("click", () => runAllocation());
  $("#em-alloc-commit").addEventListener("click", () => {
    if (!em.alloc) return;
    if (window.confirm(`将按方案把 ${fmt(em.alloc.answer.placed)} 人登记入各避难场所（占用空位），确认？`)) runAllocation({ commit: true });
  });
  $$('input[name="em-alloc-source"]').forEach((r) => r.addEventListener("change", updateAllocOptions));
  $("#em-clear").addEventListener("click", clearDrawings);
  $("#em-result-zone").addEventListener("click", (event) => {
    const li = event.target.closest("li[data-layer]");
    if (li) flyToListed(li);
  });
  $("#em-result-alloc").addEventListener("click", (event) => {
    const li = event.target.closest("[data-layer][data-id]");
    if (li) flyToListed(li);
  });
  const alertClick = (event) => {
    const li = event.target.closest("li[data-station]");
    if (!li) return;
    $$("#em-alerts li.selected").forEach((x) => x.classList.remove("selected"));
    li.classList.add("selected");
    selectStation(li.dataset.station);
  };
  $("#em-alerts").addEventListener("click", alertClick);
  $("#em-alerts").addEventListener("keydown", (event) => {
    if (event.key === "Enter") alertClick(event);
  });
  showWind();
  showMode("zone");
  clearDrawings();
  searchChemicals("");
  loadKinds();

  onStream("alert", onAlert);
  onStream("shelter", () => {
    window.gridlink.shelterEvents += 1;
    scheduleShelterRefresh();
  });
  // (Re)connected or lagged: what may have been missed is loaded again.
  onStream("ready", () => {
    loadAlerts();
    scheduleShelterRefresh();
    scheduleStationRefresh();
  });
  onStream("lagged", () => {
    loadAlerts();
    scheduleShelterRefresh();
    scheduleStationRefresh();
  });
  refreshShelters();
  refreshStations();
  setInterval(refreshStations, STATION_REFRESH_MS);
  // Without a key there is no stream: the shelters are polled with the stations.
  setInterval(() => {
    if (window.gridlink.streamState !== "live") refreshShelters();
  }, STATION_REFRESH_MS);
  loadHazards();
  loadAlerts();
}

function showMode(mode) {
  $$("#em-modes button").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
  for (const m of ["around", "zone", "alloc"]) $(`#em-form-${m}`).hidden = m !== mode;
}

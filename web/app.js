// The district electronic map: MapLibre with gridlink's style, a layer panel built from the
// catalogue (/api/layers) with legends read from the style, feature popups with Chinese field
// names and values, search (a marker on the result, the found feature highlighted), "my
// location", and a click that locates the point and reports what is around it; view.js keeps
// all of it above a phone's panel. The case panel (cases.js), the emergency tab with the live
// shelter, station and alert layers (emergency.js) and the appraisal view (appraisal.js) share
// the page; with a staff key set, every same-origin /api/, /tiles/ and /styles/ request
// carries it, so staff layers and the live case layer appear.

import { auth, needsKey, getJson, escapeHtml, $ } from "./api.js";
import { distanceText } from "./format.js";
import { legendFor } from "./legend.js";
import * as view from "./view.js";
import * as cases from "./cases.js";
import * as appraisal from "./appraisal.js";
import { initCoverage } from "./coverage.js";
import * as emergency from "./emergency.js";
import * as incidents from "./incidents.js";
import * as offline from "./offline.js";

// Exposed for the browser test and for debugging in the console.
window.gridlink = Object.assign(window.gridlink || {}, { map: null, ready: false, lastLocate: null, lastAround: null });

const state = {
  catalogue: null,          // /api/layers
  fields: new Map(),        // layer id -> Map(field name -> field: title, type, values)
  styleLayers: new Map(),   // layer id -> [style layer ids]
  hidden: new Set(),        // layer ids switched off in the panel (kept across style reloads)
};

function buildLayerPanel(map) {
  const container = $("#tab-layers");
  container.innerHTML = "";
  for (const group of state.catalogue.groups) {
    const members = state.catalogue.layers.filter((l) => l.group === group.id);
    if (!members.length) continue;
    const section = document.createElement("div");
    section.className = "group";
    section.innerHTML = `<h2>${escapeHtml(group.title)}</h2>`;
    for (const layer of members) {
      const legend = legendFor(map, state.styleLayers.get(layer.id) || [], layer);
      const row = document.createElement("label");
      row.className = `layer ${layer.access === "staff" ? "staff" : ""}`;
      row.dataset.layer = layer.id;
      row.title = `${layer.title_en} · ${layer.minzoom}–${layer.maxzoom} 级`;
      row.innerHTML = `<input type="checkbox" ${state.hidden.has(layer.id) ? "" : "checked"} data-layer="${escapeHtml(layer.id)}">
        <span class="swatch ${legend.kind}" data-colour="${escapeHtml(legend.colour)}" style="background:${legend.colour}"></span>
        <span class="name">${escapeHtml(layer.title)}</span>
        <span class="count">${layer.count.toLocaleString("zh-CN")}</span>`;
      row.querySelector("input").addEventListener("change", (event) => {
        setLayerVisible(map, layer.id, event.target.checked);
      });
      section.appendChild(row);
      if (legend.entries.length > 1) {
        section.insertAdjacentHTML("beforeend", `<div class="legend layer-legend" data-legend="${escapeHtml(layer.id)}" data-field="${escapeHtml(legend.field || "")}">${legend.entries
          .map((e) => `<span data-colour="${escapeHtml(e.colour)}"><i class="${legend.kind}" style="background:${e.colour}"></i>${escapeHtml(e.label)}</span>`).join("")}</div>`);
      }
      const live = emergency.legendHtml(layer.id);
      if (live) section.insertAdjacentHTML("beforeend", live);
    }
    container.appendChild(section);
  }
  if (map.getLayer("cases-circle")) {
    container.insertAdjacentHTML("afterbegin", cases.caseLegendHtml());
    $("#cases-visible").addEventListener("change", (event) => {
      map.setLayoutProperty("cases-circle", "visibility", event.target.checked ? "visible" : "none");
    });
  }
}

function setLayerVisible(map, layerId, visible) {
  if (visible) state.hidden.delete(layerId);
  else state.hidden.add(layerId);
  for (const styleId of state.styleLayers.get(layerId) || []) {
    map.setLayoutProperty(styleId, "visibility", visible ? "visible" : "none");
  }
}

// A property as people read it: a coded value by its name from the catalogue (the code stays
// in the tooltip), a yes/no as 是/否.
function valueHtml(field, value) {
  if (value == null || value === "") return "—";
  const name = field?.values?.[String(value)];
  if (name) return `<span class="coded" data-code="${escapeHtml(value)}" title="${escapeHtml(value)}">${escapeHtml(name)}</span>`;
  if (field?.type === "boolean" || typeof value === "boolean") return value === true || value === "true" ? "是" : "否";
  return escapeHtml(value);
}

function popupHtml(feature) {
  const live = emergency.popupHtml(feature);
  if (live) return live;
  const layerId = feature.sourceLayer || feature.layer?.metadata?.["gridlink:layer"];
  const catalogueLayer = state.catalogue.layers.find((l) => l.id === layerId);
  const fields = state.fields.get(layerId) || new Map();
  const props = feature.properties || {};
  let rows = "";
  if (props.point_count && !props.id) {
    rows = `<tr><td>聚合数量</td><td>${escapeHtml(props.point_count)}</td></tr><tr><td colspan="2">放大查看单个要素</td></tr>`;
  } else {
    for (const [key, value] of Object.entries(props)) {
      if (key === "id" || key === "point_count") continue;
      const field = fields.get(key);
      rows += `<tr data-field="${escapeHtml(key)}"><td>${escapeHtml(field?.title || key)}</td><td>${valueHtml(field, value)}</td></tr>`;
    }
  }
  return `<div class="feature-popup" data-layer="${escapeHtml(layerId)}"><strong>${escapeHtml(catalogueLayer?.title || layerId)}</strong><table>${rows}</table></div>`;
}

const TABS = ["layers", "info", "cases", "emergency", "appraisal"];

function showTab(name) {
  document.querySelectorAll("#panel nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  for (const tab of TABS) $(`#tab-${tab}`).hidden = tab !== name;
  const wide = name === "cases" || name === "appraisal" || name === "emergency";
  const wasWide = document.body.classList.contains("wide-panel");
  const wasHidden = document.body.classList.contains("panel-hidden");
  document.body.classList.toggle("wide-panel", wide);
  document.body.classList.remove("panel-hidden");
  const map = window.gridlink.map;
  if (map) {
    // The panel's new size is laid out now: the padding follows before anyone flies.
    view.syncPadding(map);
    if (wide !== wasWide || wasHidden) setTimeout(() => map.resize(), 0);
  }
  if (name === "appraisal") appraisal.showAppraisal();
}

function card(title, body) {
  return `<div class="card"><h3>${escapeHtml(title)}</h3>${body}</div>`;
}

function renderLocate(result) {
  const dl = (pairs) => `<dl>${pairs.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>`;
  let html = card("所在位置", dl([
    ["单元网格", result.cell?.id],
    ["村居", `${result.village?.name ?? ""} (${result.village?.id ?? ""})`],
    ["街镇", result.town?.name],
    ["责任网格", result.beat?.id],
    ["经纬度", `${result.point.lon.toFixed(6)}, ${result.point.lat.toFixed(6)}`],
    ["距网格边界", distanceText(result.edge_distance_m)],
  ]));
  if (result.ambiguous) {
    html += `<p class="warn">距网格边界不足 5 米，可能属于：${result.candidates.map((c) => escapeHtml(c.id)).join("、")}</p>`;
  }
  $("#locate").innerHTML = `<div data-cell="${escapeHtml(result.cell?.id)}">${html}</div>`;
}

function renderAround(report, target = $("#around")) {
  const sections = report.sections || {};
  const list = (section, describe) =>
    section && section.features.length
      ? `<ul>${section.features.slice(0, 5).map((f) => `<li>${describe(f)}</li>`).join("")}</ul>`
      : "<p>无</p>";
  const name = (f) => escapeHtml(f.name || f.id);
  let html = "";
  if (sections.hazard_source) {
    html += card(`重大危险源（${distanceText(report.radius_m)}内 ${sections.hazard_source.count} 处）`,
      list(sections.hazard_source, (f) => `${name(f)} · ${f.properties.grade} 级 · ${distanceText(f.distance_m)}`));
  }
  if (sections.protected_target) {
    html += card(`防护目标（${sections.protected_target.count} 处，${sections.protected_target.people} 人）`,
      list(sections.protected_target, (f) => `${name(f)} · ${f.properties.headcount} 人 · ${distanceText(f.distance_m)}`));
  }
  html += card("最近的开放避难场所", list(sections.shelter, (f) => `${emergency.shelterLabel(f)} · 可容纳 ${f.free_capacity} 人 · ${distanceText(f.distance_m)}`));
  html += card("最近的应急队伍", list(sections.team, (f) => `${name(f)} · ${distanceText(f.distance_m)}`));
  html += card("最近的医疗机构", list(sections.medical_facility, (f) => `${name(f)} · ${distanceText(f.distance_m)}`));
  html += card("最近的消防站与派出所", list(sections.fire_police_station, (f) => `${name(f)} · ${distanceText(f.distance_m)}`));
  html += card("最近的物资储备点", list(sections.supply_depot, (f) => `${name(f)} · ${distanceText(f.distance_m)}`));
  if (sections.village) {
    html += card(`涉及村居（${sections.village.count} 个，常住人口 ${sections.village.people.toLocaleString("zh-CN")}）`,
      list(sections.village, (f) => `${name(f)}`));
  }
  if (report.withheld?.length) {
    html += `<p class="hint">部分图层仅对工作人员开放。</p>`;
  }
  target.innerHTML = html;
}

// Which cell, village and town a point is in and what is around it, in the 位置与周边 tab, with
// the pick marker on the point; `highlightCell` outlines the cell (unless something else, a
// clicked or found feature, is highlighted instead).
async function locateAndReport(lngLat, { highlightCell = true, mark = true } = {}) {
  showTab("info");
  if (mark) view.showPick(lngLat);
  else view.clearPick();
  const query = `lon=${lngLat.lng}&lat=${lngLat.lat}`;
  try {
    const result = await getJson(`/api/locate?${query}`);
    window.gridlink.lastLocate = result;
    renderLocate(result);
    const cells = state.catalogue.layers.find((l) => l.role === "grid_cell");
    if (highlightCell && cells && result.cell?.id) view.highlightFeature(cells.id, result.cell.id);
  } catch (error) {
    window.gridlink.lastLocate = { error: error.code };
    $("#locate").innerHTML = card("所在位置", `<p class="warn">${escapeHtml(error.message)}</p>`);
  }
  try {
    const report = await getJson(`/api/around?${query}&radius=1000`);
    window.gridlink.lastAround = report;
    renderAround(report);
  } catch (error) {
    $("#around").innerHTML = `<p class="warn">${escapeHtml(error.message)}</p>`;
  }
}

function setUpSearch(map) {
  const input = $("#search-input");
  const results = $("#search-results");
  let timer = null;
  let current = [];
  const go = (item) => {
    results.hidden = true;
    input.value = item.name || item.id;
    input.blur();
    if (item.lon == null) return;
    const at = { lng: item.lon, lat: item.lat };
    // The panel first (its size sets the camera's padding), then the flight. In the emergency
    // tab a search result is a way to place the incident; elsewhere it is located and marked.
    const incident = emergency.pickAt(at);
    if (incident) view.clearPick();
    else locateAndReport(at, { highlightCell: false });
    view.highlightFeature(item.layer, item.id);
    window.gridlink.lastSearch = item;
    if (item.bbox && (item.bbox[0] !== item.bbox[2] || item.bbox[1] !== item.bbox[3])) {
      map.fitBounds([[item.bbox[0], item.bbox[1]], [item.bbox[2], item.bbox[3]]], { padding: 40, maxZoom: 17 });
    } else {
      map.flyTo({ center: [item.lon, item.lat], zoom: Math.max(map.getZoom(), 16) });
    }
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) {
      results.hidden = true;
      return;
    }
    timer = setTimeout(async () => {
      try {
        const body = await getJson(`/api/search?q=${encodeURIComponent(q)}&limit=12`);
        current = body.results;
        results.innerHTML = current.length
          ? current.map((r, i) => `<li data-index="${i}">${escapeHtml(r.name || r.id)}<small>${escapeHtml(r.layer_title)} ${escapeHtml(r.id)}</small></li>`).join("")
          : "<li>无匹配结果</li>";
        results.hidden = false;
      } catch (error) {
        results.innerHTML = `<li>${escapeHtml(error.message)}</li>`;
        results.hidden = false;
      }
    }, 200);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && current.length) go(current[0]);
    if (event.key === "Escape") results.hidden = true;
  });
  results.addEventListener("click", (event) => {
    const li = event.target.closest("li[data-index]");
    if (li) go(current[Number(li.dataset.index)]);
  });
}

// A clicked feature is highlighted whole: by its id through the OGC API where the tile carries
// it, else as the tile drew it (points are whole in any tile).
function highlightClicked(feature) {
  const layerId = feature.sourceLayer;
  const id = feature.properties?.id ?? feature.id;
  if (layerId && id != null && !feature.properties?.point_count) view.highlightFeature(layerId, id);
}

// "My location" found the user: in report mode it is the case's place, in the emergency tab the
// incident, otherwise it is located like a click (which cell, village, town; what is around),
// marked by the control's own dot.
function onMyLocation(lngLat) {
  if (cases.isReporting()) cases.reportAt(lngLat);
  else if (!emergency.pickAt(lngLat)) locateAndReport(lngLat, { mark: false });
}

async function loadCatalogue() {
  state.catalogue = await getJson("/api/layers");
  state.fields.clear();
  for (const layer of state.catalogue.layers) {
    state.fields.set(layer.id, new Map(layer.fields.map((f) => [f.name, f])));
  }
  window.gridlink.catalogue = state.catalogue;
}

// The key changed: the layer list and the style differ for staff (and the case layer comes and
// goes), so both are fetched again.
async function reloadForKey() {
  const map = window.gridlink.map;
  await loadCatalogue();
  if (map) map.setStyle("/styles/district.json", { diff: false, transformStyle: offline.transformStyle });
  emergency.onKeyChange();
  incidents.onKeyChange();
}

async function main() {
  await cases.restoreKey();
  await loadCatalogue();
  const district = state.catalogue.layers.find((l) => l.role === "district");
  // A link with a position (#zoom/lat/lon) opens there; otherwise the district is fitted.
  const placedByLink = /^#\d/.test(location.hash);
  const map = new maplibregl.Map({
    container: "map",
    style: "/styles/district.json",
    center: district?.extent ? [(district.extent[0] + district.extent[2]) / 2, (district.extent[1] + district.extent[3]) / 2] : undefined,
    zoom: 9,
    // Chinese is drawn with the browser's fonts; gridlink serves only Latin/digit glyphs.
    localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif",
    attributionControl: { compact: true },
    hash: true,
    transformRequest: (url) => (auth.key && needsKey(url) ? { url, headers: { Authorization: `Bearer ${auth.key}` } } : { url }),
  });
  window.gridlink.map = map;
  view.init(map);
  view.setDistrict(district?.extent);
  view.addControls(map, { onLocated: onMyLocation });
  offline.init(map);
  // The padding before the first fit, so the district lands above a phone's panel.
  view.syncPadding(map);
  if (!placedByLink) view.fitDistrict(map, { animate: false });

  // Every (re)load of the style: index its layers, add the case layer, rebuild the panel.
  map.on("style.load", () => {
    const live = emergency.addLayers(map);
    incidents.addLayers(map);
    cases.addCaseLayers(map);
    view.addLayers(map);
    state.styleLayers.clear();
    for (const layer of map.getStyle().layers) {
      const source = layer["source-layer"];
      if (!source || layer.source !== "gridlink") continue;
      if (!state.styleLayers.has(source)) state.styleLayers.set(source, []);
      state.styleLayers.get(source).push(layer.id);
    }
    // The live layers (shelters by free places, stations by level) stand in for the tile
    // layers' circles, so the panel switches them instead.
    for (const [layerId, swap] of Object.entries(live)) {
      const ids = (state.styleLayers.get(layerId) || []).filter((id) => !swap.replace.includes(id));
      state.styleLayers.set(layerId, [...swap.with, ...ids]);
    }
    for (const id of state.hidden) setLayerVisible(map, id, false);
    buildLayerPanel(map);
    window.gridlink.styleLoads = (window.gridlink.styleLoads || 0) + 1;
  });
  map.on("load", () => {
    map.once("idle", () => {
      // The compact attribution folds (as on a drag): on a phone, open, it covers the map.
      document.querySelector(".maplibregl-ctrl-attrib")?.classList.remove("maplibregl-compact-show");
      window.gridlink.ready = true;
    });
  });

  const clickable = () => map.getStyle().layers
    .filter((l) => (l.type === "circle" || l.type === "line") && (l.source === "gridlink" || l.metadata?.["gridlink:layer"]))
    .filter((l) => (l.layout?.visibility ?? "visible") !== "none")
    .map((l) => l.id);
  map.on("click", (event) => {
    if (cases.isReporting()) {
      cases.reportAt(event.lngLat);
      return;
    }
    if (emergency.isActive() && incidents.consumeClick(event.point)) return;
    const features = map.queryRenderedFeatures(event.point, { layers: clickable() });
    if (emergency.isActive()) {
      // The incident's own marker stands for the point.
      view.clearPick();
      if (features.length) {
        new maplibregl.Popup({ maxWidth: "340px" }).setLngLat(event.lngLat).setHTML(popupHtml(features[0])).addTo(map);
      }
      emergency.pickAt(event.lngLat, features);
      return;
    }
    const caseId = cases.caseIdAt(map, event.point);
    if (caseId) {
      cases.openDetail(caseId);
      return;
    }
    if (features.length) {
      new maplibregl.Popup({ maxWidth: "340px" }).setLngLat(event.lngLat).setHTML(popupHtml(features[0])).addTo(map);
      highlightClicked(features[0]);
    }
    locateAndReport(event.lngLat, { highlightCell: !features.length });
  });
  map.on("mousemove", (event) => {
    if (cases.isReporting()) return;
    const layers = clickable().concat(map.getLayer("cases-circle") ? cases.CASE_LAYERS : []);
    const hit = map.queryRenderedFeatures(event.point, { layers }).length > 0;
    map.getCanvas().style.cursor = hit ? "pointer" : "";
  });

  document.querySelectorAll("#panel nav button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  $("#panel-toggle").addEventListener("click", () => {
    document.body.classList.toggle("panel-hidden");
    view.syncPadding(map);
    setTimeout(() => map.resize(), 50);
  });
  setUpSearch(map);
  appraisal.initAppraisal();
  initCoverage();
  emergency.initEmergency(map, { showTab, renderAround });
  incidents.initIncidents(map);
  await cases.initCases(map, { showTab, reloadForKey });
}

main().catch((error) => {
  document.body.insertAdjacentHTML("afterbegin", `<p class="warn" style="padding:8px">地图加载失败：${escapeHtml(error.message)}</p>`);
});

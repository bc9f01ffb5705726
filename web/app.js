// The district electronic map: MapLibre with gridlink's style, a layer panel built from the
// catalogue (/api/layers), feature popups with Chinese field names, search, and a click that
// locates the point and reports what is around it. The case panel (cases.js), the emergency
// tab with the live shelter, station and alert layers (emergency.js) and the appraisal view
// (appraisal.js) share the page; with a staff key set, every same-origin /api/, /tiles/ and
// /styles/ request carries it, so staff layers and the live case layer appear.

import { auth, needsKey, getJson, escapeHtml, $ } from "./api.js";
import * as cases from "./cases.js";
import * as appraisal from "./appraisal.js";
import * as emergency from "./emergency.js";

// Exposed for the browser test and for debugging in the console.
window.gridlink = Object.assign(window.gridlink || {}, { map: null, ready: false, lastLocate: null, lastAround: null });

const state = {
  catalogue: null,          // /api/layers
  fieldTitles: new Map(),   // layer id -> Map(field -> Chinese title)
  styleLayers: new Map(),   // layer id -> [style layer ids]
  hidden: new Set(),        // layer ids switched off in the panel (kept across style reloads)
};

// The first colour literal in a paint value (which may be an expression): the legend swatch.
function firstColour(value) {
  if (typeof value === "string" && /^(#|rgb|hsl)/.test(value)) return value;
  if (Array.isArray(value)) {
    for (const part of value) {
      const found = firstColour(part);
      if (found) return found;
    }
  }
  return null;
}

function legendFor(map, layerId) {
  for (const styleId of state.styleLayers.get(layerId) || []) {
    const layer = map.getLayer(styleId);
    if (!layer || layer.type === "symbol") continue;
    const fixed = layer.metadata?.["gridlink:legend"];
    if (fixed) return { colour: fixed, kind: layer.type };
    const property = { circle: "circle-color", line: "line-color", fill: "fill-color" }[layer.type];
    const colour = firstColour(map.getPaintProperty(styleId, property));
    if (colour) return { colour, kind: layer.type };
  }
  return { colour: "#999", kind: "circle" };
}

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
      const legend = legendFor(map, layer.id);
      const row = document.createElement("label");
      row.className = `layer ${layer.access === "staff" ? "staff" : ""}`;
      row.dataset.layer = layer.id;
      row.title = `${layer.title_en} · ${layer.minzoom}–${layer.maxzoom} 级`;
      row.innerHTML = `<input type="checkbox" ${state.hidden.has(layer.id) ? "" : "checked"} data-layer="${escapeHtml(layer.id)}">
        <span class="swatch ${legend.kind === "line" || legend.kind === "fill" ? "line" : ""}" style="background:${legend.colour}"></span>
        <span class="name">${escapeHtml(layer.title)}</span>
        <span class="count">${layer.count.toLocaleString("zh-CN")}</span>`;
      row.querySelector("input").addEventListener("change", (event) => {
        setLayerVisible(map, layer.id, event.target.checked);
      });
      section.appendChild(row);
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

function popupHtml(feature) {
  const live = emergency.popupHtml(feature);
  if (live) return live;
  const layerId = feature.sourceLayer || feature.layer?.metadata?.["gridlink:layer"];
  const catalogueLayer = state.catalogue.layers.find((l) => l.id === layerId);
  const titles = state.fieldTitles.get(layerId) || new Map();
  const props = feature.properties || {};
  let rows = "";
  if (props.point_count && !props.id) {
    rows = `<tr><td>聚合数量</td><td>${escapeHtml(props.point_count)}</td></tr><tr><td colspan="2">放大查看单个要素</td></tr>`;
  } else {
    for (const [key, value] of Object.entries(props)) {
      if (key === "id" || key === "point_count") continue;
      rows += `<tr><td>${escapeHtml(titles.get(key) || key)}</td><td>${escapeHtml(value)}</td></tr>`;
    }
  }
  return `<strong>${escapeHtml(catalogueLayer?.title || layerId)}</strong><table>${rows}</table>`;
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
  if ((wide !== wasWide || wasHidden) && window.gridlink.map) setTimeout(() => window.gridlink.map.resize(), 0);
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
    ["距网格边界", `${result.edge_distance_m} 米`],
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
    html += card(`重大危险源（${report.radius_m} 米内 ${sections.hazard_source.count} 处）`,
      list(sections.hazard_source, (f) => `${name(f)} · ${f.properties.grade} 级 · ${f.distance_m} 米`));
  }
  if (sections.protected_target) {
    html += card(`防护目标（${sections.protected_target.count} 处，${sections.protected_target.people} 人）`,
      list(sections.protected_target, (f) => `${name(f)} · ${f.properties.headcount} 人 · ${f.distance_m} 米`));
  }
  html += card("最近的开放避难场所", list(sections.shelter, (f) => `${name(f)} · 可容纳 ${f.free_capacity} 人 · ${f.distance_m} 米`));
  html += card("最近的应急队伍", list(sections.team, (f) => `${name(f)} · ${f.distance_m} 米`));
  html += card("最近的医疗机构", list(sections.medical_facility, (f) => `${name(f)} · ${f.distance_m} 米`));
  html += card("最近的消防站与派出所", list(sections.fire_police_station, (f) => `${name(f)} · ${f.distance_m} 米`));
  html += card("最近的物资储备点", list(sections.supply_depot, (f) => `${name(f)} · ${f.distance_m} 米`));
  if (sections.village) {
    html += card(`涉及村居（${sections.village.count} 个，常住人口 ${sections.village.people.toLocaleString("zh-CN")}）`,
      list(sections.village, (f) => `${name(f)}`));
  }
  if (report.withheld?.length) {
    html += `<p class="hint">部分图层仅对工作人员开放。</p>`;
  }
  target.innerHTML = html;
}

async function locateAndReport(lngLat) {
  showTab("info");
  const query = `lon=${lngLat.lng}&lat=${lngLat.lat}`;
  try {
    const result = await getJson(`/api/locate?${query}`);
    window.gridlink.lastLocate = result;
    renderLocate(result);
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
    if (item.bbox && (item.bbox[0] !== item.bbox[2] || item.bbox[1] !== item.bbox[3])) {
      map.fitBounds([[item.bbox[0], item.bbox[1]], [item.bbox[2], item.bbox[3]]], { padding: 60, maxZoom: 17 });
    } else if (item.lon != null) {
      map.flyTo({ center: [item.lon, item.lat], zoom: 16 });
    }
    if (item.lon == null) return;
    // In the emergency tab a search result is a way to place the incident.
    if (!emergency.pickAt({ lng: item.lon, lat: item.lat })) locateAndReport({ lng: item.lon, lat: item.lat });
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

async function loadCatalogue() {
  state.catalogue = await getJson("/api/layers");
  state.fieldTitles.clear();
  for (const layer of state.catalogue.layers) {
    state.fieldTitles.set(layer.id, new Map(layer.fields.map((f) => [f.name, f.title])));
  }
}

// The key changed: the layer list and the style differ for staff (and the case layer comes and
// goes), so both are fetched again.
async function reloadForKey() {
  const map = window.gridlink.map;
  await loadCatalogue();
  if (map) map.setStyle("/styles/district.json", { diff: false });
  emergency.onKeyChange();
}

async function main() {
  await cases.restoreKey();
  await loadCatalogue();
  const district = state.catalogue.layers.find((l) => l.role === "district");
  const map = new maplibregl.Map({
    container: "map",
    style: "/styles/district.json",
    bounds: district?.extent ? [[district.extent[0], district.extent[1]], [district.extent[2], district.extent[3]]] : undefined,
    fitBoundsOptions: { padding: 20 },
    // Chinese is drawn with the browser's fonts; gridlink serves only Latin/digit glyphs.
    localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif",
    attributionControl: { compact: true },
    hash: true,
    transformRequest: (url) => (auth.key && needsKey(url) ? { url, headers: { Authorization: `Bearer ${auth.key}` } } : { url }),
  });
  window.gridlink.map = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");

  // Every (re)load of the style: index its layers, add the case layer, rebuild the panel.
  map.on("style.load", () => {
    const live = emergency.addLayers(map);
    cases.addCaseLayers(map);
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
    const features = map.queryRenderedFeatures(event.point, { layers: clickable() });
    if (emergency.isActive()) {
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
    }
    locateAndReport(event.lngLat);
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
    setTimeout(() => map.resize(), 50);
  });
  setUpSearch(map);
  appraisal.initAppraisal();
  emergency.initEmergency(map, { showTab, renderAround });
  await cases.initCases(map, { showTab, reloadForKey });
}

main().catch((error) => {
  document.body.insertAdjacentHTML("afterbegin", `<p class="warn" style="padding:8px">地图加载失败：${escapeHtml(error.message)}</p>`);
});

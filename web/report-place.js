// Where a resident's report is: a small map of the district (gridlink's own style and tiles,
// nothing from the internet) and three ways to set the point — the phone's position, a search
// for a village, town or unit, or a tap on the map (the marker can be dragged after). Every point
// is located (/api/locate) and the village and town are shown at once, so the resident sees
// where the report will land; a point outside the district is refused here, before the form is
// sent, with a message saying why.
//
// The map sits in the page's flow (no panel is ever laid over it), so the marker, centred on
// the map after each placement, is never hidden. It uses MapLibre's cooperative gestures: one
// finger scrolls the page past the map, two fingers move it, and a tap sets the place.

import { getJson, escapeHtml, $ } from "./api.js";

const MARKER = "#c62828";

const place = {
  map: null,
  marker: null,
  point: null,        // { lng, lat } as sent to the server (WGS84)
  located: null,      // the /api/locate answer for the point
  outside: false,     // the point is outside the district
  error: null,        // why the point could not be located (other than outside)
  accuracy: null,     // metres, for a GPS fix
  how: null,          // "gps" | "search" | "map"
  token: 0,           // drops the answer of an older locate
  pending: Promise.resolve(),
  onChange: () => {},
};

// Exposed for the browser test and for debugging.
window.gridlink = Object.assign(window.gridlink || {}, { map: null, ready: false, place: null });

const SOURCE_NAMES = { gps: "我的位置", search: "搜索结果", map: "地图上点选" };

// The map, fitted to the district. `onChange()` runs whenever the place or its answer changes.
export function initPlace({ district, onChange }) {
  place.onChange = onChange;
  const map = new maplibregl.Map({
    container: "map",
    style: "/styles/district.json",
    bounds: district ? [[district[0], district[1]], [district[2], district[3]]] : undefined,
    fitBoundsOptions: { padding: 10 },
    // Chinese is drawn with the browser's fonts; gridlink serves only Latin/digit glyphs.
    localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif",
    attributionControl: { compact: true },
    cooperativeGestures: true,
    locale: {
      "CooperativeGesturesHandler.MobileHelpText": "用两根手指移动地图",
      "CooperativeGesturesHandler.WindowsHelpText": "按住 Ctrl 键滚动鼠标缩放地图",
      "CooperativeGesturesHandler.MacHelpText": "按住 ⌘ 键滚动鼠标缩放地图",
      "NavigationControl.ZoomIn": "放大",
      "NavigationControl.ZoomOut": "缩小",
    },
  });
  place.map = map;
  window.gridlink.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.on("click", (event) => setPlace(event.lngLat, "map"));
  map.on("load", () => {
    map.once("idle", () => {
      document.querySelector(".maplibregl-ctrl-attrib")?.classList.remove("maplibregl-compact-show");
      window.gridlink.ready = true;
    });
  });
  $("#use-gps").addEventListener("click", useMyPosition);
  setUpSearch();
  render();
  return map;
}

// The place as the report needs it, or null while there is none (or it is outside).
export function chosen() {
  if (!place.point || !place.located || place.outside) return null;
  return { ...place.point, located: place.located };
}

export const isOutside = () => place.outside;
export const hasPoint = () => Boolean(place.point);

// Resolves once the newest point has been located.
export const settled = () => place.pending;

// The map was hidden and is shown again (its size is only known when it is laid out).
export function resize() {
  place.map?.resize();
}

// Puts the place at `lngLat` (marker, camera, locate). `zoomTo` overrides the zoom to fly to.
export function setPlace(lngLat, how, { accuracy = null, zoomTo = null } = {}) {
  const point = { lng: Number(lngLat.lng), lat: Number(lngLat.lat) };
  place.point = point;
  place.how = how;
  place.accuracy = accuracy;
  place.located = null;
  place.outside = false;
  place.error = null;
  // The search box names the place only while the place is what it found.
  if (how !== "search") $("#place-input").value = "";
  const map = place.map;
  if (!place.marker) {
    place.marker = new maplibregl.Marker({ color: MARKER, draggable: true }).setLngLat(point).addTo(map);
    place.marker.getElement().classList.add("place-marker");
    place.marker.getElement().setAttribute("aria-label", "问题位置（可拖动）");
    place.marker.on("dragend", () => setPlace(place.marker.getLngLat(), "map"));
  } else {
    place.marker.setLngLat(point);
  }
  // A tap keeps the camera (the resident is looking there); other ways bring the point to the
  // middle of the map, close enough to see the street.
  if (how !== "map") map.flyTo({ center: [point.lng, point.lat], zoom: zoomTo ?? Math.max(map.getZoom(), 16) });
  place.pending = locate(point);
  window.gridlink.place = { ...point, how, located: null };
  render();
  return place.pending;
}

async function locate(point) {
  const token = ++place.token;
  try {
    const answer = await getJson(`/api/locate?lon=${point.lng}&lat=${point.lat}`);
    if (token !== place.token) return;
    place.located = answer;
  } catch (error) {
    if (token !== place.token) return;
    place.located = null;
    place.outside = error.code === "outside_district";
    place.error = place.outside ? null : error.message;
  }
  window.gridlink.place = { ...point, how: place.how, located: place.located, outside: place.outside };
  render();
}

function render() {
  const text = $("#place-text");
  text.classList.remove("error", "ok");
  if (!place.point) {
    text.innerHTML = "点击地图、搜索地点或使用我的位置设置问题位置。";
    delete text.dataset.state;
    place.onChange();
    return;
  }
  const coords = `<small>${place.point.lng.toFixed(5)}, ${place.point.lat.toFixed(5)}${place.accuracy ? ` · 定位精度约 ${Math.round(place.accuracy)} 米` : ""}</small>`;
  if (place.outside) {
    text.dataset.state = "outside";
    text.classList.add("error");
    text.innerHTML = `这个位置不在奉贤区范围内，无法上报。请在地图上点选奉贤区内的位置。${coords}`;
  } else if (place.located) {
    const { town, village } = place.located;
    text.dataset.state = "located";
    text.classList.add("ok");
    text.innerHTML = `<span class="where">位置：<b id="place-town">${escapeHtml(town?.name || "")}</b> · <b id="place-village">${escapeHtml(village?.name || "")}</b></span>
      <span class="how">（${SOURCE_NAMES[place.how] || ""}，可点击地图或拖动标记调整）</span>${coords}`;
  } else if (place.error) {
    text.dataset.state = "error";
    text.classList.add("error");
    text.innerHTML = `无法确认这个位置：${escapeHtml(place.error)}${coords}`;
  } else {
    text.dataset.state = "locating";
    text.innerHTML = `正在确认位置…${coords}`;
  }
  place.onChange();
}

// The phone's own position. The W3C Geolocation API reports WGS84 (navigator.geolocation is
// the browser's GPS/network fix, not a Chinese map SDK), and gridlink's map and layers are WGS84
// too (CGCS2000 is the same at this precision), so the point is drawn and sent as it comes,
// without `crs`. GCJ-02 ("火星坐标") comes from Amap/Tencent/WeChat location SDKs, which this
// page does not use; were a browser ever to hand out shifted coordinates, the marker would
// land a few hundred metres off on the map in front of the resident, who can tap the right
// place — the located village is shown either way.
function useMyPosition() {
  const button = $("#use-gps");
  if (!navigator.geolocation) {
    showGpsError("这个浏览器不能定位，请搜索地点或点击地图。");
    return;
  }
  if (!window.isSecureContext) {
    showGpsError("浏览器只在安全连接（https）的网页上提供定位，请搜索地点或点击地图。");
    return;
  }
  button.disabled = true;
  button.textContent = "正在定位…";
  const done = () => {
    button.disabled = false;
    button.textContent = "使用我的位置";
  };
  navigator.geolocation.getCurrentPosition(
    (position) => {
      done();
      const { longitude, latitude, accuracy } = position.coords;
      setPlace({ lng: longitude, lat: latitude }, "gps", { accuracy, zoomTo: 17 });
    },
    (error) => {
      done();
      const why = {
        1: "没有获得定位权限。可以在浏览器设置中允许定位，或搜索地点、点击地图。",
        2: "暂时无法获取位置，请到开阔处再试，或搜索地点、点击地图。",
        3: "定位超时，请再试一次，或搜索地点、点击地图。",
      }[error.code];
      showGpsError(why || `定位失败：${error.message}`);
    },
    { enableHighAccuracy: true, timeout: 15_000, maximumAge: 30_000 },
  );
}

function showGpsError(message) {
  const text = $("#place-text");
  text.dataset.state = "gps-error";
  text.classList.remove("ok");
  text.classList.add("error");
  text.textContent = message;
}

// Search (/api/search): villages, towns, grid cells and units by name or code.
function setUpSearch() {
  const input = $("#place-input");
  const list = $("#place-results");
  let timer = null;
  let found = [];
  let asked = 0;
  const choose = (item) => {
    list.hidden = true;
    input.value = item.name || item.id;
    input.blur();
    // A town or a village is an area: the camera shows all of it and the marker starts at its
    // middle, for the resident to move to the exact spot.
    let zoomTo = 17;
    if (item.bbox && (item.bbox[0] !== item.bbox[2] || item.bbox[1] !== item.bbox[3])) {
      const camera = place.map.cameraForBounds([[item.bbox[0], item.bbox[1]], [item.bbox[2], item.bbox[3]]], { padding: 20, maxZoom: 17 });
      if (camera?.zoom) zoomTo = camera.zoom;
    }
    setPlace({ lng: item.lon, lat: item.lat }, "search", { zoomTo });
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) {
      list.hidden = true;
      return;
    }
    timer = setTimeout(async () => {
      const mine = ++asked;
      try {
        const body = await getJson(`/api/search?q=${encodeURIComponent(q)}&limit=8`);
        if (mine !== asked) return;
        found = body.results.filter((r) => r.lon != null);
        list.innerHTML = found.length
          ? found.map((r, i) => `<li><button type="button" data-index="${i}">${escapeHtml(r.name || r.id)}<small>${escapeHtml(r.layer_title)}</small></button></li>`).join("")
          : `<li class="none">没有找到，请换个名称，或直接点击地图</li>`;
      } catch (error) {
        list.innerHTML = `<li class="none">${escapeHtml(error.message)}</li>`;
      }
      list.hidden = false;
    }, 250);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      if (found.length && !list.hidden) choose(found[0]);
    }
    if (event.key === "Escape") list.hidden = true;
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-index]");
    if (button) choose(found[Number(button.dataset.index)]);
  });
}

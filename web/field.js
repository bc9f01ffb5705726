// The field page (网格巡查): an installable app for an inspector's phone. It shows the map —
// from a PMTiles archive kept on the phone when there is one (下载离线地图), so it works without
// network — with the inspector's own position, and a report form. Reports (with photos) and
// position fixes go into a queue in IndexedDB first and are sent from there, at once when the
// network is up and as soon as it returns otherwise. Each report carries an id made here
// (`client_id`); the server stores a report once per id and answers a repeat with the case it
// already has, so a send that timed out can be sent again without making a second case.
//
// The key of the phone (bound to its inspector on the server) comes once as `#key=…` in the
// link or through the key field, and is kept in localStorage. field-sw.js caches the page, its
// scripts, MapLibre, the style and glyphs, so the page opens again with no network at all.

const KEY = "gridlink.fieldKey";
const CLASSES = "gridlink.fieldClasses";
const STYLE = "/styles/district.json";
const DB_NAME = "gridlink-field";
const RETRY_MS = 15_000;

const state = {
  key: localStorage.getItem(KEY) || "",
  who: localStorage.getItem("gridlink.fieldWho") || null,
  map: null,
  me: null,
  position: null,
  archive: null, // pmtiles://… while the stored archive is in use
  flushing: false,
};
window.gridlink = { field: state, ready: false };
// The tests (and a curious inspector's console) may send the queue at once.
window.gridlink.flush = () => flush();

const $ = (s) => document.querySelector(s);

// --- IndexedDB: the outbox (reports and fixes) and the offline archive -------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      db.createObjectStore("files");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
const dbReady = openDb();

async function tx(store, mode, work) {
  const db = await dbReady;
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const result = work(t.objectStore(store));
    t.oncomplete = () => resolve(result instanceof IDBRequest ? result.result : result);
    t.onerror = () => reject(t.error);
  });
}
const outboxAll = () => tx("outbox", "readonly", (s) => s.getAll());
const outboxAdd = (item) => tx("outbox", "readwrite", (s) => s.add(item));
const outboxDelete = (seq) => tx("outbox", "readwrite", (s) => s.delete(seq));
const fileGet = (name) => tx("files", "readonly", (s) => s.get(name));
const filePut = (name, blob) => tx("files", "readwrite", (s) => s.put(blob, name));

// --- Network state and the queue ------------------------------------------------------------

function showNet() {
  const net = $("#net");
  net.textContent = navigator.onLine ? "在线" : "离线";
  net.classList.toggle("offline", !navigator.onLine);
}

async function showQueue() {
  const items = await outboxAll();
  const queue = $("#queue");
  queue.textContent = `待发 ${items.length}`;
  queue.classList.toggle("waiting", items.length > 0);
  state.queued = items.length;
}

function note(text, cls, id) {
  let li = id && document.getElementById(id);
  if (!li) {
    li = document.createElement("li");
    if (id) li.id = id;
    $("#sent").prepend(li);
  }
  li.className = cls;
  li.textContent = text;
}

function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

const headers = () => (state.key ? { Authorization: `Bearer ${state.key}` } : {});

// Sends what is queued, oldest first: fixes in one batch, then each report. A network error
// or a 5xx keeps the item for the next try; an answer (2xx, or a 4xx that a repeat would get
// again) takes it off the queue.
async function flush() {
  if (state.flushing || !state.key) return;
  state.flushing = true;
  try {
    const items = await outboxAll();
    const fixes = items.filter((i) => i.kind === "fix");
    if (fixes.length) {
      const response = await fetch("/api/positions", {
        method: "POST",
        headers: { ...headers(), "Content-Type": "application/json" },
        body: JSON.stringify(fixes.map((f) => f.fix)),
      });
      if (response.status < 500) for (const f of fixes) await outboxDelete(f.seq);
    }
    for (const item of items.filter((i) => i.kind === "report")) {
      const form = new FormData();
      for (const [name, value] of Object.entries(item.fields)) form.append(name, String(value));
      for (const photo of item.photos) form.append("photos", photo, photo.name || "photo.jpg");
      const response = await fetch("/api/cases", { method: "POST", headers: headers(), body: form });
      const body = await response.json().catch(() => ({}));
      if (response.status >= 500) continue;
      await outboxDelete(item.seq);
      if (response.ok) {
        note(`已上报：案件 #${body.id}（${item.fields.description.slice(0, 20)}）${body.repeated ? "（重复发送，未重复立案）" : ""}`, "done", `r-${item.fields.client_id}`);
      } else {
        note(`未被受理：${body.error?.message || response.status}`, "failed", `r-${item.fields.client_id}`);
      }
    }
  } catch {
    // Offline or the server unreachable: the queue stays as it is.
  } finally {
    state.flushing = false;
    await showQueue();
  }
}

// --- Reports ------------------------------------------------------------------------------

async function report(event) {
  event.preventDefault();
  const form = event.target;
  const at = state.position || state.map?.getCenter();
  if (!at) return;
  const fields = {
    client_id: newId(),
    class: form.class.value,
    description: form.description.value.trim(),
    channel: "supervisor",
    lon: (at.lon ?? at.lng).toFixed(7),
    lat: at.lat.toFixed(7),
  };
  const photos = [...form.photo.files];
  await outboxAdd({ kind: "report", fields, photos, queued_at: Date.now() });
  note(`排队中：${fields.description.slice(0, 20)}`, "queued", `r-${fields.client_id}`);
  form.reset();
  await showQueue();
  flush();
}

async function loadClasses() {
  let data = null;
  try {
    const response = await fetch("/api/classes", { headers: headers() });
    if (response.ok) {
      data = await response.json();
      localStorage.setItem(CLASSES, JSON.stringify(data));
    }
  } catch {
    // offline: the list kept from the last time
  }
  data = data || JSON.parse(localStorage.getItem(CLASSES) || "null");
  const select = $("#class");
  select.innerHTML = "";
  for (const major of data?.majors || []) {
    const group = document.createElement("optgroup");
    group.label = major.name;
    for (const c of major.classes) group.append(new Option(`${c.code} ${c.name}`, c.code));
    select.append(group);
  }
}

// --- Position -------------------------------------------------------------------------------

function showMe() {
  if (!state.map || !state.position) return;
  const at = [state.position.lon, state.position.lat];
  if (!state.me) {
    const dot = document.createElement("div");
    dot.className = "me";
    dot.title = "我的位置";
    state.me = new maplibregl.Marker({ element: dot }).setLngLat(at).addTo(state.map);
  } else {
    state.me.setLngLat(at);
  }
}

async function onPosition(p) {
  const c = p.coords;
  state.position = { lon: c.longitude, lat: c.latitude, accuracy: c.accuracy, time: p.timestamp };
  showMe();
  if (state.who) {
    const fix = { who: state.who, time: new Date(p.timestamp).toISOString(), lon: c.longitude, lat: c.latitude };
    if (Number.isFinite(c.accuracy)) fix.accuracy = c.accuracy;
    if (Number.isFinite(c.speed) && c.speed !== null) fix.speed = c.speed;
    if (Number.isFinite(c.heading) && c.heading !== null) fix.heading = c.heading;
    await outboxAdd({ kind: "fix", fix });
    await showQueue();
    flush();
  }
}

// --- Map and the offline archive -------------------------------------------------------------

function transformStyle(_previous, next) {
  if (!state.archive || !next.sources?.gridlink) return next;
  return { ...next, sources: { ...next.sources, gridlink: { type: "vector", url: state.archive } } };
}

async function useArchive(blob, name) {
  if (typeof pmtiles === "undefined") return;
  if (!state.protocol) {
    state.protocol = new pmtiles.Protocol({ metadata: true });
    maplibregl.addProtocol("pmtiles", state.protocol.tile);
  }
  const archive = new pmtiles.PMTiles(new pmtiles.FileSource(new File([blob], name)));
  state.protocol.add(archive);
  state.archive = `pmtiles://${archive.source.getKey()}`;
  const header = await archive.getHeader();
  $("#archive").textContent = `离线地图：${name}（${header.minZoom}–${header.maxZoom} 级，${(blob.size / 1048576).toFixed(1)} MB）`;
}

function archiveUrl() {
  return new URLSearchParams(location.search).get("pmtiles") || "/offline/field.pmtiles";
}

async function download() {
  const url = archiveUrl();
  $("#archive").textContent = "下载中…";
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const blob = await response.blob();
    const name = url.split("/").pop();
    await filePut("archive", blob);
    await filePut("archive-name", name);
    await useArchive(blob, name);
    state.map.setStyle(STYLE, { diff: false, transformStyle });
  } catch (e) {
    $("#archive").textContent = `离线地图下载失败：${e.message}`;
  }
}

async function who() {
  if (!state.key) return;
  try {
    const response = await fetch("/api/workers/me", { headers: headers() });
    if (!response.ok) return;
    const body = await response.json();
    const me = body.workers?.[0];
    if (me) {
      state.who = me.id;
      localStorage.setItem("gridlink.fieldWho", me.id);
    }
  } catch {
    // offline: the worker remembered from the last time
  }
  $("#who").textContent = state.who ? `巡查员：${state.who}` : "此密钥未绑定巡查员：只能上报，不能上传位置";
}

async function start() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("key")) {
    state.key = hash.get("key");
    localStorage.setItem(KEY, state.key);
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("#key-form").hidden = Boolean(state.key);
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = $("#key").value.trim();
    localStorage.setItem(KEY, state.key);
    $("#key-form").hidden = true;
    who();
    loadClasses();
    flush();
  });
  showNet();
  addEventListener("online", () => {
    showNet();
    flush();
  });
  addEventListener("offline", showNet);
  setInterval(flush, RETRY_MS);
  $("#report").addEventListener("submit", report);
  $("#download").addEventListener("click", download);

  const stored = await fileGet("archive");
  if (stored) await useArchive(stored, (await fileGet("archive-name")) || "field.pmtiles");
  state.map = new maplibregl.Map({
    container: "map",
    center: [121.46, 30.92],
    zoom: 11,
    attributionControl: { compact: true },
  });
  // The style is set here, not in the constructor, so its first load too goes through the
  // archive when there is one (offline, the server's TileJSON cannot be fetched).
  state.map.setStyle(STYLE, { diff: false, transformStyle });
  state.map.once("idle", () => {
    window.gridlink.ready = true;
  });
  await Promise.all([who(), loadClasses()]);
  if (navigator.geolocation) {
    navigator.geolocation.watchPosition(onPosition, () => {}, { enableHighAccuracy: true, maximumAge: 10_000 });
  }
  await showQueue();
  flush();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/field-sw.js").catch(() => {});
}

start();

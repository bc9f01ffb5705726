// The incident panel of the emergency (应急) tab and the incident on the map:
//
// - the list of proposed and active incidents (GET /api/incidents?status=proposed,active),
//   kept current by `incident` stream events, with a toast for each new proposal;
// - one incident open: level and status, the duty officer's buttons (confirm, dismiss, raise,
//   lower, close — those the server's `allowed` lists), the timeline and the tasks with their
//   actions (acknowledge, start, done with a note and a photo — uploaded as multipart and shown
//   back as a thumbnail —, refuse with a reason; for a team task the
//   nearest available team of its type, or a team picked on the map; for a depot task the
//   nearest depot holding enough), and the duty report (/incidents/{id}/report) to print;
// - on the map: the incident area, its point, the tasks' places, the tasked teams and depots
//   (GET /api/incidents/{id}/features), and while a team is being picked the available teams of
//   the type asked for.

import { auth, api, getJson, $, escapeHtml, shortTime, toast, withPhotos } from "./api.js";
import { onStream } from "./cases.js";
import { distanceText as metres } from "./format.js";

const EMPTY = { type: "FeatureCollection", features: [] };
const LEVEL_COLOURS = { IV: "#1f6fe0", III: "#d4a900", II: "#f07800", I: "#e00000" };
const ACTION_NAMES = { confirm: "确认启动", dismiss: "排除", raise: "升级", lower: "降级", close: "结束响应" };
const ENTRY_NAMES = {
  proposed: "触发提议", trigger: "新的触发", held: "冷却期内再次触发（未提议）", opened: "值班员启动", confirmed: "确认启动响应", dismissed: "排除",
  raised: "提高等级", lowered: "降低等级", closed: "结束响应", task_added: "下达任务", task_acknowledged: "任务签收",
  task_started: "开始处置", task_done: "任务完成", task_refused: "任务拒收", team_assigned: "调派队伍", stock_drawn: "调拨物资",
};
const TASK_ACTIONS = { acknowledge: "签收", start: "开始", done: "完成", refuse: "拒收" };

const inc = {
  map: null,
  list: [],
  page: null,        // GET /api/incidents/{id}
  picking: null,     // task being given a team picked on the map
  doneFor: null,     // task whose completion form (note, photo) is open
  token: 0,
  data: { incident: EMPTY, "incident-candidates": EMPTY },  // kept for a style reload
};

window.gridlink = Object.assign(window.gridlink || {}, { incidents: { loads: 0, events: 0, page: null } });

const badge = (level) =>
  `<span class="badge level" data-incident-level="${escapeHtml(level)}" style="background:${LEVEL_COLOURS[level] || "#999"}">${escapeHtml(level)}级</span>`;

export function addLayers(map) {
  inc.map = map;
  const add = (id, data) => {
    if (!map.getSource(id)) map.addSource(id, { type: "geojson", data });
  };
  add("incident", inc.data.incident);
  add("incident-candidates", inc.data["incident-candidates"]);
  map.addLayer({ id: "incident-area", type: "fill", source: "incident", filter: ["==", ["get", "role"], "area"], paint: { "fill-color": "#c0392b", "fill-opacity": 0.15 } });
  map.addLayer({ id: "incident-area-line", type: "line", source: "incident", filter: ["==", ["get", "role"], "area"], paint: { "line-color": "#c0392b", "line-width": 2 } });
  map.addLayer({
    id: "incident-points", type: "circle", source: "incident", filter: ["!=", ["get", "role"], "area"],
    paint: {
      "circle-radius": ["match", ["get", "role"], "incident", 9, "team", 7, "depot", 7, 5],
      "circle-color": ["match", ["get", "role"], "incident", "#c0392b", "team", "#8e44ad", "depot", "#16a085",
        ["case", ["get", "overdue"], "#e74c3c", ["match", ["get", "status"], "done", "#27ae60", "refused", "#7f8c8d", "#f39c12"]]],
      "circle-stroke-color": "#fff", "circle-stroke-width": 2,
    },
  });
  map.addLayer({
    id: "incident-candidates", type: "circle", source: "incident-candidates",
    paint: { "circle-radius": 10, "circle-color": "#8e44ad", "circle-opacity": 0.75, "circle-stroke-color": "#fff", "circle-stroke-width": 3 },
  });
}

function setData(id, data) {
  inc.data[id] = data;
  inc.map?.getSource(id)?.setData(data);
}

async function loadList() {
  if (!auth.key) {
    inc.list = [];
    renderList();
    return;
  }
  try {
    const answer = await getJson("/api/incidents?status=proposed,active&limit=100");
    inc.list = answer.incidents;
    window.gridlink.incidents.loads += 1;
  } catch (error) {
    $("#inc-hint").textContent = `事件列表加载失败：${error.message}`;
  }
  renderList();
}

function renderList() {
  const ul = $("#inc-list");
  ul.innerHTML = inc.list
    .map((i) => `<li data-incident="${i.id}" tabindex="0" class="${inc.page?.incident.id === i.id ? "selected" : ""}">${badge(i.level)} <b>${escapeHtml(i.status_name)}</b> ${escapeHtml(i.title)} <span class="hint small">${shortTime(i.updated_time)}</span></li>`)
    .join("");
  $("#inc-empty").hidden = inc.list.length > 0 || !auth.key;
  $("#inc-card").hidden = !auth.key;
}

export async function open(id) {
  const token = ++inc.token;
  try {
    const page = await getJson(`/api/incidents/${id}`);
    if (token !== inc.token) return;
    show(page);
  } catch (error) {
    toast(`事件加载失败：${error.message}`, "error");
  }
}

function show(page) {
  inc.page = page;
  window.gridlink.incidents.page = page;
  renderDetail();
  renderList();
  drawOnMap();
}

async function drawOnMap() {
  if (!inc.page) {
    setData("incident", EMPTY);
    return;
  }
  try {
    const data = await getJson(`/api/incidents/${inc.page.incident.id}/features`);
    setData("incident", data);
  } catch {
    setData("incident", EMPTY);
  }
}

// A task photo address for an <img> or a link: <img> cannot send the Authorization header, so
// the staff key goes as ?key= (as for case photos).
function withKey(url) {
  if (!auth.key) return url;
  return `${url}${url.includes("?") ? "&" : "?"}key=${encodeURIComponent(auth.key)}`;
}

function photoHtml(t) {
  if (t.photo_thumb_url) {
    return `<a href="${escapeHtml(withKey(t.photo_url))}" target="_blank" rel="noopener"><img class="thumb" data-task-photo="${t.id}" alt="完成照片" src="${escapeHtml(withKey(t.photo_thumb_url))}"></a>`;
  }
  if (t.photo && /^https?:\/\//.test(t.photo)) return `<a href="${escapeHtml(t.photo)}" target="_blank" rel="noopener noreferrer">照片</a>`;
  return "";
}

// The completion form of a task: a note and one photo (the phone's camera on a phone).
function doneForm(t) {
  return `<form class="task-done" data-done-form="${t.id}">
    <input type="text" name="note" maxlength="2000" placeholder="完成情况" aria-label="完成情况">
    <input type="file" name="photo" accept="image/jpeg,image/png,image/webp" capture="environment" aria-label="现场照片">
    <button type="submit" class="primary">提交完成</button><button type="button" data-task-action="cancel-done" data-task="${t.id}">取消</button>
  </form>`;
}

function taskLine(t) {
  const who = t.team_name || t.depot_name || t.unit_name || t.unit || (t.team_kind ? `待派${t.team_kind}队伍` : t.item ? `待调拨 ${t.item} ×${t.quantity}` : "");
  const buttons = [];
  for (const a of t.allowed) {
    if (TASK_ACTIONS[a]) buttons.push(`<button type="button" data-task-action="${a}" data-task="${t.id}">${TASK_ACTIONS[a]}</button>`);
  }
  if (t.target === "team" && !t.team && t.allowed.includes("assign")) {
    buttons.push(`<button type="button" data-task-action="nearest-team" data-task="${t.id}">派最近队伍</button>`);
    buttons.push(`<button type="button" data-task-action="pick-team" data-task="${t.id}">地图选队伍</button>`);
  }
  if (t.target === "depot" && !t.depot && t.allowed.includes("draw")) {
    buttons.push(`<button type="button" data-task-action="nearest-depot" data-task="${t.id}">就近调拨</button>`);
  }
  return `<li data-task-row="${t.id}" class="task ${escapeHtml(t.status)}${t.overdue ? " overdue" : ""}">
    <b>${escapeHtml(t.title)}</b> · ${escapeHtml(who)}
    <span class="task-status">${escapeHtml(t.status_name)}${t.overdue ? "（超时）" : ""}</span>
    <span class="hint small">时限 ${shortTime(t.deadline_time)}</span>
    ${t.team_equipment ? `<span class="hint small">装备：${escapeHtml(t.team_equipment)}</span>` : ""}
    ${t.note ? `<span class="hint small">反馈：${escapeHtml(t.note)}</span>` : ""}
    ${photoHtml(t)}
    ${t.reason ? `<span class="hint small">理由：${escapeHtml(t.reason)}</span>` : ""}
    <span class="buttons small">${buttons.join("")}</span>
    ${inc.doneFor === t.id && t.allowed.includes("done") ? doneForm(t) : ""}</li>`;
}

function renderDetail() {
  const box = $("#inc-detail");
  const page = inc.page;
  if (!page) {
    box.innerHTML = "";
    return;
  }
  const i = page.incident;
  const actions = i.allowed.map((a) => `<button type="button" data-incident-action="${a}" class="${a === "confirm" ? "primary" : a === "dismiss" || a === "close" ? "danger" : ""}">${ACTION_NAMES[a] || a}</button>`).join("");
  const report = `/incidents/${i.id}/report?key=${encodeURIComponent(auth.key || "")}`;
  // A completion form being filled in survives a re-render (stream events re-read the page):
  // the same element, with its note and chosen photo, goes back in.
  const filling = inc.doneFor ? box.querySelector(`form[data-done-form="${inc.doneFor}"]`) : null;
  box.innerHTML = `
    <h4>${badge(i.level)} ${escapeHtml(i.title)}</h4>
    <p class="hint">${escapeHtml(i.plan_name || i.plan)} · <span id="inc-status">${escapeHtml(i.status_name)}</span> · ${shortTime(i.opened_time)}</p>
    <div class="buttons">${actions} <a id="inc-report" href="${report}" target="_blank" rel="noopener">值班快报</a></div>
    <h4>任务（${page.counts.tasks}，未完成 ${page.counts.open}，超时 ${page.counts.overdue}）</h4>
    <ul id="inc-tasks">${page.tasks.map(taskLine).join("")}</ul>
    <h4>时间线</h4>
    <ol id="inc-timeline">${page.timeline.map((e) => `<li data-entry="${escapeHtml(e.kind)}">${shortTime(e.time)} ${escapeHtml(ENTRY_NAMES[e.kind] || e.kind)}${e.level ? ` ${escapeHtml(e.level)}级` : ""} · ${escapeHtml(e.actor)}${e.note ? ` · ${escapeHtml(e.note)}` : ""}</li>`).join("")}</ol>`;
  if (filling) box.querySelector(`form[data-done-form="${inc.doneFor}"]`)?.replaceWith(filling);
}

async function incidentAction(action) {
  const i = inc.page?.incident;
  if (!i) return;
  const body = { action };
  if (action === "dismiss" || (action === "close" && inc.page.counts.open > 0)) {
    const reason = window.prompt(action === "dismiss" ? "排除理由" : `还有 ${inc.page.counts.open} 项任务未完成，结束理由`);
    if (!reason) return;
    body.reason = reason;
  }
  try {
    const { body: page } = await api(`/api/incidents/${i.id}/actions`, { method: "POST", body });
    show(page);
    loadList();
  } catch (error) {
    toast(`${ACTION_NAMES[action] || action}失败：${error.message}`, "error");
  }
}

function centre() {
  const i = inc.page.incident;
  return { lon: i.lon, lat: i.lat };
}

async function taskAction(task, body, files = []) {
  const id = inc.page.incident.id;
  try {
    await api(`/api/incidents/${id}/tasks/${task}/actions`, { method: "POST", body: withPhotos(body, files) });
    if (inc.doneFor === task) inc.doneFor = null;
    await open(id);
  } catch (error) {
    toast(`任务操作失败：${error.message}`, "error");
  }
}

// The completion form sent: done with the note and the photo (multipart when a photo is set).
function onDoneSubmit(form) {
  const task = Number(form.dataset.doneForm);
  const note = form.note.value.trim();
  const files = [...form.photo.files];
  if (files.length && files[0].size > 10 * 1024 * 1024) return toast("照片不能超过 10 MB", "error");
  form.querySelector('button[type="submit"]').disabled = true;
  return taskAction(task, { action: "done", note: note || undefined }, files);
}

async function onTaskButton(button) {
  const task = Number(button.dataset.task);
  const t = inc.page.tasks.find((x) => x.id === task);
  const action = button.dataset.taskAction;
  const { lon, lat } = centre();
  if (action === "nearest-team") {
    const answer = await getJson(`/api/teams?kind=${encodeURIComponent(t.team_kind)}&lon=${lon}&lat=${lat}&available=true&limit=1`);
    if (!answer.teams.length) return toast("没有待命的该类队伍", "error");
    return taskAction(task, { action: "assign", team: answer.teams[0].id });
  }
  if (action === "pick-team") return startPicking(t);
  if (action === "nearest-depot") {
    const answer = await getJson(`/api/depots?item=${encodeURIComponent(t.item)}&min=${t.quantity}&lon=${lon}&lat=${lat}&limit=1`);
    if (!answer.depots.length) return toast("没有库存足够的储备点", "error");
    return taskAction(task, { action: "draw", depot: answer.depots[0].id });
  }
  if (action === "done") {
    inc.doneFor = task;
    renderDetail();
    $(`#inc-tasks [data-done-form="${task}"] input[name="note"]`)?.focus();
    return;
  }
  if (action === "cancel-done") {
    inc.doneFor = null;
    return renderDetail();
  }
  const body = { action };
  if (action === "refuse") {
    const reason = window.prompt("拒收理由");
    if (!reason) return;
    body.reason = reason;
  }
  return taskAction(task, body);
}

// The available teams of the task's type, drawn for a click on the map.
async function startPicking(task) {
  const { lon, lat } = centre();
  const answer = await getJson(`/api/teams?kind=${encodeURIComponent(task.team_kind)}&lon=${lon}&lat=${lat}&available=true&limit=20`);
  inc.picking = task.id;
  setData("incident-candidates", {
    type: "FeatureCollection",
    features: answer.teams.map((t) => ({ type: "Feature", geometry: { type: "Point", coordinates: [t.lon, t.lat] }, properties: { id: t.id, name: t.name, headcount: t.headcount, distance: t.distance_m } })),
  });
  window.gridlink.incidents.candidates = answer.teams;
  toast(`在地图上点选一支队伍（${answer.teams.length} 支待命，最近 ${metres(answer.teams[0]?.distance_m)}）`);
}

// A click on the map: a candidate team under it while picking is assigned. True when used.
export function consumeClick(point) {
  if (!inc.picking || !inc.map?.getLayer("incident-candidates")) return false;
  const hit = inc.map.queryRenderedFeatures(point, { layers: ["incident-candidates"] })[0];
  if (!hit) return false;
  const task = inc.picking;
  inc.picking = null;
  setData("incident-candidates", EMPTY);
  taskAction(task, { action: "assign", team: hit.properties.id });
  return true;
}

function onIncident(event) {
  window.gridlink.incidents.events += 1;
  if (event.change === "proposed") toast(`新的事件提议：${event.title}（${event.level}级）`, "warn");
  loadList();
  if (inc.page?.incident.id === event.id) open(event.id);
}

function onTask(event) {
  window.gridlink.incidents.events += 1;
  if (inc.page?.incident.id === event.incident) open(event.incident);
}

export function onKeyChange() {
  if (!auth.key) {
    inc.page = null;
    renderDetail();
    setData("incident", EMPTY);
  }
  loadList();
}

export function initIncidents(map) {
  inc.map = map;
  $("#inc-list").addEventListener("click", (event) => {
    const li = event.target.closest("li[data-incident]");
    if (li) open(Number(li.dataset.incident));
  });
  $("#inc-detail").addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-done-form]");
    if (!form) return;
    event.preventDefault();
    onDoneSubmit(form);
  });
  $("#inc-detail").addEventListener("click", (event) => {
    const a = event.target.closest("[data-incident-action]");
    if (a) return incidentAction(a.dataset.incidentAction);
    const t = event.target.closest("[data-task-action]");
    if (t) onTaskButton(t);
  });
  onStream("incident", onIncident);
  onStream("task", onTask);
  onStream("ready", loadList);
  onStream("lagged", loadList);
  loadList();
}

// The case panel of the map page: the staff key, reporting a case by clicking the map, the
// case list with filters, a case's detail with its history and one button per action the key
// may take, live updates from /api/stream, and the case layer on the map (/tiles/cases/…).
// The page's one EventSource lives here; other modules listen to it through onStream().

import { auth, api, getJson, $, $$, escapeHtml, shortTime, fullTime, toast, ROLE_NAMES, photoSrc, withPhotos } from "./api.js";
import { classPicker } from "./classpicker.js";
import { distanceText } from "./format.js";
import { clearPick, showPick } from "./view.js";

export const STATUS = {
  reported: { name: "已上报", colour: "#f39c12" },
  filed: { name: "已立案", colour: "#d35400" },
  rejected: { name: "不予立案", colour: "#7f8c8d" },
  dispatched: { name: "已派遣", colour: "#2471a3" },
  in_progress: { name: "处置中", colour: "#17a589" },
  handled: { name: "已处置", colour: "#27ae60" },
  verifying: { name: "核查通过待结案", colour: "#1e8449" },
  closed: { name: "已结案", colour: "#aab7b8" },
  returned: { name: "已退回", colour: "#a04000" },
  suspended: { name: "挂账", colour: "#34495e" },
  reopened: { name: "返工", colour: "#8e44ad" },
};
const OPEN = Object.keys(STATUS).filter((s) => s !== "closed" && s !== "rejected");
const STATUS_GROUPS = {
  open: { name: "未结案", statuses: OPEN },
  pending: { name: "待立案或派遣", statuses: ["reported", "filed", "returned"] },
  on_clock: { name: "处置时限内（已派遣、处置中、返工）", statuses: ["dispatched", "in_progress", "reopened"] },
  checking: { name: "待核查或结案", statuses: ["handled", "verifying"] },
};
export const ACTION_NAMES = {
  created: "新上报", report: "上报", file: "立案", reject: "不予立案", dispatch: "派遣", start: "开始处置",
  feedback: "处置反馈", verify_ok: "核查通过", verify_fail: "核查不通过", return: "退回", extend: "延期",
  suspend: "挂账", resume: "恢复处置", supervise: "督办", close: "结案", overdue: "超期",
  pass_up: "上报区中心", hand_down: "下派", callback: "回访",
  supervision_order: "下达督办单", supervision_reply: "督办回复", supervision_close: "督办办结",
};
const SATISFACTION = { satisfied: "满意", basic: "基本满意", unsatisfied: "不满意" };
const ORDER_STATES = { open: "办理中", overdue: "已超期", replied: "已回复", closed: "已办结" };
// What each action asks for (mirrors the server: these need a note; extend needs hours).
const NEEDS_NOTE = new Set(["reject", "return", "extend", "verify_fail", "suspend", "feedback", "pass_up", "hand_down"]);
const DANGER = new Set(["reject", "return", "verify_fail", "suspend"]);
const CHANNEL_NAMES = { web: "网页", hotline_12345: "12345 热线", supervisor: "监督员", video: "视频监控", app: "移动端", open311: "Open311" };
const HISTORY_ROLES = { ...ROLE_NAMES, dispatcher: "调度员", system: "系统" };
const PAGE = 100;

const cs = {
  map: null,
  ctx: null,
  classes: null,            // /api/classes
  classNames: new Map(),    // code -> name
  urgencyNames: new Map(),  // code -> name
  towns: new Map(),         // code -> name
  units: new Map(),         // code -> name
  report: { active: false, marker: null, lngLat: null, locate: null, picker: null },
  rows: new Map(),          // id -> case, as listed
  total: 0,
  offset: 0,
  listToken: 0,
  // Cases the stream brought while a list request was in flight: the list's answer may be a
  // snapshot from before them, so they are laid over it when it arrives (else a case created
  // meanwhile would flash into the list and vanish again).
  sinceListRequest: null,
  detail: null,             // the open case (with history)
  stream: null,
  streamOpened: 0,
  refreshTimer: null,
  keyError: null,
  own: new Set(),           // "id:action" this page just took (the stream echo gets no toast)
};

// Exposed for the browser test and for debugging.
window.gridlink = Object.assign(window.gridlink || {}, { streamEvents: 0, lastStreamEvent: null, streamState: "off", lastReport: null });

const statusBadge = (status, name) =>
  `<span class="badge" data-status="${escapeHtml(status)}" style="background:${STATUS[status]?.colour || "#999"}">${escapeHtml(name || STATUS[status]?.name || status)}</span>`;
const townName = (code) => (code ? cs.towns.get(code) || code : "");
// A queue's name: the district centre's, or a town sub-centre's.
const queueName = (q) => (!q ? "" : q === "district" ? "区中心" : q.startsWith("town:") ? `${townName(q.slice(5))}分中心` : q);
const COMMAND_NAMES = { urban: "区城运中心", emergency: "区应急值班室", police_110: "110指挥中心", hotline_12345: "12345热线" };

// Whether a case is in the caller's own work (the list's queue=mine, for live updates).
function isMine(c) {
  const node = auth.works || "district";
  if (node === "district") return c.queue === "district";
  if (node.startsWith("town:")) return c.queue === node;
  if (node.startsWith("village:")) return c.village === node.slice(8);
  if (node.startsWith("unit:")) return c.unit === node.slice(5);
  return c.command === node;
}

// ---------------------------------------------------------------------------------------------
// Reference data: classes, towns, units.

async function loadClasses() {
  try {
    cs.classes = await getJson("/api/classes");
  } catch (error) {
    cs.classes = { urgency: [], majors: [], channels: [] };
    toast(`案件类别加载失败：${error.message}`, "error");
  }
  cs.classNames = new Map(cs.classes.majors.flatMap((m) => m.classes.map((c) => [c.code, c.name])));
  cs.urgencyNames = new Map(cs.classes.urgency.map((u) => [u.code, u.name]));
  fillClassSelect($("#f-class"), "全部类别");
}

// A class with a hazard to life says which emergency number to call first; a private class
// that the report will not be listed.
const CALL_NAMES = { 119: "火警和救援", 110: "报警", 120: "急救" };

function showClassAdvice() {
  const code = cs.report.picker?.value;
  const klass = cs.classes.majors.flatMap((m) => m.classes).find((c) => c.code === code);
  const call = $("#report-call");
  call.hidden = !klass?.call;
  call.dataset.call = klass?.call || "";
  if (klass?.call) call.textContent = `危及生命安全时，请先拨打 ${klass.call}（${CALL_NAMES[klass.call] || ""}），再上报。`;
  const visibility = $("#report-visibility");
  visibility.hidden = !(klass && klass.visibility !== "public");
  visibility.textContent = klass?.visibility === "private"
    ? "此类问题不公开列出：群众上报后仅本人可凭查询码查看进度。"
    : "此类问题仅限工作人员上报，不对公众公开。";
}

function fillClassSelect(select, placeholder) {
  const current = select.value;
  select.innerHTML = `<option value="">${escapeHtml(placeholder)}</option>` +
    cs.classes.majors.map((m) => `<optgroup label="${escapeHtml(m.name)}">${m.classes
      .map((c) => `<option value="${escapeHtml(c.code)}">${escapeHtml(c.name)}</option>`).join("")}</optgroup>`).join("");
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

async function loadTowns() {
  if (cs.towns.size) return;
  try {
    const body = await getJson("/ogc/collections/towns/items?limit=100");
    for (const f of body.features) cs.towns.set(String(f.id), f.properties?.name || String(f.id));
  } catch {
    // The filter falls back to codes.
  }
  for (const tr of $$("#case-list tbody tr")) {
    const c = cs.rows.get(Number(tr.dataset.id));
    if (c) tr.outerHTML = rowHtml(c);
  }
  const select = $("#f-town");
  select.innerHTML = `<option value="">全部街镇</option>` +
    [...cs.towns].map(([code, name]) => `<option value="${escapeHtml(code)}">${escapeHtml(name)}</option>`).join("");
  const queue = $("#f-queue");
  const chosen = queue.value;
  queue.innerHTML = `<option value="">全部案件（信息共享）</option><option value="mine">我的队列</option><option value="district">区中心队列</option>` +
    [...cs.towns].map(([code, name]) => `<option value="town:${escapeHtml(code)}">${escapeHtml(name)}分中心队列</option>`).join("");
  queue.value = chosen;
}

async function loadUnits() {
  if (cs.units.size || !auth.key) return;
  try {
    const body = await getJson("/api/appraisal?level=all");
    for (const u of body.units) cs.units.set(u.unit, u.name);
    $("#unit-options").innerHTML = [...cs.units]
      .map(([code, name]) => `<option value="${escapeHtml(code)}">${escapeHtml(name)}</option>`).join("");
  } catch {
    // Dispatch then takes the unit routing proposed, or a typed code.
  }
}

// ---------------------------------------------------------------------------------------------
// The key.

function roleFromActions(actions) {
  const has = (list) => actions.some((a) => list.includes(a.action));
  const kinds = [
    has(["file", "dispatch", "reject", "close", "suspend", "resume"]) && "dispatcher",
    has(["start", "feedback", "return"]) && "unit",
    has(["verify_ok", "verify_fail", "supervise"]) && "supervisor",
  ].filter(Boolean);
  if (kinds.length > 1) return "admin";
  return kinds[0] || null;
}

function showKeyStatus(extra) {
  const status = $("#key-status");
  if (!auth.key) {
    status.className = cs.keyError ? "warn" : "hint";
    status.textContent = cs.keyError || "未使用密钥：可上报案件；案件列表、处置和考核需要工作人员密钥。";
    document.body.classList.remove("staff");
    return;
  }
  document.body.classList.add("staff");
  const role = auth.role ? ROLE_NAMES[auth.role] || auth.role : "工作人员";
  const live = { live: "实时推送已连接", connecting: "正在连接实时推送…", reconnecting: "实时推送重连中…", off: "" }[window.gridlink.streamState] || "";
  status.className = "ok";
  status.innerHTML = `已验证 · 角色：<strong data-role="${escapeHtml(auth.role || "")}">${escapeHtml(role)}</strong>` +
    `${auth.unit ? ` · ${escapeHtml(auth.unit)}` : ""}${live ? ` · <span class="live ${window.gridlink.streamState}">${live}</span>` : ""}` +
    `${extra ? `<br>${escapeHtml(extra)}` : ""}`;
}

// Tries a key against GET /api/cases; the role comes from the answer where the server says it,
// otherwise from the buttons a case offers.
async function tryKey(key) {
  const { body, response } = await api("/api/cases?limit=1", { key });
  const role = body.role || body.caller?.role || response.headers.get("x-gridlink-role");
  return { role, unit: body.unit || body.caller?.unit || null, node: body.caller?.node || null, works: body.caller?.works || "district" };
}

async function useKey(key, { quiet = false } = {}) {
  key = (key || "").trim();
  try {
    const found = await tryKey(key);
    cs.keyError = null;
    auth.key = key;
    auth.role = found.role || null;
    auth.unit = found.unit;
    auth.node = found.node;
    auth.works = found.works;
    auth.remember(key);
    $("#key-input").value = key;
  } catch (error) {
    auth.key = null;
    auth.role = null;
    cs.keyError = error.status === 401 ? "密钥无效或已吊销，请检查后重新填写。" : `无法验证密钥：${error.message}`;
    showKeyStatus();
    if (!quiet) toast("密钥无效", "error");
    return false;
  }
  showKeyStatus();
  if (!quiet) toast("已使用工作人员密钥");
  return true;
}

async function applyKey() {
  $("#case-staff").hidden = !auth.key;
  showKeyStatus();
  await Promise.all([loadClasses(), cs.ctx.reloadForKey()]);
  $("#f-mine").checked = !!auth.unit;
  // A key bound to a node of the network opens on its own work: its queue, village or unit.
  $("#f-queue").value = auth.node ? "mine" : "";
  showMineFilter();
  // The list of the previous key goes at once: a unit must not see it as its own meanwhile.
  $("#case-list tbody").innerHTML = "";
  $("#case-list-summary").textContent = "";
  if (auth.key) {
    cs.rows.clear();
    closeDetail();
    startStream();
    loadList();
    await Promise.all([loadTowns(), loadUnits()]);
    showMineFilter();
  } else {
    stopStream();
    cs.rows.clear();
    closeDetail();
  }
}

async function clearKey() {
  cs.keyError = null;
  auth.key = null;
  auth.role = null;
  auth.unit = null;
  auth.node = null;
  auth.works = null;
  auth.remember("");
  $("#key-input").value = "";
  await applyKey();
}

// Called before the map is made, so the style and the layer list already carry a stored key.
export async function restoreKey() {
  $("#key-input").value = auth.stored;
  if (auth.stored) await useKey(auth.stored, { quiet: true });
}

// ---------------------------------------------------------------------------------------------
// Reporting.

export function setReportMode(on) {
  cs.report.active = on;
  document.body.classList.toggle("reporting", on);
  $("#report-toggle").classList.toggle("on", on);
  $("#report-toggle").textContent = on ? "取消上报" : "上报案件";
  if (cs.map) cs.map.getCanvas().style.cursor = on ? "crosshair" : "";
  if (on) {
    cs.ctx.showTab("cases");
    $("#report").innerHTML = `<div class="card notice" id="report-hint">请在地图上点击案件发生位置。</div>`;
  } else if ($("#report-hint") || $("#report-form")) {
    $("#report").innerHTML = "";
    cs.report.marker?.remove();
    cs.report.marker = null;
  }
}

export function isReporting() {
  return cs.report.active;
}

export async function reportAt(lngLat) {
  cs.report.lngLat = { lng: lngLat.lng, lat: lngLat.lat };
  clearPick();
  cs.report.marker?.remove();
  cs.report.marker = new maplibregl.Marker({ color: "#c0392b" }).setLngLat(lngLat).addTo(cs.map);
  cs.ctx.showTab("cases");
  renderReportForm(null);
  try {
    const located = await getJson(`/api/locate?lon=${lngLat.lng}&lat=${lngLat.lat}`);
    cs.report.locate = located;
    renderReportPlace(located);
  } catch (error) {
    $("#report-place").innerHTML = `<span class="warn">${escapeHtml(error.message)}（不在辖区内的位置无法上报）</span>`;
  }
}

function renderReportPlace(located) {
  $("#report-place").innerHTML = `${escapeHtml(located.town?.name || "")} · ${escapeHtml(located.village?.name || "")} · 网格 ${escapeHtml(located.cell?.id || "")}`;
}

function renderReportForm() {
  const { lng, lat } = cs.report.lngLat;
  const urgencies = cs.classes.urgency.map((u) => `<option value="${escapeHtml(u.code)}"${u.code === "normal" ? " selected" : ""}>${escapeHtml(u.name)}</option>`).join("");
  const channels = auth.key
    ? `<label>来源渠道<select id="report-channel">${cs.classes.channels.map((c) => `<option value="${escapeHtml(c)}">${escapeHtml(CHANNEL_NAMES[c] || c)}</option>`).join("")}</select></label>`
    : "";
  $("#report").innerHTML = `<form class="card form" id="report-form" novalidate>
      <h3>上报案件</h3>
      <p class="place">位置：${lng.toFixed(6)}, ${lat.toFixed(6)}<br><span id="report-place" class="hint">正在定位…</span></p>
      <div class="label">案件类别<div id="report-class"></div></div>
      <p id="report-call" class="call-first" role="alert" hidden></p>
      <p id="report-visibility" class="hint" hidden></p>
      <label>紧急程度<select id="report-urgency">${urgencies}</select></label>
      <label>问题描述<textarea id="report-description" rows="3" maxlength="4000" required placeholder="例如：人行道井盖缺失，有行人跌落风险"></textarea></label>
      <label>现场照片（最多 9 张，每张不超过 10 MB）<input id="report-files" type="file" accept="image/jpeg,image/png,image/webp" multiple></label>
      <label>现场照片链接<input id="report-photo" type="url" placeholder="https://…（可选）"></label>
      <label>地址<input id="report-address" placeholder="可选"></label>
      <label>上报人 / 联系方式<input id="report-reporter" placeholder="可选"></label>
      ${channels}
      <p class="warn" id="report-error" hidden></p>
      <div class="buttons"><button type="submit" class="primary" id="report-submit">提交上报</button><button type="button" id="report-cancel">取消</button></div>
    </form>`;
  const previous = cs.report.picker?.value;
  cs.report.picker = classPicker($("#report-class"), cs.classes.majors, { onChange: showClassAdvice });
  if (previous) cs.report.picker.value = previous;
  showClassAdvice();
  $("#report-cancel").addEventListener("click", () => setReportMode(false));
  $("#report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitReport();
  });
}

async function submitReport() {
  const error = $("#report-error");
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  error.hidden = true;
  const photo = $("#report-photo").value.trim();
  const body = {
    class: cs.report.picker?.value || "",
    urgency: $("#report-urgency").value,
    lon: cs.report.lngLat.lng,
    lat: cs.report.lngLat.lat,
    description: $("#report-description").value.trim(),
    photos: photo ? [photo] : [],
    address: $("#report-address").value.trim() || null,
    reporter: $("#report-reporter").value.trim() || null,
    channel: $("#report-channel")?.value || "web",
  };
  if (!body.class) return fail("请选择案件类别。");
  if (!body.description) return fail("请填写问题描述。");
  if (photo && !/^https?:\/\/\S+$/.test(photo)) return fail("照片链接须以 http:// 或 https:// 开头。");
  const files = [...($("#report-files")?.files || [])];
  if (files.length + body.photos.length > 9) return fail("照片最多 9 张。");
  if (files.some((f) => f.size > 10 * 1024 * 1024)) return fail("每张照片不超过 10 MB。");
  $("#report-submit").disabled = true;
  try {
    const { body: created } = await api("/api/cases", { method: "POST", body: withPhotos(body, files) });
    cs.own.add(`${created.id}:created`);
    window.gridlink.lastReport = created;
    cs.report.active = false;
    setReportMode(false);
    renderReportResult(created);
    toast(`案件 #${created.id} 已受理`);
  } catch (err) {
    $("#report-submit").disabled = false;
    fail(`${err.message}${err.field ? `（${err.field}）` : ""}`);
  }
}

async function renderReportResult(created) {
  // Staff get the case as staff see it; a report without a key gets its public view (no grid
  // cell, no other report's text), a tracking link and the number of open cases nearby.
  const citizen = Boolean(created.tracking_token);
  const located = cs.report.locate && (citizen || cs.report.locate.cell?.id === created.cell) ? cs.report.locate : null;
  const cell = citizen ? located?.cell?.id : created.cell;
  const villageCode = created.village;
  const villageName = created.village_name || located?.village?.name;
  const village = villageName ? `${villageName}（${villageCode}）` : villageCode;
  const town = created.town_name || located?.town?.name || townName(created.town);
  let dupHtml;
  if (citizen) {
    const nearby = created.duplicates_nearby || { count: 0, listed_ids: [] };
    dupHtml = nearby.count
      ? `<div class="duplicates warn" data-duplicates="${nearby.count}"><strong>附近 ${escapeHtml(nearby.radius_m)} 米内已有 ${nearby.count} 件同类问题在处理中。</strong>${nearby.listed_ids.length ? `<ul>${nearby.listed_ids.map((id) => `<li data-duplicate="${id}">公开案件 #${id}</li>`).join("")}</ul>` : ""}</div>`
      : `<p class="hint" data-duplicates="0">附近没有同类未结案件。</p>`;
  } else {
    const duplicates = created.possible_duplicates || [];
    dupHtml = duplicates.length
      ? `<div class="duplicates warn" data-duplicates="${duplicates.length}"><strong>附近 50 米内有 ${duplicates.length} 件同类未结案件，可能重复：</strong><ul>${duplicates
        .map((d) => `<li data-duplicate="${d.id}">#${d.id} · ${distanceText(d.distance_m)} · ${escapeHtml(STATUS[d.status]?.name || d.status)} · ${escapeHtml(d.description)}</li>`).join("")}</ul></div>`
      : `<p class="hint" data-duplicates="0">附近没有同类未结案件。</p>`;
  }
  const tracking = citizen
    ? `<dt>查询进度</dt><dd><a id="report-tracking" href="${escapeHtml(created.tracking_url)}" target="_blank" rel="noopener noreferrer">进度查询链接</a><br><small>查询码（请保存，只显示这一次）：<code>${escapeHtml(created.tracking_token)}</code></small></dd>`
    : "";
  $("#report").innerHTML = `<div class="card" id="report-result" data-case-id="${created.id}">
      <h3>上报成功 · 案件编号 <span class="case-no">#${created.id}</span></h3>
      <dl>
        <dt>状态</dt><dd>${citizen ? escapeHtml(created.status_name) : statusBadge(created.status, created.status_name)}</dd>
        <dt>类别</dt><dd>${escapeHtml(created.class_name || created.class)}</dd>
        <dt>单元网格</dt><dd data-cell="${escapeHtml(cell)}">${escapeHtml(cell || "—")}</dd>
        <dt>村居</dt><dd data-village="${escapeHtml(villageCode)}">${escapeHtml(village || "—")}</dd>
        <dt>街镇</dt><dd data-town="${escapeHtml(created.town)}">${escapeHtml(town || "—")}</dd>
        ${tracking}
        ${created.ambiguous ? `<dt></dt><dd class="warn">位置靠近网格边界，立案时请核对。</dd>` : ""}
      </dl>
      ${citizen ? `<p class="hint">问题描述和照片经调度员审核后才会公开；您的联系方式不会公开。</p>` : ""}
      ${dupHtml}
      <div class="buttons">${auth.key ? `<button data-open="${created.id}">查看案件</button>` : ""}<button id="report-close">关闭</button></div>
    </div>`;
  $("#report-close").addEventListener("click", () => {
    $("#report").innerHTML = "";
    cs.report.marker?.remove();
    cs.report.marker = null;
  });
  $("#report [data-open]")?.addEventListener("click", () => openDetail(created.id));
}

// ---------------------------------------------------------------------------------------------
// The list.

function currentFilter() {
  const status = $("#f-status").value;
  return {
    queue: $("#f-queue").value,
    statuses: STATUS_GROUPS[status]?.statuses || (status ? [status] : []),
    class: $("#f-class").value,
    town: $("#f-town").value,
    overdue: $("#f-overdue").checked,
    // 本单位: a unit key's own cases (the list's unit= filter with the key's unit).
    unit: auth.unit && $("#f-mine").checked ? auth.unit : "",
  };
}

function matches(c, f) {
  const queue = !f.queue || (f.queue === "mine" ? isMine(c) : c.queue === f.queue);
  return queue && (!f.statuses.length || f.statuses.includes(c.status)) &&
    (!f.class || c.class === f.class) &&
    (!f.town || c.town === f.town) &&
    (!f.unit || c.unit === f.unit) &&
    (!f.overdue || c.overdue);
}

// The 本单位 switch: shown for unit keys only, and on when such a key is set.
function showMineFilter() {
  const label = $("#f-mine-label");
  label.hidden = !auth.unit;
  if (!auth.unit) return;
  const name = cs.units.get(auth.unit);
  $("#f-mine-name").textContent = name ? `（${name}）` : `（${auth.unit}）`;
}

function rowHtml(c) {
  const cls = [c.overdue ? "overdue" : "", c.supervised ? "supervised" : "", c.id === cs.detail?.id ? "selected" : ""].join(" ").trim();
  return `<tr data-id="${c.id}" data-status="${escapeHtml(c.status)}" class="${cls}" tabindex="0">
      <td class="no">#${c.id}</td>
      <td><div>${escapeHtml(c.class_name || cs.classNames.get(c.class) || c.class)}</div><small>${escapeHtml((c.description || "").slice(0, 40))}</small></td>
      <td>${statusBadge(c.status, c.status_name)}${c.overdue ? `<span class="tag overdue">超期</span>` : ""}${c.supervised ? `<span class="tag">督办</span>` : ""}</td>
      <td><div>${escapeHtml(c.town_name || townName(c.town))}${c.village_name ? ` · ${escapeHtml(c.village_name)}` : ""}</div><small>${escapeHtml(c.unit_name || "")}</small></td>
      <td><div>${escapeHtml(shortTime(c.reported_time))}</div><small>${c.deadline_time ? `时限 ${escapeHtml(shortTime(c.deadline_time))}` : ""}</small></td>
    </tr>`;
}

function renderSummary() {
  const shown = $$("#case-list tbody tr").length;
  $("#case-list-summary").textContent = cs.total ? `共 ${cs.total} 件，显示 ${shown} 件` : "没有符合条件的案件";
  $("#case-more").hidden = cs.offset >= cs.total;
}

export async function loadList({ append = false } = {}) {
  if (!auth.key) return;
  const f = currentFilter();
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(append ? cs.offset : 0) });
  if (f.queue) params.set("queue", f.queue);
  if (f.statuses.length) params.set("status", f.statuses.join(","));
  if (f.class) params.set("class", f.class);
  if (f.town) params.set("town", f.town);
  if (f.overdue) params.set("overdue", "true");
  if (f.unit) params.set("unit", f.unit);
  const token = ++cs.listToken;
  if (!append) cs.sinceListRequest = new Map();
  $("#case-list").classList.add("loading");
  try {
    const { body } = await api(`/api/cases?${params}`);
    if (token !== cs.listToken) return;
    if (!auth.role && body.role) auth.role = body.role;
    const tbody = $("#case-list tbody");
    if (!append) {
      cs.rows.clear();
      tbody.innerHTML = "";
    }
    for (const c of body.cases) cs.rows.set(c.id, c);
    tbody.insertAdjacentHTML("beforeend", body.cases.map(rowHtml).join(""));
    cs.total = body.total;
    cs.offset = (append ? cs.offset : 0) + body.cases.length;
    renderSummary();
    if (!append) {
      const newer = cs.sinceListRequest;
      cs.sinceListRequest = null;
      for (const c of newer?.values() || []) upsertRow(c, { flash: false });
    }
    window.gridlink.listLoaded = (window.gridlink.listLoaded || 0) + 1;
  } catch (error) {
    if (token === cs.listToken) $("#case-list-summary").innerHTML = `<span class="warn">${escapeHtml(error.message)}</span>`;
  } finally {
    if (token === cs.listToken) {
      $("#case-list").classList.remove("loading");
      if (!append) cs.sinceListRequest = null;
    }
  }
}

// A case changed (stream or own action): update its row, or add it on top when it now matches.
function upsertRow(c, { flash = true } = {}) {
  const tbody = $("#case-list tbody");
  const existing = tbody.querySelector(`tr[data-id="${c.id}"]`);
  const f = currentFilter();
  if (existing) {
    cs.rows.set(c.id, c);
    existing.outerHTML = rowHtml(c);
  } else if (matches(c, f)) {
    cs.rows.set(c.id, c);
    tbody.insertAdjacentHTML("afterbegin", rowHtml(c));
    cs.total += 1;
    cs.offset += 1;
  } else {
    return;
  }
  const row = tbody.querySelector(`tr[data-id="${c.id}"]`);
  if (!matches(c, f)) row.classList.add("stale");
  if (flash) {
    row.classList.add("flash");
    setTimeout(() => row.classList.remove("flash"), 1600);
  }
  renderSummary();
}

// ---------------------------------------------------------------------------------------------
// The detail.

function closeDetail() {
  cs.detail = null;
  $("#case-detail").hidden = true;
  $("#case-detail").innerHTML = "";
  $("#case-list-view").hidden = false;
  $$("#case-list tr.selected").forEach((r) => r.classList.remove("selected"));
}

export async function openDetail(id) {
  if (!auth.key) {
    toast("查看案件需要工作人员密钥", "error");
    return;
  }
  cs.ctx.showTab("cases");
  $("#case-detail").hidden = false;
  $("#case-list-view").hidden = true;
  if (cs.detail?.id !== id) $("#case-detail").innerHTML = `<p class="hint">正在加载案件 #${id}…</p>`;
  $$("#case-list tr").forEach((r) => r.classList.toggle("selected", Number(r.dataset.id) === id));
  await refreshDetail(id, { fresh: true });
}

async function refreshDetail(id, { fresh = false } = {}) {
  try {
    const c = await getJson(`/api/cases/${id}`);
    if (!fresh && cs.detail?.id !== id) return; // closed or moved on meanwhile
    const formOpen = cs.detail?.id === id && $("#action-form")?.dataset.action;
    cs.detail = c;
    if (!auth.role) {
      const guessed = roleFromActions(c.available_actions || []);
      if (guessed) {
        auth.role = guessed;
        showKeyStatus();
      }
    }
    renderDetail(c, { keepForm: formOpen && c.available_actions.some((a) => a.action === formOpen) ? formOpen : null });
  } catch (error) {
    $("#case-detail").innerHTML = `<button class="link" id="detail-back">← 返回列表</button><p class="warn">${escapeHtml(error.message)}</p>`;
    $("#detail-back").addEventListener("click", closeDetail);
  }
}

// Photos as thumbnails (stored ones) or links (outside URLs).
function photoLinks(photos) {
  return photos
    .map((p, i) => (/^\/api\/photos\//.test(p)
      ? `<a href="${escapeHtml(photoSrc(p))}" target="_blank" rel="noopener"><img class="thumb" alt="照片 ${i + 1}" src="${escapeHtml(photoSrc(p, { thumb: true }))}"></a>`
      : `<a href="${escapeHtml(p)}" target="_blank" rel="noopener noreferrer">照片 ${i + 1}</a>`))
    .join(" ");
}

function renderDetail(c, { keepForm = null } = {}) {
  const keptForm = keepForm ? $("#action-form") : null;
  const rows = [
    ["类别", `${escapeHtml(c.class_name || c.class)}`],
    ["紧急程度", escapeHtml(cs.urgencyNames.get(c.urgency) || c.urgency)],
    ["问题描述", escapeHtml(c.description)],
    c.address && ["地址", escapeHtml(c.address)],
    c.photos?.length && ["照片", photoLinks(c.photos)],
    ["公开情况", `${c.public_report ? "群众上报" : "内部录入（不公开列出）"} · 描述${c.public_description ? `已公开：${escapeHtml(c.public_description)}` : "未公开"} · 照片${c.photos_public ? "已公开" : "未公开"}`],
    ["来源", escapeHtml(CHANNEL_NAMES[c.channel] || c.channel)],
    c.reporter && ["上报人", escapeHtml(c.reporter)],
    ["单元网格", escapeHtml(c.cell || "—")],
    ["村居", `<span data-village="${escapeHtml(c.village)}">${escapeHtml(c.village_name ? `${c.village_name}（${c.village}）` : c.village || "—")}</span>`],
    ["街镇", escapeHtml(c.town_name || townName(c.town) || "—")],
    ["所在队列", `<span data-queue="${escapeHtml(c.queue)}">${escapeHtml(queueName(c.queue))}</span>${c.first_queue && c.first_queue !== c.queue ? ` <small>首接：${escapeHtml(queueName(c.first_queue))}</small>` : ""}`],
    c.command && ["指挥机构", escapeHtml(COMMAND_NAMES[c.command] || c.command)],
    ["处置单位", c.unit ? `${escapeHtml(c.unit_name || c.unit)} <small>${escapeHtml(c.unit)}${c.unit_basis ? ` · ${escapeHtml({ jurisdiction: "按辖区", nearest: "就近", dispatcher: "调度指定" }[c.unit_basis] || c.unit_basis)}` : ""}</small>` : "—"],
    ["上报时间", escapeHtml(fullTime(c.reported_time))],
    c.deadline_time && ["处置时限", `${escapeHtml(fullTime(c.deadline_time))}${c.overdue ? ` <span class="tag overdue">已超期</span>` : ""}`],
    c.handled_time && ["处置完成", escapeHtml(fullTime(c.handled_time))],
    c.closed_time && ["结案时间", escapeHtml(fullTime(c.closed_time))],
  ].filter(Boolean);
  const actions = c.available_actions || [];
  const history = (c.history || []).slice().reverse();
  const el = $("#case-detail");
  el.dataset.id = c.id;
  el.dataset.status = c.status;
  el.classList.toggle("overdue", !!c.overdue);
  el.innerHTML = `
    <div class="detail-head"><button class="link" id="detail-back">← 返回列表</button><button class="link" id="detail-fly">在地图上定位</button></div>
    <h3>案件 #${c.id} ${statusBadge(c.status, c.status_name)}${c.overdue ? `<span class="tag overdue">超期</span>` : ""}${c.supervised ? `<span class="tag">督办</span>` : ""}</h3>
    <dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join("")}</dl>
    <div id="detail-actions" class="buttons">${actions.length
      ? actions.map((a) => `<button data-action="${escapeHtml(a.action)}" class="${DANGER.has(a.action) ? "danger" : "primary"}">${escapeHtml(a.name)}</button>`).join("")
      : `<span class="hint">当前密钥对此案件没有可执行的操作。</span>`}</div>
    <div id="action-slot"></div>
    <h4>处置过程</h4>
    <ol class="history">${history.map((e) => `<li data-action="${escapeHtml(e.action)}">
        <div><strong>${escapeHtml(e.action_name || ACTION_NAMES[e.action] || e.action)}</strong>
        ${e.to_status ? ` → ${escapeHtml(STATUS[e.to_status]?.name || e.to_status)}` : ""}
        <small>${escapeHtml(fullTime(e.time))}</small></div>
        <div class="who">${escapeHtml(HISTORY_ROLES[e.role] || e.role)} · ${escapeHtml(e.actor)}${e.unit ? ` · ${escapeHtml(cs.units.get(e.unit) || e.unit)}` : ""}</div>
        ${e.note ? `<div class="note">${escapeHtml(e.note)}</div>` : ""}
        ${e.public_note ? `<div class="note public-note">对公众：${escapeHtml(e.public_note)}</div>` : ""}
        ${e.photos?.length ? `<div class="photos">${photoLinks(e.photos)}</div>` : ""}
        ${e.data?.unit && e.action !== "report" ? `<div class="who">处置单位：${escapeHtml(cs.units.get(e.data.unit) || e.data.unit)}</div>` : ""}
        ${e.data?.hours ? `<div class="who">延期 ${escapeHtml(e.data.hours)} 小时</div>` : ""}
        ${e.data?.to_queue ? `<div class="who">${escapeHtml(queueName(e.data.from_queue))} → ${escapeHtml(queueName(e.data.to_queue))}</div>` : ""}
        ${e.action === "callback" ? `<div class="who">${e.data?.reached ? `回访：${escapeHtml(SATISFACTION[e.data.satisfaction] || "")}` : "未联系上"}${e.data?.reopened ? " · 已返工" : ""}${e.data?.closed ? " · 已结案" : ""}</div>` : ""}
      </li>`).join("")}</ol>
    ${ordersHtml(c)}`;
  $("#detail-back").addEventListener("click", closeDetail);
  $("#detail-fly").addEventListener("click", () => {
    showPick({ lng: c.lon, lat: c.lat });
    cs.map.flyTo({ center: [c.lon, c.lat], zoom: Math.max(cs.map.getZoom(), 16) });
  });
  $$("#detail-actions button[data-action]").forEach((b) => b.addEventListener("click", () => openActionForm(c, actions.find((a) => a.action === b.dataset.action))));
  bindOrders(c);
  if (keptForm) $("#action-slot").appendChild(keptForm);
}

function openActionForm(c, action) {
  const name = action.name;
  const needsNote = NEEDS_NOTE.has(action.action);
  let fields = "";
  if (action.action === "dispatch") {
    const proposed = c.unit ? `建议：${cs.units.get(c.unit) || c.unit_name || c.unit}（${c.unit}，${c.unit_basis === "nearest" ? "就近" : "按辖区"}）` : "系统未找到处置单位，请填写单位编码";
    fields += `<label>处置单位<input id="action-unit" list="unit-options" value="${escapeHtml(c.unit || "")}" placeholder="单位编码"></label><p class="hint">${escapeHtml(proposed)}</p>`;
  }
  if (action.action === "hand_down") {
    fields += `<label>下派至<select id="action-town">${[...cs.towns].map(([code, n]) => `<option value="${escapeHtml(code)}"${code === c.town ? " selected" : ""}>${escapeHtml(n)}分中心</option>`).join("")}</select></label>`;
  }
  if (action.action === "callback") {
    fields += `<label class="check"><input id="callback-reached" type="checkbox" checked> 已联系上反映人</label>
      <label>满意度<select id="callback-satisfaction">${Object.entries(SATISFACTION).map(([k, n]) => `<option value="${k}">${escapeHtml(n)}</option>`).join("")}</select></label>
      <label class="check"><input id="callback-reopen" type="checkbox"> 不满意：退回返工</label>
      ${c.status === "verifying" ? `<label class="check"><input id="callback-close" type="checkbox"> 满意：同时结案</label>` : ""}`;
  }
  if (action.action === "extend") {
    fields += `<label>延期小时数<input id="action-hours" type="number" min="1" max="720" step="1" value="24"></label>`;
  }
  if (action.action === "feedback") {
    fields += `<label>处置后照片（最多 9 张）<input id="action-files" type="file" accept="image/jpeg,image/png,image/webp" multiple></label>`;
    fields += `<label>处置后照片链接<input id="action-photo" type="url" placeholder="https://…（可选）"></label>`;
  }
  if (action.action === "publish") {
    // Moderation: what the public (Open311, the public page) sees of this case.
    fields += `<label class="check"><input id="publish-description" type="checkbox" ${c.public_description ? "checked" : ""}> 公开问题描述（可删改姓名、门牌等后公开）</label>
      <textarea id="public-description" rows="3" maxlength="4000">${escapeHtml(c.public_description || c.description)}</textarea>
      <label class="check"><input id="publish-photos" type="checkbox" ${c.photos_public ? "checked" : ""}> 公开上报照片</label>`;
  }
  if (action.action !== "publish") {
    fields += `<label>${needsNote ? "说明（必填，仅内部可见）" : "备注（可选，仅内部可见）"}<textarea id="action-note" rows="2" ${needsNote ? "required" : ""}></textarea></label>`;
  }
  fields += `<label>对公众说明（可选，公开显示在进度查询和 Open311 中）<textarea id="action-public-note" rows="2" maxlength="4000"></textarea></label>`;
  $("#action-slot").innerHTML = `<form class="card form" id="action-form" data-action="${escapeHtml(action.action)}" novalidate>
      <h3>${escapeHtml(name)} · 案件 #${c.id}</h3>${fields}
      <p class="warn" id="action-error" hidden></p>
      <div class="buttons"><button type="submit" class="${DANGER.has(action.action) ? "danger" : "primary"}" id="action-confirm">确认${escapeHtml(name)}</button><button type="button" id="action-cancel">取消</button></div>
    </form>`;
  $("#action-cancel").addEventListener("click", () => ($("#action-slot").innerHTML = ""));
  $("#action-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitAction(c.id, action);
  });
  ($("#action-note") || $("#action-public-note")).focus();
}

async function submitAction(id, action) {
  const error = $("#action-error");
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  const body = { action: action.action };
  const note = $("#action-note")?.value.trim() || "";
  if (note) body.note = note;
  const publicNote = $("#action-public-note").value.trim();
  if (publicNote) body.public_note = publicNote;
  if (action.action === "publish") {
    const c = cs.detail;
    const approve = $("#publish-description").checked;
    const text = $("#public-description").value.trim();
    if (approve && !text) return fail("要公开的描述不能为空。");
    if (approve && text !== (c?.public_description || "")) body.public_description = text;
    if (!approve && c?.public_description) body.publish_description = false;
    const photos = $("#publish-photos").checked;
    if (photos !== Boolean(c?.photos_public)) body.publish_photos = photos;
    if (Object.keys(body).length === 1) return fail("没有要公开或更改的内容。");
  }
  if (NEEDS_NOTE.has(action.action) && !note) return fail(`${action.name}需要填写说明。`);
  if (action.action === "dispatch") {
    const unit = $("#action-unit").value.trim();
    if (unit) body.unit = unit;
  }
  if (action.action === "hand_down") body.town = $("#action-town").value;
  if (action.action === "callback") {
    body.reached = $("#callback-reached").checked;
    if (body.reached) body.satisfaction = $("#callback-satisfaction").value;
    if (body.reached && body.satisfaction === "unsatisfied" && $("#callback-reopen").checked) body.reopen = true;
    if (body.reached && body.satisfaction !== "unsatisfied" && $("#callback-close")?.checked) body.close = true;
  }
  if (action.action === "extend") {
    const hours = Number($("#action-hours").value);
    if (!Number.isInteger(hours) || hours < 1 || hours > 720) return fail("延期小时数须为 1–720 的整数。");
    body.hours = hours;
  }
  const photo = $("#action-photo")?.value.trim();
  if (photo) body.photos = [photo];
  const files = [...($("#action-files")?.files || [])];
  if (files.length + (body.photos?.length || 0) > 9) return fail("照片最多 9 张。");
  $("#action-confirm").disabled = true;
  try {
    cs.own.add(`${id}:${action.action}`);
    const { body: after } = await api(`/api/cases/${id}/actions`, { method: "POST", body: withPhotos(body, files) });
    $("#action-slot").innerHTML = "";
    toast(`案件 #${id} ${action.name}成功：${after.status_name}`);
    await refreshDetail(id);
    scheduleTileRefresh();
  } catch (err) {
    cs.own.delete(`${id}:${action.action}`);
    $("#action-confirm").disabled = false;
    const hint = { 401: "需要密钥", 403: "无权执行", 409: "案件状态已变化" }[err.status];
    fail(`${hint ? `${hint}：` : ""}${err.message}`);
    if (err.status === 409) refreshDetail(id);
  }
}

// ---------------------------------------------------------------------------------------------
// Supervision orders (督办单) on the case page.

// Who may issue one here: the district centre, or a sub-centre about a case of its own town.
function mayIssue(c) {
  if (!["dispatcher", "supervisor", "admin"].includes(auth.role)) return false;
  const node = auth.works || "district";
  return node === "district" || (node.startsWith("town:") && c.town === node.slice(5));
}

function ordersHtml(c) {
  const orders = c.supervision_orders || [];
  const mine = auth.works || "district";
  const list = orders.map((o) => `<li data-order="${o.id}" data-state="${escapeHtml(o.state)}">
      <div><strong>督办单 #${o.id}</strong> → ${escapeHtml(o.target.startsWith("town:") ? queueName(o.target) : cs.units.get(o.target.slice(5)) || o.target)}
        <span class="tag${o.state === "overdue" ? " overdue" : ""}">${escapeHtml(ORDER_STATES[o.state] || o.state)}</span></div>
      <div class="note">${escapeHtml(o.requirement)}</div>
      <div class="who">时限 ${escapeHtml(fullTime(o.due_time))} · ${escapeHtml(queueName(o.issuer))}</div>
      ${o.reply ? `<div class="note">回复：${escapeHtml(o.reply)}${o.answered_on_time === false ? ` <span class="tag overdue">逾期回复</span>` : ""}</div>` : ""}
      <div class="buttons">${(o.state === "open" || o.state === "overdue") && (o.target === mine || auth.role === "admin") ? `<button data-reply="${o.id}">回复</button>` : ""}${o.state !== "closed" && (o.issuer === mine || auth.role === "admin") ? `<button data-close-order="${o.id}">办结</button>` : ""}</div>
    </li>`).join("");
  const issue = mayIssue(c) && !["closed", "rejected"].includes(c.status)
    ? `<button id="order-new">下达督办单</button>` : "";
  if (!orders.length && !issue) return "";
  return `<h4>督办单</h4><ol class="history orders">${list}</ol>${issue}<div id="order-slot"></div>`;
}

function bindOrders(c) {
  $("#order-new")?.addEventListener("click", () => {
    const targets = [c.town && `<option value="town:${escapeHtml(c.town)}">${escapeHtml(townName(c.town))}分中心</option>`,
      c.unit && `<option value="unit:${escapeHtml(c.unit)}">${escapeHtml(c.unit_name || c.unit)}</option>`].filter(Boolean).join("");
    $("#order-slot").innerHTML = `<form class="card form" id="order-form" novalidate>
        <label>督办对象<select id="order-target">${targets}</select></label>
        <label>督办要求<textarea id="order-requirement" rows="2" required></textarea></label>
        <label>办理时限（小时）<input id="order-hours" type="number" min="1" max="2160" value="24"></label>
        <p class="warn" id="order-error" hidden></p>
        <div class="buttons"><button type="submit" class="primary">下达</button></div></form>`;
    $("#order-form").addEventListener("submit", (event) => {
      event.preventDefault();
      orderStep(`/api/cases/${c.id}/supervision`, { target: $("#order-target").value, requirement: $("#order-requirement").value.trim(), due_hours: Number($("#order-hours").value) }, c.id);
    });
  });
  $$("#case-detail [data-reply]").forEach((b) => b.addEventListener("click", () => {
    $("#order-slot").innerHTML = `<form class="card form" id="order-form" novalidate>
        <label>回复<textarea id="order-reply" rows="2" required></textarea></label><p class="warn" id="order-error" hidden></p>
        <div class="buttons"><button type="submit" class="primary">提交回复</button></div></form>`;
    $("#order-form").addEventListener("submit", (event) => {
      event.preventDefault();
      orderStep(`/api/supervision/${b.dataset.reply}/reply`, { reply: $("#order-reply").value.trim() }, c.id);
    });
  }));
  $$("#case-detail [data-close-order]").forEach((b) => b.addEventListener("click", () => orderStep(`/api/supervision/${b.dataset.closeOrder}/close`, {}, c.id)));
}

async function orderStep(path, body, caseId) {
  try {
    await api(path, { method: "POST", body });
    toast("督办单已更新");
    await refreshDetail(caseId);
  } catch (err) {
    const error = $("#order-error");
    if (error) {
      error.textContent = `${err.message}${err.field ? `（${err.field}）` : ""}`;
      error.hidden = false;
    } else {
      toast(err.message, "error");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The live stream.

function setStreamState(value) {
  window.gridlink.streamState = value;
  showKeyStatus();
}

// Other modules' listeners on the shared stream (one EventSource for the page): `alert` and
// `shelter` events with their parsed data, `ready` on every (re)connection, `lagged`.
const streamListeners = new Map();
const STREAM_EVENTS = ["alert", "shelter", "incident", "task", "resources"];

export function onStream(type, listener) {
  if (!streamListeners.has(type)) streamListeners.set(type, new Set());
  streamListeners.get(type).add(listener);
}

function emitStream(type, data) {
  for (const listener of streamListeners.get(type) || []) {
    try {
      listener(data);
    } catch (error) {
      console.error(error);
    }
  }
}

function startStream() {
  stopStream();
  if (!auth.key) return;
  setStreamState("connecting");
  const source = new EventSource(`/api/stream?key=${encodeURIComponent(auth.key)}`);
  cs.stream = source;
  source.addEventListener("ready", () => {
    cs.streamOpened += 1;
    setStreamState("live");
    // First connection: load the list now, so nothing falls between the list and the stream;
    // after a reconnect, reload what may have been missed.
    loadList();
    if (cs.detail) refreshDetail(cs.detail.id);
    scheduleTileRefresh();
    emitStream("ready", {});
  });
  for (const type of STREAM_EVENTS) {
    source.addEventListener(type, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      emitStream(type, data);
    });
  }
  source.addEventListener("case", (event) => {
    let c;
    try {
      c = JSON.parse(event.data);
    } catch {
      return;
    }
    onCaseChange(c);
  });
  source.addEventListener("lagged", () => {
    loadList();
    emitStream("lagged", {});
  });
  source.onerror = () => {
    if (cs.stream !== source) return;
    setStreamState(source.readyState === EventSource.CLOSED ? "off" : "reconnecting");
  };
}

function stopStream() {
  if (cs.stream) cs.stream.close();
  cs.stream = null;
  if (window.gridlink.streamState !== "off") setStreamState("off");
}

function onCaseChange(c) {
  window.gridlink.streamEvents += 1;
  window.gridlink.lastStreamEvent = { id: c.id, change: c.change, status: c.status };
  cs.sinceListRequest?.set(c.id, c);
  upsertRow(c);
  if (cs.detail?.id === c.id) refreshDetail(c.id);
  scheduleTileRefresh();
  if (cs.own.delete(`${c.id}:${c.change}`)) return; // this page's own step: already toasted
  const what = ACTION_NAMES[c.change] || c.change;
  const where = townName(c.town);
  toast(`案件 #${c.id} ${what} · ${c.status_name}${c.change === "created" && where ? ` · ${where}` : ""}`, c.change === "overdue" ? "error" : "info");
}

// ---------------------------------------------------------------------------------------------
// The case layer on the map.

export const CASE_LAYERS = ["cases-circle"];

export function addCaseLayers(map) {
  if (!auth.key || map.getSource("cases")) return;
  map.addSource("cases", {
    type: "vector",
    tiles: [`${location.origin}/tiles/cases/{z}/{x}/{y}.mvt`],
    minzoom: 8,
    maxzoom: 16,
    attribution: "案件：gridlink",
  });
  const colour = ["match", ["get", "status"]];
  for (const [status, s] of Object.entries(STATUS)) colour.push(status, s.colour);
  colour.push("#999");
  const overdue = ["==", ["get", "overdue"], true];
  map.addLayer({
    id: "cases-circle",
    type: "circle",
    source: "cases",
    "source-layer": "cases",
    minzoom: 9,
    paint: {
      "circle-color": colour,
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 9, 3.5, 13, 6.5, 15, 8.5, 17, 11],
      "circle-stroke-color": ["case", overdue, "#e60000", ["==", ["get", "supervised"], true], "#111111", "#ffffff"],
      "circle-stroke-width": ["case", overdue, 3.5, ["==", ["get", "supervised"], true], 2.5, 2],
      "circle-opacity": ["match", ["get", "status"], ["closed", "rejected"], 0.45, 0.95],
    },
  });
}

export function caseIdAt(map, point) {
  if (!map.getLayer("cases-circle")) return null;
  const hit = map.queryRenderedFeatures(point, { layers: CASE_LAYERS })[0];
  if (!hit) return null;
  return Number(hit.properties.id ?? hit.id);
}

function scheduleTileRefresh() {
  clearTimeout(cs.refreshTimer);
  cs.refreshTimer = setTimeout(() => {
    if (cs.map?.getSource("cases")) cs.map.refreshTiles("cases");
  }, 400);
}

export function caseLegendHtml() {
  return `<div class="group cases-legend"><h2>案件（实时）</h2>
    <label class="layer" data-layer="cases"><input type="checkbox" id="cases-visible" ${cs.map?.getLayer("cases-circle") && cs.map.getLayoutProperty("cases-circle", "visibility") === "none" ? "" : "checked"}>
      <span class="swatch" style="background:${STATUS.dispatched.colour}"></span><span class="name">案件分布</span></label>
    <div class="legend">${Object.entries(STATUS).map(([k, s]) => `<span><i style="background:${s.colour}"></i>${escapeHtml(s.name)}</span>`).join("")}
      <span><i class="ring"></i>超期</span></div></div>`;
}

// ---------------------------------------------------------------------------------------------

export async function initCases(map, ctx) {
  cs.map = map;
  cs.ctx = ctx;
  $("#f-status").innerHTML = `<option value="">全部状态</option><optgroup label="分组">${Object.entries(STATUS_GROUPS)
    .map(([k, g]) => `<option value="${k}">${escapeHtml(g.name)}</option>`).join("")}</optgroup><optgroup label="状态">${Object.entries(STATUS)
    .map(([k, s]) => `<option value="${k}">${escapeHtml(s.name)}</option>`).join("")}</optgroup>`;
  $("#f-status").value = "open";
  $("#key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const typed = $("#key-input").value.trim();
    if (!typed) return clearKey();
    const had = auth.key;
    if ((await useKey(typed)) || had) await applyKey();
  });
  $("#key-clear").addEventListener("click", () => clearKey());
  $("#report-toggle").addEventListener("click", () => setReportMode(!cs.report.active));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && cs.report.active) setReportMode(false);
  });
  $("#case-filters").addEventListener("change", () => loadList());
  $("#case-refresh").addEventListener("click", () => loadList());
  $("#case-more").addEventListener("click", () => loadList({ append: true }));
  $("#case-list tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (row) openDetail(Number(row.dataset.id));
  });
  $("#case-list tbody").addEventListener("keydown", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (row && event.key === "Enter") openDetail(Number(row.dataset.id));
  });
  await loadClasses();
  $("#case-staff").hidden = !auth.key;
  $("#f-mine").checked = !!auth.unit;
  showMineFilter();
  showKeyStatus();
  if (auth.key) {
    startStream();
    loadList();
    loadTowns();
    loadUnits().then(showMineFilter);
  }
}

// The appraisal (考核) view: the handling units' figures for a period from /api/appraisal, as a
// sortable table and CSS bars of the on-time and closure rates, with a CSV export.

import { auth, api, $, $$, escapeHtml } from "./api.js";

const COLUMNS = [
  { key: "name", title: "单位", text: true },
  // The figures keep their columns (received first, as the CSV and earlier views have them);
  // the workload category and the rank in it close the row, and the rows are sorted by them.
  { key: "received", title: "受理" },
  { key: "handled", title: "处置" },
  { key: "handled_on_time", title: "按时" },
  { key: "overdue", title: "超期" },
  { key: "returned", title: "退回" },
  { key: "reopened", title: "返工" },
  { key: "closed", title: "结案" },
  { key: "on_time_rate", title: "按时处置率", rate: true },
  { key: "closure_rate", title: "结案率", rate: true },
  { key: "mean_handling_h", title: "平均处置时长(时)", hours: true },
  { key: "orders_received", title: "督办" },
  { key: "orders_answered_on_time", title: "督办按期回复" },
  { key: "reach_rate", title: "回访联系率", rate: true },
  { key: "satisfaction_rate", title: "满意率", rate: true },
  { key: "category", title: "类别", category: true },
  { key: "rank", title: "类内名次" },
];
const CATEGORY_NAMES = { 1: "一类", 2: "二类", 3: "三类" };
const TOWN_COLUMNS = [
  { key: "name", title: "分中心", text: true },
  { key: "cases", title: "辖区案件" },
  { key: "filed_on_time_rate", title: "按期立案率", rate: true },
  { key: "dispatched_on_time_rate", title: "按期派遣率", rate: true },
  { key: "closure_rate", title: "结案率", rate: true },
  { key: "pass_ups", title: "上报区中心" },
  { key: "hand_downs", title: "区中心下派" },
  { key: "orders_received", title: "督办" },
  { key: "orders_answered_on_time", title: "督办按期回复" },
  { key: "reach_rate", title: "回访联系率", rate: true },
  { key: "satisfaction_rate", title: "满意率", rate: true },
];
const COUNTS = ["received", "handled", "handled_on_time", "overdue", "returned", "reopened", "closed"];
const LEVELS = { district: "区级", town: "街镇" };

const ap = { units: [], towns: [], sort: { key: "category", desc: false }, token: 0, loadedOnce: false };

const pad = (n) => String(n).padStart(2, "0");
const dateValue = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const percent = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);

// The period as the API wants it: local midnight of the first day to local midnight after the
// last day, in RFC 3339.
function period() {
  const from = $("#ap-from").value;
  const to = $("#ap-to").value;
  if (!from || !to) throw new Error("请选择起止日期。");
  const start = new Date(`${from}T00:00:00`);
  const end = new Date(`${to}T00:00:00`);
  end.setDate(end.getDate() + 1);
  if (!(start < end)) throw new Error("开始日期须早于结束日期。");
  return { from: start.toISOString(), to: end.toISOString() };
}

function query(format) {
  const p = period();
  const params = new URLSearchParams({ from: p.from, to: p.to, level: $("#ap-level").value });
  if (format) params.set("format", format);
  return `/api/appraisal?${params}`;
}

function setRange(days) {
  const end = new Date();
  const start = new Date();
  if (days === "month") start.setDate(1);
  else start.setDate(end.getDate() - (days - 1));
  $("#ap-from").value = dateValue(start);
  $("#ap-to").value = dateValue(end);
}

function sorted(units) {
  const { key, desc } = ap.sort;
  const column = COLUMNS.find((c) => c.key === key);
  return units.slice().sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x == null && y == null) return 0;
    if (x == null) return 1; // no figure: always last
    if (y == null) return -1;
    const order = column?.text ? String(x).localeCompare(String(y), "zh-CN") : x - y;
    return (desc ? -order : order) || a.category - b.category || a.rank - b.rank;
  });
}

function render() {
  const box = $("#appraisal-result");
  const active = ap.units.filter((u) => COUNTS.some((k) => u[k] > 0));
  const townTable = ap.towns.length ? `<h3>街镇分中心</h3><div class="table-wrap"><table id="appraisal-towns">
      <thead><tr>${TOWN_COLUMNS.map((c) => `<th class="${c.text ? "" : "num"}">${escapeHtml(c.title)}</th>`).join("")}</tr></thead>
      <tbody>${ap.towns.map((t) => `<tr data-town="${escapeHtml(t.town)}">${TOWN_COLUMNS.map((c) => (c.text
        ? `<td class="unit-name">${escapeHtml(t[c.key])}</td>`
        : `<td class="num">${c.rate ? percent(t[c.key]) : t[c.key]}</td>`)).join("")}</tr>`).join("")}</tbody></table></div>` : "";
  if (!active.length) {
    box.innerHTML = `<p class="hint" id="appraisal-empty">所选期间内没有单位有案件记录（共 ${ap.units.length} 个单位）。</p>${townTable}`;
    return;
  }
  const rows = sorted(active);
  const arrow = (key) => (ap.sort.key === key ? (ap.sort.desc ? " ▼" : " ▲") : "");
  const cell = (u, c) => {
    const v = u[c.key];
    if (c.category) return `<td data-category="${v}">${escapeHtml(CATEGORY_NAMES[v] || `${v}类`)}</td>`;
    if (c.text) return `<td class="unit-name">${escapeHtml(v)}<small>${escapeHtml(LEVELS[u.level] || u.level)} · ${escapeHtml(u.unit)}</small></td>`;
    if (c.rate) return `<td class="num${v != null && v < 0.8 ? " low" : ""}">${percent(v)}</td>`;
    if (c.hours) return `<td class="num">${v == null ? "—" : v.toFixed(1)}</td>`;
    return `<td class="num${c.key === "overdue" && v > 0 ? " low" : ""}">${v}</td>`;
  };
  const totals = Object.fromEntries(COUNTS.map((k) => [k, active.reduce((s, u) => s + u[k], 0)]));
  const bars = rows.map((u) => `<div class="bar-row" data-unit="${escapeHtml(u.unit)}">
      <div class="bar-label" title="${escapeHtml(u.name)}">${escapeHtml(u.name)}</div>
      <div class="bars">
        <div class="bar"><i class="on-time" style="width:${((u.on_time_rate ?? 0) * 100).toFixed(1)}%"></i><span>${percent(u.on_time_rate)}</span></div>
        <div class="bar"><i class="closure" style="width:${((u.closure_rate ?? 0) * 100).toFixed(1)}%"></i><span>${percent(u.closure_rate)}</span></div>
      </div></div>`).join("");
  box.innerHTML = `
    <p class="summary">${active.length} 个单位有记录：受理 ${totals.received}，处置 ${totals.handled}（按时 ${totals.handled_on_time}），超期 ${totals.overdue}，结案 ${totals.closed}。</p>
    <div class="chart" id="appraisal-chart" role="img" aria-label="各单位按时处置率与结案率">
      <div class="chart-legend"><span><i class="on-time"></i>按时处置率</span><span><i class="closure"></i>结案率</span></div>
      ${bars}
    </div>
    <div class="table-wrap"><table id="appraisal-table">
      <thead><tr>${COLUMNS.map((c) => `<th data-sort="${c.key}" class="${c.text ? "" : "num"}" title="点击排序">${escapeHtml(c.title)}${arrow(c.key)}</th>`).join("")}</tr></thead>
      <tbody>${rows.map((u) => `<tr data-unit="${escapeHtml(u.unit)}" data-category="${u.category}" data-rank="${u.rank}">${COLUMNS.map((c) => cell(u, c)).join("")}</tr>`).join("")}</tbody>
    </table></div>${townTable}`;
  $$("#appraisal-table th[data-sort]").forEach((th) => th.addEventListener("click", () => {
    const key = th.dataset.sort;
    ap.sort = { key, desc: ap.sort.key === key ? !ap.sort.desc : !COLUMNS.find((c) => c.key === key).text };
    render();
  }));
}

export async function loadAppraisal() {
  const box = $("#appraisal-result");
  if (!auth.key) {
    box.innerHTML = `<p class="hint">考核统计需要工作人员密钥（在“案件”页填写）。</p>`;
    return;
  }
  let url;
  try {
    url = query();
  } catch (error) {
    box.innerHTML = `<p class="warn">${escapeHtml(error.message)}</p>`;
    return;
  }
  const token = ++ap.token;
  box.classList.add("loading");
  try {
    const { body } = await api(url);
    if (token !== ap.token) return;
    ap.units = body.units;
    ap.towns = body.sub_centres || [];
    ap.loadedOnce = true;
    render();
    window.gridlink.appraisalLoaded = (window.gridlink.appraisalLoaded || 0) + 1;
  } catch (error) {
    if (token === ap.token) box.innerHTML = `<p class="warn">${escapeHtml(error.message)}</p>`;
  } finally {
    if (token === ap.token) box.classList.remove("loading");
  }
}

// The CSV needs the key, so a plain link would not do: fetch it and save the blob.
async function exportCsv() {
  if (!auth.key) return;
  const button = $("#ap-csv");
  button.disabled = true;
  try {
    const response = await api(query("csv"), { raw: true });
    const blob = await response.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `考核_${$("#ap-level").value}_${$("#ap-from").value}_${$("#ap-to").value}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } catch (error) {
    $("#appraisal-result").insertAdjacentHTML("afterbegin", `<p class="warn">导出失败：${escapeHtml(error.message)}</p>`);
  } finally {
    button.disabled = false;
  }
}

// The printable report: fetched with the key, opened as a page of its own for the browser's print.
async function openPrint() {
  if (!auth.key) return;
  try {
    const response = await api(query("html"), { raw: true });
    const blob = new Blob([await response.text()], { type: "text/html" });
    window.open(URL.createObjectURL(blob), "_blank", "noopener");
  } catch (error) {
    $("#appraisal-result").insertAdjacentHTML("afterbegin", `<p class="warn">打印报表失败：${escapeHtml(error.message)}</p>`);
  }
}

export function initAppraisal() {
  $("#ap-print")?.addEventListener("click", openPrint);
  setRange(30);
  $("#appraisal-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadAppraisal();
  });
  $("#ap-level").addEventListener("change", () => loadAppraisal());
  $$("#appraisal-form [data-range]").forEach((b) => b.addEventListener("click", () => {
    const value = b.dataset.range;
    setRange(value === "month" ? "month" : Number(value));
    loadAppraisal();
  }));
  $("#ap-csv").addEventListener("click", exportCsv);
}

// Shown: load on first view (and again when asked).
export function showAppraisal() {
  if (!ap.loadedOnce || !auth.key) loadAppraisal();
}

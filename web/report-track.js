// After a report: the receipt (the request number and the tracking link), and the tracking view
// a resident opens with that link — the status history in public words, notes written for the
// public, their own photos. Only what /api/track returns is shown; internal notes and who acted
// never reach this page.
//
// The tracking link is /report#track=ID&token=TOKEN: the token sits in the fragment, which the
// browser never sends, so it stays out of the server's and any proxy's access logs and out of
// Referer headers; the page passes it to /api/track itself. A wrong or missing token is a 404,
// the same as an unknown number, and the page says only "未找到".

import { api, escapeHtml, fullTime, $ } from "./api.js";

const STORAGE_KEY = "gridlink.myReports";
const MAX_REMEMBERED = 20;

// The status words' colours (the server's public statuses).
const STATUS_COLOURS = {
  received: "#f39c12", accepted: "#d35400", in_progress: "#2471a3", scheduled: "#34495e",
  handled: "#27ae60", closed: "#7f8c8d", rejected: "#7f8c8d",
};

export const trackingHash = (id, token) => `#track=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`;
export const trackingLink = (id, token) => `${location.origin}/report${trackingHash(id, token)}`;

// What the fragment asks for: { id, token } to track, { lookup: true } for the lookup form,
// or null for the report form.
export function parseHash(hash) {
  const raw = String(hash || "").replace(/^#/, "");
  if (!raw.startsWith("track")) return null;
  const params = new URLSearchParams(raw);
  const id = (params.get("track") || "").trim();
  const token = (params.get("token") || "").trim();
  return id && token ? { id, token } : { lookup: true, id };
}

// The reports made on this device (the same secret as a bookmark, kept by its owner's browser).
export function myReports() {
  try {
    const list = JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
    return Array.isArray(list) ? list.filter((r) => r && r.id && r.token) : [];
  } catch {
    return [];
  }
}

function remember(created) {
  const list = myReports().filter((r) => String(r.id) !== String(created.id));
  list.unshift({ id: created.id, token: created.tracking_token, class_name: created.class_name, time: created.reported_time });
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(list.slice(0, MAX_REMEMBERED)));
  } catch {
    // Private mode or a full store: the link on screen is what counts.
  }
}

const badge = (status, name) =>
  `<span class="status" data-status="${escapeHtml(status)}" style="background:${STATUS_COLOURS[status] || "#777"}">${escapeHtml(name)}</span>`;

const placeText = (c) => [c.town_name, c.village_name].filter(Boolean).map(escapeHtml).join(" · ");

// The answer to a report: number, tracking link (shown with its token this once), what happens
// next and how many open reports are nearby.
export function renderReceipt(root, created) {
  remember(created);
  const link = trackingLink(created.id, created.tracking_token);
  const nearby = created.duplicates_nearby?.count
    ? `<p class="note">附近 ${Math.round(created.duplicates_nearby.radius_m)} 米内还有 ${created.duplicates_nearby.count} 件同类问题正在处理，工作人员会一并核实。</p>`
    : "";
  const listed = created.listed
    ? "这个问题会出现在公开列表中（位置只精确到约 100 米，描述和照片经审核后才公开）。"
    : "这类问题不公开列出，只有持有查询链接的人可以查看进度。";
  root.innerHTML = `<div class="card receipt" id="receipt" data-case-id="${escapeHtml(created.id)}">
      <h2>已提交，谢谢！</h2>
      <p class="number">上报编号 <b id="receipt-id">${escapeHtml(created.id)}</b></p>
      <p>${escapeHtml(created.class_name || created.class)} · ${placeText(created)} · ${badge(created.status, created.status_name)}</p>
      <p><b>请保存下面的查询链接</b>，凭它查看处理进度。查询码只显示这一次，请勿转发给他人。</p>
      <a id="tracking-link" class="tracking-link" href="${escapeHtml(link)}">${escapeHtml(link)}</a>
      <div class="buttons">
        <button type="button" id="copy-link" class="secondary">复制链接</button>
        <a id="open-tracking" class="button primary" href="${escapeHtml(trackingHash(created.id, created.tracking_token))}">查看进度</a>
      </div>
      <p class="small">上报编号 ${escapeHtml(created.id)}，查询码 <code id="receipt-token">${escapeHtml(created.tracking_token)}</code></p>
      ${nearby}
      <p class="note">${listed}</p>
    </div>
    <p><a href="/report" id="report-another" class="back">← 再上报一个问题</a></p>`;
  $("#copy-link").addEventListener("click", async () => {
    const button = $("#copy-link");
    try {
      await navigator.clipboard.writeText(link);
      button.textContent = "已复制";
    } catch {
      // No clipboard on plain http: select the link for a long-press copy instead.
      const range = document.createRange();
      range.selectNodeContents($("#tracking-link"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      button.textContent = "已选中，请长按复制";
    }
  });
}

// The tracking view of request `id` opened with `token`.
export async function showTracking(root, { id, token }) {
  root.innerHTML = `<div class="card"><p>正在查询…</p></div>`;
  let tracked;
  try {
    tracked = (await api(`/api/track/${encodeURIComponent(id)}?token=${encodeURIComponent(token)}`)).body;
  } catch (error) {
    root.innerHTML = error.status === 404
      ? `<div class="card not-found" id="track-not-found"><h2>未找到</h2><p>没有找到这个上报，或查询码不对。请核对上报编号和查询码（提交后显示的链接里都有），也可以在下面重新输入。</p></div>`
      : `<div class="card not-found"><h2>暂时无法查询</h2><p class="error">${escapeHtml(error.message)}</p><p>请稍后再试。</p></div>`;
    return null;
  }
  const c = tracked;
  const rows = [
    ["位置", `${placeText(c)}<br><small>公开时只精确到约 ${Math.round(c.location_precision_m)} 米</small>`],
    ["上报时间", escapeHtml(fullTime(c.reported_time))],
    c.agency_responsible ? ["处理单位", escapeHtml(c.agency_responsible)] : null,
    c.expected_time ? ["预计办结", escapeHtml(fullTime(c.expected_time))] : null,
    c.closed_time ? ["办结时间", escapeHtml(fullTime(c.closed_time))] : null,
    c.description ? ["公开的描述", escapeHtml(c.description)] : null,
  ].filter(Boolean);
  const history = c.history.slice().reverse().map((step) => `<li data-status="${escapeHtml(step.status)}">
      <div>${badge(step.status, step.status_name)} <time>${escapeHtml(fullTime(step.time))}</time></div>
      ${step.note ? `<p class="public-note">${escapeHtml(step.note)}</p>` : ""}
    </li>`).join("");
  const photos = c.your_photos.length
    ? `<h3>您上传的照片${c.photos.length ? "<small>（已审核公开）</small>" : ""}</h3>
       <div class="photo-grid" id="track-photos">${c.your_photos.map((p) => `<a href="${escapeHtml(p.url)}" target="_blank" rel="noopener noreferrer"><img src="${escapeHtml(p.thumb_url || p.url)}" alt="上报照片"></a>`).join("")}</div>`
    : "";
  root.innerHTML = `<div class="card tracked" id="tracked" data-case-id="${escapeHtml(c.id)}" data-status="${escapeHtml(c.status)}">
      <h2>上报编号 ${escapeHtml(c.id)}</h2>
      <p class="class-line">${escapeHtml(c.class_name || c.class)} ${badge(c.status, c.status_name)}</p>
      ${c.status_notes ? `<p class="public-note latest">${escapeHtml(c.status_notes)}</p>` : ""}
      <dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>
      <h3>处理进度</h3>
      <ol class="timeline" id="track-history">${history}</ol>
      ${photos}
      <p class="note">${c.listed ? "这个问题在公开列表中显示。" : "这个问题不公开列出，只有持有查询链接的人可以查看。"}</p>
      <div class="buttons"><button type="button" id="track-refresh" class="secondary">刷新</button></div>
    </div>`;
  $("#track-refresh").addEventListener("click", () => showTracking(root, { id, token }));
  return tracked;
}

// The reports this device made, as links to their tracking views.
export function renderMyReports(root) {
  const list = myReports();
  root.innerHTML = list.length
    ? `<div class="card"><h2>本机上报过的问题</h2><ul class="my-reports">${list.map((r) => `<li><a href="${escapeHtml(trackingHash(r.id, r.token))}">编号 ${escapeHtml(r.id)} · ${escapeHtml(r.class_name || "")}</a> <small>${escapeHtml(fullTime(r.time))}</small></li>`).join("")}</ul></div>`
    : "";
}

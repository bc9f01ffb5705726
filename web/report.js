// The residents' page (/report): report a problem from a phone and follow it. No key box and
// nothing of the staff map: a searchable class list (only classes the public may report —
// /api/classes answers an anonymous caller with the `public` and `private` ones), the place
// (report-place.js), a description and photos, then the request number and a tracking link
// (report-track.js). For classes with a hazard to life the page first says, in large type, to
// phone 119 / 110 / 120, above every form field; the form stays below for what follows.
//
// Reports go to POST /api/cases without a key and through the `web` channel: the server counts
// them as the public's (listable when the class is public), answers with the public view and a
// tracking token, and checks the photos (≤ 9, ≤ 10 MB each, real images). This page never
// sends a key, even if the staff map on the same browser remembers one.

import { api, escapeHtml, withPhotos, getJson, $ } from "./api.js";
import { classPicker } from "./classpicker.js";
import * as place from "./report-place.js";
import { parseHash, renderReceipt, showTracking, renderMyReports, trackingHash } from "./report-track.js";

const MAX_PHOTOS = 9;
const MAX_PHOTO_BYTES = 10 * 1024 * 1024;
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
const CALL_NAMES = { 119: "火警和抢险救援", 110: "报警", 120: "急救" };

const page = {
  started: false,     // the report form has been built
  classes: null,      // /api/classes
  byCode: new Map(),
  picker: null,
  files: [],          // the chosen photos (File)
  previews: [],       // their object URLs
};

window.gridlink = Object.assign(window.gridlink || {}, { lastReport: null, tracked: null });

function showView(name) {
  for (const view of ["report", "done", "track"]) $(`#${view}-view`).hidden = view !== name;
  document.body.dataset.view = name;
  window.scrollTo(0, 0);
}

// ---------------------------------------------------------------------------------------------
// The report form.

async function startForm() {
  if (page.started) {
    place.resize();
    return;
  }
  page.started = true;
  const [classes, layers] = await Promise.all([getJson("/api/classes"), getJson("/api/layers")]);
  page.classes = classes;
  page.byCode = new Map(classes.majors.flatMap((m) => m.classes.map((c) => [c.code, c])));
  page.picker = classPicker($("#class-picker"), classes.majors, {
    label: "问题类别",
    placeholder: "搜索问题类别，如 井盖、垃圾、路灯、火灾",
    badge: (c) => (c.call ? `先拨 ${c.call}` : ""),
    onChange: showClassAdvice,
  });
  const district = layers.layers.find((l) => l.role === "district")?.extent;
  place.initPlace({ district, onChange: updateSubmit });
  $("#photos").addEventListener("change", addPhotos);
  $("#report-form").addEventListener("submit", submit);
  $("#description").addEventListener("input", () => hideError());
}

// A class with a hazard to life: the call-first banner at the top of the page, before any
// form field, with the number as a tel: link. A private class: the resident learns it is not
// listed.
function showClassAdvice(code) {
  const klass = page.byCode.get(code);
  const banner = $("#call-first");
  const call = klass?.call || null;
  banner.hidden = !call;
  banner.dataset.call = call || "";
  if (call) {
    $("#call-number").textContent = call;
    $("#call-number").href = `tel:${call}`;
    $("#call-button").textContent = `拨打 ${call}（${CALL_NAMES[call] || "紧急电话"}）`;
    $("#call-button").href = `tel:${call}`;
    $("#call-why").textContent = `「${klass.name}」可能危及生命安全。请先拨打 ${call}，说清地点和现场情况，等待救援。`;
    // The banner is what the resident must read first: bring it into view.
    window.scrollTo({ top: 0, behavior: "instant" });
  }
  const note = $("#class-note");
  note.hidden = !(klass && klass.visibility === "private");
  note.textContent = "这类问题不公开列出：提交后只有您本人凭查询链接可以查看进度。";
  hideError();
  updateSubmit();
}

function updateSubmit() {
  const submit = $("#submit");
  submit.textContent = $("#call-first").hidden ? "提交" : "提交补充情况";
  if (place.isOutside()) showError("这个位置不在奉贤区范围内，无法上报。请在地图上点选奉贤区内的位置。", "place");
  else if ($("#form-error").dataset.field === "place") hideError();
}

function showError(message, field = "", detail = "") {
  const box = $("#form-error");
  box.hidden = false;
  box.dataset.field = field;
  box.innerHTML = `${escapeHtml(message)}${detail ? `<small>服务器说明：${escapeHtml(detail)}</small>` : ""}`;
}

function hideError() {
  const box = $("#form-error");
  box.hidden = true;
  box.dataset.field = "";
  box.textContent = "";
}

// ---------------------------------------------------------------------------------------------
// Photos: checked here for the resident's sake (count, size, type); the server checks again
// and its refusal is shown as it says.

function addPhotos(event) {
  const input = event.target;
  const refused = [];
  for (const file of input.files) {
    if (!PHOTO_TYPES.includes(file.type)) refused.push(`「${file.name}」不是 JPEG、PNG 或 WebP 照片`);
    else if (file.size > MAX_PHOTO_BYTES) refused.push(`「${file.name}」超过 10 MB`);
    else if (page.files.length >= MAX_PHOTOS) refused.push(`最多 ${MAX_PHOTOS} 张照片，「${file.name}」未添加`);
    else page.files.push(file);
  }
  input.value = "";
  renderPhotos();
  if (refused.length) showError(refused.join("；"), "photos");
  else hideError();
}

function renderPhotos() {
  page.previews.forEach((url) => URL.revokeObjectURL(url));
  page.previews = page.files.map((f) => URL.createObjectURL(f));
  $("#photo-list").innerHTML = page.files.map((f, i) => `<figure data-index="${i}">
      <img src="${page.previews[i]}" alt="${escapeHtml(f.name)}">
      <button type="button" class="remove" data-remove="${i}" aria-label="删除照片 ${escapeHtml(f.name)}">×</button>
    </figure>`).join("");
  for (const button of document.querySelectorAll("#photo-list [data-remove]")) {
    button.addEventListener("click", () => {
      page.files.splice(Number(button.dataset.remove), 1);
      renderPhotos();
    });
  }
  const full = page.files.length >= MAX_PHOTOS;
  $("#photos").disabled = full;
  $("#add-photos").classList.toggle("disabled", full);
  $("#add-photos").textContent = page.files.length ? `继续添加照片（${page.files.length}/${MAX_PHOTOS}）` : "添加照片";
}

// The server's refusal in the resident's words, with its own text beside.
function refusal(error) {
  const byCode = {
    photo_too_large: "照片太大：每张不能超过 10 MB。",
    too_many_photos: `照片太多：最多 ${MAX_PHOTOS} 张。`,
    unsupported_photo: "有照片无法识别：请使用 JPEG、PNG 或 WebP 照片。",
    body_too_large: "提交的内容太大：请减少照片。",
    outside_district: "这个位置不在奉贤区范围内，无法上报。",
    storage_unavailable: "服务暂时不可用，请稍后再试。",
  };
  const byField = {
    class: "请重新选择问题类别。",
    description: "请填写问题描述（不超过 4000 字）。",
    lon: "请设置问题位置。",
    lat: "请设置问题位置。",
  };
  if (!error.status) return ["网络连接失败，请检查网络后再试。", error.message];
  const field = error.field && byField[error.field.replace(/\[.*$/, "")];
  return [byCode[error.code] || field || "提交没有成功。", error.message];
}

async function submit(event) {
  event.preventDefault();
  hideError();
  const code = page.picker.value;
  if (!code) {
    showError("请先选择问题类别。", "class");
    $("#step-class").scrollIntoView({ block: "start" });
    page.picker.focus();
    return;
  }
  await place.settled();
  const where = place.chosen();
  if (!where) {
    showError(place.isOutside()
      ? "这个位置不在奉贤区范围内，无法上报。请在地图上点选奉贤区内的位置。"
      : "请设置问题位置：使用我的位置、搜索地点，或点击地图。", "place");
    $("#step-place").scrollIntoView({ block: "start" });
    return;
  }
  const description = $("#description").value.trim();
  if (!description) {
    showError("请填写问题描述。", "description");
    $("#description").focus();
    return;
  }
  const body = {
    class: code,
    lon: where.lng,
    lat: where.lat,
    description,
    channel: "web",
    reporter: $("#reporter").value.trim() || null,
  };
  const button = $("#submit");
  button.disabled = true;
  button.textContent = "正在提交…";
  try {
    const { body: created } = await api("/api/cases", { method: "POST", body: withPhotos(body, page.files) });
    window.gridlink.lastReport = created;
    renderReceipt($("#done-view"), created);
    showView("done");
    resetForm();
  } catch (error) {
    const [message, detail] = refusal(error);
    showError(message, error.field || "", detail);
    $("#form-error").scrollIntoView({ block: "center" });
  } finally {
    button.disabled = false;
    updateSubmit();
  }
}

function resetForm() {
  $("#description").value = "";
  $("#reporter").value = "";
  page.files = [];
  renderPhotos();
}

// ---------------------------------------------------------------------------------------------
// Tracking.

function setUpTrackForm() {
  $("#track-form").addEventListener("submit", (event) => {
    event.preventDefault();
    let id = $("#track-id").value.trim();
    let token = $("#track-token").value.trim();
    // A pasted link carries both.
    const pasted = token.includes("#") ? parseHash(token.slice(token.indexOf("#"))) : null;
    if (pasted?.token) ({ id, token } = pasted);
    const error = $("#track-form-error");
    if (!/^\d+$/.test(id) || !token) {
      error.hidden = false;
      error.textContent = "请填写上报编号和查询码。";
      return;
    }
    error.hidden = true;
    location.hash = trackingHash(id, token);
  });
}

async function openTracking(request) {
  showView("track");
  renderMyReports($("#my-reports"));
  const result = $("#track-result");
  $("#track-id").value = request.id || "";
  if (request.lookup) {
    result.innerHTML = "";
    $("#track-form").hidden = false;
    return;
  }
  const tracked = await showTracking(result, request);
  window.gridlink.tracked = tracked ? { id: tracked.id, status: tracked.status } : { error: "not_found" };
  // Found: the lookup form is not needed; not found: it is offered to try again.
  $("#track-form").hidden = Boolean(tracked);
}

// ---------------------------------------------------------------------------------------------

async function route() {
  const request = parseHash(location.hash);
  if (request) {
    await openTracking(request);
    return;
  }
  showView("report");
  await startForm();
}

async function main() {
  setUpTrackForm();
  window.addEventListener("hashchange", () => route().catch(fail));
  await route();
}

function fail(error) {
  document.querySelector("main").insertAdjacentHTML("afterbegin", `<p class="error card">页面加载失败：${escapeHtml(error.message)}</p>`);
}

main().catch(fail);

// Shared by the map page's modules: the API key (kept in localStorage once it has worked), the
// JSON fetch helper that sends it, and small DOM helpers.

const STORAGE_KEY = "gridlink.apiKey";

export const ROLE_NAMES = {
  anonymous: "公众",
  dispatcher: "调度员（指挥中心）",
  unit: "处置单位",
  supervisor: "监督员",
  admin: "管理员",
};

// `key` is set only once the server accepted it; `stored` is what the key field remembers.
export const auth = {
  key: null,
  role: null,
  unit: null,
  stored: localStorage.getItem(STORAGE_KEY) || "",
  remember(key) {
    this.stored = key || "";
    if (key) localStorage.setItem(STORAGE_KEY, key);
    else localStorage.removeItem(STORAGE_KEY);
  },
};

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// Same-origin /api/, /tiles/ and /styles/ requests carry the key (MapLibre's transformRequest
// uses this too, so staff layers and the case layer load).
export function needsKey(url) {
  try {
    const u = new URL(url, location.href);
    return u.origin === location.origin && /^\/(api|tiles|styles)\//.test(u.pathname);
  } catch {
    return false;
  }
}

export class ApiError extends Error {
  constructor(status, body, fallback) {
    super(body?.error?.message || fallback || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
    this.body = body;
  }
}

// fetch + JSON with the key (or an explicit `key`, for trying a new one); throws ApiError.
export async function api(url, { method = "GET", body, key, raw = false } = {}) {
  const headers = {};
  const useKey = key !== undefined ? key : auth.key;
  if (useKey) headers.Authorization = `Bearer ${useKey}`;
  // A FormData body (photos) goes as multipart/form-data; the browser sets the boundary.
  const form = typeof FormData !== "undefined" && body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const payload = body === undefined ? undefined : form ? body : JSON.stringify(body);
  const response = await fetch(url, { method, headers, body: payload });
  if (raw && response.ok) return response;
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed, response.statusText);
  return { body: parsed, response };
}

export async function getJson(url) {
  return (await api(url)).body;
}

// Short "MM-DD HH:mm" in local time from an RFC 3339 string.
export function shortTime(value) {
  if (!value) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fullTime(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString("zh-CN", { hour12: false });
}

// A small message in the corner of the map that fades away.
export function toast(message, kind = "info") {
  let box = $("#toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "toasts";
    document.body.appendChild(box);
  }
  const item = document.createElement("div");
  item.className = `toast ${kind}`;
  item.textContent = message;
  box.appendChild(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => item.classList.add("fading"), 4000);
  setTimeout(() => item.remove(), 4600);
  return item;
}

// A photo stored by gridlink (`/api/photos/{hash}`) as an <img> source: <img> cannot send the
// Authorization header, so a staff key goes as ?key=. Outside URLs are returned as they are.
export function photoSrc(url, { thumb = false } = {}) {
  if (!/^\/api\/photos\/[0-9a-f]{64}$/.test(url)) return url;
  const params = new URLSearchParams();
  if (thumb) params.set("thumb", "1");
  if (auth.key) params.set("key", auth.key);
  const query = params.toString();
  return query ? `${url}?${query}` : url;
}

// A JSON body, or — when files are chosen — the same fields as multipart/form-data parts with
// the files as `photos` parts (arrays become repeated parts; null and undefined are left out).
export function withPhotos(body, files) {
  if (!files || files.length === 0) return body;
  const form = new FormData();
  for (const [name, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) value.forEach((v) => form.append(name, String(v)));
    else form.append(name, String(value));
  }
  for (const file of files) form.append("photos", file, file.name);
  return form;
}

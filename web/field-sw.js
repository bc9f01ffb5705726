// The field page's service worker: keeps the app shell (page, scripts, MapLibre, PMTiles
// reader, style, class list, glyphs) so the page opens with no network. The shell is fetched
// network-first (an update shows at once when online), vendored libraries and glyphs
// cache-first; the API and the server's tiles are never cached (the map offline reads the
// archive kept in IndexedDB, reports wait in the page's own queue).

const CACHE = "gridlink-field-v1";
const SHELL = [
  "/field.html",
  "/field.js",
  "/field.css",
  "/field.webmanifest",
  "/favicon.svg",
  "/vendor/maplibre-gl/maplibre-gl.js",
  "/vendor/maplibre-gl/maplibre-gl.css",
  "/vendor/pmtiles/pmtiles.js",
  "/styles/district.json",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  const path = url.pathname;
  if (path.startsWith("/api/") || path.startsWith("/tiles/") || path.startsWith("/offline/")) return;
  if (path.startsWith("/vendor/") || path.startsWith("/fonts/")) {
    event.respondWith(cacheFirst(event.request));
  } else if (SHELL.includes(path) || path === "/field" || path.startsWith("/styles/")) {
    event.respondWith(networkFirst(event.request));
  }
});

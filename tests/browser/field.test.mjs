// The field page (网格巡查) on a phone (390 × 844): installable (manifest, service worker), the
// offline map from a PMTiles archive kept on the phone, the inspector's own position, and a
// report with a photo queued while offline and sent once when the network returns.
//
// 1. A town is exported with `gridlink export pmtiles`; a supervisor key is bound to the
//    inspector of the beat at the town's inside point (`gridlink workers bind`).
// 2. The page opens online with `#key=…` and a geolocation at that point: the service worker
//    takes control, the manifest is linked, the inspector's fix reaches the server
//    (/api/workers shows it), and 下载离线地图 keeps the archive in IndexedDB.
// 3. `context.setOffline(true)`, the page is reloaded (from the service worker's cache): the
//    map draws the town from the archive with /tiles/ unreachable; a report with a photo is
//    queued (待发 ≥ 1, nothing reaches the server).
// 4. Back online: the first send of the report reaches the server but its answer is lost (the
//    route aborts it after the server answered), so the page sends it again; the server
//    returns the same case (`repeated`), and exactly one case with the photo exists.
// Screenshots: test-artifacts/field-*.png.
//
// Run: node tests/browser/field.test.mjs   (scripts/test.sh does).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { repo, require, bin, artifacts, step, startServer, api } from "./harness.mjs";

const { chromium } = require("playwright-core");
const PHONE = { width: 390, height: 844 };
const t0 = Date.now();

// A point inside the first town (the middle of the longest run of its outer ring at its middle
// latitude), from the GeoJSON the server loads.
function townOf(dataDir) {
  const town = JSON.parse(readFileSync(join(dataDir, "towns.geojson"), "utf8")).features[0];
  const rings = town.geometry.type === "Polygon" ? [town.geometry.coordinates] : town.geometry.coordinates;
  const points = rings.flatMap((polygon) => polygon[0]);
  const lats = points.map((p) => p[1]);
  const lat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const crossings = [];
  for (const polygon of rings) {
    const ring = polygon[0];
    for (let i = 0; i + 1 < ring.length; i++) {
      const [a, b] = [ring[i], ring[i + 1]];
      if ((a[1] <= lat) !== (b[1] <= lat)) crossings.push(a[0] + ((lat - a[1]) / (b[1] - a[1])) * (b[0] - a[0]));
    }
  }
  crossings.sort((a, b) => a - b);
  let inside = null;
  let widest = -1;
  for (let i = 0; i + 1 < crossings.length; i += 2) {
    if (crossings[i + 1] - crossings[i] > widest) {
      widest = crossings[i + 1] - crossings[i];
      inside = [(crossings[i] + crossings[i + 1]) / 2, lat];
    }
  }
  return { code: town.properties.code, name: town.properties.name, inside };
}

const gridlink = (dataDir, ...args) => execFileSync(bin, ["--data-dir", dataDir, ...args], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

const renderedTowns = (page) =>
  page.evaluate(async () => {
    const map = window.gridlink.field.map;
    await new Promise((resolve) => (map.loaded() ? resolve() : map.once("idle", resolve)));
    if (!map.getLayer("towns-fill")) return [];
    return map.queryRenderedFeatures({ layers: ["towns-fill"] }).map((f) => f.properties.code);
  });

async function run() {
  const dataDir = mkdtempSync(join(tmpdir(), "gridlink-field-"));
  const offlineDir = mkdtempSync(join(tmpdir(), "gridlink-field-files-"));
  execFileSync(bin, ["gen-data", "--scale", "0.2", "--out", dataDir], { cwd: repo, stdio: "ignore" });
  const town = townOf(dataDir);
  step(`export ${town.name} (${town.code}) z10–z14`);
  gridlink(dataDir, "export", "pmtiles", "--town", town.code, "--zooms", "10-14", "--out", join(offlineDir, "town.pmtiles"));
  const phoneKey = gridlink(dataDir, "keys", "create", "--role", "supervisor", "--label", "巡查终端");
  const dispatcher = gridlink(dataDir, "keys", "create", "--role", "dispatcher", "--label", "调度");
  const keyId = gridlink(dataDir, "keys", "list").split("\n").find((l) => l.includes("巡查终端")).split("\t")[0];
  const { child, url } = await startServer(dataDir, ["--offline-dir", offlineDir]);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    const [lon, lat] = town.inside;
    const located = await api(url, `/api/locate?lon=${lon}&lat=${lat}`);
    const beat = located.beat.id;
    const worker = `${beat}-1`;
    gridlink(dataDir, "workers", "bind", "--key", keyId, worker);
    step(`key ${keyId} bound to ${worker}`);

    const context = await browser.newContext({
      viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: "zh-CN", reducedMotion: "reduce",
      geolocation: { longitude: lon, latitude: lat, accuracy: 8 }, permissions: ["geolocation"], serviceWorkers: "allow",
    });
    const errors = [];
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));

    step("online: the page installs its service worker and sends the inspector's position");
    await page.goto(`${url}/field.html?pmtiles=/offline/town.pmtiles#key=${phoneKey}`, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => window.gridlink?.ready, null, { timeout: 90_000 }).catch((e) => {
      console.error(errors);
      throw e;
    });
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
    const manifest = await page.$eval("link[rel=manifest]", (l) => l.href);
    const installable = await (await fetch(manifest)).json();
    assert.equal(installable.display, "standalone");
    assert.ok(installable.icons.length > 0 && installable.start_url === "/field.html");
    const bodyWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(bodyWidth <= PHONE.width, `no horizontal scrolling at 390 px: ${bodyWidth}`);
    let position = null;
    for (let i = 0; i < 100 && !position; i++) {
      const list = await api(url, `/api/workers?beat=${beat}`, { key: dispatcher });
      position = list.workers.find((w) => w.id === worker)?.position;
      if (!position) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(position, "the inspector's fix reached the server");
    assert.ok(Math.abs(position.lon - lon) < 1e-6 && Math.abs(position.lat - lat) < 1e-6, JSON.stringify(position));

    step("下载离线地图 keeps the archive on the phone");
    await page.click("#download");
    await page.waitForFunction(() => document.querySelector("#archive").textContent.startsWith("离线地图："), null, { timeout: 30_000 });

    step("offline: reloaded from the service worker, the map draws the town from the archive");
    let tileRequests = 0;
    await context.route("**/tiles/**", (route) => {
      tileRequests++;
      return route.abort();
    });
    await context.setOffline(true);
    await page.reload({ waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => window.gridlink?.field?.map && window.gridlink.field.archive, null, { timeout: 60_000 });
    await page.evaluate(([x, y]) => window.gridlink.field.map.jumpTo({ center: [x, y], zoom: 11 }), [lon, lat]);
    await page.waitForFunction(() => {
      const map = window.gridlink.field.map;
      return map.getLayer("towns-fill") && map.queryRenderedFeatures({ layers: ["towns-fill"] }).length > 0;
    }, null, { timeout: 60_000 });
    assert.ok((await renderedTowns(page)).includes(town.code), "the town is drawn offline");
    assert.equal(tileRequests, 0, "no /tiles/ request while the archive is in use");
    assert.equal(await page.textContent("#net"), "离线");

    step("a report with a photo is queued while offline");
    const photo = await page.screenshot({ type: "png" });
    await page.waitForFunction(() => document.querySelectorAll("#class option").length > 0, null, { timeout: 10_000 });
    await page.fill("#description", "井盖缺失，有行人跌落风险（离线上报）");
    await page.setInputFiles("#photo", { name: "scene.png", mimeType: "image/png", buffer: photo });
    await page.click("#report button[type=submit]");
    await page.waitForFunction(() => window.gridlink.field.queued >= 1, null, { timeout: 10_000 });
    await page.screenshot({ path: join(artifacts, "field-offline.png") });
    let cases = await api(url, "/api/cases?limit=10", { key: dispatcher });
    assert.equal(cases.total, 0, "nothing reached the server while offline");

    step("online again: the first answer is lost, the page sends again, one case arrives");
    let posts = 0;
    await context.route("**/api/cases", async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      posts++;
      if (posts === 1) {
        const response = await route.fetch();
        assert.equal(response.status(), 201, "the server stored the case");
        return route.abort("connectionreset");
      }
      return route.continue();
    });
    await context.unroute("**/tiles/**");
    await context.setOffline(false);
    await page.waitForFunction(() => navigator.onLine, null, { timeout: 10_000 });
    for (let i = 0; i < 100; i++) {
      if (posts >= 1 && (await page.evaluate(() => window.gridlink.field.queued)) === 0) break;
      await page.evaluate(() => window.gridlink.flush());
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await page.evaluate(() => window.gridlink.field.queued), 0, "the queue is empty");
    assert.ok(posts >= 2, `sent again after the lost answer (${posts} sends)`);
    await page.waitForFunction(() => document.querySelector("#sent li.done")?.textContent.includes("重复发送"), null, { timeout: 10_000 });
    cases = await api(url, "/api/cases?limit=10", { key: dispatcher });
    assert.equal(cases.total, 1, `exactly one case: ${JSON.stringify(cases)}`);
    const detail = await api(url, `/api/cases/${cases.cases[0].id}`, { key: dispatcher });
    assert.equal(detail.description, "井盖缺失，有行人跌落风险（离线上报）");
    assert.equal(detail.photos.length, 1, "with its photo");
    assert.equal(detail.channel, "supervisor");
    await page.screenshot({ path: join(artifacts, "field-sent.png") });
    assert.deepEqual(errors, [], "no errors in the page");
    await context.close();
  } finally {
    await browser.close();
    child.kill();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(offlineDir, { recursive: true, force: true });
  }
  console.log(`field page test passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

run().catch((error) => {
  console.error(error);
  process.exit(1);
});

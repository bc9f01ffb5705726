// The linkage network on phones (390 × 844, touch), in headless Chromium driven by
// playwright-core, against its own gridlink on a scale-0.2 dataset with keys bound to nodes
// (`gridlink keys create --node …`, made before the server starts):
//
// 1. a village workstation reports a case on the map page with a photo taken on the phone
//    (a real JPEG from the page's own canvas, sent as multipart) — it lands in the town
//    sub-centre's queue;
// 2. the sub-centre, whose list opens on its own queue, sees it, passes it up to the district
//    centre with a reason;
// 3. the district centre, whose list opens on the district queue on another phone, sees it
//    arrive live (the stream, no reload), with the photo.
//
// Run: node tests/browser/network.test.mjs   (scripts/test.sh does).
// GRIDLINK_BIN picks the binary (default target/debug/gridlink).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { repo, require, bin, artifacts, step, startServer, api } from "./harness.mjs";

const { chromium } = require("playwright-core");

const PHONE = { width: 390, height: 844 };
const TOWN = "310120101"; // 南桥镇

const makeKey = (dataDir, role, node) =>
  execFileSync(bin, ["--data-dir", dataDir, "keys", "create", "--role", role, "--node", node, "--label", `${role}@${node}`], {
    cwd: repo,
    stdio: ["ignore", "pipe", "pipe"],
  }).toString().trim();

async function phone(browser, errors) {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: "zh-CN", reducedMotion: "reduce" });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return page;
}

async function openWithKey(page, url, key) {
  await page.goto(url + "/", { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.gridlink?.ready, null, { timeout: 90_000 });
  await page.click('#panel nav button[data-tab="cases"]');
  await page.fill("#key-input", key);
  await page.click("#key-save");
  await page.waitForFunction(() => window.gridlink.streamState === "live", null, { timeout: 30_000 });
}

async function run() {
  const dataDir = mkdtempSync(join(tmpdir(), "gridlink-network-"));
  execFileSync(bin, ["gen-data", "--scale", "0.2", "--out", dataDir], { cwd: repo, stdio: "ignore" });
  const stations = JSON.parse(readFileSync(join(dataDir, "workstations.geojson"), "utf8")).features
    .filter((f) => f.properties.town_code === TOWN);
  assert.ok(stations.length > 0, "the town has workstations");
  // A node that does not exist is refused by the command line.
  assert.throws(() => makeKey(dataDir, "dispatcher", "town:999999999"), /no town sub-centre/);
  const keys = {
    district: makeKey(dataDir, "dispatcher", "district"),
    subCentre: makeKey(dataDir, "dispatcher", `town:${TOWN}`),
  };
  const server = await startServer(dataDir);
  const url = server.url;
  // The workstation whose point the grid puts in its own village (asked of the server).
  let station = null;
  for (const f of stations) {
    const [lon, lat] = f.geometry.coordinates;
    const at = await api(url, `/api/locate?lon=${lon}&lat=${lat}`);
    if (at.village?.id === f.properties.village_code && !at.ambiguous) {
      station = f;
      break;
    }
  }
  assert.ok(station, "a workstation inside its own village");
  // Keys may be made while the server runs (it reads a key it does not know from the database).
  keys.workstation = makeKey(dataDir, "supervisor", `village:${station.properties.village_code}`);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const errors = [];
  try {
    const base = server.url;
    step("the district centre's phone opens on the district queue");
    const district = await phone(browser, errors);
    await openWithKey(district, base, keys.district);
    assert.equal(await district.$eval("#f-queue", (e) => e.value), "mine", "a node-bound key opens on its own queue");

    step("the workstation reports a case with a photo from its phone");
    const ws = await phone(browser, errors);
    await openWithKey(ws, base, keys.workstation);
    const [lon, lat] = station.geometry.coordinates;
    await ws.evaluate(([lon, lat]) => window.gridlink.map.jumpTo({ center: [lon, lat], zoom: 16 }), [lon, lat]);
    await ws.waitForFunction(() => !window.gridlink.map.isMoving(), null, { timeout: 30_000 });
    await ws.click("#report-toggle");
    await ws.waitForSelector("#report-hint");
    const at = await ws.evaluate(([lon, lat]) => {
      const m = window.gridlink.map;
      const r = m.getContainer().getBoundingClientRect();
      const p = m.project([lon, lat]);
      return { x: r.left + p.x, y: r.top + p.y };
    }, [lon, lat]);
    const panelTop = await ws.$eval("#panel", (e) => e.getBoundingClientRect().top);
    assert.ok(at.y < panelTop, `the workstation is drawn above the panel: ${JSON.stringify(at)} < ${panelTop}`);
    await ws.touchscreen.tap(at.x, at.y);
    await ws.waitForSelector("#report-form #report-class .cp-search");
    await ws.fill("#report-class .cp-search", "c0101");
    await ws.press("#report-class .cp-search", "Enter");
    await ws.waitForSelector(`#report-class[data-value="C0101"] .cp-chosen:not([hidden])`);
    await ws.fill("#report-description", "工作站手机上报：井盖缺失");
    // A photo as a phone camera gives it: a JPEG, made by the page's own canvas.
    const jpeg = Buffer.from(await ws.evaluate(() => {
      const c = document.createElement("canvas");
      c.width = 640;
      c.height = 480;
      const g = c.getContext("2d");
      const grad = g.createLinearGradient(0, 0, 640, 480);
      grad.addColorStop(0, "#3a6");
      grad.addColorStop(1, "#a63");
      g.fillStyle = grad;
      g.fillRect(0, 0, 640, 480);
      return c.toDataURL("image/jpeg", 0.9).split(",")[1];
    }), "base64");
    assert.equal(jpeg.subarray(0, 3).toString("hex"), "ffd8ff");
    await ws.setInputFiles("#report-files", { name: "IMG_0001.jpg", mimeType: "image/jpeg", buffer: jpeg });
    await ws.click("#report-submit");
    await ws.waitForSelector("#report-result[data-case-id]", { timeout: 30_000 });
    const id = Number(await ws.$eval("#report-result", (e) => e.dataset.caseId));
    const reported = await api(base, `/api/cases/${id}`, { key: keys.district });
    assert.equal(reported.queue, `town:${TOWN}`, "it lands in the sub-centre's queue");
    assert.equal(reported.village, station.properties.village_code);
    assert.equal(reported.photo_info.length, 1, "the photo is stored with the case");
    assert.equal(reported.photo_info[0].content_type, "image/jpeg");
    await ws.screenshot({ path: join(artifacts, "network-workstation.png") });

    step("the sub-centre's list opens on its queue; it passes the case up with a reason");
    const sub = await phone(browser, errors);
    await openWithKey(sub, base, keys.subCentre);
    await sub.waitForSelector(`#case-list tbody tr[data-id="${id}"]`, { timeout: 30_000 });
    // The district's list does not show it yet (it is not in the district's queue).
    assert.equal(await district.$(`#case-list tbody tr[data-id="${id}"]`), null);
    await sub.tap(`#case-list tbody tr[data-id="${id}"]`);
    await sub.waitForSelector(`#case-detail[data-id="${id}"] #detail-actions button[data-action="pass_up"]`);
    assert.ok(await sub.$('#detail-actions button[data-action="file"]'), "the sub-centre may file a case of its queue");
    await sub.click('#detail-actions button[data-action="pass_up"]');
    await sub.click("#action-confirm");
    // Without a reason the page refuses it before the server would.
    await sub.waitForSelector("#action-error:not([hidden])");
    await sub.fill("#action-note", "涉及区级部门，需区中心协调");
    await sub.click("#action-confirm");
    await sub.waitForSelector(`#case-detail[data-id="${id}"] [data-queue="district"]`, { timeout: 30_000 });
    // It may not act on it any more: no file button.
    assert.equal(await sub.$('#detail-actions button[data-action="file"]'), null);
    await sub.screenshot({ path: join(artifacts, "network-subcentre.png") });

    step("the district centre sees it arrive in its queue live, with the photo");
    await district.waitForSelector(`#case-list tbody tr[data-id="${id}"]`, { timeout: 30_000 });
    await district.tap(`#case-list tbody tr[data-id="${id}"]`);
    await district.waitForSelector(`#case-detail[data-id="${id}"] img.thumb`, { timeout: 30_000 });
    await district.waitForFunction(() => {
      const img = document.querySelector("#case-detail img.thumb");
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 30_000 });
    const history = await district.$$eval("#case-detail .history li", (li) => li.map((e) => e.dataset.action));
    assert.ok(history.includes("pass_up"), `the history shows the pass-up: ${history}`);
    const width = await district.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `nothing is wider than the phone: ${width}`);
    await district.screenshot({ path: join(artifacts, "network-district.png") });
    assert.deepEqual(errors.filter((e) => !e.includes("/api/stream")), [], "no errors in the pages");
  } finally {
    await browser.close();
    server.child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

run().then(
  () => console.log("network browser test passed (screenshots: test-artifacts/network-*.png)"),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

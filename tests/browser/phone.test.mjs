// The staff map page on a phone (390 × 844, touch), in headless Chromium driven by
// playwright-core (the set-up of map.test.mjs: its own gridlink on a scale-0.2 dataset, keys
// made with `gridlink keys create` before the server starts).
//
// On a phone the panel lies over the bottom of the map. Every place the page puts on the map —
// the fitted district (at start and by its control), a search result with its marker, "my
// location", a case flown to, the emergency incident — must land above the panel: checked by
// projecting the target's coordinates to screen pixels (map.project) against the panel's box.
// Besides: the my-location control with Chromium's geolocation override; popups show Chinese
// names of coded values (道路等级 高速公路, not expressway); legends show the colours drawn,
// with district and town units apart; village, road and point labels at z17; the class picker
// filters; the village name stays after filing; a unit key's "本单位" filter; the appraisal
// table fits its panel; a new incident clears the old answers; distances read as people say
// them. Screenshots: test-artifacts/phone-*.png.
//
// Run: node tests/browser/phone.test.mjs   (scripts/test.sh does, after map.test.mjs).
// GRIDLINK_BIN picks the binary (default target/debug/gridlink).

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import assert from "node:assert/strict";
import { repo, require, bin, artifacts, step, startServer, api } from "./harness.mjs";

const { chromium } = require("playwright-core");

const PHONE = { width: 390, height: 844 };
const t0 = Date.now();



const makeKey = (dataDir, role, unit) =>
  execFileSync(bin, ["--data-dir", dataDir, "keys", "create", "--role", role, ...(unit ? ["--unit", unit] : []), "--label", `手机测试 ${role}`], {
    cwd: repo,
    stdio: ["ignore", "pipe", "ignore"],
  }).toString().trim();

// The distance helper every part of the page uses, checked on its own first (no browser).
async function testDistances() {
  step("distances read as people say them (web/format.js)");
  const { distanceText } = await import(pathToFileURL(join(repo, "web", "format.js")).href);
  const cases = [
    [0, "0 米"], [3.24, "3.2 米"], [9.96, "10 米"], [45.4, "45 米"], [99.6, "100 米"], [857.3, "860 米"],
    [994, "990 米"], [996, "1 公里"], [1500, "1.5 公里"], [1549, "1.5 公里"], [9940, "9.9 公里"],
    [12_400, "12 公里"], [null, "—"], [Number.NaN, "—"], [-5, "—"],
  ];
  for (const [metres, expected] of cases) assert.equal(distanceText(metres), expected, `distanceText(${metres})`);
}

async function run() {
  await testDistances();
  const dataDir = mkdtempSync(join(tmpdir(), "gridlink-phone-"));
  execFileSync(bin, ["gen-data", "--scale", "0.2", "--out", dataDir], { cwd: repo, stdio: "ignore" });
  const townUnits = JSON.parse(readFileSync(join(dataDir, "town_units.geojson"), "utf8")).features.map((f) => f.properties);
  const ours = townUnits[0];
  const theirs = townUnits.find((u) => u.jurisdiction !== ours.jurisdiction);
  const dispatcher = makeKey(dataDir, "dispatcher");
  const unitKey = makeKey(dataDir, "unit", ours.code);
  assert.match(unitKey, /^glk_[0-9a-f]{64}$/);
  const { child, url } = await startServer(dataDir);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const errors = [];
  const started = Date.now();
  try {
    // Reduced motion: the camera jumps instead of flying (MapLibre honours the setting), which
    // keeps the test fast; "my location" flies, to check a panel change in mid-flight.
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, permissions: ["geolocation"], locale: "zh-CN", reducedMotion: "reduce" });
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("requestfailed", (r) => {
      const aborted = r.failure()?.errorText === "net::ERR_ABORTED";
      if (aborted && (new URL(r.url()).pathname.startsWith("/tiles/") || r.url().includes("/api/stream"))) return;
      errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    const ctx = { page, context, url, dispatcher, unitKey, ours, theirs };

    step("open the map page at 390 × 844");
    await page.goto(url + "/", { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => window.gridlink?.ready, null, { timeout: 90_000 });
    const panel = await page.$eval("#panel", (e) => e.getBoundingClientRect().toJSON());
    const mapBox = await page.$eval("#map", (e) => e.getBoundingClientRect().toJSON());
    assert.ok(panel.top < mapBox.bottom - 200 && panel.left <= mapBox.left && panel.right >= mapBox.right, `the panel lies over the bottom of the map: ${JSON.stringify({ panel, mapBox })}`);

    await testDistrict(ctx);
    await testLegendsAndPopups(ctx);
    await testSearch(ctx);
    await testMyLocation(ctx);
    const dispatched = await testCases(ctx);
    await testUnitKey(ctx, dispatched);
    await testAppraisal(ctx);
    await testEmergency(ctx);
    assert.deepEqual(errors, [], "no errors in the page");
  } finally {
    await browser.close();
    child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s in the browser)`);
}

// ---------------------------------------------------------------------------------------------
// The visible part of the map and where a coordinate is drawn.

// The map's box above the panel, in page pixels.
const visibleArea = (page) =>
  page.evaluate(() => {
    const m = window.gridlink.map.getContainer().getBoundingClientRect();
    const p = document.querySelector("#panel").getBoundingClientRect();
    const hidden = getComputedStyle(document.querySelector("#panel")).display === "none";
    return { left: m.left, right: m.right, top: m.top, bottom: hidden ? m.bottom : Math.min(m.bottom, p.top) };
  });

// Where [lon, lat] is drawn, in page pixels.
const screenOf = (page, [lon, lat]) =>
  page.evaluate(([lon, lat]) => {
    const m = window.gridlink.map;
    const r = m.getContainer().getBoundingClientRect();
    const p = m.project([lon, lat]);
    return { x: r.left + p.x, y: r.top + p.y };
  }, [lon, lat]);

async function assertVisible(page, lonLat, what, margin = 0) {
  const area = await visibleArea(page);
  const at = await screenOf(page, lonLat);
  const inside = at.x >= area.left + margin - 0.5 && at.x <= area.right - margin + 0.5 && at.y >= area.top + margin - 0.5 && at.y <= area.bottom - margin + 0.5;
  assert.ok(inside, `${what} at ${JSON.stringify(at)} is drawn above the panel, inside ${JSON.stringify(area)}`);
  return { at, area };
}

// The camera has come to rest (and, for a screenshot, the tiles are drawn).
const settled = (page, { tiles = false } = {}) =>
  page.waitForFunction((tiles) => {
    const m = window.gridlink.map;
    return !m.isMoving() && (!tiles || (m.loaded() && m.areTilesLoaded()));
  }, tiles, { timeout: 30_000 });
const screenshot = async (page, name) => {
  await settled(page, { tiles: true });
  await page.screenshot({ path: join(artifacts, `phone-${name}.png`) });
};

// Waits for a camera move that has just been asked for to start (if it animates) and end.
async function afterMove(page, start) {
  await page.evaluate(() => {
    window.__moved = false;
    window.gridlink.map.once("moveend", () => (window.__moved = true));
  });
  await start();
  await page.waitForFunction(() => window.__moved, null, { timeout: 30_000 });
  await settled(page);
}

const tab = async (page, name) => {
  await page.click(`#panel nav button[data-tab="${name}"]`);
  await page.waitForSelector(`#tab-${name}:not([hidden])`);
};

// ---------------------------------------------------------------------------------------------

async function testDistrict({ page, url }) {
  step("the district is fitted above the panel, at start and by the 全区 control");
  const layers = await api(url, "/api/layers");
  const [w, s, e, n] = layers.layers.find((l) => l.role === "district").extent;
  const corners = [[w, s], [e, s], [w, n], [e, n]];
  await settled(page);
  const check = async (what) => {
    const points = [];
    for (const c of corners) points.push((await assertVisible(page, c, `${what}: district corner ${c}`)).at);
    const area = await visibleArea(page);
    const width = Math.max(...points.map((p) => p.x)) - Math.min(...points.map((p) => p.x));
    const height = Math.max(...points.map((p) => p.y)) - Math.min(...points.map((p) => p.y));
    assert.ok(width > 0.6 * (area.right - area.left) || height > 0.6 * (area.bottom - area.top), `${what}: the district fills the visible map (${width} × ${height})`);
  };
  await check("at start");
  await screenshot(page, "district");
  await page.evaluate(() => window.gridlink.map.jumpTo({ center: [121.2, 31.2], zoom: 13 }));
  await afterMove(page, () => page.click(".gridlink-ctrl-district"));
  await check("after 全区");
}

async function testLegendsAndPopups({ page, url }) {
  step("legends show the colours drawn; district and town units apart");
  const swatch = (layer) => page.$eval(`label.layer[data-layer="${layer}"] .swatch`, (e) => e.dataset.colour);
  const paint = (id) => page.evaluate((id) => window.gridlink.map.getPaintProperty(id, "circle-color"), id);
  const district = await swatch("district_units");
  const town = await swatch("town_units");
  assert.equal(district, await paint("district-units-circle"), "the district units' swatch is their drawn colour");
  assert.equal(town, await paint("town-units-circle"), "the town units' swatch is their drawn colour");
  assert.notEqual(district, town, "district and town units are told apart");
  const roadColours = await page.evaluate(() => window.gridlink.map.getPaintProperty("roads-line", "line-color"));
  const legend = await page.$$eval('[data-legend="roads"] span', (spans) => spans.map((s) => [s.textContent.trim(), s.dataset.colour]));
  const expressway = legend.find(([label]) => label.includes("高速公路"));
  assert.ok(expressway, `the roads' legend names 高速公路: ${JSON.stringify(legend)}`);
  assert.equal(expressway[1], roadColours[roadColours.indexOf("expressway") + 1], "in the colour expressways are drawn");
  assert.ok(legend.some(([label]) => label.includes("支路")), "the fallback colour is named by the classes it covers");

  step("a tapped road's popup names its class in Chinese");
  const road = (await api(url, "/ogc/collections/roads/items?class=expressway&limit=1")).features[0];
  const line = road.geometry.type === "LineString" ? road.geometry.coordinates : road.geometry.coordinates.flat();
  const middle = line[Math.floor(line.length / 2)];
  await page.evaluate(([lon, lat]) => window.gridlink.map.jumpTo({ center: [lon, lat], zoom: 15 }), middle);
  await settled(page, { tiles: true });
  // A vertex of the road, above the panel, where nothing else is drawn on top of the road.
  const spot = await page.evaluate((coords) => {
    const m = window.gridlink.map;
    const box = m.getContainer().getBoundingClientRect();
    const bottom = document.querySelector("#panel").getBoundingClientRect().top - box.top;
    for (const c of coords) {
      const p = m.project(c);
      if (p.x < 30 || p.x > box.width - 60 || p.y < 30 || p.y > bottom - 30) continue;
      const hits = m.queryRenderedFeatures(p).filter((f) => f.layer.type === "circle" || f.layer.type === "line");
      if (hits.length && hits[0].sourceLayer === "roads" && hits.every((f) => f.layer.type !== "circle")) return { x: box.left + p.x, y: box.top + p.y };
    }
    return null;
  }, line);
  assert.ok(spot, "a tappable spot on the expressway");
  await page.touchscreen.tap(spot.x, spot.y);
  await page.waitForSelector('.feature-popup[data-layer="roads"]', { timeout: 30_000 });
  const shown = await page.$eval('.feature-popup [data-field="class"]', (tr) => ({ text: tr.textContent, code: tr.querySelector(".coded")?.dataset.code }));
  assert.ok(shown.text.includes("等级") && shown.text.includes("高速公路"), `the popup says 等级 高速公路: ${shown.text}`);
  assert.ok(!shown.text.includes("expressway"), "not the code");
  assert.equal(shown.code, "expressway");
  await screenshot(page, "popup");
  await page.evaluate(() => document.querySelector(".maplibregl-popup-close-button")?.click());

  step("labels at z17: village names, roads and points, not cell codes alone");
  const village = (await api(url, "/ogc/collections/villages/items?limit=1&offset=20")).features[0];
  const found = (await api(url, `/api/search?q=${encodeURIComponent(village.properties.name)}&limit=5`)).results.find((r) => r.layer === "villages");
  await page.evaluate(([lon, lat]) => window.gridlink.map.jumpTo({ center: [lon, lat], zoom: 17 }), [found.lon, found.lat]);
  await settled(page, { tiles: true });
  const labels = await page.evaluate(() => {
    const m = window.gridlink.map;
    const ids = m.getStyle().layers.filter((l) => l.type === "symbol").map((l) => l.id);
    const drawn = m.queryRenderedFeatures({ layers: ids });
    return { layers: [...new Set(drawn.map((f) => f.layer.id))], villages: [...new Set(drawn.filter((f) => f.layer.id === "grid-cells-label").map((f) => f.properties.village_name))] };
  });
  // Each cell says which village it is in (a village's own label would land once per tile).
  assert.ok(labels.villages.includes(village.properties.name), `the village is named at z17: ${JSON.stringify(labels)}`);
  assert.ok(labels.layers.some((id) => id !== "grid-cells-label"), `roads or points are named too: ${labels.layers}`);
  await screenshot(page, "labels");
}

async function testSearch({ page, url }) {
  step("a village found by search: fitted above the panel, marked and outlined");
  const village = (await api(url, "/ogc/collections/villages/items?limit=1&offset=120")).features[0];
  await page.fill("#search-input", village.properties.name);
  const item = `#search-results li[data-index]`;
  await page.waitForSelector(item);
  const index = await page.$$eval(item, (lis, name) => lis.findIndex((li) => li.textContent.startsWith(name) && li.textContent.includes("村居")), village.properties.name);
  assert.ok(index >= 0, "the village is among the results");
  await afterMove(page, () => page.tap(`#search-results li[data-index="${index}"]`));
  await page.waitForFunction((id) => window.gridlink.highlight?.id === id, String(village.id));
  const pick = await page.evaluate(() => window.gridlink.pick);
  assert.ok(pick, "a marker on the result");
  await assertVisible(page, [pick.lng, pick.lat], "the search marker");
  const marker = await page.$eval(".pick-marker", (e) => e.getBoundingClientRect().toJSON());
  const area = await visibleArea(page);
  assert.ok(marker.bottom <= area.bottom + 0.5 && marker.top >= area.top - 0.5, "the whole marker pin is above the panel");
  const [w, s, e, n] = (await api(url, `/api/search?q=${encodeURIComponent(village.properties.name)}&limit=12`)).results.find((r) => r.id === String(village.id)).bbox;
  for (const c of [[w, s], [e, s], [w, n], [e, n]]) await assertVisible(page, c, `village bbox corner ${c}`);
  await page.waitForFunction(() => window.gridlink.map.queryRenderedFeatures({ layers: ["pick-highlight-line"] }).length > 0, null, { timeout: 30_000 });
  const highlighted = await page.evaluate(() => window.gridlink.map.queryRenderedFeatures({ layers: ["pick-highlight-line"] }).map((f) => f.properties.code));
  assert.ok(highlighted.length && highlighted.every((code) => code === String(village.id)), `the found village is the highlighted feature: ${highlighted}`);
  await page.waitForSelector("#locate [data-cell]");
  await screenshot(page, "search");

  step("a unit found by search: flown to, above the panel");
  const unit = (await api(url, "/ogc/collections/town_units/items?limit=1&offset=40")).features[0];
  // By its code: unit names repeat from town to town (every town has a 城管执法中队).
  await page.fill("#search-input", String(unit.id));
  await page.waitForFunction((code) => [...document.querySelectorAll("#search-results li[data-index]")].some((li) => li.textContent.endsWith(code)), String(unit.id));
  const unitIndex = await page.$$eval(item, (lis, code) => lis.findIndex((li) => li.textContent.endsWith(code)), String(unit.id));
  await afterMove(page, () => page.tap(`#search-results li[data-index="${unitIndex}"]`));
  await assertVisible(page, unit.geometry.coordinates, "the unit found");
  const moved = await page.evaluate(() => window.gridlink.pick);
  assert.deepEqual([moved.lng, moved.lat], unit.geometry.coordinates, "the marker is on the unit");
}

async function testMyLocation({ page, context, url }) {
  step("my location (Chromium's geolocation override): drawn above the panel and located");
  const town = (await api(url, `/api/search?q=${encodeURIComponent("奉城镇")}&limit=1`)).results[0];
  const here = { longitude: town.lon + 0.004, latitude: town.lat - 0.003 };
  await context.setGeolocation(here);
  // From the cases tab, whose panel is taller: the position makes the page show the 位置与周边
  // tab (a shorter panel) while the camera is flying there.
  await tab(page, "cases");
  await page.emulateMedia({ reducedMotion: "no-preference" });
  await afterMove(page, () => page.click(".maplibregl-ctrl-geolocate"));
  await page.waitForFunction(() => window.gridlink.myLocation, null, { timeout: 30_000 });
  await page.waitForSelector(".maplibregl-user-location-dot");
  await settled(page);
  await page.emulateMedia({ reducedMotion: "reduce" });
  await assertVisible(page, [here.longitude, here.latitude], "my location");
  const dot = await page.$eval(".maplibregl-user-location-dot", (e) => e.getBoundingClientRect().toJSON());
  const at = await screenOf(page, [here.longitude, here.latitude]);
  assert.ok(Math.abs(dot.x + dot.width / 2 - at.x) < 2 && Math.abs(dot.y + dot.height / 2 - at.y) < 2, "the dot is drawn at the position, unshifted (WGS84 in, WGS84 drawn)");
  const expected = await api(url, `/api/locate?lon=${here.longitude}&lat=${here.latitude}`);
  await page.waitForSelector(`#locate [data-cell="${expected.cell.id}"]`, { timeout: 30_000 });
  assert.ok(await page.$eval("#locate", (e) => e.textContent.includes("奉城镇")), "the position is located in its town");
  await screenshot(page, "location");
}

async function testCases({ page, url, dispatcher, ours, theirs }) {
  step("with a dispatcher key: a case filed on the page keeps its village name");
  await tab(page, "cases");
  await page.fill("#key-input", dispatcher);
  await page.click("#key-save");
  await page.waitForFunction(() => window.gridlink.streamState === "live", null, { timeout: 30_000 });
  const town = (await api(url, `/api/search?q=${encodeURIComponent("南桥镇")}&limit=1`)).results[0];
  const spot = [town.lon + 0.003, town.lat + 0.002];
  const place = await api(url, `/api/locate?lon=${spot[0]}&lat=${spot[1]}`);
  const klass = (await api(url, "/api/classes", { key: dispatcher })).majors[0].classes[0];
  const report = (where, description) => api(url, "/api/cases", { method: "POST", key: dispatcher, body: { class: klass.code, lon: where[0], lat: where[1], description, channel: "hotline_12345" } });
  const toFile = await report(spot, "手机测试：待立案");
  await page.waitForSelector(`#case-list tbody tr[data-id="${toFile.id}"]`, { timeout: 30_000 });
  await page.tap(`#case-list tbody tr[data-id="${toFile.id}"]`);
  await page.waitForSelector(`#case-detail[data-id="${toFile.id}"] #detail-actions button[data-action="file"]`);
  await page.click('#detail-actions button[data-action="file"]');
  await page.click("#action-confirm");
  await page.waitForSelector(`#case-detail[data-id="${toFile.id}"][data-status="filed"]`, { timeout: 30_000 });
  const village = await page.$eval("#case-detail [data-village]", (e) => e.textContent);
  assert.ok(village.includes(place.village.name), `after filing the case still names its village: ${village}`);

  step("在地图上定位: the case is flown to above the panel");
  await afterMove(page, () => page.click("#detail-fly"));
  await assertVisible(page, spot, "the case");
  await screenshot(page, "case");

  // Two dispatched cases for the unit-key step: one to our unit, one to another.
  const mine = await report(spot, "手机测试：本单位的案件");
  const other = await report([spot[0] + 0.01, spot[1]], "手机测试：别的单位的案件");
  for (const [c, unit] of [[mine, ours.code], [other, theirs.code]]) {
    await api(url, `/api/cases/${c.id}/actions`, { key: dispatcher, method: "POST", body: { action: "file" } });
    await api(url, `/api/cases/${c.id}/actions`, { key: dispatcher, method: "POST", body: { action: "dispatch", unit } });
  }
  await page.click("#detail-back");

  step("the class picker filters the classes as one types");
  const total = (await api(url, "/api/classes", { key: dispatcher })).majors.reduce((n, m) => n + m.classes.length, 0);
  await page.click("#report-toggle");
  await page.waitForSelector("#report-hint");
  const area = await visibleArea(page);
  await page.touchscreen.tap((area.left + area.right) / 2, (area.top + area.bottom) / 2);
  await page.waitForSelector("#report-form #report-class .cp-search");
  assert.equal(await page.$$eval("#report-class .cp-option", (o) => o.length), total, "every class is offered");
  await page.fill("#report-class .cp-search", "井盖");
  const lids = await page.$$eval("#report-class .cp-option:not([hidden])", (o) => o.map((x) => x.textContent));
  assert.ok(lids.length > 0 && lids.length < total, `井盖 narrows the list: ${lids.length} of ${total}`);
  assert.ok(lids.every((t) => t.includes("井盖")), `every class shown is about 井盖: ${lids}`);
  assert.ok(await page.$eval("#report-class", (e) => [...e.querySelectorAll(".cp-group:not([hidden])")].length >= 1), "grouped by major class");
  await page.fill("#report-class .cp-search", klass.code.toLowerCase());
  assert.deepEqual(await page.$$eval("#report-class .cp-option:not([hidden])", (o) => o.map((x) => x.dataset.code)), [klass.code], "a code finds its class");
  await page.press("#report-class .cp-search", "Enter");
  await page.waitForSelector(`#report-class[data-value="${klass.code}"] .cp-chosen:not([hidden])`);
  await screenshot(page, "report");
  await page.fill("#report-description", "手机测试：从手机上报");
  await page.click("#report-submit");
  await page.waitForSelector("#report-result[data-case-id]", { timeout: 30_000 });
  const reported = await page.$eval("#report-result [data-village]", (e) => e.textContent);
  assert.ok(reported.length > 2 && !/^\d+$/.test(reported), `the report names its village: ${reported}`);
  return { mine: mine.id, other: other.id };
}

async function testUnitKey({ page, unitKey, ours }, { mine, other }) {
  step("a unit key: 本单位 lists only the unit's own cases (unit= filter)");
  const listed = page.waitForResponse((r) => r.url().includes("/api/cases?") && new URL(r.url()).searchParams.get("unit") === ours.code, { timeout: 30_000 });
  await page.fill("#key-input", unitKey);
  await page.click("#key-save");
  const body = await (await listed).json();
  assert.ok(body.cases.length > 0 && body.cases.every((c) => c.unit === ours.code), "the server answers the unit's cases");
  await page.waitForSelector(`#case-list tbody tr[data-id="${mine}"]`, { timeout: 30_000 });
  assert.equal(await page.$eval("#f-mine", (e) => e.checked), true, "本单位 is on for a unit key");
  assert.equal(await page.$eval("#f-mine-label", (e) => e.hidden), false);
  assert.equal(await page.$(`#case-list tbody tr[data-id="${other}"]`), null, "another unit's case is not listed");
  await page.uncheck("#f-mine");
  await page.waitForSelector(`#case-list tbody tr[data-id="${other}"]`, { timeout: 30_000 });
}

async function testAppraisal({ page }) {
  step("the appraisal table fits its panel on a phone");
  await tab(page, "appraisal");
  await page.waitForSelector("#appraisal-table tbody tr", { timeout: 30_000 });
  const fit = await page.evaluate(() => {
    const panel = document.querySelector("#panel");
    const wrap = document.querySelector("#appraisal-result .table-wrap").getBoundingClientRect();
    const p = panel.getBoundingClientRect();
    return { overflow: panel.scrollWidth - panel.clientWidth, wrapLeft: wrap.left, wrapRight: wrap.right, left: p.left, right: p.right };
  });
  assert.ok(fit.overflow <= 0, `the panel does not scroll sideways: ${JSON.stringify(fit)}`);
  assert.ok(fit.wrapLeft >= fit.left && fit.wrapRight <= fit.right, `the table's box is inside the panel: ${JSON.stringify(fit)}`);
  const sticky = await page.$eval("#appraisal-table td.unit-name", (td) => getComputedStyle(td).position);
  assert.equal(sticky, "sticky", "the unit column stays while the figures scroll");
  await page.$eval("#appraisal-result .table-wrap", (e) => e.scrollIntoView({ block: "start" }));
  await screenshot(page, "appraisal");
}

async function testEmergency({ page, url, unitKey: key }) {
  step("emergency: the incident above the panel; a new point clears the old answers");
  await tab(page, "emergency");
  await page.click('#em-modes button[data-mode="around"]');
  const town = (await api(url, `/api/search?q=${encodeURIComponent("南桥镇")}&limit=1`)).results[0];
  await page.evaluate(([lon, lat]) => window.gridlink.map.jumpTo({ center: [lon, lat], zoom: 14 }), [town.lon, town.lat]);
  await settled(page);
  const area = await visibleArea(page);
  const first = { x: (area.left + area.right) / 2, y: (area.top + area.bottom) / 2 };
  await page.touchscreen.tap(first.x, first.y);
  await page.waitForSelector("#em-incident[data-lon]");
  const incident = await page.$eval("#em-incident", (e) => [Number(e.dataset.lon), Number(e.dataset.lat)]);
  await assertVisible(page, incident, "the incident");
  await page.click("#em-run-around");
  await page.waitForSelector("#em-result-around[data-ready]", { timeout: 30_000 });
  const text = await page.$eval("#em-result-around", (e) => e.textContent);
  const distances = [...text.matchAll(/(\d+(?:\.\d+)?) (米|公里)/g)].map((m) => [Number(m[1]), m[2], m[0]]);
  assert.ok(distances.length > 0, "the report gives distances");
  for (const [value, unit, raw] of distances) {
    const ok = unit === "公里" ? value >= 1 && (value < 10 ? Number.isInteger(value * 10) : Number.isInteger(value)) : value < 10 || (value < 100 ? Number.isInteger(value) : value % 10 === 0 && value < 1000);
    assert.ok(ok, `a distance rounded for people: ${raw}`);
  }
  await page.$eval("#em-result-around", (e) => e.scrollIntoView({ block: "start" }));
  await screenshot(page, "emergency");
  await page.evaluate(() => document.querySelectorAll(".maplibregl-popup-close-button").forEach((b) => b.click()));
  await page.touchscreen.tap(first.x + 40, first.y - 30);
  await page.waitForFunction((old) => Number(document.querySelector("#em-incident").dataset.lon) !== old, incident[0]);
  assert.equal(await page.$eval("#em-result-around", (e) => e.innerHTML.trim()), "", "the old around report is cleared");
  assert.ok(await page.$("#em-moved"), "the panel says the answers were cleared");

  step("a hazard source chosen from the list: flown to, above the panel");
  await page.waitForSelector("#em-hazard:not([disabled]) option[value]:not([value=''])", { state: "attached", timeout: 30_000 });
  const hazard = await page.$eval("#em-hazard option[value]:not([value=''])", (o) => o.value);
  const feature = await api(url, `/ogc/collections/hazard_sources/items/${encodeURIComponent(hazard)}`, { key });
  await afterMove(page, () => page.selectOption("#em-hazard", hazard));
  await page.waitForSelector(`#em-incident[data-hazard="${hazard}"]`);
  await assertVisible(page, feature.geometry.coordinates, "the hazard source");
}

run().then(
  () => console.log("phone browser test passed (screenshots: test-artifacts/phone-*.png)"),
  (error) => {
    console.error(`phone browser test FAILED: ${error.stack || error}`);
    process.exit(1);
  },
);

// End-to-end test of the web map in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core from web/node_modules): the page loads against a running gridlink, tiles
// render, a layer toggles off, a click on the map shows the locate result, and a screenshot is
// saved to test-artifacts/map.png. Then the case panel: a case is reported by clicking the map
// (located, with its possible duplicate), a dispatcher key (made with `gridlink keys create`
// before the server starts) is set in the page, the case is filed and dispatched with the
// page's buttons, the list row follows over the live stream (/api/stream) without a reload, a
// case reported elsewhere appears live, the case layer draws it, and the appraisal view shows
// the unit and exports CSV. Screenshots: test-artifacts/cases.png and appraisal.png. Last the
// emergency tab: the live shelter and station layers stand in for the tile layers, a point is
// picked on the map, a chlorine leak zone is drawn and its exposed protected targets listed
// (as many as the API answers), the zone's people are allocated to shelters, a shelter report
// recolours the shelter layer over the stream, and readings crossing a threshold raise an alert
// that appears live in the alert list and colours the station. Screenshot: emergency.png.
//
// Run: node tests/browser/map.test.mjs   (scripts/test.sh does, after `cargo test`).
// GRIDLINK_BIN picks the binary (default target/debug/gridlink).

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { repo, require, bin, artifacts, step, startServer, api } from "./harness.mjs";

const { chromium } = require("playwright-core");
const styleSpec = require("@maplibre/maplibre-gl-style-spec");



// An independent segment–polygon test (lon/lat plane; touching counts as entering) for the
// drawn evacuation paths: does segment a→b cross a ring of the polygon or start/end inside it?
const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
const within = (p, a, b) => p[0] >= Math.min(a[0], b[0]) && p[0] <= Math.max(a[0], b[0]) && p[1] >= Math.min(a[1], b[1]) && p[1] <= Math.max(a[1], b[1]);
function segmentsMeet(a, b, c, d) {
  const [d1, d2, d3, d4] = [cross(c, d, a), cross(c, d, b), cross(a, b, c), cross(a, b, d)];
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  return (d1 === 0 && within(a, c, d)) || (d2 === 0 && within(b, c, d)) || (d3 === 0 && within(c, a, b)) || (d4 === 0 && within(d, a, b));
}
function inRing(p, ring) {
  let inside = false;
  for (let i = 1; i < ring.length; i++) {
    const [a, b] = [ring[i - 1], ring[i]];
    if ((a[1] > p[1]) !== (b[1] > p[1]) && p[0] < a[0] + ((p[1] - a[1]) / (b[1] - a[1])) * (b[0] - a[0])) inside = !inside;
  }
  return inside;
}
function segmentEntersPolygon(a, b, rings) {
  const inside = (p) => inRing(p, rings[0]) && !rings.slice(1).some((hole) => inRing(p, hole));
  return rings.some((ring) => ring.slice(1).some((q, i) => segmentsMeet(a, b, ring[i], q))) || inside(a) || inside(b);
}

async function run() {
  const dataDir = mkdtempSync(join(tmpdir(), "gridlink-browser-"));
  execFileSync(bin, ["gen-data", "--scale", "0.2", "--out", dataDir], { cwd: repo, stdio: "ignore" });
  // A dispatcher key in the data dir's case database (DATA_DIR/gridlink.sqlite), which the
  // server then opens.
  const key = execFileSync(bin, ["--data-dir", dataDir, "keys", "create", "--role", "dispatcher", "--label", "浏览器测试调度员"], {
    cwd: repo,
    stdio: ["ignore", "pipe", "ignore"],
  }).toString().trim();
  assert.match(key, /^glk_[0-9a-f]{64}$/, "keys create prints the key");
  const { child, url } = await startServer(dataDir);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu-sandbox",
      "--use-angle=swiftshader",
      "--enable-unsafe-swiftshader",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const errors = [];
  try {
    step("the served style validates against the MapLibre style spec");
    for (const staff of [false]) {
      const style = await (await fetch(`${url}/styles/district.json`)).json();
      const problems = styleSpec.validateStyleMin(style);
      assert.deepEqual(problems.map((p) => p.message), [], `style problems (staff=${staff})`);
      assert.ok(style.sources.gridlink.url.startsWith(url), "the source points at this server");
      assert.ok(style.glyphs.startsWith(url), "glyphs come from this server");
    }

    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("requestfailed", (r) => {
      // MapLibre cancels tile requests it no longer needs (style reload, tile refresh), and the
      // event stream is cut when the page closes: neither is a failure.
      const aborted = r.failure()?.errorText === "net::ERR_ABORTED";
      if (aborted && (new URL(r.url()).pathname.startsWith("/tiles/") || r.url().includes("/api/stream"))) return;
      errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });

    step("open the map page");
    await page.goto(url + "/", { waitUntil: "domcontentloaded" });
    try {
      await page.waitForFunction(() => window.gridlink && window.gridlink.ready, null, { timeout: 90_000 });
    } catch (e) {
      await page.screenshot({ path: join(artifacts, "map-failed.png") });
      throw new Error(`the map never became ready; page errors: ${JSON.stringify(errors)}`);
    }

    step("on a desktop the panel stands beside the map: no padding, the district in view");
    assert.deepEqual(await page.evaluate(() => window.gridlink.padding), { top: 0, right: 0, bottom: 0, left: 0 });
    const extent = (await (await fetch(`${url}/api/layers`)).json()).layers.find((l) => l.role === "district").extent;
    const inView = await page.evaluate(([w, s, e, n]) => {
      const m = window.gridlink.map;
      const box = m.getContainer().getBoundingClientRect();
      return [[w, s], [e, n]].every((c) => {
        const p = m.project(c);
        return p.x >= 0 && p.x <= box.width && p.y >= 0 && p.y <= box.height;
      });
    }, extent);
    assert.ok(inView, "the whole district is in view at start");

    step("tiles rendered");
    const rendered = await page.evaluate(() => {
      const features = window.gridlink.map.queryRenderedFeatures();
      return [...new Set(features.map((f) => f.sourceLayer))];
    });
    assert.ok(rendered.includes("towns"), `towns drawn: ${rendered}`);
    assert.ok(rendered.includes("district"), `district drawn: ${rendered}`);
    const groups = await page.$$eval("#tab-layers .group h2", (hs) => hs.map((h) => h.textContent));
    assert.equal(groups.length, 5, `five layer groups in the panel: ${groups}`);

    step("toggle a layer off");
    assert.equal(await page.evaluate(() => window.gridlink.map.getLayoutProperty("towns-line", "visibility") ?? "visible"), "visible");
    await page.click('label.layer[data-layer="towns"]');
    await page.waitForFunction(() => window.gridlink.map.getLayoutProperty("towns-line", "visibility") === "none");
    const checked = await page.$eval('input[data-layer="towns"]', (i) => i.checked);
    assert.equal(checked, false);

    step("click the map and see the locate result");
    const target = await (await fetch(`${url}/api/search?q=%E5%8D%97%E6%A1%A5%E9%95%87&limit=1`)).json();
    const town = target.results[0];
    await page.evaluate(([lon, lat]) => window.gridlink.map.jumpTo({ center: [lon, lat], zoom: 14 }), [town.lon, town.lat]);
    await page.waitForFunction(() => window.gridlink.map.loaded(), null, { timeout: 60_000 });
    const box = await page.$eval("#map", (m) => { const r = m.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; });
    const click = { x: box.x + box.w / 2, y: box.y + box.h / 2 };
    const lngLat = await page.evaluate(([x, y]) => window.gridlink.map.unproject([x, y]), [box.w / 2, box.h / 2]);
    await page.mouse.click(click.x, click.y);
    await page.waitForSelector("#locate [data-cell]", { timeout: 30_000 });
    const shown = await page.$eval("#locate [data-cell]", (e) => e.dataset.cell);
    const expected = await (await fetch(`${url}/api/locate?lon=${lngLat.lng}&lat=${lngLat.lat}`)).json();
    assert.equal(shown, expected.cell.id, "the panel shows the cell the API locates");
    assert.ok(await page.$eval("#locate", (e) => e.textContent.includes("南桥镇")), "the town is named");
    await page.waitForFunction(() => window.gridlink.lastAround !== null, null, { timeout: 30_000 });
    assert.ok(await page.$eval("#around", (e) => e.textContent.includes("避难场所")), "the around report is shown");

    step("screenshot");
    await page.screenshot({ path: join(artifacts, "map.png") });
    assert.deepEqual(errors, [], "no errors in the page");

    await testCases(page, url, key);
    assert.deepEqual(errors, [], "no errors in the page");

    await testEmergency(page, url, key);
    assert.deepEqual(errors, [], "no errors in the page");
  } finally {
    await browser.close();
    child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}


// A 16×16 PNG (a real, decodable image) for the photo upload.
const PHOTO_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAABlklEQVR4nBXRURVEIQhFUSMYgQhGMAIRiGCEE8EIRiACEYhABCLMG7/ZrMt1jMEcyGAN9kAHNjgDBnfwBj6IQQ5q0IMxJnMikzXZE53Y5EyY3Mmb+CQmOalJzw8IUxBhCVtQwYQjIFzhCS6EkEIJLR9YzIUs1mIvdGGLs2BxF2/hi1jkoha9PrCZG9mszd7oxjZnw+Zu3sY3sclNbXp/QJmKKEvZiiqmHAXlKk9xJZRUSmn9gDENMZaxDTXMOAbGNZ7hRhhplNH2gcM8yGEd9kEPdjgHDvfwDn6IQx7q0OcD/wK/Sr4jv9hfkG/1N/x/Fx44BCQU9Pc94zIvclmXfdGLXc79j9/Lu/glLnmpS98PPOZDHuuxH/qwx3n/5ffxHv6IRz7q0e8DznTEWc521DHn+D/KdZ7jTjjplNP+gWAGEqxgBxpYcOIf/AYv8CCCDCro+EAyE0lWshNNLDn5P/MmL/Ekkkwq6fxAMQspVrELLaw49S/lFq/wIoosquj6QDMbaVazG22sOf2v8Dav8SaabKrp5geIAnAQEbP2+wAAAABJRU5ErkJggg==";

async function testCases(page, url, key) {
  const classes = await api(url, "/api/classes");
  const klass = classes.majors[0].classes[0];
  // Same-document check: the marker disappears if anything reloads the page.
  await page.evaluate(() => (window.__sameDocument = true));
  await page.evaluate(() => document.querySelector(".maplibregl-popup-close-button")?.click());

  step("report a case by clicking the map (anonymous)");
  await page.click('#panel nav button[data-tab="cases"]');
  await page.waitForSelector("#tab-cases:not([hidden])");
  await page.click("#report-toggle");
  await page.waitForSelector("#report-hint");
  // The case panel is wider: wait for the map to fit its new box, then click its centre.
  await page.waitForFunction(() => {
    const m = window.gridlink.map;
    return Math.abs(m.getCanvas().getBoundingClientRect().width - document.querySelector("#map").getBoundingClientRect().width) < 1;
  });
  const spot = await page.evaluate(() => {
    const m = window.gridlink.map;
    const r = m.getCanvas().getBoundingClientRect();
    const lngLat = m.unproject([r.width / 2, r.height / 2]);
    return { x: r.x + r.width / 2, y: r.y + r.height / 2, lng: lngLat.lng, lat: lngLat.lat };
  });
  // An earlier open case of the same class at the same spot, entered by a hotline operator:
  // the citizen hears that one is open nearby, but not what it says (it is not listed).
  const earlier = await api(url, "/api/cases", {
    key,
    method: "POST",
    body: { class: klass.code, lon: spot.lng, lat: spot.lat, description: "测试：先前上报的同类案件", channel: "hotline_12345" },
  });
  await page.mouse.click(spot.x, spot.y);
  await page.waitForSelector("#report-form");
  await page.waitForFunction(() => !document.querySelector("#report-place").textContent.includes("正在定位"));
  // A fire: call 119 first, said before anything else.
  await page.fill("#report-class .cp-search", "Y0102");
  await page.click(`#report-class .cp-option[data-code="Y0102"]`);
  assert.ok(await page.$eval("#report-call", (e) => !e.hidden && e.textContent.includes("119")), "the fire class shows the call-119 banner");
  await page.click("#report-class .cp-change");
  await page.fill("#report-class .cp-search", klass.name);
  await page.click(`#report-class .cp-option[data-code="${klass.code}"]`);
  await page.waitForSelector(`#report-class[data-value="${klass.code}"]`);
  assert.ok(await page.$eval("#report-call", (e) => e.hidden), "no banner for a manhole cover");
  await page.selectOption("#report-urgency", "urgent");
  await page.fill("#report-description", "浏览器测试：人行道井盖缺失");
  await page.fill("#report-photo", "https://example.org/photos/manhole.jpg");
  // A photo from the phone: sent as multipart/form-data with the fields.
  await page.setInputFiles("#report-files", { name: "现场.png", mimeType: "image/png", buffer: Buffer.from(PHOTO_PNG, "base64") });
  await page.click("#report-submit");
  await page.waitForSelector("#report-result[data-case-id]", { timeout: 30_000 });
  const reported = Number(await page.$eval("#report-result", (e) => e.dataset.caseId));
  assert.ok(reported > earlier.id, `a new case number: ${reported}`);
  const located = await api(url, `/api/locate?lon=${spot.lng}&lat=${spot.lat}`);
  assert.equal(await page.$eval("#report-result [data-cell]", (e) => e.dataset.cell), located.cell.id, "the case is located in the cell the API locates");
  assert.equal(await page.$eval("#report-result [data-village]", (e) => e.dataset.village), located.village.id);
  assert.ok(await page.$eval("#report-result [data-town]", (e) => e.textContent.includes("南桥镇")), "the town is named");
  assert.ok(await page.$('#report-result [data-duplicates="1"]'), "the earlier case is counted as open nearby");
  assert.ok(!(await page.$eval("#report-result", (e) => e.textContent.includes("先前上报"))), "another report's text is not shown to a citizen");
  const trackingUrl = await page.$eval("#report-tracking", (e) => e.getAttribute("href"));
  assert.match(trackingUrl, /^\/api\/track\/\d+\?token=[0-9a-f]{32}$/, "a tracking link");

  step("set the dispatcher key: the case list loads and the stream connects");
  await page.fill("#key-input", key);
  await page.click("#key-save");
  await page.waitForFunction(() => window.gridlink.streamState === "live", null, { timeout: 30_000 });
  await page.waitForSelector(`#case-list tbody tr[data-id="${reported}"]`, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => localStorage.getItem("gridlink.apiKey")), key, "the key is remembered");
  await page.waitForFunction(() => window.gridlink.map.getLayer("cases-circle") && window.gridlink.map.loaded(), null, { timeout: 60_000 });

  step("open the case, file it and dispatch it with the page's buttons");
  await page.click(`#case-list tbody tr[data-id="${reported}"]`);
  await page.waitForSelector(`#case-detail[data-id="${reported}"] #detail-actions`);
  assert.ok(await page.$eval("#case-detail .history", (e) => e.textContent.includes("上报")), "the history starts with the report");
  await page.waitForFunction(() => [...document.querySelectorAll("#case-detail img.thumb")].some((i) => i.complete && i.naturalWidth > 0), null, { timeout: 30_000 });
  await page.waitForSelector('#key-status [data-role="dispatcher"]');
  const before = await page.evaluate(() => window.gridlink.streamEvents);
  await page.click('#detail-actions button[data-action="file"]');
  await page.waitForSelector('#action-form[data-action="file"]');
  await page.click("#action-confirm");
  await page.waitForSelector(`#case-detail[data-id="${reported}"][data-status="filed"]`, { timeout: 30_000 });
  await page.click('#detail-actions button[data-action="dispatch"]');
  await page.waitForSelector('#action-form[data-action="dispatch"]');
  const unit = await page.$eval("#action-unit", (e) => e.value);
  assert.ok(unit, "routing proposed a unit when the case was filed");
  await page.fill("#action-note", "请尽快处置");
  await page.click("#action-confirm");
  await page.waitForSelector(`#case-detail[data-id="${reported}"][data-status="dispatched"]`, { timeout: 30_000 });
  assert.ok(await page.$eval("#case-detail .history", (e) => e.textContent.includes("派遣") && e.textContent.includes("请尽快处置")), "the history shows the dispatch");

  step("publish a note for the public: the reporter's tracking view shows it, not the internal note");
  await page.click('#detail-actions button[data-action="publish"]');
  await page.waitForSelector('#action-form[data-action="publish"]');
  await page.fill("#action-public-note", "已派人处理，感谢反映");
  await page.click("#action-confirm");
  await page.waitForFunction(() => document.querySelector("#case-detail .history .public-note")?.textContent.includes("已派人处理"), null, { timeout: 30_000 });
  const tracked = await api(url, trackingUrl);
  assert.equal(tracked.status_notes, "已派人处理，感谢反映");
  assert.equal(tracked.status_name, "处理中");
  assert.ok(!JSON.stringify(tracked).includes("请尽快处置"), "the internal note stays internal");

  step("the list row follows over the live stream, without a reload");
  // The page updates list rows only from /api/stream events, never from its own requests.
  await page.waitForSelector(`#case-list tbody tr[data-id="${reported}"][data-status="dispatched"]`, { state: "attached", timeout: 30_000 });
  const last = await page.evaluate(() => [window.gridlink.streamEvents, window.gridlink.lastStreamEvent]);
  assert.ok(last[0] >= before + 2, `file and dispatch came over the stream: ${JSON.stringify(last)}`);
  await page.click("#detail-back");
  await page.waitForSelector(`#case-list tbody tr[data-id="${reported}"][data-status="dispatched"]`);
  const elsewhere = await api(url, "/api/cases", {
    key,
    method: "POST",
    body: { class: klass.code, lon: spot.lng + 0.002, lat: spot.lat + 0.001, description: "测试：热线新上报的案件", channel: "hotline_12345" },
  });
  await page.waitForSelector(`#case-list tbody tr[data-id="${elsewhere.id}"]`, { timeout: 30_000 });
  await page.waitForFunction((id) => [...document.querySelectorAll(".toast")].some((t) => t.textContent.includes(`#${id}`)), elsewhere.id);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was not reloaded");

  step("the case layer draws the dispatched case");
  await page.waitForFunction(
    (id) => window.gridlink.map.queryRenderedFeatures({ layers: ["cases-circle"] }).some((f) => Number(f.properties.id) === id && f.properties.status === "dispatched"),
    reported,
    { timeout: 30_000 },
  );
  await page.screenshot({ path: join(artifacts, "cases.png") });

  step("appraisal: the unit's figures, bars and the CSV export");
  await page.click('#panel nav button[data-tab="appraisal"]');
  const row = `#appraisal-table tbody tr[data-unit="${unit}"]`;
  await page.waitForSelector(row, { timeout: 30_000 });
  const received = await page.$eval(row, (tr) => tr.children[1].textContent.trim());
  assert.equal(received, "1", "the unit received the dispatched case");
  assert.ok(await page.$(`#appraisal-chart .bar-row[data-unit="${unit}"]`), "the unit has bars in the chart");
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 30_000 }), page.click("#ap-csv")]);
  assert.match(download.suggestedFilename(), /\.csv$/);
  const csv = readFileSync(await download.path(), "utf8");
  assert.ok(csv.includes(unit), "the CSV lists the unit");
  const fit = await page.evaluate(() => {
    const panel = document.querySelector("#panel");
    const wrap = document.querySelector("#appraisal-result .table-wrap").getBoundingClientRect();
    const p = panel.getBoundingClientRect();
    return { overflow: panel.scrollWidth - panel.clientWidth, inside: wrap.left >= p.left && wrap.right <= p.right };
  });
  assert.ok(fit.overflow <= 0 && fit.inside, `the appraisal table fits its panel: ${JSON.stringify(fit)}`);
  await page.screenshot({ path: join(artifacts, "appraisal.png") });
}

// The map has fitted its box (the panel width changes with the tab) and drawn everything.
const mapSettled = (page) =>
  page.waitForFunction(() => {
    const m = window.gridlink.map;
    return Math.abs(m.getCanvas().getBoundingClientRect().width - document.querySelector("#map").getBoundingClientRect().width) < 1 && m.loaded() && !m.isMoving();
  }, null, { timeout: 60_000 });

async function testEmergency(page, url, key) {
  step("emergency tab: shelters by free places and stations by level replace the tile circles");
  await page.click('#panel nav button[data-tab="layers"]');
  const shown = () => page.evaluate(() => window.gridlink.map.getLayoutProperty("shelters-live-circle", "visibility") ?? "visible");
  assert.equal(await shown(), "visible");
  await page.click('label.layer[data-layer="shelters"]');
  assert.equal(await shown(), "none", "the panel switch hides the live shelter layer");
  await page.click('label.layer[data-layer="shelters"]');
  assert.equal(await shown(), "visible", "and shows it again");
  assert.ok(await page.$('#tab-layers [data-legend="shelters"]') && await page.$('#tab-layers [data-legend="stations"]'), "legends of the live layers");
  await page.click('#panel nav button[data-tab="emergency"]');
  await page.waitForSelector("#tab-emergency:not([hidden])");
  await page.waitForFunction(() => window.gridlink.alertsLoaded && window.gridlink.shelters && window.gridlink.stations, null, { timeout: 30_000 });
  // The GeoJSON source is parsed in a worker: on a busy machine its features arrive a moment
  // after the data is set.
  await page.waitForFunction(() => window.gridlink.map.querySourceFeatures("shelters-live").length > 0, null, { timeout: 30_000 });
  const live = await page.evaluate(() => {
    const m = window.gridlink.map;
    return {
      tileShelters: m.getLayoutProperty("shelters-circle", "visibility"),
      liveShelters: m.getLayoutProperty("shelters-live-circle", "visibility") ?? "visible",
      liveStations: !!m.getLayer("stations-live-rain_gauges"),
      shelters: m.querySourceFeatures("shelters-live").length,
    };
  });
  const shelterList = await api(url, "/api/shelters");
  assert.equal(live.tileShelters, "none", "the tile shelters are hidden");
  assert.equal(live.liveShelters, "visible", "the live shelters are drawn");
  assert.ok(live.liveStations, "the live station layer is there");
  assert.ok(live.shelters > 0 && shelterList.count > 0, `live shelters loaded: ${live.shelters}`);

  step("pick a point on the map; a leak zone of an unverified chemical warns");
  const town = (await api(url, `/api/search?q=${encodeURIComponent("南桥镇")}&limit=1`)).results[0];
  await page.evaluate(([lon, lat]) => window.gridlink.map.jumpTo({ center: [lon, lat], zoom: 14 }), [town.lon, town.lat]);
  await mapSettled(page);
  const spot = await page.evaluate(() => {
    const r = window.gridlink.map.getCanvas().getBoundingClientRect();
    return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
  });
  await page.mouse.click(spot.x, spot.y);
  await page.waitForSelector("#em-incident[data-lon]");
  await page.evaluate(() => document.querySelector(".maplibregl-popup-close-button")?.click());
  await page.click('#em-modes button[data-mode="zone"]');
  await page.fill("#em-chemical-search", "氯");
  await page.waitForSelector('#em-chemical option[value="hydrogen_chloride"]', { state: "attached" });
  await page.selectOption("#em-chemical", "hydrogen_chloride");
  await page.check('input[name="em-spill"][value="large"]');
  await page.check('input[name="em-time"][value="night"]');
  await page.fill("#em-wind-from", "0");
  await page.fill("#em-wind-speed", "3");
  assert.ok(await page.$eval("#em-wind-text", (e) => e.textContent.includes("北风")), "the compass hint names the wind");
  await page.click("#em-run-zone");
  await page.waitForSelector("#em-result-zone[data-ready]", { timeout: 30_000 });
  const unverified = await page.evaluate(() => window.gridlink.lastHazmat);
  assert.equal(unverified.verified, false, "hydrogen chloride's distances are not verified");
  assert.ok(await page.$('#em-result-zone .unverified[data-verified="false"]'), "the page warns that the distances are unverified");

  step("chlorine, large spill, night, wind from the north at 3 m/s: zones drawn, targets listed");
  await page.waitForSelector('#em-chemical option[value="chlorine"]', { state: "attached" });
  await page.selectOption("#em-chemical", "chlorine");
  await page.waitForSelector('#em-responder dd[data-field="ppe"]', { timeout: 10_000 });
  assert.match(await page.$eval('#em-responder dd[data-field="ppe"]', (e) => e.title), /ICSC 0126/, "the responder record shows chlorine's PPE with its source");
  await page.click("#em-run-zone");
  await page.waitForFunction(() => window.gridlink.lastHazmat?.chemical.id === "chlorine" && document.querySelector("#em-result-zone[data-ready]"), null, { timeout: 30_000 });
  const sent = await page.evaluate(() => window.gridlink.lastHazmatRequest);
  assert.equal(sent.chemical, "chlorine");
  assert.equal(sent.spill, "large");
  assert.equal(sent.time, "night");
  assert.equal(sent.wind_from_deg, 0);
  assert.equal(sent.wind_speed_ms, 3);
  const expected = await api(url, "/api/hazmat/zone", { key, method: "POST", body: sent });
  await mapSettled(page);
  await page.waitForFunction(() => window.gridlink.map.queryRenderedFeatures({ layers: ["em-zones-fill"] }).length > 0, null, { timeout: 30_000 });
  const drawn = await page.evaluate(() => [...new Set(window.gridlink.map.queryRenderedFeatures({ layers: ["em-zones-fill", "em-zones-line"] }).map((f) => f.properties.zone))].sort());
  assert.deepEqual(drawn, ["isolation", "protective_action"], "both zones are drawn on the map");
  assert.ok(await page.evaluate(() => window.gridlink.map.queryRenderedFeatures({ layers: ["em-wind-line", "em-wind-head"] }).length > 0), "the wind arrow is drawn");
  const targets = await page.$$eval("#em-targets li", (lis) => lis.map((li) => li.dataset.id));
  assert.ok(targets.length > 0, "exposed protected targets are listed");
  assert.equal(targets.length, expected.exposure.protected_targets.count, "as many targets as the API answers");
  assert.deepEqual(targets, expected.exposure.protected_targets.features.map((f) => f.id), "the same targets");
  assert.ok(await page.$('#em-result-zone .verified[data-verified="true"]'), "chlorine's distances are marked verified");
  assert.equal(await page.$eval('#em-result-zone [data-distance="isolation"]', (e) => Number(e.dataset.m)), expected.distances.isolation_m, "the isolation distance is shown");
  assert.equal(await page.$eval('#em-result-zone [data-distance="protective"]', (e) => Number(e.dataset.m)), expected.distances.protective_action_m, "the protective action distance is shown");
  const unsafe = await page.$$("#em-unsafe-shelters li");
  assert.equal(unsafe.length, expected.exposure.shelters_in_zones.count, "the shelters not to use are listed");

  step("allocate the people of the leak zone's villages to shelters outside the zones");
  await page.click('#em-modes button[data-mode="alloc"]');
  await page.check('input[name="em-alloc-source"][value="zone"]');
  assert.equal(await page.$eval("#em-alloc-exclude", (e) => e.checked && !e.disabled), true, "the zones are excluded");
  await page.click("#em-run-alloc");
  await page.waitForSelector("#em-result-alloc[data-ready]", { timeout: 30_000 });
  const allocSent = await page.evaluate(() => window.gridlink.lastAllocationRequest);
  assert.ok(allocSent.area && allocSent.exclude, "the protective zone is the area, the zones are excluded");
  const plan = await api(url, "/api/shelters/allocate", { method: "POST", body: allocSent });
  const rows = await page.$$eval("#em-assignments tbody tr", (trs) => trs.map((tr) => tr.dataset.shelter));
  assert.ok(rows.length > 0, "assignments are listed");
  assert.deepEqual(rows, plan.assignments.map((a) => a.shelter), "the assignments the API plans");
  assert.equal(await page.$eval("#em-alloc-unplaced", (e) => e.textContent.replace(/\D/g, "")), String(plan.unplaced), "unplaced people shown");
  await mapSettled(page);
  await page.waitForFunction(() => window.gridlink.map.queryRenderedFeatures({ layers: ["em-alloc-line"] }).length > 0, null, { timeout: 30_000 });

  step("the map draws each assignment's computed path, and none enters the drawn isolation circle");
  const drawing = await page.evaluate(async () => {
    const m = window.gridlink.map;
    const alloc = await m.getSource("em-alloc").getData();
    const zones = await m.getSource("em-zones").getData();
    return { lines: alloc.features.filter((f) => f.geometry.type === "LineString"), zones: zones.features };
  });
  assert.deepEqual(drawing.lines.map((f) => f.geometry.coordinates), plan.assignments.map((a) => a.path.coordinates), "the drawn lines are the API's paths");
  const circle = drawing.zones.find((f) => f.properties.zone === "isolation").geometry.coordinates;
  for (const a of plan.assignments) {
    const leaving = plan.groups[a.group].in_zones.includes("isolation");
    a.path.coordinates.slice(1).forEach((end, n) => {
      const enters = segmentEntersPolygon(a.path.coordinates[n], end, circle);
      assert.ok(!enters || (n === 0 && leaving), `leg ${n} of the path to ${a.shelter} enters the isolation circle`);
    });
  }
  const rowNames = await page.$$eval("#em-assignments tbody tr td:first-child", (tds) => tds.map((td) => td.textContent));
  plan.assignments.forEach((a, n) => assert.ok(rowNames[n].includes(a.shelter) && rowNames[n].includes(a.address), `row ${n} names ${a.shelter} with its code and address`));

  step("a shelter manager's report recolours the live shelter layer over the stream");
  const shelter = shelterList.features.find((f) => f.properties.status === "open" && f.properties.free > 0);
  await api(url, `/api/shelters/${shelter.id}`, { key, method: "PATCH", body: { occupancy: shelter.properties.capacity } });
  await page.waitForFunction(
    (id) => window.gridlink.shelters.features.some((f) => f.id === id && f.properties.free === 0),
    shelter.id,
    { timeout: 30_000 },
  );
  assert.ok(await page.evaluate(() => window.gridlink.shelterEvents > 0), "the change came as a shelter event");

  step("readings crossing a threshold raise an alert: listed live, toasted, station coloured");
  const stations = await api(url, "/api/feeds/latest?format=geojson");
  const gauge = stations.features.find((f) => f.properties.role === "rain_gauge" && !f.properties.level);
  const now = Date.now();
  const readings = [
    { station: gauge.id, time: new Date(now - 20 * 60_000).toISOString(), kind: "rain_1h", value: 8 },
    { station: gauge.id, time: new Date(now - 60_000).toISOString(), kind: "rain_1h", value: 62.5 },
  ];
  const ingest = await api(url, "/api/feeds/readings", { key, method: "POST", body: readings });
  assert.equal(ingest.accepted, 2, JSON.stringify(ingest));
  assert.equal(ingest.alerts.length, 1, "one alert raised");
  const alert = ingest.alerts[0];
  assert.equal(alert.level, "orange");
  const item = `#em-alerts li[data-alert-id="${alert.id}"]`;
  await page.waitForSelector(item, { timeout: 30_000 });
  await page.waitForFunction((name) => [...document.querySelectorAll(".toast")].some((t) => t.textContent.includes(name)), alert.station_name);
  assert.equal(await page.$eval(`${item} [data-villages]`, (e) => Number(e.dataset.villages)), alert.villages.length, "nearby villages counted");
  assert.equal(await page.$eval(`${item} [data-flood-points]`, (e) => Number(e.dataset.floodPoints)), alert.flood_points.length, "nearby flood points counted");
  await page.waitForFunction(
    (id) => window.gridlink.map.querySourceFeatures("stations-live").some((f) => f.properties.station === id && f.properties.level === "orange"),
    gauge.id,
    { timeout: 30_000 },
  );
  await mapSettled(page);
  await page.screenshot({ path: join(artifacts, "emergency.png") });
  await page.click(item);
  await page.waitForFunction((id) => window.gridlink.map.getFeatureState({ source: "stations-live", id }).selected === true, gauge.id);
  await mapSettled(page);

  step("清除 clears the drawings");
  await page.click("#em-clear");
  await mapSettled(page);
  const left = await page.evaluate(() => window.gridlink.map.queryRenderedFeatures({ layers: ["em-zones-fill", "em-alloc-line", "em-wind-line"] }).length);
  assert.equal(left, 0, "no zone, wind or allocation drawing left");
  assert.equal(await page.$("#em-targets"), null, "the lists are cleared");
}

run().then(
  () => console.log("browser test passed (screenshots: test-artifacts/map.png, cases.png, appraisal.png, emergency.png)"),
  (error) => {
    console.error(`browser test FAILED: ${error.stack || error}`);
    process.exit(1);
  },
);

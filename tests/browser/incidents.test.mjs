// The incident panel end to end in headless Chromium: a rain reading past the red threshold
// proposes a flood incident (POST /api/feeds/readings); the duty officer sees it appear in the
// 应急 tab over the stream, confirms it with the panel's button, picks the team for a team task
// by clicking an available team drawn on the map, marks a unit task started and done with a
// note and a photo (its thumbnail shown in the panel and in the report), and opens the duty report, which is printed to PDF (test-artifacts/duty-report.pdf).
// At phone width (390 px) the panel fits without sideways scrolling. Screenshots:
// test-artifacts/incident.png and incident-phone.png.
//
// Run: node tests/browser/incidents.test.mjs   (scripts/test.sh does).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { repo, require, bin, artifacts, step, startServer, api } from "./harness.mjs";

const { chromium } = require("playwright-core");

async function run() {
  const dataDir = mkdtempSync(join(tmpdir(), "gridlink-incidents-"));
  execFileSync(bin, ["gen-data", "--scale", "0.2", "--out", dataDir], { cwd: repo, stdio: "ignore" });
  const key = execFileSync(bin, ["--data-dir", dataDir, "keys", "create", "--role", "dispatcher", "--label", "值班员"], {
    cwd: repo,
    stdio: ["ignore", "pipe", "ignore"],
  }).toString().trim();
  const { child, url } = await startServer(dataDir);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    page.on("dialog", (d) => d.accept(d.type() === "prompt" ? "浏览器测试：积水已排除" : undefined));
    await page.addInitScript((k) => localStorage.setItem("gridlink.apiKey", k), key);

    step("open the map with a dispatcher key, the 应急 tab, the stream live");
    await page.goto(url + "/", { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => window.gridlink && window.gridlink.ready, null, { timeout: 90_000 });
    await page.waitForFunction(() => window.gridlink.streamState === "live", null, { timeout: 30_000 });
    await page.click('#panel nav button[data-tab="emergency"]');
    await page.waitForSelector("#inc-card:not([hidden])");

    step("a red rain reading proposes a flood incident; it appears live");
    const gauges = await api(url, "/ogc/collections/rain_gauges/items?limit=1", { key });
    const station = gauges.features[0].id;
    const time = new Date(Date.now() - 10 * 60_000).toISOString().replace(/\.\d+Z$/, "Z");
    const ingest = await api(url, "/api/feeds/readings", { key, method: "POST", body: [{ station, time, kind: "rain_1h", value: 120 }] });
    assert.equal(ingest.alerts.length, 1, JSON.stringify(ingest));
    const flood = ingest.proposals.find((p) => p.plan === "flood");
    assert.ok(flood, `a flood proposal: ${JSON.stringify(ingest.proposals)}`);
    await page.waitForSelector(`#inc-list li[data-incident="${flood.incident}"]`, { timeout: 30_000 });

    step("open it and confirm: the plan's tasks are listed");
    await page.click(`#inc-list li[data-incident="${flood.incident}"]`);
    await page.waitForSelector('#inc-detail [data-incident-action="confirm"]');
    await page.click('#inc-detail [data-incident-action="confirm"]');
    await page.waitForFunction(() => window.gridlink.incidents.page?.incident.status === "active" && window.gridlink.incidents.page.tasks.length > 0, null, { timeout: 30_000 });
    const confirmed = await api(url, `/api/incidents/${flood.incident}`, { key });
    assert.equal(confirmed.incident.status, "active");
    assert.equal(await page.$$eval("#inc-tasks li", (l) => l.length), confirmed.tasks.length, "every task is listed");

    step("pick a team on the map for a team task");
    // A team task of a type the (small) demo data has teams of.
    let teamTask = null;
    for (const t of confirmed.tasks.filter((t) => t.target === "team")) {
      const { teams } = await api(url, `/api/teams?kind=${t.team_kind}&available=true&limit=1`, { key });
      if (teams.length) {
        teamTask = t;
        break;
      }
    }
    assert.ok(teamTask, "a team task with a team of its type on standby");
    await page.click(`#inc-tasks [data-task-action="pick-team"][data-task="${teamTask.id}"]`);
    await page.waitForFunction(() => window.gridlink.incidents.candidates?.length > 0, null, { timeout: 30_000 });
    const candidate = await page.evaluate(() => window.gridlink.incidents.candidates[0]);
    await page.evaluate(([lon, lat]) => window.gridlink.map.jumpTo({ center: [lon, lat], zoom: 14 }), [candidate.lon, candidate.lat]);
    try {
      await page.waitForFunction(() => window.gridlink.map.queryRenderedFeatures({ layers: ["incident-candidates"] }).length > 0, null, { timeout: 30_000 });
    } catch (e) {
      const state = await page.evaluate(() => {
        const m = window.gridlink.map;
        return { layer: !!m.getLayer("incident-candidates"), source: m.getSource("incident-candidates")?._data, center: m.getCenter(), zoom: m.getZoom(), loaded: m.loaded() };
      });
      await page.screenshot({ path: join(artifacts, "incident-failed.png") });
      throw new Error(`candidates not drawn: ${JSON.stringify(state).slice(0, 600)}; ${e.message}`);
    }
    const spot = await page.evaluate(([lon, lat]) => {
      const m = window.gridlink.map;
      const r = m.getCanvas().getBoundingClientRect();
      const p = m.project([lon, lat]);
      return { x: r.x + p.x, y: r.y + p.y };
    }, [candidate.lon, candidate.lat]);
    await page.mouse.click(spot.x, spot.y);
    await page.waitForFunction((id) => window.gridlink.incidents.page?.tasks.find((t) => t.id === id)?.team, teamTask.id, { timeout: 30_000 });
    const booked = (await api(url, `/api/incidents/${flood.incident}`, { key })).tasks.find((t) => t.id === teamTask.id);
    assert.equal(booked.team, candidate.id, "the team clicked on the map is booked");
    const teams = await api(url, `/api/teams?kind=${teamTask.team_kind}&limit=100`, { key });
    assert.equal(teams.teams.find((t) => t.id === candidate.id).status, "assigned");
    await page.waitForFunction(() => window.gridlink.map.querySourceFeatures("incident").some((f) => f.properties.role === "team"), null, { timeout: 30_000 });

    step("start and finish a unit task with a note and a photo; its thumbnail shows");
    const unitTask = confirmed.tasks.find((t) => t.target === "unit");
    await page.click(`#inc-tasks [data-task-action="start"][data-task="${unitTask.id}"]`);
    await page.waitForSelector(`#inc-tasks [data-task-action="done"][data-task="${unitTask.id}"]`);
    await page.click(`#inc-tasks [data-task-action="done"][data-task="${unitTask.id}"]`);
    const form = `#inc-tasks form[data-done-form="${unitTask.id}"]`;
    await page.fill(`${form} input[name="note"]`, "浏览器测试：积水已排除");
    const jpeg = Buffer.from((await page.evaluate(() => {
      const c = Object.assign(document.createElement("canvas"), { width: 96, height: 64 });
      const g = c.getContext("2d");
      g.fillStyle = "#3a6ea5";
      g.fillRect(0, 0, 96, 64);
      return c.toDataURL("image/jpeg", 0.9);
    })).split(",")[1], "base64");
    await page.setInputFiles(`${form} input[name="photo"]`, { name: "IMG_0001.jpg", mimeType: "image/jpeg", buffer: jpeg });
    await page.click(`${form} button[type="submit"]`);
    await page.waitForSelector(`#inc-tasks li.task.done[data-task-row="${unitTask.id}"]`, { timeout: 30_000 });
    await page.waitForFunction((id) => document.querySelector(`#inc-tasks img[data-task-photo="${id}"]`)?.naturalWidth > 0, unitTask.id, { timeout: 30_000 });
    const done = (await api(url, `/api/incidents/${flood.incident}`, { key })).tasks.find((t) => t.id === unitTask.id);
    assert.equal(done.status, "done");
    assert.equal(done.note, "浏览器测试：积水已排除");
    assert.match(done.photo_url, /\/photo$/, JSON.stringify(done));
    await page.screenshot({ path: join(artifacts, "incident.png") });

    step("the duty report opens and prints to PDF");
    const href = await page.$eval("#inc-report", (a) => a.href);
    const report = await browser.newPage();
    await report.goto(href, { waitUntil: "load" });
    assert.match(await report.textContent("h1"), /值班快报/);
    assert.match(await report.textContent("#report-level"), /级/);
    const rows = await report.$$eval("#report-tasks tbody tr", (r) => r.length);
    assert.equal(rows, confirmed.tasks.length, "every task is in the report");
    assert.ok((await report.textContent("#report-timeline")).includes("确认启动响应"), "the confirmation is in the timeline");
    assert.ok(await report.$eval(`img[data-task-photo="${unitTask.id}"]`, (i) => i.complete && i.naturalWidth > 0), "the task photo is in the report");
    await report.emulateMedia({ media: "print" });
    assert.equal(await report.$eval(".actions", (e) => getComputedStyle(e).display), "none", "the print stylesheet hides the buttons");
    const pdfPath = join(artifacts, "duty-report.pdf");
    await report.pdf({ path: pdfPath, format: "A4", printBackground: true });
    const pdf = readFileSync(pdfPath);
    assert.equal(pdf.subarray(0, 4).toString(), "%PDF");
    assert.ok(pdf.length > 10_000, `a PDF with content: ${pdf.length} bytes`);
    await report.close();

    step("at phone width the panel fits");
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => document.querySelector("#inc-card").scrollWidth - document.querySelector("#inc-card").clientWidth);
    assert.ok(overflow <= 1, `the incident card does not scroll sideways (${overflow}px)`);
    await page.screenshot({ path: join(artifacts, "incident-phone.png") });

    const unexpected = errors.filter((e) => !e.includes("/api/stream"));
    assert.deepEqual(unexpected, [], "no page errors or failed requests");
    console.log("incidents browser test passed");
  } finally {
    await browser.close();
    child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

run().catch((error) => {
  console.error(error);
  process.exit(1);
});

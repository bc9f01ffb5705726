// End-to-end test of the web map in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core from web/node_modules): the page loads against a running gridlink, tiles
// render, a layer toggles off, a click on the map shows the locate result, and a screenshot is
// saved to test-artifacts/map.png.
//
// Run: node tests/browser/map.test.mjs   (scripts/test.sh does, after `cargo test`).
// GRIDLINK_BIN picks the binary (default target/debug/gridlink).

import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(join(repo, "web", "package.json"));
const { chromium } = require("playwright-core");
const styleSpec = require("@maplibre/maplibre-gl-style-spec");
const bin = process.env.GRIDLINK_BIN || join(repo, "target", "debug", "gridlink");
const artifacts = join(repo, "test-artifacts");
mkdirSync(artifacts, { recursive: true });

function startServer(dataDir) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], { cwd: repo, stdio: ["ignore", "ignore", "pipe"] });
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${buffer}`)), 60_000);
    child.stderr.on("data", (chunk) => {
      buffer += chunk;
      const match = buffer.match(/listening on (http:\/\/[\d.:]+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1] });
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${buffer}`)));
  });
}

const step = (name) => console.log(`  · ${name}`);

async function run() {
  const dataDir = mkdtempSync(join(tmpdir(), "gridlink-browser-"));
  execFileSync(bin, ["gen-data", "--scale", "0.2", "--out", dataDir], { cwd: repo, stdio: "ignore" });
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
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
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
  } finally {
    await browser.close();
    child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

run().then(
  () => console.log("browser test passed (screenshot: test-artifacts/map.png)"),
  (error) => {
    console.error(`browser test FAILED: ${error.stack || error}`);
    process.exit(1);
  },
);

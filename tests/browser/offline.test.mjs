// The offline map: a town exported with `gridlink export pmtiles`, read by an independent
// reader and drawn by the map page on a phone (390 × 844) while the tile endpoint is blocked.
//
// 1. The npm `pmtiles` library (not gridlink's code) opens the archive, from the file and over
//    HTTP from `gridlink serve --offline-dir` (Range requests); its header and metadata say
//    what the style's tile source says (layers, in order, with fields); every tile it holds,
//    decompressed, equals the server's tile for the same z/x/y fetched over HTTP, decodes as
//    MVT (@mapbox/vector-tile), and the tiles at the town's centre hold the town itself.
// 2. The page opened as `/?pmtiles=/offline/town.pmtiles` with every /tiles/ request aborted
//    draws the town polygons (queryRenderedFeatures on the towns layer finds the town); the
//    same page without the archive draws nothing there, and the 离线地图 control opens the
//    file from the device (FileSource) and draws it too, then goes back online.
// Screenshots: test-artifacts/offline-*.png.
//
// Run: node tests/browser/offline.test.mjs   (scripts/test.sh does, after the other pages).
// GRIDLINK_BIN picks the binary (default target/debug/gridlink).

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import assert from "node:assert/strict";
import { repo, require, bin, artifacts, step, startServer, api } from "./harness.mjs";

const { chromium } = require("playwright-core");
const modules = join(repo, "web", "node_modules");
const pmtiles = await import(pathToFileURL(join(modules, "pmtiles", "dist", "index.js")).href);
const { VectorTile } = await import(pathToFileURL(join(modules, "@mapbox", "vector-tile", "index.js")).href);
const { default: Pbf } = await import(pathToFileURL(join(modules, "pbf", "index.js")).href);

const PHONE = { width: 390, height: 844 };
const ZOOMS = [10, 14];
const t0 = Date.now();


// A PMTiles source over a local file (the library's FileSource wants a browser File).
class NodeFileSource {
  constructor(path) {
    this.path = path;
  }
  getKey() {
    return this.path;
  }
  async getBytes(offset, length) {
    const file = await open(this.path, "r");
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      const data = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + bytesRead);
      return { data };
    } finally {
      await file.close();
    }
  }
}

// Web Mercator tile of a point, computed here.
function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const y = Math.floor(((1 - Math.asinh(Math.tan((lat * Math.PI) / 180)) / Math.PI) / 2) * n);
  return [x, y];
}

// The town's outline extent and a point inside it (the middle of the longest horizontal run
// of its outer ring at its middle latitude), from the GeoJSON the server loads.
function townOf(dataDir) {
  const town = JSON.parse(readFileSync(join(dataDir, "towns.geojson"), "utf8")).features[0];
  const rings = town.geometry.type === "Polygon" ? [town.geometry.coordinates] : town.geometry.coordinates;
  const points = rings.flatMap((polygon) => polygon[0]);
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  const extent = [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
  const lat = (extent[1] + extent[3]) / 2;
  const crossings = [];
  for (const polygon of rings) {
    const ring = polygon[0];
    for (let i = 0; i + 1 < ring.length; i++) {
      const [a, b] = [ring[i], ring[i + 1]];
      if ((a[1] <= lat) !== (b[1] <= lat)) crossings.push(a[0] + ((lat - a[1]) / (b[1] - a[1])) * (b[0] - a[0]));
    }
  }
  crossings.sort((a, b) => a - b);
  let inside = [(extent[0] + extent[2]) / 2, lat];
  let widest = -1;
  for (let i = 0; i + 1 < crossings.length; i += 2) {
    if (crossings[i + 1] - crossings[i] > widest) {
      widest = crossings[i + 1] - crossings[i];
      inside = [(crossings[i] + crossings[i + 1]) / 2, lat];
    }
  }
  return { code: town.properties.code, name: town.properties.name, extent, inside };
}

// The layer list the anonymous map's tile source asks the server for.
async function styleLayers(url) {
  const style = await (await fetch(`${url}/styles/district.json`)).json();
  return style.sources.gridlink.url.split("/tiles/")[1].replace(/\.json$/, "");
}

async function testReader({ url, archivePath, town, layers }) {
  step("npm pmtiles opens the archive from the file and over HTTP (Range) alike");
  const archive = new pmtiles.PMTiles(new NodeFileSource(archivePath));
  const header = await archive.getHeader();
  assert.equal(header.tileType, pmtiles.TileType.Mvt);
  assert.equal(header.tileCompression, pmtiles.Compression.Gzip);
  assert.deepEqual([header.minZoom, header.maxZoom], ZOOMS);
  for (const [got, want] of [[header.minLon, town.extent[0]], [header.minLat, town.extent[1]], [header.maxLon, town.extent[2]], [header.maxLat, town.extent[3]]]) {
    assert.ok(Math.abs(got - want) < 1e-6, `bounds ${JSON.stringify(header)} vs the town's ${town.extent}`);
  }
  const overHttp = new pmtiles.PMTiles(`${url}/offline/town.pmtiles`);
  const httpHeader = await overHttp.getHeader();
  assert.equal(httpHeader.numAddressedTiles, header.numAddressedTiles);
  assert.ok(header.numAddressedTiles > 0);

  step("its metadata names the style's layers, in order, with their fields");
  const metadata = await archive.getMetadata();
  assert.equal(metadata.vector_layers.map((l) => l.id).join(","), layers);
  for (const entry of metadata.vector_layers) assert.ok("id" in entry.fields, `${entry.id} fields`);
  assert.ok(metadata.attribution, "attribution");

  step("every stored tile equals the server's tile over HTTP and decodes as MVT");
  let compared = 0;
  let absentAndEmpty = 0;
  for (let z = ZOOMS[0]; z <= ZOOMS[1]; z++) {
    const [x0, y0] = tileOf(town.extent[0], town.extent[3], z);
    const [x1, y1] = tileOf(town.extent[2], town.extent[1], z);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const stored = await archive.getZxy(z, x, y);
        const response = await fetch(`${url}/tiles/${layers}/${z}/${x}/${y}.mvt`, { headers: { "Accept-Encoding": "gzip" } });
        assert.ok(response.status === 200 || response.status === 204, `tile ${z}/${x}/${y}: HTTP ${response.status}`);
        const served = response.status === 200 ? Buffer.from(await response.arrayBuffer()) : null;
        if (!stored) {
          // Tiles over the extent that do not touch the town may be left out; tiles with
          // nothing on them are never stored.
          if (!served) absentAndEmpty++;
          continue;
        }
        assert.ok(served, `tile ${z}/${x}/${y} stored but empty on the server`);
        assert.ok(Buffer.from(stored.data).equals(served), `tile ${z}/${x}/${y} differs from the server's`);
        const tile = new VectorTile(new Pbf(new Uint8Array(stored.data)));
        const names = Object.keys(tile.layers);
        assert.ok(names.length > 0 && names.every((n) => layers.split(",").includes(n)), `${z}/${x}/${y}: ${names}`);
        compared++;
      }
    }
    // The tile under a point inside the town is stored and holds the town.
    const [x, y] = tileOf(town.inside[0], town.inside[1], z);
    const here = await archive.getZxy(z, x, y);
    assert.ok(here, `no tile ${z}/${x}/${y} at the town's inside point`);
    const towns = new VectorTile(new Pbf(new Uint8Array(here.data))).layers.towns;
    assert.ok(towns, `tile ${z}/${x}/${y} has no towns layer`);
    const codes = Array.from({ length: towns.length }, (_, i) => towns.feature(i).properties.code);
    assert.ok(codes.includes(town.code), `tile ${z}/${x}/${y} towns: ${codes}`);
  }
  assert.ok(compared >= 20, `${compared} tiles compared`);
  console.log(`    ${compared} tiles equal the server's; ${absentAndEmpty} empty on both`);
}

// The rendered town polygons in the map's view (after the map settles).
const renderedTowns = (page) =>
  page.evaluate(async () => {
    const map = window.gridlink.map;
    await new Promise((resolve) => (map.loaded() ? resolve() : map.once("idle", resolve)));
    if (!map.getLayer("towns-fill")) return [];
    return map.queryRenderedFeatures({ layers: ["towns-fill"] }).map((f) => f.properties.code);
  });

async function testPage({ browser, url, archivePath, town }) {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: "zh-CN", reducedMotion: "reduce" });
  let blocked = 0;
  await context.route("**/tiles/**", (route) => {
    blocked++;
    return route.abort();
  });
  const errors = [];
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  // z11: the town polygons are filled up to z12 (towns-fill), and z11 lies in the archive.
  const at = `#11/${town.inside[1]}/${town.inside[0]}`;

  step("without the archive, with /tiles/ blocked, the map draws no town");
  await page.goto(`${url}/${at}`, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.gridlink?.ready, null, { timeout: 90_000 });
  assert.deepEqual(await renderedTowns(page), [], "no town is drawn without tiles");
  assert.ok(blocked > 0, "the page asked for tiles and was refused");

  step("/?pmtiles=/offline/town.pmtiles draws the town from the archive");
  blocked = 0;
  await page.goto(`${url}/?pmtiles=/offline/town.pmtiles${at}`, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.gridlink?.offline && window.gridlink?.ready, null, { timeout: 90_000 });
  await page.waitForFunction(() => {
    const map = window.gridlink.map;
    return map.getLayer("towns-fill") && map.queryRenderedFeatures({ layers: ["towns-fill"] }).length > 0;
  }, null, { timeout: 60_000 });
  let codes = await renderedTowns(page);
  assert.ok(codes.includes(town.code), `town ${town.code} drawn: ${codes}`);
  assert.equal(blocked, 0, "no /tiles/ request while the archive is in use");
  const offlineState = await page.evaluate(() => window.gridlink.offline);
  assert.match(offlineState.url, /^pmtiles:\/\/http:\/\/127\.0\.0\.1:\d+\/offline\/town\.pmtiles$/);
  assert.ok(await page.$eval(".gridlink-ctrl-offline", (b) => b.classList.contains("active") && b.title.includes("离线地图")));
  await page.screenshot({ path: join(artifacts, "offline-link.png") });

  step("离线地图 opens the file from the device and draws it; clicking again goes back online");
  await page.goto(`${url}/${at}`, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.gridlink?.ready, null, { timeout: 90_000 });
  assert.deepEqual(await renderedTowns(page), []);
  const chooser = page.waitForEvent("filechooser");
  await page.click(".gridlink-ctrl-offline");
  await (await chooser).setFiles(archivePath);
  await page.waitForFunction(() => window.gridlink.offline?.name === "town.pmtiles", null, { timeout: 30_000 });
  await page.waitForFunction(() => {
    const map = window.gridlink.map;
    return map.getLayer("towns-fill") && map.queryRenderedFeatures({ layers: ["towns-fill"] }).length > 0;
  }, null, { timeout: 60_000 });
  codes = await renderedTowns(page);
  assert.ok(codes.includes(town.code), `town ${town.code} drawn from the file: ${codes}`);
  await page.screenshot({ path: join(artifacts, "offline-file.png") });
  await page.click(".gridlink-ctrl-offline");
  await page.waitForFunction(() => window.gridlink.offline === null, null, { timeout: 10_000 });
  await page.waitForFunction(() => window.gridlink.map.getSource("gridlink")?.url?.includes("/tiles/"), null, { timeout: 30_000 });
  assert.ok(!(await page.$eval(".gridlink-ctrl-offline", (b) => b.classList.contains("active"))));
  // Only the blocked tiles themselves may fail.
  assert.deepEqual(errors, [], "no errors in the page");
  await context.close();
}

async function run() {
  const dataDir = mkdtempSync(join(tmpdir(), "gridlink-offline-"));
  const offlineDir = mkdtempSync(join(tmpdir(), "gridlink-offline-files-"));
  execFileSync(bin, ["gen-data", "--scale", "0.2", "--out", dataDir], { cwd: repo, stdio: "ignore" });
  const town = townOf(dataDir);
  const archivePath = join(offlineDir, "town.pmtiles");
  step(`export ${town.name} (${town.code}) z${ZOOMS[0]}–z${ZOOMS[1]}`);
  execFileSync(bin, ["--data-dir", dataDir, "export", "pmtiles", "--town", town.code, "--zooms", ZOOMS.join("-"), "--out", archivePath], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  const { child, url } = await startServer(dataDir, ["--offline-dir", offlineDir]);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    const layers = await styleLayers(url);
    await testReader({ url, archivePath, town, layers });
    await testPage({ browser, url, archivePath, town });
  } finally {
    await browser.close();
    child.kill();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(offlineDir, { recursive: true, force: true });
  }
  console.log(`offline map test passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

run().catch((error) => {
  console.error(error);
  process.exit(1);
});

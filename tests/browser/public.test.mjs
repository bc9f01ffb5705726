// The residents' page (/report) on a phone (390 × 844, touch), in headless Chromium driven by
// playwright-core (the set-up of phone.test.mjs: its own gridlink on a scale-0.2 dataset, a
// dispatcher key made with `gridlink keys create` before the server starts).
//
// The story of issue 10's acceptance: a resident opens /report (no key box), finds a public
// class by searching the grouped list (staff classes are never offered), sets the place with
// the phone's position (Chromium's geolocation override) and sees the village it lands in, the
// marker in view and on top; attaches a photo (a JPEG drawn by the browser) after the server
// refused a file that is no image, with its reason shown; submits and gets the request number
// and a tracking link. A dispatcher files the case with an internal note and a note for the
// public, and publishes the photos; the resident reloads the tracking link and sees the public
// notes and the status in Chinese, never the internal note. A wrong token shows "未找到". The
// fire class shows "请立即拨打 119" first, above every form field; a position outside the
// district is refused before anything is sent. Nowhere does the page scroll sideways.
// Screenshots: test-artifacts/public-*.png.
//
// Run: node tests/browser/public.test.mjs   (scripts/test.sh does, after phone.test.mjs).
// GRIDLINK_BIN picks the binary (default target/debug/gridlink).

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { repo, require, bin, artifacts, step, startServer, api } from "./harness.mjs";

const { chromium } = require("playwright-core");

const PHONE = { width: 390, height: 844 };
const INTERNAL_NOTE = "内部：举报人是 3 号楼 502 的住户，勿外传";
const PUBLIC_NOTE = "您反映的问题已立案，已通知处置单位到现场查看。";
const PUBLIC_NOTE_2 = "照片已审核，感谢您的上报。";
const t0 = Date.now();



const makeKey = (dataDir, role) =>
  execFileSync(bin, ["--data-dir", dataDir, "keys", "create", "--role", role, "--label", `公众页测试 ${role}`], {
    cwd: repo,
    stdio: ["ignore", "pipe", "ignore"],
  }).toString().trim();

const classesOf = (answer) => answer.majors.flatMap((m) => m.classes);

// Answers the page is expected to get in this story (a refused photo, a point outside the
// district, a wrong tracking token); any other failure is an error.
const expected = [];
const isExpected = (status, url) => {
  const path = new URL(url).pathname;
  return expected.some((e) => e.status === status && path.startsWith(e.path));
};

async function run() {
  const dataDir = mkdtempSync(join(tmpdir(), "gridlink-public-"));
  execFileSync(bin, ["gen-data", "--scale", "0.2", "--out", dataDir], { cwd: repo, stdio: "ignore" });
  const dispatcher = makeKey(dataDir, "dispatcher");
  const { child, url } = await startServer(dataDir);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const errors = [];
  const started = Date.now();
  try {
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: "zh-CN", reducedMotion: "reduce" });
    await context.grantPermissions(["geolocation"], { origin: url });
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const status = Number(m.text().match(/status of (\d{3})/)?.[1]);
      if (status && m.location()?.url && isExpected(status, m.location().url)) return;
      errors.push(`console: ${m.text()} ${m.location()?.url ?? ""}`);
    });
    page.on("requestfailed", (r) => {
      const aborted = r.failure()?.errorText === "net::ERR_ABORTED";
      if (aborted && new URL(r.url()).pathname.startsWith("/tiles/")) return;
      errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400 && !isExpected(r.status(), r.url())) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    const ctx = { page, context, url, dispatcher };

    const report = await testReport(ctx);
    await testTracking(ctx, report);
    await testWrongToken(ctx, report);
    await testCallFirst(ctx);
    await testOutside(ctx);
    assert.deepEqual(errors, [], "no errors in the page");
  } finally {
    await browser.close();
    child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s in the browser)`);
}

// ---------------------------------------------------------------------------------------------

// The map has come to rest with its tiles drawn.
const settled = (page) =>
  page.waitForFunction(() => {
    const m = window.gridlink?.map;
    return m && !m.isMoving() && m.loaded() && m.areTilesLoaded();
  }, null, { timeout: 30_000 });

const screenshot = (page, name) => page.screenshot({ path: join(artifacts, `public-${name}.png`), fullPage: true });

async function assertNoSidewaysScroll(page, what) {
  const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(width.scroll <= width.client, `${what}: nothing wider than the phone (${width.scroll} > ${width.client})`);
  assert.equal(width.client, PHONE.width, `${what}: laid out at the phone's width`);
}

// The place marker is drawn where the place is, inside the map, inside the screen, and nothing
// lies over it (the topmost element at its middle is the marker itself).
async function assertMarkerInView(page, [lon, lat], what) {
  await page.$eval("#map", (e) => e.scrollIntoView({ block: "center" }));
  await settled(page);
  const seen = await page.evaluate(([lon, lat]) => {
    const marker = document.querySelector(".place-marker");
    const box = marker.getBoundingClientRect();
    const map = document.querySelector("#map").getBoundingClientRect();
    const at = window.gridlink.map.project([lon, lat]);
    const cx = box.left + box.width / 2;
    const cy = box.top + box.height / 2;
    const top = document.elementFromPoint(cx, cy);
    return { box: box.toJSON(), map: map.toJSON(), x: map.left + at.x, y: map.top + at.y, onTop: Boolean(top && marker.contains(top)), topmost: top?.outerHTML.slice(0, 80) };
  }, [lon, lat]);
  const { box, map, x, y } = seen;
  assert.ok(x >= map.left && x <= map.right && y >= map.top && y <= map.bottom, `${what}: the point is inside the map: ${JSON.stringify(seen)}`);
  assert.ok(Math.abs(box.left + box.width / 2 - x) < 2 && y >= box.top && y <= box.bottom + 1, `${what}: the marker stands on the point: ${JSON.stringify(seen)}`);
  assert.ok(box.left >= map.left && box.right <= map.right && box.top >= map.top && box.bottom <= map.bottom, `${what}: the whole marker is inside the map: ${JSON.stringify(seen)}`);
  assert.ok(box.top >= 0 && box.bottom <= PHONE.height && box.left >= 0 && box.right <= PHONE.width, `${what}: the marker is on screen: ${JSON.stringify(seen)}`);
  assert.ok(seen.onTop, `${what}: nothing covers the marker (topmost: ${seen.topmost})`);
}

// A small real JPEG, drawn and encoded by the browser.
async function jpegFromBrowser(page) {
  const dataUrl = await page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 96;
    canvas.height = 64;
    const g = canvas.getContext("2d");
    g.fillStyle = "#8d8d8d";
    g.fillRect(0, 0, 96, 64);
    g.fillStyle = "#2b2b2b";
    g.beginPath();
    g.ellipse(48, 34, 26, 14, 0, 0, Math.PI * 2);
    g.fill();
    return canvas.toDataURL("image/jpeg", 0.9);
  });
  const bytes = Buffer.from(dataUrl.split(",")[1], "base64");
  assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], "a JPEG");
  return bytes;
}

// The tracking view's photo has loaded (the reporter's own, through the token).
const photoShown = (page) =>
  page.waitForFunction(() => {
    const img = document.querySelector("#track-photos img");
    return img?.complete && img.naturalWidth > 0;
  }, null, { timeout: 30_000 });

async function pickClass(page, query, code) {
  await page.fill("#class-picker .cp-search", query);
  const shown = await page.$$eval("#class-picker .cp-option:not([hidden])", (o) => o.map((x) => x.dataset.code));
  assert.ok(shown.includes(code), `searching ${query} shows ${code}: ${shown}`);
  await page.tap(`#class-picker .cp-option[data-code="${code}"]`);
  await page.waitForSelector(`#class-picker[data-value="${code}"] .cp-chosen:not([hidden])`);
}

// ---------------------------------------------------------------------------------------------

async function testReport({ page, context, url, dispatcher }) {
  step("/report and /report/ serve the residents' page");
  for (const path of ["/report", "/report/"]) {
    const response = await fetch(url + path);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get("content-type"), /^text\/html/, path);
    assert.ok((await response.text()).includes("/report.js"), `${path} is the residents' page`);
  }

  step("open /report at 390 × 844: no key box, no staff controls");
  await page.goto(url + "/report", { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.gridlink?.ready, null, { timeout: 90_000 });
  assert.equal(await page.$("#key-input"), null, "no key box");
  assert.equal(await page.$('input[type="password"]'), null, "no secret field of any kind");
  assert.equal(await page.$("#panel"), null, "none of the staff map's panel");
  await assertNoSidewaysScroll(page, "the empty form");

  step("only classes the public may report are offered; staff classes never");
  const publicClasses = classesOf(await api(url, "/api/classes"));
  const staffClasses = classesOf(await api(url, "/api/classes", { key: dispatcher })).filter((c) => c.visibility === "staff");
  assert.ok(staffClasses.length > 0, "the code table has staff-only classes");
  assert.ok(publicClasses.every((c) => c.visibility === "public" || c.visibility === "private"), "the anonymous class list holds public and private classes");
  const offered = await page.$$eval("#class-picker .cp-option", (o) => o.map((x) => x.dataset.code));
  assert.deepEqual(offered.slice().sort(), publicClasses.map((c) => c.code).sort(), "the page offers exactly the anonymous list");
  for (const c of staffClasses) assert.ok(!offered.includes(c.code), `staff class ${c.code} ${c.name} is not offered`);
  assert.ok(await page.$$eval("#class-picker .cp-group", (g) => g.length) > 3, "grouped by major class");

  step("a public class found by searching the list");
  const lid = publicClasses.find((c) => c.visibility === "public" && !c.call && c.name.includes("井盖"));
  assert.ok(lid, "a public manhole-cover class");
  await page.fill("#class-picker .cp-search", "井盖");
  const found = await page.$$eval("#class-picker .cp-option:not([hidden])", (o) => o.map((x) => x.textContent));
  assert.ok(found.length > 0 && found.length < offered.length && found.every((t) => t.includes("井盖")), `井盖 narrows the list: ${found}`);
  await pickClass(page, "井盖", lid.code);
  assert.equal(await page.$eval("#call-first", (e) => e.hidden), true, "no call banner for a manhole cover");

  step("the place by search: the village is shown");
  const village = (await api(url, "/ogc/collections/villages/items?limit=1&offset=30")).features[0];
  await page.fill("#place-input", village.properties.name);
  await page.waitForSelector("#place-results:not([hidden]) button[data-index]");
  const index = await page.$$eval("#place-results button[data-index]", (b, name) => b.findIndex((x) => x.textContent.startsWith(name) && x.textContent.includes("村居")), village.properties.name);
  assert.ok(index >= 0, "the village is among the results");
  await page.tap(`#place-results button[data-index="${index}"]`);
  await page.waitForSelector('#place-text[data-state="located"]', { timeout: 30_000 });
  assert.ok((await page.$eval("#place-text", (e) => e.textContent)).includes(village.properties.name), "the found village is named");

  step("the place by GPS (geolocation override): located, marker in view and on top");
  const town = (await api(url, `/api/search?q=${encodeURIComponent("奉城镇")}&limit=1`)).results[0];
  const here = { longitude: town.lon + 0.0041, latitude: town.lat - 0.0027 };
  await context.setGeolocation(here);
  const where = await api(url, `/api/locate?lon=${here.longitude}&lat=${here.latitude}`);
  await page.tap("#use-gps");
  await page.waitForFunction((lon) => window.gridlink.place?.lng === lon && window.gridlink.place.located, here.longitude, { timeout: 30_000 });
  const placeText = await page.$eval("#place-text", (e) => e.textContent);
  assert.ok(placeText.includes(where.town.name) && placeText.includes(where.village.name), `the village and town are shown: ${placeText}`);
  await assertMarkerInView(page, [here.longitude, here.latitude], "after GPS");
  await screenshot(page, "place");

  step("a file that is no image: the server refuses it and the page shows why");
  await page.fill("#description", "公众页测试：人行道井盖缺了一角，晚上容易绊倒");
  await page.setInputFiles("#photos", { name: "not-a-photo.png", mimeType: "image/png", buffer: Buffer.from("this is not a picture at all") });
  assert.equal(await page.$$eval("#photo-list figure", (f) => f.length), 1);
  expected.push({ status: 415, path: "/api/cases" });
  await page.click("#submit");
  await page.waitForSelector("#form-error:not([hidden])", { timeout: 30_000 });
  const refusal = await page.$eval("#form-error", (e) => e.textContent);
  assert.ok(refusal.includes("无法识别") && refusal.includes("not a JPEG, PNG or WebP image"), `the refusal in Chinese with the server's words: ${refusal}`);
  assert.equal(await page.$("#receipt"), null, "nothing was reported");
  await page.tap("#photo-list [data-remove]");
  assert.equal(await page.$$eval("#photo-list figure", (f) => f.length), 0);

  step("a real photo, submitted: the request number and a tracking link");
  await page.setInputFiles("#photos", { name: "manhole.jpg", mimeType: "image/jpeg", buffer: await jpegFromBrowser(page) });
  await page.waitForFunction(() => document.querySelector("#photo-list img")?.naturalWidth > 0);
  await assertNoSidewaysScroll(page, "the filled form");
  await screenshot(page, "report");
  const posted = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/cases" && r.request().method() === "POST" && r.status() === 201);
  await page.click("#submit");
  const request = (await posted).request();
  assert.equal(request.headers().authorization, undefined, "the page sends no key");
  assert.match(request.headers()["content-type"], /^multipart\/form-data/, "the photo goes as multipart");
  await page.waitForSelector("#receipt[data-case-id]", { timeout: 30_000 });
  const id = Number(await page.$eval("#receipt-id", (e) => e.textContent));
  const link = await page.$eval("#tracking-link", (a) => a.href);
  const token = await page.$eval("#receipt-token", (e) => e.textContent);
  assert.ok(id > 0, "a request number");
  assert.match(token, /^[0-9a-f]{32}$/, "a tracking token");
  assert.equal(link, `${url}/report#track=${id}&token=${token}`, "the tracking link carries number and token in the fragment");
  await assertNoSidewaysScroll(page, "the receipt");
  await screenshot(page, "done");

  step("the case is a public-channel report at the GPS position, unshifted, with the photo");
  const staffView = await api(url, `/api/cases/${id}`, { key: dispatcher });
  assert.equal(staffView.class, lid.code);
  assert.equal(staffView.channel, "web");
  assert.equal(staffView.public_report, true, "a report of the public");
  assert.ok(Math.abs(staffView.lon - here.longitude) < 1e-7 && Math.abs(staffView.lat - here.latitude) < 1e-7, `WGS84 in, WGS84 stored: ${staffView.lon},${staffView.lat}`);
  assert.equal(staffView.village, where.village.id, "in the village the page showed");
  assert.equal(staffView.photos.length, 1, "one photo stored");
  return { id, token, link };
}

async function testTracking({ page, url, dispatcher }, { id, link }) {
  step("a dispatcher files the case (internal note + note for the public) and publishes the photos");
  await api(url, `/api/cases/${id}/actions`, { key: dispatcher, method: "POST", body: { action: "file", note: INTERNAL_NOTE, public_note: PUBLIC_NOTE } });
  await api(url, `/api/cases/${id}/actions`, { key: dispatcher, method: "POST", body: { action: "publish", publish_photos: true, public_note: PUBLIC_NOTE_2 } });

  step("the resident reloads the tracking link: public notes, Chinese status, never the internal note");
  // Opened from the receipt first (the same page, a new fragment), then reloaded.
  await page.goto(link, { waitUntil: "domcontentloaded" });
  await page.waitForSelector(`#tracked[data-case-id="${id}"]`, { timeout: 30_000 });
  await photoShown(page);
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/track/${id}`);
  await page.reload({ waitUntil: "domcontentloaded" });
  const body = await (await answer).text();
  assert.ok(!body.includes(INTERNAL_NOTE) && !body.includes("3 号楼"), "the tracking answer holds no internal note");
  await page.waitForSelector(`#tracked[data-case-id="${id}"]`, { timeout: 30_000 });
  const text = await page.$eval("#tracked", (e) => e.textContent);
  assert.ok(text.includes(PUBLIC_NOTE), `the public note is shown: ${text}`);
  assert.ok(text.includes(PUBLIC_NOTE_2), "the later public note too");
  assert.ok(!text.includes(INTERNAL_NOTE) && !text.includes("3 号楼"), "the internal note is not");
  assert.equal(await page.$eval("#tracked", (e) => e.dataset.status), "accepted");
  assert.ok(text.includes("已立案") && text.includes("已受理"), "status history in Chinese words");
  const history = await page.$$eval("#track-history li", (li) => li.map((x) => x.textContent));
  assert.ok(history.length >= 2, `a history of steps: ${history}`);
  await photoShown(page);
  assert.ok(text.includes("已审核公开"), "the photos are marked as published");
  assert.equal(await page.$eval("#track-form", (e) => e.hidden), true, "no lookup form once found");
  await assertNoSidewaysScroll(page, "the tracking view");
  await screenshot(page, "track");
}

async function testWrongToken({ page, url }, { id, link }) {
  step("a wrong token: 404 from the API, 未找到 on the page");
  expected.push({ status: 404, path: "/api/track/" });
  await page.goto(`${url}/report#track=${id}&token=${"0".repeat(32)}`, { waitUntil: "domcontentloaded" });
  await page.waitForSelector("#track-not-found", { timeout: 30_000 });
  await page.reload({ waitUntil: "domcontentloaded" });
  await page.waitForSelector("#track-not-found", { timeout: 30_000 });
  assert.ok((await page.$eval("#track-not-found", (e) => e.textContent)).includes("未找到"));
  assert.equal(await page.$eval("#track-form", (e) => e.hidden), false, "the lookup form is offered");
  assert.ok(await page.$(`#my-reports a[href*="track=${id}"]`), "the report made on this phone is listed to open");
  await screenshot(page, "notfound");

  step("the lookup form: the number and the whole link pasted as the code find the request");
  await page.fill("#track-id", "");
  await page.fill("#track-token", link);
  await page.click('#track-form button[type="submit"]');
  await page.waitForSelector(`#tracked[data-case-id="${id}"]`, { timeout: 30_000 });
  await photoShown(page);
}

async function testCallFirst({ page, url }) {
  step("the fire class: 请立即拨打 119 first, in large type, above every form field");
  const fire = classesOf(await api(url, "/api/classes")).find((c) => c.call === "119" && c.name === "火灾");
  assert.ok(fire, "a fire class with call 119 in the code table");
  await page.goto(url + "/report/", { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.gridlink?.ready, null, { timeout: 90_000 });
  assert.equal(await page.$eval("#call-first", (e) => e.hidden), true, "no banner before a class is chosen");
  await pickClass(page, "火灾", fire.code);
  await page.waitForSelector("#call-first:not([hidden])");
  const banner = await page.evaluate(() => {
    const box = document.querySelector("#call-first");
    const big = box.querySelector(".call-big");
    const fields = [...document.querySelectorAll("#report-form input, #report-form textarea, #report-form select, #report-form button")];
    const visible = fields.filter((f) => f.getClientRects().length > 0);
    return {
      text: big.textContent,
      fontSize: parseFloat(getComputedStyle(big).fontSize),
      tel: [...box.querySelectorAll('a[href^="tel:"]')].map((a) => a.getAttribute("href")),
      rect: box.getBoundingClientRect().toJSON(),
      before: fields.every((f) => box.compareDocumentPosition(f) & Node.DOCUMENT_POSITION_FOLLOWING),
      firstFieldTop: Math.min(...visible.map((f) => f.getBoundingClientRect().top)),
    };
  });
  assert.ok(banner.text.includes("请立即拨打") && banner.text.includes("119"), `the banner says to call 119: ${banner.text}`);
  assert.ok(banner.fontSize >= 28, `in large type: ${banner.fontSize}px`);
  assert.ok(banner.tel.length > 0 && banner.tel.every((h) => h === "tel:119"), `a tel: link: ${banner.tel}`);
  assert.ok(banner.before, "the banner comes before every form field in the page");
  assert.ok(banner.rect.bottom <= banner.firstFieldTop, `and is drawn above the first one: ${JSON.stringify(banner)}`);
  assert.ok(banner.rect.top >= 0 && banner.rect.bottom <= PHONE.height, `the banner is on screen: ${JSON.stringify(banner.rect)}`);
  assert.ok(await page.isVisible("#description"), "the form stays reachable below for follow-up");
  await assertNoSidewaysScroll(page, "the fire class");
  await page.screenshot({ path: join(artifacts, "public-fire.png") });
}

async function testOutside({ page, context }) {
  step("a position outside the district: refused with a clear message, nothing sent");
  expected.push({ status: 404, path: "/api/locate" });
  let posted = 0;
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/api/cases" && r.method() === "POST") posted += 1;
  });
  await context.setGeolocation({ longitude: 116.397, latitude: 39.909 });
  await page.tap("#use-gps");
  await page.waitForSelector('#place-text[data-state="outside"]', { timeout: 30_000 });
  assert.ok((await page.$eval("#place-text", (e) => e.textContent)).includes("不在奉贤区范围内"), "the place says it is outside");
  await page.fill("#description", "公众页测试：区外的位置");
  await page.click("#submit");
  await page.waitForSelector('#form-error:not([hidden])[data-field="place"]');
  assert.ok((await page.$eval("#form-error", (e) => e.textContent)).includes("不在奉贤区范围内"), "the form refuses it");
  assert.equal(posted, 0, "nothing was sent");
  assert.equal(await page.$("#receipt"), null);
}

run().then(
  () => console.log("public page browser test passed (screenshots: test-artifacts/public-*.png)"),
  (error) => {
    console.error(`public page browser test FAILED: ${error.stack || error}`);
    process.exit(1);
  },
);

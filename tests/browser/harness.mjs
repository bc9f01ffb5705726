// What every browser test shares: where the repository and the binary are, the artifacts
// folder, a server on a free port, the JSON API helper and timed step lines.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

export const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const require = createRequire(join(repo, "web", "package.json"));
// GRIDLINK_BIN picks the binary (default target/debug/gridlink).
export const bin = process.env.GRIDLINK_BIN || join(repo, "target", "debug", "gridlink");
export const artifacts = join(repo, "test-artifacts");
mkdirSync(artifacts, { recursive: true });

const t0 = Date.now();
/** Prints a step with the seconds since the test started. */
export const step = (name) => console.log(`  · ${name} [${((Date.now() - t0) / 1000).toFixed(1)} s]`);

/** Starts `gridlink serve` on a free port over `dataDir` (plus `extra` flags); resolves once it listens. */
export function startServer(dataDir, extra = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...extra], { cwd: repo, stdio: ["ignore", "ignore", "pipe"] });
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

/** A JSON API call that must succeed (the body is asserted with the status on failure). */
export const api = async (url, path, { key, method = "GET", body } = {}) => {
  const headers = { "Content-Type": "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(url + path, { method, headers, body: body && JSON.stringify(body) });
  const json = await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
};

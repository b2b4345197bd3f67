import { defineConfig, devices } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// One free port and one fresh data directory per run (every database of the
// run is made in it, and the global teardown removes it). The values go into the
// environment so that the workers, which load this file again, agree.
if (!process.env.E2E_PORT) {
  const script =
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})";
  process.env.E2E_PORT = execFileSync(process.execPath, ["-e", script]).toString().trim();
}
if (!process.env.E2E_DATA_DIR) {
  process.env.E2E_DATA_DIR = mkdtempSync(join(tmpdir(), "releases-e2e-"));
}
const port = Number(process.env.E2E_PORT);
const serverBin = process.env.SERVER_BIN ?? "../target/debug/server";

/** The titles of the tests that measure time (see the `timed` project). */
const TIMED = /within \d+ ms/;

const chromium = {
  ...devices["Desktop Chrome"],
  viewport: { width: 1280, height: 800 },
  launchOptions: {
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  },
};

export default defineConfig({
  testDir: "./tests",
  // Seeds the fresh database through the API once the server is up.
  globalSetup: "./tests/global-setup.ts",
  // Removes the run's data directory, with every database made in it.
  globalTeardown: "./tests/global-teardown.ts",
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // One browser at a time: with two, their pages (each compiling the debug
  // wasm) and the server shared two cores, and hydration sometimes took
  // over 20 s.
  workers: 1,
  reporter: [["list"], ["html", { open: "never" }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      testIgnore: /demo\.spec\.ts/,
      grepInvert: TIMED,
      use: chromium,
    },
    {
      // Tests that time the app (a live change within 500 ms) run alone,
      // once the others are done, so that no other test's load is measured.
      name: "timed",
      grep: TIMED,
      dependencies: ["chromium"],
      fullyParallel: false,
      use: chromium,
    },
    {
      // The specs that run `server demo` (which seeds months of history and
      // keeps simulating) load the machine: they run after the others.
      name: "demo",
      testMatch: /demo\.spec\.ts/,
      dependencies: ["timed"],
      use: chromium,
    },
  ],
  webServer: {
    // Always the freshly built binary, started directly (never through
    // cargo-leptos, whose child would outlive the run).
    command: `exec "${serverBin}" serve`,
    url: `http://127.0.0.1:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      LISTEN: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${process.env.E2E_DATA_DIR}/releases.db`,
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? "../target/site",
      RUST_LOG: process.env.RUST_LOG ?? "warn",
    },
  },
});

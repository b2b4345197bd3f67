/**
 * Live updates: events posted through the API change an open page in
 * place, without a reload; and a page whose server stops and comes back
 * reconnects by itself and catches up with what changed meanwhile.
 */
import { expect, test, type APIRequestContext } from "@playwright/test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { ReleasePage } from "./pages/release";

const serverBin = resolve(process.env.SERVER_BIN ?? "../target/debug/server");
let counter = 0;

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolvePort(port));
    });
  });
}

function ingestToken(databaseUrl: string): string {
  return execFileSync(serverBin, ["token", "create", "--role", "ingest", "--name", "e2e-live"], {
    env: { ...process.env, DATABASE_URL: databaseUrl, RUST_LOG: "error" },
  })
    .toString()
    .trim();
}

function event(type: string, data: Record<string, unknown>) {
  counter += 1;
  return {
    specversion: "1.0",
    id: `live-${Date.now()}-${counter}`,
    source: "e2e-live",
    type,
    time: new Date().toISOString(),
    data,
  };
}

function releaseCreated(product: string) {
  return event("release.created", {
    product,
    release: "r1",
    version: "2.0.0",
    flow: {
      name: "linear",
      trigger: "dev",
      environments: [
        { name: "dev", depends_on: [], applications: ["api"], pre_action: null, post_action: "tests" },
        { name: "prod", depends_on: ["dev"], applications: ["api"], pre_action: "approval", post_action: null },
      ],
    },
    commit: { sha: "0123456789abcdef", message: "feat: live", author: { name: "Ada", email: "ada@example.com" } },
  });
}

function devRun(product: string, status: "running" | "success" | "failed") {
  const finished = status !== "running";
  return event("workflow.updated", {
    product,
    release: "r1",
    environment: "dev",
    phase: "post",
    run: {
      id: `${product}-dev-tests`,
      workflow: "tests",
      application: "api",
      status,
      started_at: new Date(Date.now() - 5_000).toISOString(),
      finished_at: finished ? new Date().toISOString() : null,
    },
    steps: [{ name: "unit", status, started_at: new Date(Date.now() - 5_000).toISOString() }],
  });
}

async function post(request: APIRequestContext, base: string, token: string, events: unknown[]) {
  const response = await request.post(`${base}/api/v1/events`, {
    headers: { authorization: `Bearer ${token}`, "content-type": "application/cloudevents-batch+json" },
    data: JSON.stringify(events),
  });
  expect(response.status(), await response.text()).toBe(200);
}

test("a change posted through the API updates the open release page in place", async ({ page, request, baseURL }) => {
  const token = ingestToken(`sqlite://${process.env.E2E_DATA_DIR}/releases.db`);
  const product = `live-${Date.now()}`;
  await post(request, baseURL!, token, [releaseCreated(product)]);

  const release = new ReleasePage(page);
  await release.open(product, 1);
  await release.waitForHydration();
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  await expect(release.node("dev")).toHaveAttribute("data-status", "pending");
  // A marker that a reload would wipe out.
  await page.evaluate(() => ((window as unknown as { liveMarker: number }).liveMarker = 42));

  await post(request, baseURL!, token, [devRun(product, "running")]);
  await expect(release.node("dev")).toHaveAttribute("data-status", "running", { timeout: 2_000 });
  await expect(release.count("running")).toContainText("1");

  await post(request, baseURL!, token, [
    devRun(product, "success"),
    event("environment.promoted", { product, release: "r1", environment: "dev", version: "2.0.0" }),
  ]);
  await expect(release.node("dev")).toHaveAttribute("data-status", "successful", { timeout: 2_000 });
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("title", /Last change/);
  expect(await page.evaluate(() => (window as unknown as { liveMarker?: number }).liveMarker)).toBe(42);
});

test.describe("a server that restarts under an open page", () => {
  let server: ChildProcess | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), "releases-live-"));
  const databaseUrl = `sqlite://${dataDir}/releases.db`;
  let port = 0;

  async function start() {
    server = spawn(serverBin, ["serve"], {
      env: {
        ...process.env,
        LISTEN: `127.0.0.1:${port}`,
        DATABASE_URL: databaseUrl,
        LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? "../target/site",
        RUST_LOG: "warn",
      },
      stdio: "ignore",
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error("the server did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stop() {
    const child = server;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  test.afterEach(async () => {
    await stop();
  });

  test("the page reconnects and catches up", async ({ page, request }) => {
    test.setTimeout(90_000);
    port = await freePort();
    await start();
    const base = `http://127.0.0.1:${port}`;
    const token = ingestToken(databaseUrl);
    const product = "restarts";
    await post(request, base, token, [releaseCreated(product)]);

    await page.goto(`${base}/products/${product}/releases/1`);
    const release = new ReleasePage(page);
    await release.waitForHydration();
    const indicator = page.getByTestId("live-indicator");
    await expect(indicator).toHaveAttribute("data-state", "live");
    await expect(release.node("dev")).toHaveAttribute("data-status", "pending");

    await stop();
    await expect(indicator).toHaveAttribute("data-state", /reconnecting|offline/, { timeout: 10_000 });

    await start();
    // Changed while the page was not connected to anything.
    await post(request, base, token, [devRun(product, "failed")]);
    await expect(indicator).toHaveAttribute("data-state", "live", { timeout: 20_000 });
    await expect(release.node("dev")).toHaveAttribute("data-status", "failed", { timeout: 5_000 });
  });
});

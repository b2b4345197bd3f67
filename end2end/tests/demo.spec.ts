import { expect, test } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ingestToken, post } from "./fixtures/ingest";
import { DashboardPage } from "./pages/dashboard";
import { ReleasePage } from "./pages/release";

// `server demo --seed N` on its own port and database, as a new user runs it:
// the same seed gives the same organisation, and the pages show it.

const serverBin = process.env.SERVER_BIN ?? "../target/debug/server";
const SEED = "20261126";
const PRODUCTS = ["checkout", "payments", "storefront", "platform"];

interface Demo {
  process: ChildProcess;
  url: string;
  database: string;
}

/** Starts `server demo --seed SEED` on a free port; resolves with its URL once it prints it. */
function startDemo(seed: string, extra: string[] = []): Promise<Demo> {
  const dir = mkdtempSync(join(process.env.E2E_DATA_DIR ?? tmpdir(), "demo-"));
  const database = `sqlite://${join(dir, "demo.db")}`;
  const child = spawn(
    serverBin,
    ["demo", "--seed", seed, "--listen", "127.0.0.1:0", "--database-url", database, ...extra],
    { env: { ...process.env, RUST_LOG: "warn,sqlx=error" }, stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`demo did not print its URL: ${out}`)), 30_000);
    child.on("exit", (code) => reject(new Error(`demo exited with ${code}: ${out}`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = out.match(/open (http:\/\/127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ process: child, url: match[1], database });
      }
    });
  });
}

async function stopDemo(demo: Demo | undefined) {
  if (!demo || demo.process.exitCode !== null) return;
  const exited = new Promise((resolve) => demo.process.on("exit", resolve));
  demo.process.kill("SIGTERM");
  await exited;
}

interface Seen {
  key: string;
  version: string;
  sha: string;
  message: string;
  environments: string[];
}

/** Release `id` of `product` as the API shows it, once the seeding has written it. */
async function release(demo: Demo, product: string, id: number): Promise<Seen> {
  let body: any;
  await expect
    .poll(
      async () => {
        const response = await fetch(`${demo.url}/api/v1/products/${product}/releases/${id}`);
        if (response.status !== 200) return response.status;
        body = await response.json();
        return 200;
      },
      { timeout: 60_000, message: `${product} release ${id} seeded` },
    )
    .toBe(200);
  return {
    key: body.key,
    version: body.version,
    sha: body.commit.sha,
    message: body.commit.message,
    environments: body.environments.map((e: { name: string }) => e.name),
  };
}

test.describe("demo", () => {
  test.describe.configure({ mode: "serial", timeout: 180_000 });

  let first: Demo | undefined;
  let second: Demo | undefined;

  test.afterAll(async () => {
    await Promise.all([stopDemo(first), stopDemo(second)]);
  });

  test("the same --seed seeds the same organisation", async () => {
    [first, second] = await Promise.all([startDemo(SEED), startDemo(SEED)]);
    for (const product of PRODUCTS) {
      for (const id of [1, 2, 3]) {
        const [a, b] = await Promise.all([release(first, product, id), release(second, product, id)]);
        expect(a, `${product} release ${id}`).toEqual(b);
        expect(a.sha).toMatch(/^[0-9a-f]{40}$/);
        expect(a.version).toMatch(/^\d+\.\d+\.\d+/);
      }
    }
    // The four flow shapes of the catalogue.
    expect((await release(first, "checkout", 1)).environments).toEqual(["dev", "staging", "prod"]);
    expect((await release(first, "platform", 1)).environments.length).toBeGreaterThanOrEqual(10);
  });

  test("the dashboard and a release page show the demo", async ({ page }) => {
    test.skip(!first, "needs the demo of the first test");
    const demo = first as Demo;
    const dashboard = new DashboardPage(page);
    await page.goto(`${demo.url}/`);
    await expect(dashboard.products).toHaveCount(4);
    for (const product of PRODUCTS) {
      await expect(dashboard.product(product)).toBeVisible();
    }
    await expect(dashboard.cell("checkout", "dev")).toHaveAttribute("data-status", /.+/);

    const releasePage = new ReleasePage(page);
    await page.goto(`${demo.url}/products/platform/releases/1`);
    const environments = (await release(demo, "platform", 1)).environments;
    await expect(releasePage.nodes).toHaveCount(environments.length);
    await expect(releasePage.status).toBeVisible();
    await page.screenshot({ path: "test-results/demo-release.png", fullPage: true });
  });
});

test.describe("a release page left open", () => {
  test.describe.configure({ timeout: 180_000 });
  let demo: Demo | undefined;

  test.afterAll(async () => {
    await stopDemo(demo);
  });

  test("through a minute of demo changes keeps its environment, open error and scroll position", async ({
    page,
    request,
  }) => {
    demo = await startDemo("7");
    const base = demo.url;
    // A release the simulator has just started (every environment but its
    // first still pending): it changes all through the minute.
    let fresh: { product: string; id: number; key: string; leaf: string } | undefined;
    await expect
      .poll(
        async () => {
          for (const product of PRODUCTS) {
            const response = await fetch(`${base}/api/v1/products/${product}/releases?status=progressing&limit=1`);
            if (!response.ok) continue;
            const candidate = (await response.json()).releases[0];
            const environments: { name: string; status: string }[] = candidate?.environments ?? [];
            // Created by the simulator just now, not seeded history (which the
            // seeding finishes within seconds).
            const live = Date.now() - Date.parse(candidate?.created_at ?? "") < 30_000;
            if (live && environments.length > 1 && environments.slice(1).every((e) => e.status === "pending")) {
              fresh = { product, id: candidate.id, key: candidate.key, leaf: environments[environments.length - 1].name };
              return true;
            }
          }
          return false;
        },
        { timeout: 120_000, intervals: [500], message: "a release that has just started" },
      )
      .toBe(true);
    const { product, id, key, leaf } = fresh!;
    // An error of ours on its last environment; the simulator goes on with the others.
    const token = ingestToken(demo.database);
    await post(request, base, token, [
      {
        specversion: "1.0",
        id: `left-open-${Date.now()}`,
        source: "e2e",
        type: "git.failed",
        time: new Date().toISOString(),
        data: { product, release: key, environment: leaf, operation: "push", message: "rejected: protected branch" },
      },
    ]);
    const detail = await (await fetch(`${base}/api/v1/products/${product}/releases/${id}`)).json();
    const error = detail.environments
      .find((e: { name: string }) => e.name === leaf)
      .errors.find((e: { kind: string }) => e.kind === "git");

    await page.setViewportSize({ width: 1280, height: 600 });
    const release = new ReleasePage(page);
    await page.goto(`${base}/products/${product}/releases/${id}?env=${leaf}&error=${error.id}`);
    await release.waitForHydration();
    await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
    await page.evaluate(() => ((window as unknown as { leftOpen: number }).leftOpen = 1));
    const disclosure = page.getByTestId("per-application").first();
    await disclosure.locator("summary").click();
    await page.evaluate(() => window.scrollTo(0, 320));
    const statuses = () => release.nodes.evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-status")).join(","));
    const before = await statuses();
    const documents: string[] = [];
    page.on("response", (response) => {
      if ((response.headers()["content-type"] ?? "").includes("text/html")) documents.push(response.url());
    });

    await page.waitForTimeout(60_000);

    expect(await statuses(), "the page followed the changes").not.toEqual(before);
    expect(page.url()).toContain(`env=${leaf}&error=${error.id}`);
    await release.expectSelected(leaf);
    await expect(release.errorPanel).toHaveAttribute("data-error-id", error.id);
    await expect(disclosure).toHaveAttribute("open", "");
    expect(await page.evaluate(() => window.scrollY)).toBe(320);
    expect(await page.evaluate(() => (window as unknown as { leftOpen?: number }).leftOpen)).toBe(1);
    expect(documents).toEqual([]);
  });
});

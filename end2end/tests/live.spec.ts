/**
 * Live updates: events posted through the API change an open page in
 * place, without a reload; and a page whose server stops and comes back
 * reconnects by itself and catches up with what changed meanwhile.
 */
import { expect, test } from "@playwright/test";

import { devRun, event, ingestToken, post, releaseCreated, runDatabase } from "./fixtures/ingest";
import { OwnServer } from "./fixtures/server";
import { ReleasePage } from "./pages/release";

test("a change posted through the API updates the open release page in place", async ({ page, request, baseURL }) => {
  const token = ingestToken(runDatabase());
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
  const server = new OwnServer();

  test.afterEach(async () => {
    await server.stop();
  });

  test("the page reconnects and catches up", async ({ page, request }) => {
    test.setTimeout(90_000);
    await server.start();
    const base = server.base;
    const token = ingestToken(server.databaseUrl);
    const product = "restarts";
    await post(request, base, token, [releaseCreated(product)]);

    await page.goto(`${base}/products/${product}/releases/1`);
    const release = new ReleasePage(page);
    await release.waitForHydration();
    const indicator = page.getByTestId("live-indicator");
    await expect(indicator).toHaveAttribute("data-state", "live");
    await expect(release.node("dev")).toHaveAttribute("data-status", "pending");

    await server.stop();
    await expect(indicator).toHaveAttribute("data-state", /reconnecting|offline/, { timeout: 10_000 });

    await server.start();
    // Changed while the page was not connected to anything.
    await post(request, base, token, [devRun(product, "failed")]);
    await expect(indicator).toHaveAttribute("data-state", "live", { timeout: 20_000 });
    await expect(release.node("dev")).toHaveAttribute("data-status", "failed", { timeout: 5_000 });
  });
});

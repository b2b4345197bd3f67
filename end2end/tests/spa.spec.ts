/**
 * The single-page app: after the first load, moving between pages and
 * live changes fetch no HTML (only server-function responses), back and
 * forward restore what the page showed, errors of a navigation show the
 * route's error page in place, every tab of one browser shares one event
 * stream, and no page logs a console error or a hydration warning.
 */
import { expect, test, type Page, type Response } from "@playwright/test";

import { devRun, ingestToken, post, releaseCreated, runDatabase } from "./fixtures/ingest";
import { OwnServer } from "./fixtures/server";
import { ReleasePage } from "./pages/release";
import { ReleasesPage } from "./pages/releases";

/** Records every HTML document the page fetches from here on. */
function htmlFetches(page: Page): string[] {
  const seen: string[] = [];
  page.on("response", (response: Response) => {
    const type = response.headers()["content-type"] ?? "";
    if (type.includes("text/html")) seen.push(response.url());
  });
  return seen;
}

/** A marker a document load would wipe out. */
async function mark(page: Page) {
  await page.evaluate(() => ((window as unknown as { spaMarker: number }).spaMarker = 7));
}

async function marked(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { spaMarker?: number }).spaMarker === 7);
}

test("moving between pages fetches no HTML, only server functions", async ({ page }) => {
  await page.goto("/");
  await new ReleasePage(page).waitForHydration();
  await mark(page);
  const html = htmlFetches(page);
  const calls: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/api/")) calls.push(new URL(request.url()).pathname);
  });

  await page.locator('[data-testid="product"][data-product="checkout"] h2 a').click();
  await expect(page.getByTestId("releases-table")).toBeVisible();
  await page.locator('[data-testid="release-row"][data-release="2"] .release-link').click();
  await expect(page.getByTestId("release-page")).toHaveAttribute("data-release", "2");
  await page.getByTestId("tab-notes").click();
  await expect(page.getByTestId("notes-page")).toBeVisible();
  await page.getByRole("link", { name: "Environments" }).first().click();
  await expect(page.getByTestId("dashboard")).toBeVisible();

  expect(html, "no HTML after the first load").toEqual([]);
  expect(await marked(page), "no document load").toBe(true);
  for (const endpoint of ["/api/list_releases", "/api/get_release", "/api/get_release_notes", "/api/list_products"]) {
    expect(calls, `${endpoint} was called`).toContain(endpoint);
  }
});

test("a live change updates a table row and a graph node within 500 ms, fetching no HTML", async ({
  browser,
  request,
  baseURL,
}) => {
  const token = ingestToken(runDatabase());
  const product = `spa-${Date.now()}`;
  await post(request, baseURL!, token, [releaseCreated(product)]);
  const context = await browser.newContext();
  const table = new ReleasesPage(await context.newPage());
  const release = new ReleasePage(await context.newPage());
  await table.open(product);
  await release.open(product, 1);
  for (const page of [table, release]) {
    await page.waitForHydration();
    await expect(page.page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  }
  const html = [htmlFetches(table.page), htmlFetches(release.page)];

  await post(request, baseURL!, token, [devRun(product, "failed")]);
  await expect(table.row(1)).toHaveAttribute("data-status", "failed", { timeout: 500 });
  await expect(table.row(1).locator('[data-env="dev"]')).toHaveAttribute("data-status", "failed", { timeout: 500 });
  await expect(release.node("dev")).toHaveAttribute("data-status", "failed", { timeout: 500 });
  await expect(release.node("dev")).toContainText("Failed");
  await expect(release.count("failed")).toHaveAttribute("data-count", "1");

  // A new release appears at the top of the table.
  await post(request, baseURL!, token, [releaseCreated(product, "r2")]);
  await expect(table.row(2)).toBeVisible({ timeout: 500 });
  expect(await table.ids()).toEqual([2, 1]);
  expect(html.flat()).toEqual([]);
  await context.close();
});

test("back and forward restore the filtered table and the selected environment", async ({ page }) => {
  // Thirteen navigations, each with its own 5 s expectations: the whole
  // walk gets more than the default 30 s on a loaded 2-core machine.
  test.setTimeout(60_000);
  const table = new ReleasesPage(page);
  await table.open("checkout");
  await table.waitForHydration();
  await mark(page);
  const html = htmlFetches(page);
  await table.statusFilter.selectOption("failed");
  await table.apply.click();
  await expect(page).toHaveURL(/status=failed/);
  await expect(table.rows).toHaveCount(1);

  await table.row(2).locator(".release-link").click();
  const release = new ReleasePage(page);
  await release.expectSelected("staging");
  await release.node("qa").click();
  await release.expectSelected("qa");
  await release.node("prod").click();
  await release.expectSelected("prod");

  await page.goBack();
  await expect(page).toHaveURL(/\?env=qa$/);
  await release.expectSelected("qa");
  await page.goBack();
  await release.expectSelected("staging");
  await page.goBack();
  await expect(page).toHaveURL(/status=failed/);
  await expect(table.statusFilter).toHaveValue("failed");
  await expect(table.rows).toHaveCount(1);
  await page.goForward();
  await release.expectSelected("staging");
  await page.goForward();
  await release.expectSelected("qa");
  // The graph's nodes are SVG links: the app, not the browser, follows them.
  expect(html, "no HTML after the first load").toEqual([]);
  expect(await marked(page), "no document load").toBe(true);
});

test("back pressed before the app has started shows the page of that URL", async ({ page }) => {
  const table = new ReleasesPage(page);
  await table.open("checkout", { status: "failed" });
  await table.waitForHydration();
  await table.row(2).locator(".release-link").click();
  const release = new ReleasePage(page);
  await release.expectSelected("staging");

  // Reloaded, the release page waits for its WebAssembly while Back goes
  // to the table's entry, which the router made: no document loads for it.
  let deliver = () => {};
  const held = new Promise<void>((resolve) => (deliver = resolve));
  await page.route("**/pkg/*.wasm", async (route) => {
    await held;
    await route.continue();
  });
  await page.reload();
  await page.goBack();
  await expect(page).toHaveURL(/status=failed/);
  deliver();

  await expect(table.statusFilter).toHaveValue("failed");
  await expect(table.rows).toHaveCount(1);
  await expect(release.graph).toHaveCount(0);
  await table.waitForHydration();
});

test("a navigation to an unknown release shows its error page in place", async ({ page }) => {
  const table = new ReleasesPage(page);
  await table.open("checkout");
  await table.waitForHydration();
  await mark(page);
  const html = htmlFetches(page);
  await page.evaluate(() => {
    const link = document.createElement("a");
    link.href = "/products/checkout/releases/999";
    link.id = "to-missing";
    link.textContent = "missing";
    document.querySelector("main")?.append(link);
  });
  await page.locator("#to-missing").click();
  await expect(page.getByTestId("error-page")).toBeVisible();
  await expect(page.getByTestId("error-page")).toContainText("404");
  await expect(page.getByTestId("error-page")).toContainText("no release 999");
  expect(html).toEqual([]);
  expect(await marked(page)).toBe(true);
});

test.describe("ten tabs of one browser", () => {
  // A server of its own: the streams it counts are this browser's only.
  const server = new OwnServer();
  test.afterAll(async () => {
    await server.stop();
  });

  test("share one event stream, all live, and an eleventh loads at once", async ({ browser, request }) => {
  test.setTimeout(90_000);
  await server.start();
  const baseURL = server.base;
  const token = ingestToken(server.databaseUrl);
  const product = `tabs-${Date.now()}`;
  await post(request, baseURL, token, [releaseCreated(product)]);
  const context = await browser.newContext({ baseURL });
  const tabs: ReleasePage[] = [];
  for (let i = 0; i < 10; i += 1) {
    const tab = new ReleasePage(await context.newPage());
    await tab.open(product, 1);
    await tab.waitForHydration();
    await expect(tab.page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
    tabs.push(tab);
  }
  const metrics = await (await request.get(`${baseURL}/metrics`)).text();
  const streams = Number(metrics.match(/^releases_live_streams (\d+)/m)?.[1] ?? NaN);
  expect(streams, "one stream for the browser's ten tabs").toBe(1);

  await post(request, baseURL, token, [devRun(product, "running")]);
  for (const tab of tabs) {
    await expect(tab.node("dev")).toHaveAttribute("data-status", "running", { timeout: 5_000 });
  }

  const started = Date.now();
  const eleventh = new ReleasePage(await context.newPage());
  await eleventh.open(product, 1);
  await eleventh.waitForHydration();
  expect(Date.now() - started, "the eleventh tab loads at once").toBeLessThan(5_000);
  await expect(eleventh.node("dev")).toHaveAttribute("data-status", "running");
  await context.close();
  });
});

test("no page logs a console error or a hydration warning", async ({ page }) => {
  test.setTimeout(90_000);
  const problems: string[] = [];
  page.on("console", (message) => {
    const text = message.text();
    if (message.type() === "error" || /hydrat/i.test(text)) problems.push(`${message.type()}: ${text}`);
  });
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  const shell = new ReleasePage(page);
  for (const path of [
    "/",
    "/products/checkout/releases",
    "/products/checkout/releases?status=failed",
    "/products/checkout/releases/2",
    "/products/checkout/releases/2?env=qa",
    "/products/checkout/releases/2/notes",
    "/products/platform/releases/1",
    "/login",
  ]) {
    await page.goto(path);
    await shell.waitForHydration();
    await page.waitForTimeout(300);
  }
  expect(problems).toEqual([]);
});

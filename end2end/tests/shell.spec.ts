import { expect, test } from "@playwright/test";
import { Shell } from "./pages/shell";

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the server renders the shell and the dashboard", async ({ page }) => {
    const shell = new Shell(page);
    const response = await shell.goto("/");
    expect(response?.status()).toBe(200);
    await expect(shell.header).toBeVisible();
    await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
    await expect(page.getByRole("heading", { level: 1, name: "Environments" })).toBeVisible();
    await expect(page).toHaveTitle("Environments · Releases");
    await expect(page.locator("body")).not.toHaveAttribute("data-hydrated", "true");
  });

  test("an unknown URL answers 404 with the not-found page", async ({ page }) => {
    const response = await page.goto("/no/such/page");
    expect(response?.status()).toBe(404);
    await expect(page.getByTestId("not-found")).toBeVisible();
    await expect(page.getByRole("heading", { level: 1, name: "Page not found" })).toBeVisible();
  });

  test("the theme toggle works as a plain form post", async ({ page }) => {
    const shell = new Shell(page);
    await shell.goto("/");
    expect(await shell.theme()).toBe("system");
    await shell.themeToggle.click();
    // The server answers the form post with a redirect back to this page.
    await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
    await expect(page.getByTestId("dashboard")).toBeVisible();
  });
});

test.describe("with JavaScript", () => {
  test("the page hydrates and the theme round-trips through the server", async ({ page, context }) => {
    const shell = new Shell(page);
    await shell.goto("/");
    await shell.waitForHydration();
    expect(await shell.theme()).toBe("system");

    const call = page.waitForResponse((r) => r.url().endsWith("/api/set_theme"));
    await shell.themeToggle.click();
    expect((await call).status()).toBe(200);
    await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
    await expect(shell.themeToggle).toHaveAttribute("data-theme", "light");

    // The server set the cookie: a fresh load renders the chosen theme.
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === "theme")?.value).toBe("light");
    await page.reload();
    expect(await shell.theme()).toBe("light");

    await shell.waitForHydration();
    await shell.themeToggle.click();
    await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  });

  test("a full-page screenshot of the dashboard in both themes", async ({ page, context, baseURL }, testInfo) => {
    for (const theme of ["light", "dark"]) {
      await context.addCookies([{ name: "theme", value: theme, url: baseURL! }]);
      await page.goto("/");
      await new Shell(page).waitForHydration();
      const path = testInfo.outputPath(`dashboard-${theme}.png`);
      await page.screenshot({ path, fullPage: true });
      await testInfo.attach(`dashboard-${theme}`, { path, contentType: "image/png" });
    }
  });
});

test.describe("static assets", () => {
  test("the wasm is served precompressed with long-lived cache headers", async ({ page, request }) => {
    await page.goto("/");
    await new Shell(page).waitForHydration();
    // The WebAssembly the page loaded to hydrate.
    const wasmHref = await page.evaluate(() =>
      performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).find((p) => p.endsWith(".wasm")),
    );
    expect(wasmHref).toMatch(/^\/pkg\/.+\.wasm$/);
    for (const encoding of ["br", "gzip"]) {
      // Precompression runs in the background at start-up.
      await expect
        .poll(async () => {
          const r = await request.get(wasmHref!, { headers: { "Accept-Encoding": encoding } });
          return r.headers()["content-encoding"];
        }, { timeout: 60_000 })
        .toBe(encoding);
      const response = await request.get(wasmHref!, { headers: { "Accept-Encoding": encoding } });
      expect(response.headers()["cache-control"]).toContain("immutable");
      expect(response.headers()["content-type"]).toBe("application/wasm");
    }
  });
});

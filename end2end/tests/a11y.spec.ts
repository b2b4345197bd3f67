import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { errorId } from "./fixtures/api";
import { Shell } from "./pages/shell";

/** Every page, once per theme: axe finds no serious or critical violation, and a screenshot is kept. */
const PAGES: { name: string; path: (error: string) => string }[] = [
  { name: "dashboard", path: () => "/" },
  { name: "releases", path: () => "/products/checkout/releases" },
  { name: "release", path: () => "/products/checkout/releases/2?env=qa" },
  { name: "release-error", path: (error) => `/products/checkout/releases/2?env=staging&error=${error}` },
  { name: "release-large", path: () => "/products/platform/releases/1" },
  { name: "release-superseded", path: () => "/products/search/releases/1" },
  { name: "notes", path: () => "/products/checkout/releases/2/notes" },
];

const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? join(__dirname, "..", "test-results", "screenshots");

for (const theme of ["light", "dark"] as const) {
  test.describe(`${theme} theme`, () => {
    for (const { name, path } of PAGES) {
      test(`${name}: no serious accessibility violation`, async ({ page, context, baseURL, request }, testInfo) => {
        await context.addCookies([{ name: "theme", value: theme, url: baseURL! }]);
        const error = await errorId(request, "checkout", 2, "staging", "workflow");
        await page.goto(path(error));
        await new Shell(page).waitForHydration();
        // Let running icons and pulses settle into a frame.
        await page.emulateMedia({ reducedMotion: "reduce" });

        mkdirSync(SCREENSHOTS, { recursive: true });
        const file = join(SCREENSHOTS, `${name}-${theme}.png`);
        await page.screenshot({ path: file, fullPage: true });
        await testInfo.attach(`${name}-${theme}`, { path: file, contentType: "image/png" });

        const results = await new AxeBuilder({ page }).analyze();
        const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
        expect(
          serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`),
        ).toEqual([]);
      });
    }
  });
}

import { expect, test } from "@playwright/test";
import { DashboardPage } from "./pages/dashboard";

test.describe("environments dashboard", () => {
  test.use({ javaScriptEnabled: false });

  test("one row per product, one cell per environment with version, status and release", async ({ page }) => {
    const dashboard = new DashboardPage(page);
    const response = await dashboard.open();
    expect(response?.status()).toBe(200);
    await expect(dashboard.products).toHaveCount(4);

    const staging = dashboard.cell("checkout", "staging");
    await expect(staging).toHaveAttribute("data-status", "failed");
    await expect(staging).toContainText("Failed");
    await expect(staging).toContainText("1.4.1");
    await expect(staging.getByRole("link")).toHaveAttribute("href", "/products/checkout/releases/2?env=staging");

    const cells = dashboard.product("checkout").getByTestId("env-cell");
    await expect(cells).toHaveCount(4);
    expect(await cells.evaluateAll((c) => c.map((e) => e.getAttribute("data-env")))).toEqual([
      "dev",
      "qa",
      "staging",
      "prod",
    ]);
  });

  test("a cell leads to the release, opened on that environment", async ({ page }) => {
    const dashboard = new DashboardPage(page);
    await dashboard.open();
    await dashboard.cell("checkout", "qa").getByRole("link").click();
    await expect(page.getByTestId("env-panel")).toHaveAttribute("data-env", "qa");
  });
});

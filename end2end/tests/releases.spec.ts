import { expect, test } from "@playwright/test";
import { ReleasesPage } from "./pages/releases";

test.describe("releases table without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("a filtered view is a link", async ({ page }) => {
    const releases = new ReleasesPage(page);
    const response = await releases.open("checkout", { status: "failed" });
    expect(response?.status()).toBe(200);
    expect(await releases.ids()).toEqual([2]);
    await expect(releases.statusFilter).toHaveValue("failed");
    const row = releases.row(2);
    await expect(row).toHaveAttribute("data-status", "failed");
    // One icon per environment, in flow order, named for screen readers.
    await expect(row.locator(".env-dots li")).toHaveCount(4);
    await expect(row.locator(".env-dots li").nth(2)).toHaveAttribute("title", "staging: failed");
    await expect(row.locator(".env-dots li").nth(2)).toContainText("staging: failed");
  });

  test("search and pagination work as plain links and forms", async ({ page }) => {
    const releases = new ReleasesPage(page);
    await releases.open("billing");
    await expect(releases.rows).toHaveCount(50);
    expect((await releases.ids())[0]).toBe(60);
    await releases.nextPage.click();
    await expect(page).toHaveURL(/cursor=/);
    await expect(releases.rows).toHaveCount(10);
    expect((await releases.ids()).at(-1)).toBe(1);

    await releases.search.fill("number 42");
    await releases.apply.click();
    await expect(page).toHaveURL(/q=number\+42|q=number%2042/);
    expect(await releases.ids()).toEqual([42]);
  });

  test("a superseded release says by which", async ({ page }) => {
    const releases = new ReleasesPage(page);
    await releases.open("search");
    const row = releases.row(1);
    await expect(row).toHaveAttribute("data-status", "terminated");
    await expect(row.getByTestId("superseded-by")).toHaveAttribute("href", "/products/search/releases/2");
  });

  test("an unknown product answers 404", async ({ page }) => {
    const response = await page.goto("/products/nope/releases");
    expect(response?.status()).toBe(404);
  });
});

test.describe("releases table with JavaScript", () => {
  test("the status filter updates in place, and back restores it", async ({ page }) => {
    const releases = new ReleasesPage(page);
    await releases.open("checkout");
    await releases.waitForHydration();
    expect(await releases.ids()).toEqual([2, 1]);

    await releases.statusFilter.selectOption("successful");
    await releases.apply.click();
    await expect(page).toHaveURL(/status=successful/);
    await expect(releases.rows).toHaveCount(1);
    expect(await releases.ids()).toEqual([1]);

    await page.goBack();
    await expect(releases.rows).toHaveCount(2);
    await expect(releases.statusFilter).toHaveValue("");
  });

  test("pagination and search update in place, and back restores them", async ({ page }) => {
    const releases = new ReleasesPage(page);
    await releases.open("billing");
    await releases.waitForHydration();
    await releases.nextPage.click();
    await expect(page).toHaveURL(/cursor=/);
    await expect(releases.rows).toHaveCount(10);
    await page.goBack();
    await expect(releases.rows).toHaveCount(50);

    await releases.search.fill("Dennis");
    await releases.search.press("Enter");
    await expect(page).toHaveURL(/q=Dennis/);
    await expect(releases.rows).toHaveCount(30);
    await releases.clear.click();
    await expect(releases.rows).toHaveCount(50);
  });

  test("a release id links to its page", async ({ page }) => {
    const releases = new ReleasesPage(page);
    await releases.open("checkout");
    await releases.waitForHydration();
    await releases.row(2).getByRole("link", { name: "#2" }).click();
    await expect(page).toHaveURL(/\/products\/checkout\/releases\/2$/);
    await expect(page.getByTestId("release-page")).toBeVisible();
  });
});

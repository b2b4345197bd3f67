import { expect, test } from "@playwright/test";
import { errorId } from "./fixtures/api";
import { ReleasePage } from "./pages/release";

test.describe("release page without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("a deep link to an environment and an error renders everything on first load", async ({ page, request }) => {
    const id = await errorId(request, "checkout", 2, "staging", "workflow");
    const release = new ReleasePage(page);
    const response = await release.open("checkout", 2, { env: "staging", error: id });
    expect(response?.status()).toBe(200);

    await expect(release.status).toHaveAttribute("data-status", "failed");
    await expect(release.count("failed")).toHaveAttribute("data-count", "1");
    await expect(release.count("successful")).toHaveAttribute("data-count", "1");
    await expect(release.count("running")).toHaveAttribute("data-count", "1");
    await expect(release.count("pending")).toHaveAttribute("data-count", "1");

    await expect(release.nodes).toHaveCount(4);
    await expect(release.node("dev")).toHaveAttribute("data-status", "successful");
    await expect(release.node("qa")).toHaveAttribute("data-status", "running");
    await expect(release.node("staging")).toHaveAttribute("data-status", "failed");
    await expect(release.node("prod")).toHaveAttribute("data-status", "pending");
    // Status is never colour alone: every node says it in words.
    await expect(release.node("staging")).toContainText("Failed");
    await expect(release.node("prod")).toContainText("inherited");

    await release.expectSelected("staging");
    await expect(release.errors).toHaveCount(2);
    await expect(release.errorPanel).toBeVisible();
    await expect(release.errorPanel).toHaveAttribute("data-error-id", id);
    await expect(release.errorLogs).toContainText("AssertionError: expected cart total 42.00");
    await expect(page.getByTestId("error-manifest")).toContainText("Workflow manifest");
    await expect(page.getByTestId("error-link")).toHaveAttribute("href", /argo\.example\.com/);
  });

  test("graph nodes are plain links to ?env=", async ({ page }) => {
    const release = new ReleasePage(page);
    await release.open("checkout", 2);
    // With no ?env=, the first failed environment is shown.
    await release.expectSelected("staging");
    await release.node("qa").click();
    await expect(page).toHaveURL(/\?env=qa$/);
    await release.expectSelected("qa");
    await expect(page.getByTestId("workflow").first()).toBeVisible();
  });

  test("a superseded release says by which release, with a link", async ({ page }) => {
    const release = new ReleasePage(page);
    await release.open("search", 1);
    await expect(release.status).toHaveAttribute("data-status", "terminated");
    await expect(release.supersededBanner).toContainText("release #2");
    await expect(release.supersededBanner.getByRole("link")).toHaveAttribute("href", "/products/search/releases/2");
  });

  test("a git error shows the operation and the repository", async ({ page, request }) => {
    const id = await errorId(request, "search", 2, "prod", "git");
    const release = new ReleasePage(page);
    await release.open("search", 2, { env: "prod", error: id });
    await expect(release.errorPanel).toHaveAttribute("data-kind", "git");
    await expect(release.errorPanel).toContainText("push");
    await expect(release.errorPanel).toContainText("git@git.example.com:deploy/search.git");
    await expect(page.getByTestId("error-details")).toContainText("failed to push some refs");
  });

  test("an unknown release answers 404", async ({ page }) => {
    const response = await page.goto("/products/checkout/releases/999");
    expect(response?.status()).toBe(404);
    await expect(page.getByTestId("error-page")).toBeVisible();
  });
});

test.describe("release page with JavaScript", () => {
  test("click, Enter and arrow keys select environments, and the URL follows", async ({ page }) => {
    const release = new ReleasePage(page);
    await release.open("checkout", 2, { env: "dev" });
    await release.waitForHydration();
    await release.expectSelected("dev");

    await release.node("qa").click();
    await expect(page).toHaveURL(/\?env=qa$/);
    await release.expectSelected("qa");

    // Arrow right goes downstream: qa → prod.
    await release.node("qa").focus();
    await page.keyboard.press("ArrowRight");
    await expect(page).toHaveURL(/\?env=prod$/);
    await release.expectSelected("prod");
    await expect(release.node("prod")).toBeFocused();

    // Arrow left goes back upstream, to a parent.
    await page.keyboard.press("ArrowLeft");
    await expect(page).toHaveURL(/\?env=(qa|staging)$/);

    // Tab reaches a node, Enter selects it.
    await release.node("dev").focus();
    await page.keyboard.press("Enter");
    await release.expectSelected("dev");

    // Back and forward restore the selection.
    await page.goBack();
    await expect(release.envPanel).not.toHaveAttribute("data-env", "dev");
    await page.goForward();
    await release.expectSelected("dev");
  });

  test("the error panel opens and closes in place, and back restores it", async ({ page, request }) => {
    const id = await errorId(request, "checkout", 2, "staging", "workflow");
    const release = new ReleasePage(page);
    await release.open("checkout", 2, { env: "staging" });
    await release.waitForHydration();
    await expect(release.errorPanel).toHaveCount(0);

    await release.error(id).click();
    await expect(page).toHaveURL(new RegExp(`error=${id}`));
    await expect(release.errorPanel).toBeVisible();
    await expect(release.errorLogs).toContainText("FAILED: 1 of 120 specs failed");
    await expect(page.getByTestId("copy-button")).toBeVisible();

    await release.errorClose.click();
    await expect(release.errorPanel).toHaveCount(0);
    await page.goBack();
    await expect(release.errorPanel).toBeVisible();
  });

  test("the application error links to the application", async ({ page, request }) => {
    const id = await errorId(request, "checkout", 2, "staging", "application");
    const release = new ReleasePage(page);
    await release.open("checkout", 2, { env: "staging", error: id });
    await expect(release.errorPanel).toHaveAttribute("data-kind", "application");
    await expect(page.getByTestId("error-link")).toHaveAttribute("href", /argocd\.example\.com/);
  });

  test("a flow of 32 environments fits the width and scrolls instead of shrinking", async ({ page }) => {
    const release = new ReleasePage(page);
    await release.open("platform", 1);
    await release.waitForHydration();
    await expect(release.nodes).toHaveCount(32);
    const viewport = page.locator(".graph__viewport");
    const svg = page.locator(".graph__svg");
    const [boxWidth, svgWidth] = await Promise.all([
      viewport.evaluate((e) => e.clientWidth),
      svg.evaluate((e) => e.getBoundingClientRect().width),
    ]);
    // Fit mode never scales under 60 %: the graph scrolls instead.
    expect(svgWidth).toBeGreaterThan(boxWidth - 40);
    await page.getByRole("button", { name: "100%" }).click();
    await expect(page.getByRole("button", { name: "100%" })).toHaveAttribute("aria-pressed", "true");
  });
});

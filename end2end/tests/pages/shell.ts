import { expect, type Locator, type Page } from "@playwright/test";

/** The page frame every route shares: header, navigation, theme toggle. */
export class Shell {
  readonly header: Locator;
  readonly themeToggle: Locator;

  constructor(readonly page: Page) {
    this.header = page.getByTestId("site-header");
    this.themeToggle = page.getByTestId("theme-toggle");
  }

  async goto(path: string) {
    return this.page.goto(path);
  }

  /** Waits until the WASM has hydrated the page: clicks before that are lost. */
  async waitForHydration() {
    // Debug WASM on a loaded 2-core machine can take several seconds.
    await expect(this.page.locator("body")).toHaveAttribute("data-hydrated", "true", { timeout: 20_000 });
  }

  async theme(): Promise<string | null> {
    return this.page.locator("html").getAttribute("data-theme");
  }
}

import { type Locator, type Page } from "@playwright/test";
import { Shell } from "./shell";

/** `/`: one row per product, one cell per environment. */
export class DashboardPage extends Shell {
  readonly products: Locator;

  constructor(page: Page) {
    super(page);
    this.products = page.getByTestId("product");
  }

  async open() {
    return this.goto("/");
  }

  product(slug: string): Locator {
    return this.page.locator(`[data-testid="product"][data-product="${slug}"]`);
  }

  cell(slug: string, env: string): Locator {
    return this.product(slug).locator(`[data-testid="env-cell"][data-env="${env}"]`);
  }
}

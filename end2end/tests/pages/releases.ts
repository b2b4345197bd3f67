import { type Locator, type Page } from "@playwright/test";
import { Shell } from "./shell";

/** The Releases table of one product, with its filters and pagination. */
export class ReleasesPage extends Shell {
  readonly table: Locator;
  readonly rows: Locator;
  readonly statusFilter: Locator;
  readonly search: Locator;
  readonly apply: Locator;
  readonly clear: Locator;
  readonly nextPage: Locator;
  readonly firstPage: Locator;
  readonly empty: Locator;

  constructor(page: Page) {
    super(page);
    this.table = page.getByTestId("releases-table");
    this.rows = page.getByTestId("release-row");
    this.statusFilter = page.getByTestId("filter-status");
    this.search = page.getByTestId("filter-search");
    this.apply = page.getByTestId("filter-apply");
    this.clear = page.getByTestId("filter-clear");
    this.nextPage = page.getByTestId("next-page");
    this.firstPage = page.getByTestId("first-page");
    this.empty = page.getByTestId("releases-empty");
  }

  async open(product: string, query: Record<string, string> = {}) {
    const search = new URLSearchParams(query).toString();
    return this.goto(`/products/${product}/releases${search ? `?${search}` : ""}`);
  }

  row(id: number): Locator {
    return this.page.locator(`[data-testid="release-row"][data-release="${id}"]`);
  }

  /** The release ids of the rows, in order. */
  async ids(): Promise<number[]> {
    const values = await this.rows.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-release")));
    return values.map(Number);
  }
}

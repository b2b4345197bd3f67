import { expect, type Locator, type Page } from "@playwright/test";
import { Shell } from "./shell";

/** The release page: header, promotion-flow graph, environment and error panels. */
export class ReleasePage extends Shell {
  readonly header: Locator;
  readonly status: Locator;
  readonly graph: Locator;
  readonly nodes: Locator;
  readonly envPanel: Locator;
  readonly errors: Locator;
  readonly errorPanel: Locator;
  readonly errorLogs: Locator;
  readonly errorClose: Locator;
  readonly supersededBanner: Locator;

  constructor(page: Page) {
    super(page);
    this.header = page.getByTestId("release-header");
    this.status = page.getByTestId("release-status");
    this.graph = page.getByTestId("promotion-graph");
    this.nodes = page.getByTestId("graph-node");
    this.envPanel = page.getByTestId("env-panel");
    this.errors = page.getByTestId("env-error");
    this.errorPanel = page.getByTestId("error-panel");
    this.errorLogs = page.getByTestId("error-logs");
    this.errorClose = page.getByTestId("error-close");
    this.supersededBanner = page.getByTestId("superseded-banner");
  }

  async open(product: string, id: number, query: Record<string, string> = {}) {
    const search = new URLSearchParams(query).toString();
    return this.goto(`/products/${product}/releases/${id}${search ? `?${search}` : ""}`);
  }

  node(env: string): Locator {
    return this.page.locator(`[data-testid="graph-node"][data-env="${env}"]`);
  }

  count(status: "failed" | "successful" | "running" | "pending"): Locator {
    return this.page.getByTestId(`count-${status}`);
  }

  error(id: string): Locator {
    return this.page.locator(`[data-testid="env-error"][data-error-id="${id}"] a`);
  }

  async expectSelected(env: string) {
    await expect(this.envPanel).toHaveAttribute("data-env", env);
    await expect(this.node(env)).toHaveAttribute("aria-current", "true");
  }
}

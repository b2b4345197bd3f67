import { type Locator, type Page } from "@playwright/test";
import { Shell } from "./shell";

/** The Release notes tab. */
export class NotesPage extends Shell {
  readonly root: Locator;
  readonly commits: Locator;
  readonly pullRequests: Locator;
  readonly issues: Locator;
  readonly environments: Locator;

  constructor(page: Page) {
    super(page);
    this.root = page.getByTestId("notes-page");
    this.commits = page.getByTestId("notes-commits").first();
    this.pullRequests = page.getByTestId("notes-prs").first();
    this.issues = page.getByTestId("notes-issues").first();
    this.environments = page.getByTestId("env-notes");
  }

  async open(product: string, id: number) {
    return this.goto(`/products/${product}/releases/${id}/notes`);
  }

  environment(name: string): Locator {
    return this.page.locator(`[data-testid="env-notes"][data-env="${name}"]`);
  }
}

import { expect, test } from "@playwright/test";
import { NotesPage } from "./pages/notes";

test.describe("release notes", () => {
  test.use({ javaScriptEnabled: false });

  test("commits, pull requests and issues, linked", async ({ page }) => {
    const notes = new NotesPage(page);
    const response = await notes.open("checkout", 1);
    expect(response?.status()).toBe(200);
    await expect(notes.commits.getByRole("link", { name: "a1b2c3d" })).toHaveAttribute(
      "href",
      "https://git.example.com/commit/a1b2c3d4e5f6a7b8c9d0",
    );
    await expect(notes.pullRequests).toContainText("Gift cards");
    await expect(notes.issues.getByRole("link", { name: "CHK-12" })).toHaveAttribute(
      "href",
      "https://issues.example.com/CHK-12",
    );
  });

  test("per environment, the changes since the last release that succeeded there", async ({ page }) => {
    const notes = new NotesPage(page);
    await notes.open("checkout", 2);
    await expect(notes.environments).toHaveCount(4);
    // Release 1 succeeded everywhere, so every environment gets release 2's changes only.
    await expect(notes.environment("prod")).toContainText("release #1");
    await expect(page.getByTestId("tab-notes")).toHaveAttribute("aria-current", "page");
  });
});

/**
 * Signing in: a pasted token becomes the browser's session; a wrong token
 * is refused with a message; signing out forgets it.
 */
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

import { Shell } from "./pages/shell";

function token(role: string): string {
  const serverBin = resolve(process.env.SERVER_BIN ?? "../target/debug/server");
  return execFileSync(serverBin, ["token", "create", "--role", role, "--name", "e2e-session"], {
    env: { ...process.env, DATABASE_URL: `sqlite://${process.env.E2E_DATA_DIR}/releases.db`, RUST_LOG: "error" },
  })
    .toString()
    .trim();
}

test("an operator signs in with a token and out again", async ({ page, context }) => {
  const shell = new Shell(page);
  await shell.goto("/products/checkout/releases");
  await shell.waitForHydration();
  await page.getByTestId("sign-in").click();
  await expect(page).toHaveURL(/\/login\?next=%2Fproducts%2Fcheckout%2Freleases|\/login\?next=\/products\/checkout\/releases/);
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();

  await shell.waitForHydration();
  await page.getByTestId("login-token").fill("rls_not-a-real-token");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("login-error")).toContainText("not known");

  await page.getByTestId("login-token").fill(token("operator"));
  await page.getByTestId("login-submit").click();
  await expect(page).toHaveURL(/\/products\/checkout\/releases$/);
  await expect(page.getByTestId("session-role")).toHaveText("operator");

  const cookie = (await context.cookies()).find((c) => c.name === "releases_session");
  expect(cookie?.value, "a session id, not the token").toMatch(/^rls_s_[0-9a-f]{64}$/);
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe("Strict");

  await shell.waitForHydration();
  await page.getByTestId("sign-out").click();
  await expect(page.getByTestId("sign-in")).toBeVisible();
  expect((await context.cookies()).find((c) => c.name === "releases_session")).toBeUndefined();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the sign-in form works as a plain form post", async ({ page }) => {
    await page.goto("/login?next=/");
    await page.getByTestId("login-token").fill(token("viewer"));
    await page.getByTestId("login-submit").click();
    await expect(page.getByTestId("session-role")).toHaveText("viewer");
  });
});

/**
 * Restarting a failed release from its page: only for a signed-in
 * operator; the confirmation lists exactly the environments that will run
 * again; afterwards the page shows the new attempt and follows it live.
 */
import { expect, test, type APIRequestContext } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

import { ReleasePage } from "./pages/release";

const serverBin = resolve(process.env.SERVER_BIN ?? "../target/debug/server");
let counter = 0;

function token(role: string): string {
  return execFileSync(serverBin, ["token", "create", "--role", role, "--name", `e2e-restart-${role}`], {
    env: { ...process.env, DATABASE_URL: `sqlite://${process.env.E2E_DATA_DIR}/releases.db`, RUST_LOG: "error" },
  })
    .toString()
    .trim();
}

function event(type: string, data: Record<string, unknown>) {
  counter += 1;
  return { specversion: "1.0", id: `restart-${Date.now()}-${counter}`, source: "e2e-restart", type, time: new Date().toISOString(), data };
}

function run(product: string, status: string) {
  return event("workflow.updated", {
    product,
    release: "r1",
    environment: "staging",
    phase: "pre",
    run: {
      id: `${product}-staging-${status}-${counter}`,
      workflow: "migrate",
      application: "api",
      status,
      started_at: new Date(Date.now() - 2_000).toISOString(),
      finished_at: status === "running" ? null : new Date().toISOString(),
    },
    steps: [{ name: "apply", status }],
  });
}

async function post(request: APIRequestContext, ingest: string, events: unknown[]) {
  const response = await request.post("/api/v1/events", {
    headers: { authorization: `Bearer ${ingest}`, "content-type": "application/cloudevents-batch+json" },
    data: JSON.stringify(events),
  });
  expect(response.status(), await response.text()).toBe(200);
}

test("an operator restarts a failed release and watches the new attempt", async ({ page, context, request, baseURL }) => {
  const ingest = token("ingest");
  const product = `restartable-${Date.now()}`;
  await post(request, ingest, [
    event("release.created", {
      product,
      release: "r1",
      version: "3.1.0",
      flow: {
        name: "linear",
        trigger: "dev",
        environments: [
          { name: "dev", depends_on: [], applications: ["api"], pre_action: null, post_action: null },
          { name: "staging", depends_on: ["dev"], applications: ["api"], pre_action: "migrate", post_action: null },
          { name: "prod", depends_on: ["staging"], applications: ["api"], pre_action: null, post_action: null },
        ],
      },
      commit: { sha: "feedfacecafebeef", message: "fix: migrations", author: { name: "Ada", email: "ada@example.com" } },
    }),
    event("environment.promoted", { product, release: "r1", environment: "dev", version: "3.1.0" }),
    run(product, "failed"),
  ]);

  const release = new ReleasePage(page);
  // Anonymous: no restart button.
  await release.open(product, 1);
  await expect(release.status).toHaveAttribute("data-status", "failed");
  await expect(page.getByTestId("restart-button")).toHaveCount(0);

  // Signed in as an operator (the session cookie lands in this context).
  const signIn = await page.request.post(`${baseURL}/api/sign_in`, {
    form: { token: token("operator"), next: "/" },
    headers: { Origin: new URL(baseURL!).origin },
  });
  expect(signIn.ok()).toBe(true);
  expect((await context.cookies()).some((c) => c.name === "releases_session")).toBe(true);
  await release.open(product, 1);
  await release.waitForHydration();
  await page.getByTestId("restart-button").click();
  const confirm = page.getByTestId("restart-confirm");
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText("attempt 2");
  await expect(page.getByTestId("restart-envs").locator("li")).toHaveText([/staging/, /prod/]);

  await page.getByTestId("restart-confirm-button").click();
  await expect(release.status).toHaveAttribute("data-status", "progressing");
  await expect(release.node("staging")).toHaveAttribute("data-status", "pending");
  await expect(release.node("dev")).toHaveAttribute("data-status", "successful");
  const entry = page.getByTestId("restart-entry").first();
  await expect(entry).toHaveAttribute("data-attempt", "2");
  await expect(page.getByTestId("restart-delivery").first()).toHaveAttribute("data-state", "none");
  await expect(page.getByTestId("restart-delivery").first()).toContainText("nobody was notified");

  // The orchestrator runs it again: the page follows live.
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  await post(request, ingest, [run(product, "running")]);
  await expect(release.node("staging")).toHaveAttribute("data-status", "running", { timeout: 3_000 });
});

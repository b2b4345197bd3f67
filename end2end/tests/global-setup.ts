/**
 * Seeds the fresh database of this run: creates an `ingest` token with the
 * server binary (same DATABASE_URL as the web server) and posts the events
 * of `fixtures/seed.ts` through the public API.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import type { FullConfig } from "@playwright/test";

import { seedBatches } from "./fixtures/seed";

export default async function globalSetup(config: FullConfig) {
  const baseURL = config.projects[0]?.use?.baseURL;
  if (!baseURL) throw new Error("no baseURL configured");
  const serverBin = resolve(process.env.SERVER_BIN ?? "../target/debug/server");
  const token = execFileSync(serverBin, ["token", "create", "--role", "ingest", "--name", "e2e-seed"], {
    env: { ...process.env, DATABASE_URL: `sqlite://${process.env.E2E_DATA_DIR}/releases.db`, RUST_LOG: "error" },
  })
    .toString()
    .trim();
  for (const batch of seedBatches()) {
    const response = await fetch(`${baseURL}/api/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify(batch),
    });
    if (!response.ok) {
      throw new Error(`seeding failed: ${response.status} ${await response.text()}`);
    }
  }
}

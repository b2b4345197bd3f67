/**
 * Removes this run's data directory: the shared server's database and
 * those of the specs' own servers and demos, which are made inside it.
 */
import { rmSync } from "node:fs";

export default async function globalTeardown() {
  const dir = process.env.E2E_DATA_DIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
}

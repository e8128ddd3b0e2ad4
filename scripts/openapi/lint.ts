/**
 * `npm run lint:openapi` (builds with tsc -b, then serves from controller/dist): writes the served OpenAPI document to a temp file and runs
 * `redocly lint` on it (recommended ruleset, see redocly.yaml); fails on any error.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { servedDocument } from "./document";

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-openapi-lint-"));
  try {
    const file = join(dir, "openapi.json");
    writeFileSync(file, JSON.stringify(await servedDocument(), null, 2));
    const root = resolve(__dirname, "../..");
    const r = spawnSync(join(root, "node_modules/.bin/redocly"), ["lint", "--config", join(root, "redocly.yaml"), file], {
      stdio: "inherit",
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    });
    return r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

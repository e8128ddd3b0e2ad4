/**
 * The served OpenAPI document, from a real controller: started on ephemeral ports with a
 * throw-away SQLite database, asked for /api/docs/openapi.json, stopped. Used by `lint:openapi`
 * and the document's tests, so both judge what clients actually download.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startController } from "../../controller/dist/app/bootstrap";
import { loadConfig } from "../../controller/dist/config/config";
import { createLogger } from "../../controller/dist/logging/logger";

export async function servedDocument(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-openapi-"));
  const config = loadConfig({ http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir: dir, database: `sqlite:${join(dir, "vigil.db")}`, logLevel: "error", insecureGrpc: true, insecureHttp: true }, {});
  const ctl = await startController(config, { logger: createLogger("error") });
  try {
    const res = await fetch(`${ctl.httpUrl}/api/docs/openapi.json`);
    if (res.status !== 200) throw new Error(`GET /api/docs/openapi.json: HTTP ${res.status}`);
    return await res.json();
  } finally {
    await ctl.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

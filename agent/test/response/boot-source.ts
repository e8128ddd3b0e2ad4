import { join } from "node:path";
import { type RunningController, startController } from "../../../controller/src/app/bootstrap";
import { loadConfig } from "../../../controller/src/config/config";
import { createLogger } from "../../../controller/src/logging/logger";

/**
 * The controller from source (vitest compiles its decorators). Plaintext HTTP API and gRPC that
 * trusts Hello.agent_id: enrollment and mTLS are other tests' subject.
 */
export async function bootFromSource(dataDir: string): Promise<RunningController> {
  const config = loadConfig(
    { http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir, database: `sqlite:${join(dataDir, "vigil.db")}`, logLevel: "warn", insecureGrpc: true, insecureHttp: true },
    process.env,
  );
  return startController(config, { logger: createLogger(process.env.VIGIL_TEST_LOG ?? "error") });
}

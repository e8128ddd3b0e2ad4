import { parseArgs } from "node:util";
import { startController } from "../app/bootstrap";
import { loadConfig } from "../config/config";

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      http: { type: "string" },
      grpc: { type: "string" },
      database: { type: "string" },
      "data-dir": { type: "string" },
      "log-level": { type: "string" },
      "no-migrate": { type: "boolean" },
      "insecure-grpc": { type: "boolean" },
      "insecure-http": { type: "boolean" },
      "nats-url": { type: "string" },
      role: { type: "string" },
    },
    strict: true,
  });
  const config = loadConfig({
    http: values.http,
    grpc: values.grpc,
    database: values.database,
    dataDir: values["data-dir"],
    logLevel: values["log-level"],
    insecureGrpc: values["insecure-grpc"] || undefined,
    insecureHttp: values["insecure-http"] || undefined,
    natsUrl: values["nats-url"],
    role: values.role,
  });
  const running = await startController(config, { migrate: !values["no-migrate"] });
  // Printed for humans and for scripts that wait for readiness (npm start, tests).
  // pin= is the HTTPS key pin installers check (curl --pinnedpubkey); absent for a plaintext API.
  const pin = running.httpTls?.pin();
  process.stdout.write(`vigil-controller ready http=${running.httpUrl} grpc=${running.grpcPort}${pin ? ` pin=${pin}` : ""}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      running.logger.info({ signal: sig }, "shutting down");
      void running.stop().then(resolve, resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}

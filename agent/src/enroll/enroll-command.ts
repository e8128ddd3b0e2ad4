import { readFileSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { enrollEnvironment, loadAgentConfig } from "../config/config";
import { enroll } from "./enroll";

export const ENROLL_HELP = `  enroll    enroll this agent with a controller (once), then \`run\` uses mTLS
              --controller HOST:PORT   controller gRPC address (VIGIL_CONTROLLER)
              --token-file FILE        read the enrollment token from FILE (keep it root-only), or
                                       set VIGIL_ENROLL_TOKEN; both keep it out of the process list
              --token T                the token on the command line (visible to every local user)
              --ca-pin SHA256          expected controller CA fingerprint; without it the CA is
                                       trusted on first use and its fingerprint printed
              --state-dir DIR          where the key, certificate and CA are stored (mode 0600)
`;

/** `vigil-agent enroll`: exit 0 enrolled, 1 refused or unreachable, 2 usage. */
export async function enrollCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      controller: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      "ca-pin": { type: "string" },
      "state-dir": { type: "string" },
      config: { type: "string" },
      "log-level": { type: "string" },
    },
    strict: true,
  });
  const cfg = loadAgentConfig({ controller: values.controller, stateDir: values["state-dir"], config: values.config, logLevel: values["log-level"] });
  let fromFile: string | undefined;
  if (values["token-file"]) {
    try {
      fromFile = readFileSync(values["token-file"], "utf8");
      if (statSync(values["token-file"]).mode & 0o077) process.stderr.write(`vigil-agent enroll: warning: ${values["token-file"]} is readable by other users; keep the token file mode 0600\n`);
    } catch (err) {
      process.stderr.write(`vigil-agent enroll: cannot read --token-file ${values["token-file"]}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
      return 2;
    }
  }
  if (values.token) process.stderr.write("vigil-agent enroll: warning: --token puts the token on a command line every local user can read; prefer --token-file or VIGIL_ENROLL_TOKEN\n");
  const fromEnv = enrollEnvironment();
  const token = (values.token ?? fromFile ?? fromEnv.token ?? "").trim();
  if (!token) {
    process.stderr.write("vigil-agent enroll: an enrollment token is required (--token, --token-file or VIGIL_ENROLL_TOKEN)\n");
    return 2;
  }
  try {
    const id = await enroll({ controller: cfg.controller, token, caPin: values["ca-pin"] ?? fromEnv.caPin, stateDir: cfg.stateDir, notice: (l) => process.stdout.write(l + "\n") });
    process.stdout.write(`vigil-agent enrolled id=${id.agentId} controller=${cfg.controller} certificate-expires=${new Date(id.notAfterMs).toISOString()} ca=${id.caFingerprint}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`vigil-agent enroll: ${(err as Error).message}\n`);
    return 1;
  }
}

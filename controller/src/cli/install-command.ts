import { parseArgs } from "node:util";
import { loadConfig } from "../config/config";
import { ConfigError } from "../config/config-error";
import { installLine } from "../install/install-service";
import { installOrigin } from "../install/install-origin";
import { configuredHttpPin } from "../trust/http-tls";
import { fail } from "./cli-db";

/**
 * `install-command [--token-file PATH] [--http ADDR] [--data-dir DIR]`: the exact line an admin
 * runs on a host to install an agent, with this controller's HTTPS key pin in it. Reads the same
 * configuration as `serve` (VIGIL_PUBLIC_URL, VIGIL_HTTP_ADDR, VIGIL_HTTP_TLS_CERT, ...).
 */
export async function installCommandCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { "token-file": { type: "string" }, http: { type: "string" }, "data-dir": { type: "string" } }, strict: true });
  let config;
  try {
    config = loadConfig({ http: values.http, dataDir: values["data-dir"] });
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
  const pin = configuredHttpPin(config);
  if (pin === undefined) {
    return fail("the HTTP API is plaintext (VIGIL_INSECURE_HTTP): agents cannot be installed over the network from it; serve HTTPS (the default)");
  }
  if (!config.publicUrl && config.httpAddr.port === 0) return fail("the HTTP port is 0 (chosen at start): set --http HOST:PORT or VIGIL_PUBLIC_URL");
  const { url } = installOrigin(
    { publicUrl: config.publicUrl, agentGrpcAddr: config.agentGrpcAddr, httpAddr: config.httpAddr, https: true, tlsNames: config.tlsNames },
    { httpPort: config.httpAddr.port, grpcPort: config.grpcAddr.port },
  );
  const tokenFile = values["token-file"] ?? "/root/vigil-token";
  process.stdout.write(
    `${installLine(url, pin, tokenFile)}\n\n` +
      `On each host, first put an enrollment token (vigil-controller token create) where only root reads it:\n` +
      `  sudo sh -c 'umask 077; cat > ${tokenFile}'     # paste the token, then Ctrl-D\n` +
      `The token then never appears on a command line. The pin is this controller's HTTPS key: curl refuses any\n` +
      `other server before reading a byte, and the script downloads the agent over the same pinned channel.\n` +
      (config.publicUrl ? "" : `No VIGIL_PUBLIC_URL: the URL above is the listener's own address; set it to the name hosts use.\n`),
  );
  return 0;
}

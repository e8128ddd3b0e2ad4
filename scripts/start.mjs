// `npm start`: the controller on SQLite plus a local agent watching this host.
// Ctrl-C stops both. Data lives in ./data (database, keys, agent state).
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = process.env.VIGIL_DATA_DIR ?? join(root, "data");
const http = process.env.VIGIL_HTTP_ADDR ?? "127.0.0.1:8080";
const grpc = process.env.VIGIL_GRPC_ADDR ?? "127.0.0.1:50051";
const grpcPort = grpc.split(":").pop();
// Keys, the database and the admin key file live here: nobody else's to read.
mkdirSync(dataDir, { recursive: true, mode: 0o700 });

const children = [];
function run(name, args, env = {}) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const prefix = (line) => `[${name}] ${line}`;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = "";
    stream.on("data", (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        child.emit("line", line);
        process.stdout.write(prefix(line) + "\n");
      }
    });
  }
  child.on("exit", (code, signal) => {
    process.stdout.write(prefix(`exited (${signal ?? code})`) + "\n");
    if (!stopping) shutdown(code ?? 1);
  });
  return child;
}

let stopping = false;
function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  const t = setTimeout(() => {
    for (const c of children) c.kill("SIGKILL");
    process.exit(code);
  }, 5000);
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => {
    clearTimeout(t);
    process.exit(code);
  });
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

const controller = run("controller", ["controller/bin/vigil-controller.js", "serve", "--http", http, "--grpc", grpc, "--data-dir", dataDir]);
controller.on("line", (line) => {
  const m = /^vigil-controller ready http=(\S+)(?:.* pin=(\S+))?/.exec(line);
  if (!m) return;
  const api = m[1];
  const pin = m[2];
  const agentDir = join(dataDir, "agent");
  try {
    enrollLocalAgent(agentDir);
  } catch (err) {
    process.stdout.write(`[start] enrolling the local agent failed: ${err.message}\n`);
    return shutdown(1);
  }
  const keyFile = ensureAdminKey();
  // The controller's data dir is on this host: collect_evidence must never read it.
  const agent = run("agent", ["dist/vigil-agent.cjs", "run", "--controller", `127.0.0.1:${grpcPort}`, "--state-dir", agentDir], { VIGIL_EVIDENCE_DENY: dataDir });
  // The API is HTTPS with a certificate from the controller's CA: curl trusts it with --cacert.
  const caFile = join(process.env.VIGIL_CA_DIR ?? join(dataDir, "ca"), "ca.crt");
  const tls = api.startsWith("https:") ? `--cacert ${caFile} ` : "";
  const install = pin ? controllerCli(["install-command", "--http", http]).split("\n")[0] : undefined;
  // The banner goes last, once the agent is running and both have had their say, so it is the
  // screen's bottom and not scrolled away by start-up lines.
  let lastLine = Date.now();
  for (const c of children) c.on("line", () => (lastLine = Date.now()));
  agent.on("line", (l) => {
    if (!/^vigil-agent running /.test(l)) return;
    const since = Date.now();
    const wait = setInterval(() => {
      if (Date.now() - lastLine < QUIET_MS && Date.now() - since < MAX_BANNER_WAIT_MS) return;
      clearInterval(wait);
      printBanner(api, caFile, keyFile, tls, install);
    }, 100);
  });
});

/** Output silence that means start-up is over, and the most the banner waits for it. */
const QUIET_MS = 700;
const MAX_BANNER_WAIT_MS = 5000;

function printBanner(api, caFile, keyFile, tls, install) {
  process.stdout.write(
    `\nVigil is running.\n  API:      ${api}/api/v1\n  API docs: ${api}/api/docs\n  Console:  ${api}/console/ (the browser must trust ${caFile})\n  API key:  ${keyFile} (admin; keep it private)\n` +
      `  Try:      curl -s ${tls}-H "Authorization: Bearer $(cat ${keyFile})" '${api}/api/v1/events?limit=5'\n` +
      (install ? `  Agent on another host (set VIGIL_HTTP_ADDR/VIGIL_PUBLIC_URL to an address it reaches; token in a root-only file):\n            ${install}\n` : "") +
      `  Stop:     Ctrl-C\n\n`,
  );
}

const controllerCli = (args) => execFileSync(process.execPath, ["controller/bin/vigil-controller.js", ...args, "--data-dir", dataDir], { cwd: root, encoding: "utf8" });

// First start: a one-use token from the controller's CLI, then the agent enrolls with the CA pinned
// from the same output, so even the local agent talks mTLS like any other.
function enrollLocalAgent(agentDir) {
  if (existsSync(join(agentDir, "tls", "identity.json"))) return;
  const { token, caFingerprint } = JSON.parse(controllerCli(["token", "create", "--json", "--ttl", "10m", "--uses", "1", "--tags", "local"]));
  const out = execFileSync(process.execPath, ["dist/vigil-agent.cjs", "enroll", "--controller", `127.0.0.1:${grpcPort}`, "--ca-pin", caFingerprint, "--state-dir", agentDir], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, VIGIL_ENROLL_TOKEN: token },
  });
  process.stdout.write(`[start] ${out.trim().split("\n").pop()}\n`);
}

// A local admin API key for trying the API, kept 0600 in the data dir (development convenience only).
function ensureAdminKey() {
  const file = join(dataDir, "admin-api-key");
  if (!existsSync(file) || !readFileSync(file, "utf8").trim()) {
    const key = controllerCli(["apikey", "create", "--role", "admin", "--name", "npm start"]).split("\n")[0].trim();
    writeFileSync(file, key + "\n", { mode: 0o600 });
  }
  chmodSync(file, 0o600);
  return file;
}

// `npm start`: the controller on SQLite plus a local agent watching this host.
// Ctrl-C stops both. Data lives in ./data (database, keys, agent state).
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = process.env.VIGIL_DATA_DIR ?? join(root, "data");
const http = process.env.VIGIL_HTTP_ADDR ?? "127.0.0.1:8080";
const grpc = process.env.VIGIL_GRPC_ADDR ?? "127.0.0.1:50051";
const grpcPort = grpc.split(":").pop();
mkdirSync(dataDir, { recursive: true });

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
  const t = setTimeout(() => { for (const c of children) c.kill("SIGKILL"); process.exit(code); }, 5000);
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => { clearTimeout(t); process.exit(code); });
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

const controller = run("controller", ["controller/bin/vigil-controller.js", "serve", "--http", http, "--grpc", grpc, "--data-dir", dataDir]);
controller.on("line", (line) => {
  const m = /^vigil-controller ready http=(\S+)/.exec(line);
  if (!m) return;
  const api = m[1];
  run("agent", ["dist/vigil-agent.cjs", "run", "--controller", `127.0.0.1:${grpcPort}`, "--state-dir", join(dataDir, "agent")]);
  process.stdout.write(
    `\nVigil is running.\n  API:      ${api}/api/v1\n  API docs: ${api}/api/docs\n  Try:      curl -s '${api}/api/v1/events?limit=5'\n  Stop:     Ctrl-C\n\n`,
  );
});

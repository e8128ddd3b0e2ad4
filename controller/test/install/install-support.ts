import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(__dirname, "..", "..", "..");
export const SCRIPT = join(REPO, "scripts", "install-agent.sh");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Async on purpose: the controller serving the download runs in this process. */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    // stdout and stderr are always "pipe" here; only stdin varies, which widens the type.
    p.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    p.on("error", fail);
    p.on("close", (code) => {
      clearTimeout(timer);
      ok({ code, stdout, stderr });
    });
    // A child may exit without reading its input; that is not the test's failure.
    p.stdin?.on("error", () => undefined).end(opts.input);
  });
}

export function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A stand-in agent (a few hundred bytes instead of the 100 MB SEA binary):
 * prints its version, lists `enroll` in its help, and on `enroll` records its
 * arguments and the token, and writes the identity file as the real one does.
 */
export function writeFakeAgent(path: string, version: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(
    tmp,
    `#!/bin/sh
case $1 in
version) echo ${version} ;;
--help) printf 'Commands:\\n  run       x\\n  enroll    y\\n' ;;
enroll)
  shift
  state=''; token=''
  log=\${FAKE_AGENT_LOG:-/dev/null}
  printf '%s\\n' "$*" >>"$log"
  while [ $# -gt 0 ]; do
    case $1 in
    --state-dir) state=$2; shift ;;
    --token-file) token=$(cat "$2"); shift ;;
    esac
    shift
  done
  printf 'token=%s\\n' "$token" >>"$log"
  mkdir -p "$state/tls"
  echo '{"agentId":"fake-agent"}' >"$state/tls/identity.json" ;;
*) exit 2 ;;
esac
`,
  );
  chmodSync(tmp, 0o755);
  renameSync(tmp, path);
}

export const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Every path under root with its type, mode and content hash (or link target). */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(p, r);
      } else out[r] = `file ${mode} ${sha256(readFileSync(p))}`;
    }
  };
  walk(root, "");
  return out;
}

/** Files an admin already had on the host; none may be touched. */
export function seedHost(root: string): void {
  for (const d of ["etc/systemd/system", "usr/local/bin", "var/lib"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "etc/hostname"), "web-1\n");
  writeFileSync(join(root, "etc/systemd/system/other.service"), "[Service]\nExecStart=/bin/true\n");
  writeFileSync(join(root, "usr/local/bin/other-tool"), "#!/bin/sh\n", { mode: 0o755 });
}

import { spawn } from "node:child_process";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the child's stdin, then stdin is closed. */
  input?: string;
  timeoutMs?: number;
}

/**
 * Runs an external program without a shell. Injectable so tests can point the real
 * enforcement code at a network namespace (prefix ["ip", "netns", "exec", ns]).
 */
export type CommandRunner = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>;

const DEFAULT_TIMEOUT_MS = 15_000;
/** nft and friends print little; a runaway child must not grow the agent's heap. */
const MAX_CAPTURE_BYTES = 1024 * 1024;

export function createRunner(prefix: readonly string[] = []): CommandRunner {
  return (argv, opts = {}) => runArgv([...prefix, ...argv], opts);
}

function runArgv(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error("empty argv"));
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let settled = false;
    const finish = (r: RunResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({ code: -1, stdout: Buffer.concat(out).toString(), stderr: `timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms` });
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.on("data", (b: Buffer) => {
      if (outBytes < MAX_CAPTURE_BYTES) out.push(b);
      outBytes += b.length;
    });
    child.stderr.on("data", (b: Buffer) => {
      if (errBytes < MAX_CAPTURE_BYTES) err.push(b);
      errBytes += b.length;
    });
    // A missing binary (ENOENT) is reported as a failed run, not a thrown error,
    // so callers always get a reason they can put in a CommandResult.
    child.on("error", (e) => finish({ code: -1, stdout: "", stderr: `${file}: ${e.message}` }));
    child.on("close", (code, signal) => finish({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() + (signal ? ` (signal ${signal})` : "") }));
    child.stdin.on("error", () => undefined); // EPIPE if the child exits before reading stdin
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs and throws with the program's stderr when it exits non-zero. */
export async function runChecked(run: CommandRunner, argv: readonly string[], opts?: RunOptions): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.trim().slice(0, 2000)}`);
  return r.stdout;
}

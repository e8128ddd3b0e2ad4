import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync, type ReadStream } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** Walks up from each start directory; the first `rel` found wins. */
export function findUp(rel: string, starts: string[]): string | undefined {
  for (const start of starts) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const p = join(dir, rel);
      if (existsSync(p)) return p;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

// From source (controller/src/install), a build (controller/dist/install) or an install tree, and the working directory.
const STARTS = [__dirname, process.cwd()];

/** VIGIL_AGENT_BINARY when set, else dist/vigil-agent of the repository or install this controller runs from. */
export function defaultAgentBinary(configured: string | undefined): string {
  if (configured) return configured;
  return findUp(join("dist", "vigil-agent"), STARTS) ?? resolve("dist", "vigil-agent");
}

export function defaultInstallScript(): string {
  return findUp(join("scripts", "install-agent.sh"), STARTS) ?? resolve("scripts", "install-agent.sh");
}

export class ArtifactMissing extends Error {}

export interface BinaryInfo {
  path: string;
  size: number;
  sha256: string;
}

/**
 * The agent binary as served for download: its sha256 is computed once per
 * version of the file (device, inode, size, mtime), so replacing the binary on
 * disk (atomically, by rename) is picked up without a restart.
 */
export class AgentBinary {
  private cached?: { key: string; info: Promise<BinaryInfo> };

  constructor(readonly path: string) {}

  info(): Promise<BinaryInfo> {
    let st;
    try {
      st = statSync(this.path);
    } catch {
      return Promise.reject(new ArtifactMissing(`the agent binary is not at ${this.path}: build it (npm run build:agent) or set VIGIL_AGENT_BINARY`));
    }
    if (!st.isFile()) return Promise.reject(new ArtifactMissing(`${this.path} is not a file`));
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.cached?.key !== key) {
      const info = hashFile(this.path).then((sha256) => ({ path: this.path, size: st.size, sha256 }));
      this.cached = { key, info };
      info.catch(() => (this.cached?.info === info ? (this.cached = undefined) : undefined));
    }
    return this.cached.info;
  }

  open(): ReadStream {
    return createReadStream(this.path);
  }
}

function hashFile(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => h.update(chunk))
      .on("error", fail)
      .on("end", () => ok(h.digest("hex")));
  });
}

export interface ScriptDefaults {
  /** The controller's HTTP URL the script downloads the binary from. */
  url: string;
  /** gRPC HOST:PORT written to agent.yaml. */
  controller: string;
  /** CA fingerprint passed to `vigil-agent enroll --ca-pin` (empty: trust on first use). */
  caPin: string;
  /** The HTTPS listener's key pin the script downloads the binary with (curl --pinnedpubkey); empty for none. */
  tlsPin: string;
  /** Whether the script enrolls by default (no for a development controller without TLS). */
  enroll: boolean;
}

const SAFE = {
  url: /^https?:\/\/[A-Za-z0-9.\-[\]:]+(\/[A-Za-z0-9._~\-/]*)?$/,
  controller: /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
  caPin: /^[0-9A-Fa-f:]*$/,
  tlsPin: /^(sha256\/\/[A-Za-z0-9+/]{43}=)?$/,
};

const shQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * scripts/install-agent.sh with its defaults block filled in. Values come from
 * configuration only; they are still validated and single-quoted, so a bad
 * setting can never turn into shell code on the host.
 */
export function renderInstallScript(template: string, d: ScriptDefaults): string {
  for (const k of ["url", "controller", "caPin", "tlsPin"] as const) {
    if (!SAFE[k].test(d[k])) throw new RangeError(`install script: unsafe ${k} "${d[k].slice(0, 100)}"`);
  }
  const values: Record<string, string> = {
    VIGIL_URL_DEFAULT: d.url,
    VIGIL_CONTROLLER_DEFAULT: d.controller,
    VIGIL_CA_PIN_DEFAULT: d.caPin,
    VIGIL_TLS_PIN_DEFAULT: d.tlsPin,
    VIGIL_ENROLL_DEFAULT: d.enroll ? "yes" : "no",
  };
  let out = template;
  for (const [name, value] of Object.entries(values)) {
    const re = new RegExp(`^${name}=.*$`, "m");
    if (!re.test(out)) throw new Error(`install script template has no ${name}= line`);
    out = out.replace(re, () => `${name}=${shQuote(value)}`);
  }
  return out;
}

/** The template, re-read when it changes on disk. */
export class InstallScriptTemplate {
  private cached?: { mtimeMs: number; text: string };

  constructor(readonly path: string) {}

  text(): string {
    let st;
    try {
      st = statSync(this.path);
    } catch {
      throw new ArtifactMissing(`the install script template is not at ${this.path}`);
    }
    if (this.cached?.mtimeMs !== st.mtimeMs) this.cached = { mtimeMs: st.mtimeMs, text: readFileSync(this.path, "utf8") };
    return this.cached.text;
  }
}

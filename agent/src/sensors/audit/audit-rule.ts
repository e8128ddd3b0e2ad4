import { execFile } from "node:child_process";
import { VIGIL_EXEC_KEY } from "./audit-exec";

/** Runs auditctl with arguments; resolves with stdout, rejects with its stderr. Injectable for tests. */
export type Auditctl = (args: string[]) => Promise<string>;

export const runAuditctl: Auditctl = (args) =>
  new Promise((resolve, reject) => {
    execFile("auditctl", args, { timeout: 5000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`auditctl ${args.join(" ")}: ${(stderr || err.message).trim().split("\n")[0]}`));
      else resolve(stdout);
    });
  });

/** The audit daemon's pid from `auditctl -s` (0: none registered, so nothing writes the log). */
export async function auditdPid(auditctl: Auditctl = runAuditctl): Promise<number> {
  const status = await auditctl(["-s"]);
  const m = /^pid (\d+)$/m.exec(status);
  return m ? Number(m[1]) : 0;
}

/** The execve rule per ABI: 64-bit, and 32-bit programs on a 64-bit kernel (absent on some arches). */
const RULES = [
  ["always,exit", "-F", "arch=b64", "-S", "execve,execveat", "-k", VIGIL_EXEC_KEY],
  ["always,exit", "-F", "arch=b32", "-S", "execve,execveat", "-k", VIGIL_EXEC_KEY],
] as const;

/**
 * The one audit rule Vigil adds to a host (every successful exec, keyed `vigil-exec`), and takes
 * away at stop. A rule left by a crashed agent is found by its key and adopted, so it is removed
 * at the next stop instead of piling up. Nothing else in the host's audit rules is touched.
 */
export class AuditExecRule {
  /** ABIs whose rule is in place and ours to remove. */
  private installed: (typeof RULES)[number][] = [];

  constructor(private readonly auditctl: Auditctl = runAuditctl) {}

  get active(): boolean {
    return this.installed.length > 0;
  }

  /** Installs the rule; "" on success, else why not (the 32-bit rule failing alone is fine). */
  async install(): Promise<string> {
    const present = await this.auditctl(["-l"]).catch(() => "");
    const problems: string[] = [];
    for (const rule of RULES) {
      const arch = rule[2];
      const already = present.split("\n").some((l) => l.includes(arch) && l.includes(`key=${VIGIL_EXEC_KEY}`));
      try {
        if (!already) await this.auditctl(["-a", ...rule]);
        this.installed.push(rule);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    return this.installed.some((r) => r[2] === "arch=b64") ? "" : problems.join("; ");
  }

  /** Removes what install() put in place; "" on success, else what is left behind. */
  async remove(): Promise<string> {
    const problems: string[] = [];
    for (const rule of this.installed) {
      await this.auditctl(["-d", ...rule]).catch((err: unknown) => problems.push((err as Error).message));
    }
    this.installed = [];
    return problems.join("; ");
  }
}

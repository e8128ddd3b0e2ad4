import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeJsonAtomic } from "../platform/linux/atomic-file";
import { join } from "node:path";
import { isSea } from "node:sea";
import { Inventory } from "@vigil/proto";
import type { Log } from "../util/log";

/** The child's output bound: a full inventory of a large host is a few hundred KiB. */
const MAX_OUTPUT_BYTES = 8 << 20;
const DAY_MS = 86_400_000;

export interface InventoryReporterOptions {
  stateDir: string;
  /** Sends one inventory to the controller; false when not connected (it is retried later). */
  send: (inv: Inventory) => boolean;
  log: Log;
  /** Collects one inventory; default: `vigil-agent inventory` as a child process. */
  collect?: (reason: string) => Promise<Inventory>;
  intervalMs?: number;
}

/** How this very program is started again: the SEA binary alone, or node with the bundle. */
function selfCommand(): string[] {
  return isSea() ? [process.execPath] : [process.execPath, process.argv[1] ?? ""];
}

/** Runs `vigil-agent inventory` and reads its JSON: the heavy library lives and dies in the child. */
export function collectInChild(reason: string, timeoutMs = 120_000): Promise<Inventory> {
  const [cmd, ...pre] = selfCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...pre, "inventory", "--reason", reason], { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout!.on("data", (d: Buffer) => {
      bytes += d.length;
      if (bytes > MAX_OUTPUT_BYTES) child.kill("SIGKILL");
      else chunks.push(d);
    });
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`inventory child ${signal ?? `exit ${code}`}${bytes > MAX_OUTPUT_BYTES ? " (output over 8 MiB)" : ""}: ${stderr.trim()}`));
      try {
        resolve(Inventory.fromJSON(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      } catch (err) {
        reject(new Error(`inventory child wrote no valid JSON: ${(err as Error).message}`));
      }
    });
  });
}

/**
 * Sends the host inventory at the first connection, then daily, and when the controller asks.
 * One collection at a time; the last send time survives restarts, so a restarting agent does not
 * re-inventory its host each time.
 */
export class InventoryReporter {
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly stateFile: string;
  private lastSentMs = 0;

  constructor(private readonly o: InventoryReporterOptions) {
    this.stateFile = join(o.stateDir, "inventory-state.json");
    try {
      const s = JSON.parse(readFileSync(this.stateFile, "utf8")) as { lastSentMs?: unknown };
      if (typeof s.lastSentMs === "number" && Number.isFinite(s.lastSentMs)) this.lastSentMs = s.lastSentMs;
    } catch {
      this.lastSentMs = 0;
    }
  }

  start(): void {
    this.timer = setInterval(() => this.onConnected(), Math.min(this.o.intervalMs ?? DAY_MS, 3_600_000));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** On every (re)connection and hourly: collects when none was sent yet or the last is a day old. */
  onConnected(): void {
    const due = this.lastSentMs === 0 ? "first" : Date.now() - this.lastSentMs >= (this.o.intervalMs ?? DAY_MS) ? "daily" : undefined;
    if (due) void this.run(due);
  }

  onRequest(): void {
    void this.run("requested");
  }

  private async run(reason: string): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const inv = await (this.o.collect ?? collectInChild)(reason);
      if (!this.o.send(inv)) return;
      this.lastSentMs = Date.now();
      writeJsonAtomic(this.stateFile, { lastSentMs: this.lastSentMs });
      this.o.log.info("inventory sent", { reason, packages: inv.packages.length, listeners: inv.listeners.length });
    } catch (err) {
      this.o.log.warn("inventory failed", { reason, error: String(err) });
    } finally {
      this.busy = false;
    }
  }
}

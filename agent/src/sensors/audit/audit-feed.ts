import { readFileSync } from "node:fs";
import net from "node:net";
import { LineSplitter, LogFollower } from "../tail";

/** auditd's af_unix plugin configuration, where a dispatcher socket is declared. */
export const AF_UNIX_PLUGIN_CONF = "/etc/audit/plugins.d/af_unix.conf";
/** An audit record line is bounded by the kernel (8970 bytes); more is not a record. */
const MAX_LINE = 16 * 1024;

/**
 * The socket auditd's af_unix plugin writes to, when that plugin is active in `string` format
 * (the binary format is not read); undefined otherwise.
 */
export function dispatcherSocket(confPath = AF_UNIX_PLUGIN_CONF): string | undefined {
  let text: string;
  try {
    text = readFileSync(confPath, "utf8");
  } catch {
    return undefined;
  }
  const conf = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\w+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) conf.set(m[1]!, m[2]!);
  }
  if (conf.get("active") !== "yes" || (conf.get("format") ?? "string") !== "string") return undefined;
  return (conf.get("args") ?? "").split(/\s+/).find((a) => a.startsWith("/"));
}

export interface AuditFeed {
  /** "dispatcher socket /run/…" or "log /var/log/audit/audit.log". */
  readonly description: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reads audit records from auditd's dispatcher (af_unix plugin) with a plain socket: records
 * arrive as auditd writes them, without waiting for the log's flush or polling a file. The
 * socket is re-dialled after auditd restarts; lines are bounded.
 */
export class DispatcherFeed implements AuditFeed {
  private socket: net.Socket | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly splitter = new LineSplitter(MAX_LINE);

  constructor(
    private readonly path: string,
    private readonly onLines: (lines: string[]) => void,
    private readonly onStatus: (problem: string) => void,
  ) {}

  get description(): string {
    return `dispatcher socket ${this.path}`;
  }

  /** Resolves once connected; rejects when the socket cannot be reached (the caller reads the log instead). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.path);
      s.once("connect", () => {
        s.off("error", reject);
        this.attach(s);
        resolve();
      });
      s.once("error", reject);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.socket?.destroy();
    this.socket = undefined;
  }

  private attach(s: net.Socket): void {
    this.socket = s;
    this.splitter.reset();
    this.onStatus("");
    s.on("data", (chunk: Buffer) => {
      const lines = this.splitter.push(chunk);
      if (lines.length) this.onLines(lines);
    });
    s.on("error", (err) => this.onStatus(`${this.description}: ${err.message}`));
    s.on("close", () => {
      if (this.stopped) return;
      this.onStatus(`${this.description} closed (auditd restarting?); re-dialling`);
      this.redial();
    });
  }

  private redial(): void {
    this.retry = setTimeout(() => {
      const s = net.connect(this.path);
      s.once("connect", () => this.attach(s));
      s.once("error", () => {
        if (!this.stopped) this.redial();
      });
    }, 1000);
    this.retry.unref();
  }
}

/** Reads the audit log from its end (kept across rotation, offset saved). */
export class LogFeed implements AuditFeed {
  private readonly follower: LogFollower;

  constructor(
    private readonly file: string,
    stateDir: string,
    onLines: (lines: string[]) => void,
    onStatus: (problem: string, code?: string) => void,
  ) {
    this.follower = new LogFollower({ sensor: "audit-exec", stateDir, source: { file, pollMs: 100, onLines }, onStatus });
  }

  get description(): string {
    return `log ${this.file}`;
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }
}

import { lookup } from "node:dns/promises";
import { isIP, connect } from "node:net";
import { join } from "node:path";
import { readJsonState, writeJsonAtomic } from "../platform/linux/atomic-file";
import type { Log } from "../util/log";

/** "host:port" or "[v6]:port", as the config validated it. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) throw new Error(`controller address ${address} is not HOST:PORT`);
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}

/**
 * The controller's addresses, which isolation must keep reachable. The last resolution
 * is persisted: an isolated host has no DNS, yet must re-apply isolation after a reboot
 * with the controller still allowed.
 */
export class ControllerEndpoints {
  readonly host: string;
  readonly port: number;
  private addresses: string[] = [];
  private readonly path: string;

  constructor(
    address: string,
    stateDir: string,
    private readonly log: Log,
  ) {
    ({ host: this.host, port: this.port } = splitHostPort(address));
    this.path = join(stateDir, "controller-addresses.json");
    if (isIP(this.host)) this.addresses = [this.host];
    else {
      try {
        const saved = readJsonState(this.path) as { host?: string; addresses?: unknown } | undefined;
        if (saved?.host === this.host && Array.isArray(saved.addresses)) this.addresses = saved.addresses.filter((a): a is string => typeof a === "string" && isIP(a) !== 0);
      } catch (e) {
        log.warn("ignoring unreadable controller address cache", { error: (e as Error).message });
      }
    }
  }

  list(): string[] {
    return [...this.addresses];
  }

  /** Re-resolves a host name; keeps the previous addresses when resolution fails. */
  async refresh(): Promise<void> {
    if (isIP(this.host)) return;
    try {
      const found = [...new Set((await lookup(this.host, { all: true })).map((a) => a.address))].sort();
      if (!found.length) return;
      if (found.join() !== [...this.addresses].sort().join()) writeJsonAtomic(this.path, { host: this.host, addresses: found });
      this.addresses = found;
    } catch (e) {
      this.log.warn("cannot resolve the controller; keeping the last known addresses", { host: this.host, known: this.addresses, error: (e as Error).message });
    }
  }

  /** Whether a fresh TCP connection to any controller address completes (proves the rules let it through). */
  async reachable(timeoutMs = 3000): Promise<boolean> {
    const tries = this.addresses.map((a) => tcpConnects(a, this.port, timeoutMs));
    if (!tries.length) return false;
    return (await Promise.all(tries)).some(Boolean);
  }
}

function tcpConnects(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

import { join } from "node:path";
import { COMMAND_LIMITS } from "@vigil/proto";
import { type IpPrefix, parsePrefix, prefixContains } from "./ip";
import type { Nft } from "./nft";
import { SerialQueue } from "./serial";
import { readJsonState, writeJsonAtomic } from "../platform/linux/atomic-file";

export const BLOCK_FAMILY = "inet";
export const BLOCK_TABLE = "vigil_block";
/** Longest block the agent accepts; longer ones must be re-issued (and are then re-reviewed). */
export const MAX_BLOCK_SECONDS = COMMAND_LIMITS.blockTtlMaxSeconds;

export interface BlockEntry {
  /** Canonical address or CIDR. */
  prefix: string;
  /** Epoch ms when the kernel drops the element; null = until unblocked. */
  expiresAtMs: number | null;
  commandId: string;
  addedAtMs: number;
}

export interface BlockDeps {
  nft: Nft;
  stateDir: string;
  /** Addresses that must never be blocked (the controller's), read at every block. */
  protectedAddresses: () => string[];
  now?: () => number;
}

const STATE_FILE = "blocks.json";
const LOOPBACK = [parsePrefix("127.0.0.0/8"), parsePrefix("::1")];

/**
 * Owns the `inet vigil_block` table: two interval sets (v4, v6) whose elements carry
 * their own timeout, so an expiring block ends on time in the kernel even while the
 * agent is down. Kept apart from the isolation table so release leaves blocks alone.
 */
export class BlockManager {
  private readonly queue = new SerialQueue();
  private readonly statePath: string;
  private readonly now: () => number;

  constructor(private readonly deps: BlockDeps) {
    this.statePath = join(deps.stateDir, STATE_FILE);
    this.now = deps.now ?? Date.now;
  }

  /** Blocks still in force according to persisted state. */
  list(): BlockEntry[] {
    const t = this.now();
    return this.load().filter((e) => e.expiresAtMs === null || e.expiresAtMs > t);
  }

  /** Why this prefix may not be blocked, or null when it may. */
  refusal(p: IpPrefix): string | null {
    for (const lo of LOOPBACK) if (prefixContains(p, lo) || prefixContains(lo, p)) return `${p.text} covers loopback`;
    for (const a of this.deps.protectedAddresses()) {
      const addr = parsePrefix(a);
      if (prefixContains(p, addr)) return `${p.text} covers the controller address ${addr.text}; blocking it would strand the host`;
    }
    return null;
  }

  block(ip: string, opts: { ttlSeconds?: number; commandId: string }): Promise<BlockEntry> {
    return this.queue.run(async () => {
      const p = parsePrefix(ip);
      const why = this.refusal(p);
      if (why) throw new Error(why);
      if (opts.ttlSeconds !== undefined && (opts.ttlSeconds < 1 || opts.ttlSeconds > MAX_BLOCK_SECONDS)) throw new Error(`ttlSeconds out of range`);
      await this.ensureTable();
      const set = setFor(p);
      const elem = opts.ttlSeconds === undefined ? p.text : `${p.text} timeout ${opts.ttlSeconds}s`;
      // add+delete+add: replaces an existing element (and its old timeout) in one transaction.
      await this.deps.nft.apply(
        `add element ${BLOCK_FAMILY} ${BLOCK_TABLE} ${set} { ${p.text} }\n` +
          `delete element ${BLOCK_FAMILY} ${BLOCK_TABLE} ${set} { ${p.text} }\n` +
          `add element ${BLOCK_FAMILY} ${BLOCK_TABLE} ${set} { ${elem} }\n`,
      );
      const at = this.now();
      const entry: BlockEntry = { prefix: p.text, expiresAtMs: opts.ttlSeconds === undefined ? null : at + opts.ttlSeconds * 1000, commandId: opts.commandId, addedAtMs: at };
      this.save([...this.list().filter((e) => e.prefix !== p.text), entry]);
      return entry;
    });
  }

  /** Idempotent: unblocking an address that is not blocked succeeds and reports so. */
  unblock(ip: string): Promise<{ wasBlocked: boolean }> {
    return this.queue.run(async () => {
      const p = parsePrefix(ip);
      const before = this.list();
      if (await this.deps.nft.tableExists(BLOCK_FAMILY, BLOCK_TABLE)) {
        const set = setFor(p);
        await this.deps.nft.apply(`add element ${BLOCK_FAMILY} ${BLOCK_TABLE} ${set} { ${p.text} }\ndelete element ${BLOCK_FAMILY} ${BLOCK_TABLE} ${set} { ${p.text} }\n`);
      }
      this.save(before.filter((e) => e.prefix !== p.text));
      return { wasBlocked: before.some((e) => e.prefix === p.text) };
    });
  }

  /**
   * At agent start: rebuild the table from state with each block's remaining time,
   * dropping the ones that expired while the agent was down.
   */
  reapplyOnStart(): Promise<{ reapplied: number; error?: string }> {
    return this.queue.run(async () => {
      const live = this.list();
      this.save(live);
      try {
        await this.deps.nft.apply(this.ruleset(live));
        return { reapplied: live.length };
      } catch (e) {
        return { reapplied: 0, error: (e as Error).message };
      }
    });
  }

  private async ensureTable(): Promise<void> {
    if (await this.deps.nft.tableExists(BLOCK_FAMILY, BLOCK_TABLE)) return;
    await this.deps.nft.apply(this.ruleset(this.list()));
  }

  /** The whole table with the given elements, replacing any existing version atomically. */
  ruleset(entries: BlockEntry[]): string {
    const t = this.now();
    const elems = (fam: 4 | 6): string => {
      const items = entries.filter((e) => parsePrefix(e.prefix).family === fam).map((e) => (e.expiresAtMs === null ? e.prefix : `${e.prefix} timeout ${Math.max(1, e.expiresAtMs - t)}ms`));
      return items.length ? ` elements = { ${items.join(", ")} };` : "";
    };
    const chain = (name: string, rules: string[]): string => [`  chain ${name} {`, `    type filter hook ${name} priority -5; policy accept;`, ...rules.map((r) => `    ${r}`), `  }`].join("\n");
    const both = ["ip saddr @block4 drop", "ip daddr @block4 drop", "ip6 saddr @block6 drop", "ip6 daddr @block6 drop"];
    return [
      `add table ${BLOCK_FAMILY} ${BLOCK_TABLE}`,
      `delete table ${BLOCK_FAMILY} ${BLOCK_TABLE}`,
      `table ${BLOCK_FAMILY} ${BLOCK_TABLE} {`,
      `  comment "vigil IP blocks; elements expire in the kernel"`,
      `  set block4 { type ipv4_addr; flags interval, timeout;${elems(4)} }`,
      `  set block6 { type ipv6_addr; flags interval, timeout;${elems(6)} }`,
      chain("input", ["ip saddr @block4 drop", "ip6 saddr @block6 drop"]),
      chain("output", ["ip daddr @block4 drop", "ip6 daddr @block6 drop"]),
      chain("forward", both),
      `}`,
      ``,
    ].join("\n");
  }

  private load(): BlockEntry[] {
    const raw = readJsonState(this.statePath);
    if (raw === undefined) return [];
    const entries = (raw as { entries?: unknown }).entries;
    if (!Array.isArray(entries)) throw new Error(`corrupt state file ${this.statePath}: no entries array`);
    return entries as BlockEntry[];
  }

  private save(entries: BlockEntry[]): void {
    writeJsonAtomic(this.statePath, { entries });
  }
}

function setFor(p: IpPrefix): string {
  return p.family === 4 ? "block4" : "block6";
}

import { MAX_POLICY_BYTES, MAX_POLICY_IOCS, policyDigest } from "@vigil/proto";
import type { Ioc } from "@vigil/detection";
import type { AgentPolicySpec } from "./policy-spec";

/** What the catalog offers a policy: live IOCs, best first, a page at a time. */
export interface PolicyIocSource {
  countLive(): Promise<number>;
  bestFirst(): AsyncIterable<Ioc[]>;
}

/** How much of the IOC catalog a policy carries, and why not all of it (GET /agent-policy shows this). */
export interface IocDelivery {
  /** Live (unexpired) indicators in the catalog. */
  catalog: number;
  shipped: number;
  leftOut: number;
  /** What stopped the policy from carrying more: the count an agent indexes, or the policy's size. */
  limitedBy: "count" | "bytes" | null;
  selection: string;
}

export interface BuiltPolicy {
  version: number;
  json: string;
  bytes: Buffer;
  digest: string;
  iocs: IocDelivery | null;
}

export const IOC_SELECTION = "highest confidence first, then most recently updated";

/** Room kept for the JSON around the IOC sets (keys, commas, group headers that are measured late). */
const SLACK_BYTES = 64 * 1024;

interface IocSet {
  kind: Ioc["kind"];
  confidence: number;
  source: string;
  values: string[];
}

/**
 * The policy document agents receive. IOCs travel as sets of values sharing kind, confidence and
 * source (a feed's 100k addresses cost their values, not 100k copies of the same fields), and only
 * as many as fit MAX_POLICY_IOCS and MAX_POLICY_BYTES, best first: a catalog of any size yields a
 * policy that can be delivered, with the remainder counted.
 */
export async function buildPolicyDocument(version: number, spec: AgentPolicySpec, resolveRule: (id: string) => string, iocs: PolicyIocSource): Promise<BuiltPolicy> {
  const rules = spec.rules.map((r) => ({ id: r.id, yaml: r.yaml ?? resolveRule(r.id) }));
  const base = { version, rules, iocs: [] as never[], actions: spec.actions };
  if (!spec.includeIocs) return finish(JSON.stringify(base), version, null);

  const budget = MAX_POLICY_BYTES - Buffer.byteLength(JSON.stringify(base)) - SLACK_BYTES;
  const sets = new Map<string, IocSet>();
  let bytes = 0;
  let shipped = 0;
  let limitedBy: IocDelivery["limitedBy"] = null;
  outer: for await (const page of iocs.bestFirst()) {
    for (const ioc of page) {
      if (shipped >= MAX_POLICY_IOCS) {
        limitedBy = "count";
        break outer;
      }
      const key = `${ioc.kind}\u0000${ioc.confidence}\u0000${ioc.source}`;
      let set = sets.get(key);
      // A value costs its quotes and a comma; a new set its header (kind, confidence, source).
      const cost = Buffer.byteLength(ioc.value) + 3 + (set ? 0 : Buffer.byteLength(JSON.stringify(ioc.source)) + 64);
      if (bytes + cost > budget) {
        limitedBy = "bytes";
        break outer;
      }
      if (!set) sets.set(key, (set = { kind: ioc.kind, confidence: ioc.confidence, source: ioc.source, values: [] }));
      set.values.push(ioc.value);
      bytes += cost;
      shipped++;
    }
  }
  const catalog = limitedBy ? await iocs.countLive() : shipped;
  const json = `${JSON.stringify(base).slice(0, -1)},"iocSets":[${(await Promise.all([...sets.values()].map(setJson))).join(",")}]}`;
  return finish(json, version, { catalog, shipped, leftOut: Math.max(0, catalog - shipped), limitedBy, selection: IOC_SELECTION });
}

/** Values serialised this many at a time, with the thread handed back in between (one set may hold 200k). */
const VALUES_PER_STEP = 10_000;

async function setJson(set: IocSet): Promise<string> {
  const parts: string[] = [];
  for (let i = 0; i < set.values.length; i += VALUES_PER_STEP) {
    parts.push(JSON.stringify(set.values.slice(i, i + VALUES_PER_STEP)).slice(1, -1));
    await new Promise((r) => setImmediate(r));
  }
  return `${JSON.stringify({ kind: set.kind, confidence: set.confidence, source: set.source }).slice(0, -1)},"values":[${parts.join(",")}]}`;
}

function finish(json: string, version: number, iocs: IocDelivery | null): BuiltPolicy {
  const bytes = Buffer.from(json, "utf8");
  if (bytes.length > MAX_POLICY_BYTES) throw new Error(`agent policy of ${bytes.length} bytes exceeds ${MAX_POLICY_BYTES}; this is a bug in the size budget`);
  return { version, json, bytes, digest: policyDigest(bytes), iocs };
}

import { parsePrefix, cidrContains, parseIp } from "@vigil/detection";

export interface GuardRailConfig {
  /** Automatic isolations allowed per rolling hour across the fleet. */
  maxAutoIsolationsPerHour: number;
  /** Agents carrying any of these tags are never isolated without an analyst. */
  protectedTags: string[];
  /** Addresses never blocked, whatever a playbook says. */
  neverBlock: string[];
}

export const DEFAULT_GUARD_RAILS: GuardRailConfig = { maxAutoIsolationsPerHour: 5, protectedTags: ["critical"], neverBlock: [] };

export type GuardDecision = { kind: "auto" } | { kind: "approval"; reason: string } | { kind: "refused"; reason: string };

export interface GuardInput {
  action: string;
  approval: "auto" | "analyst";
  agentTags: string[];
  /** Times (ms) of automatic isolations already issued. */
  recentAutoIsolations: number[];
  /** For block_ip. */
  ip?: string;
  now: number;
}

function inNeverBlock(ip: string, list: string[]): string | undefined {
  const addr = parseIp(ip);
  if (!addr) return undefined;
  for (const entry of list) {
    const c = parsePrefix(entry);
    if (c.ok && cidrContains(c.cidr, addr)) return entry;
  }
  return undefined;
}

/** Pure: whether a playbook action may run on its own, needs an analyst, or must not run. */
export function guard(input: GuardInput, cfg: GuardRailConfig): GuardDecision {
  if (input.action === "block_ip" && input.ip) {
    const hit = inNeverBlock(input.ip, cfg.neverBlock);
    if (hit) return { kind: "refused", reason: `${input.ip} is on the never-block list (${hit})` };
  }
  if (input.approval === "analyst") return { kind: "approval", reason: "playbook requires analyst approval" };
  if (input.action === "isolate") {
    const tag = input.agentTags.find((t) => cfg.protectedTags.includes(t));
    if (tag) return { kind: "approval", reason: `agent is tagged ${tag}: isolation needs an analyst` };
    const recent = input.recentAutoIsolations.filter((t) => input.now - t < 3_600_000).length;
    if (recent >= cfg.maxAutoIsolationsPerHour) return { kind: "approval", reason: `automatic isolation limit reached (${recent}/${cfg.maxAutoIsolationsPerHour} in the last hour)` };
  }
  return { kind: "auto" };
}

import { type IpPrefix, parsePrefix } from "./ip";

export const ISOLATE_FAMILY = "inet";
export const ISOLATE_TABLE = "vigil_isolate";

/** What an isolated host may still talk to. */
export interface IsolationPolicy {
  /** The controller the agent streams to: every address it may resolve to, and its gRPC port. */
  controller: { addresses: string[]; port: number };
  /** Admin allowlist (forensics workstation, jump host): all traffic to and from these CIDRs. */
  allowCidrs: string[];
  /** DNS servers the host may query while isolated; empty means no DNS. */
  dnsServers: string[];
  /** Whether DHCP (v4 and v6) stays allowed so the host keeps its lease. */
  allowDhcp: boolean;
}

function split(list: readonly string[], what: string): { v4: string[]; v6: string[] } {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const item of list) {
    let p: IpPrefix;
    try {
      p = parsePrefix(item);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
    }
    (p.family === 4 ? v4 : v6).push(p.text);
  }
  return { v4: [...new Set(v4)], v6: [...new Set(v6)] };
}

function set(name: string, type: "ipv4_addr" | "ipv6_addr", elements: string[]): string {
  const elems = elements.length ? ` elements = { ${elements.join(", ")} };` : "";
  return `  set ${name} { type ${type}; flags interval;${elems} }`;
}

/**
 * The whole isolation table as one nft script. It starts by creating and deleting
 * the table so that applying it replaces any previous version in the same
 * transaction (atomic, idempotent).
 *
 * Deliberately no blanket "ct state established accept": that would keep an
 * attacker's already-open reverse shell alive through the isolation. Established
 * traffic is accepted only from the peers that are allowed anyway.
 */
export function buildIsolationRuleset(policy: IsolationPolicy): string {
  const { port } = policy.controller;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`controller port out of range: ${port}`);
  if (policy.controller.addresses.length === 0) throw new Error("controller: no address to keep reachable; refusing to isolate blind");
  const ctrl = split(policy.controller.addresses, "controller address");
  const allow = split(policy.allowCidrs, "allowlist");
  const dns = split(policy.dnsServers, "dns server");
  const t = `${ISOLATE_FAMILY} ${ISOLATE_TABLE}`;

  const input: string[] = [
    `iif "lo" accept`,
    `ip saddr @ctrl4 tcp sport ${port} ct state established accept`,
    `ip6 saddr @ctrl6 tcp sport ${port} ct state established accept`,
    `ip saddr @allow4 accept`,
    `ip6 saddr @allow6 accept`,
    // ICMP errors (PMTU, unreachable) for permitted flows, and IPv6 neighbour discovery,
    // without which no IPv6 peer (controller included) is reachable at all.
    `ct state related meta l4proto { icmp, ipv6-icmp } accept`,
    `icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept`,
  ];
  const output: string[] = [
    `oif "lo" accept`,
    `ip daddr @ctrl4 tcp dport ${port} accept`,
    `ip6 daddr @ctrl6 tcp dport ${port} accept`,
    `ip daddr @allow4 accept`,
    `ip6 daddr @allow6 accept`,
    `ct state related meta l4proto { icmp, ipv6-icmp } accept`,
    `icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept`,
  ];
  if (policy.dnsServers.length) {
    input.push(`ip saddr @dns4 meta l4proto { tcp, udp } th sport 53 ct state established accept`);
    input.push(`ip6 saddr @dns6 meta l4proto { tcp, udp } th sport 53 ct state established accept`);
    output.push(`ip daddr @dns4 meta l4proto { tcp, udp } th dport 53 accept`);
    output.push(`ip6 daddr @dns6 meta l4proto { tcp, udp } th dport 53 accept`);
  }
  if (policy.allowDhcp) {
    input.push(`udp sport 67 udp dport 68 accept`, `udp sport 547 udp dport 546 accept`);
    output.push(`udp sport 68 udp dport 67 accept`, `udp sport 546 udp dport 547 accept`);
  }

  const chain = (name: string, hook: string, rules: string[]): string =>
    [`  chain ${name} {`, `    type filter hook ${hook} priority -10; policy drop;`, ...rules.map((r) => `    ${r}`), `  }`].join("\n");

  return [
    `add table ${t}`,
    `delete table ${t}`,
    `table ${t} {`,
    `  comment "vigil host isolation; removed only by vigil release"`,
    set("ctrl4", "ipv4_addr", ctrl.v4),
    set("ctrl6", "ipv6_addr", ctrl.v6),
    set("allow4", "ipv4_addr", allow.v4),
    set("allow6", "ipv6_addr", allow.v6),
    set("dns4", "ipv4_addr", dns.v4),
    set("dns6", "ipv6_addr", dns.v6),
    chain("input", "input", input),
    chain("output", "output", output),
    // An isolated host routes nothing: containers and VMs behind it are cut off too.
    chain("forward", "forward", []),
    `}`,
    ``,
  ].join("\n");
}

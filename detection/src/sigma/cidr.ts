import { cidrContains, parseIp, parsePrefix, unmapV4 } from "../net/ip";

/** The `cidr` modifier over the one IP/CIDR module (net/ip). */

export type IpTest = (value: string) => boolean;

/** Compile `10.0.0.0/8` or `fe80::/10` (a bare address means /32 or /128); throws on bad input. */
export function compileCidr(spec: string): IpTest {
  const parsed = parsePrefix(spec.trim());
  if (!parsed.ok) throw new Error(`'${spec}' is not a CIDR network: ${parsed.error}`);
  const net = parsed.cidr;
  return (value) => {
    // Event values come from the host: a zone id ("fe80::1%eth0") names an interface, not another address.
    const ip = parseIp(value, { allowZone: true });
    if (!ip) return false;
    if (cidrContains(net, ip)) return true;
    // An IPv4 address seen as ::ffff:a.b.c.d still belongs to an IPv4 network.
    const v4 = net.version === 4 ? unmapV4(ip) : undefined;
    return v4 !== undefined && cidrContains(net, v4);
  };
}

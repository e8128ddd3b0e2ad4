import { hostname, networkInterfaces } from "node:os";
import { isIP } from "node:net";

/**
 * Names the server certificate is valid for: the configured list, or by default
 * localhost, loopback and this host's name and addresses, so agents can dial
 * the controller by whichever of them they were given.
 */
export function serverNames(configured: string[] | undefined): { dns: string[]; ips: string[] } {
  const all = configured?.length
    ? configured
    : ["localhost", "127.0.0.1", "::1", hostname(), ...Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address.replace(/%.*$/, "")))];
  const dns = new Set<string>();
  const ips = new Set<string>();
  for (const n of all.map((s) => s.trim()).filter(Boolean)) (isIP(n) ? ips : dns).add(n);
  return { dns: [...dns], ips: [...ips] };
}

import { isIPv4 } from "node:net";

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6 (what a dual-stack socket reports). */
export function isLoopbackAddress(addr: string | undefined): boolean {
  if (!addr) return false;
  const v4 = addr.startsWith("::ffff:") ? addr.slice(7) : addr;
  if (isIPv4(v4)) return v4.startsWith("127.");
  return addr === "::1";
}

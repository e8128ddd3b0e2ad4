import { endianness } from "node:os";
import { formatHostIp } from "@vigil/detection";

export type NetProtocol = "tcp" | "tcp6" | "udp" | "udp6";
export const NET_TABLES: readonly NetProtocol[] = ["tcp", "tcp6", "udp", "udp6"];

/** One row of /proc/net/{tcp,tcp6,udp,udp6}. */
export interface SocketEntry {
  protocol: NetProtocol;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** ss-style name: ESTABLISHED, LISTEN, TIME_WAIT, UNCONN (unconnected UDP), ... */
  state: string;
  uid: number;
  /** Socket inode; 0 for sockets no process holds any more (TIME_WAIT, orphans). */
  inode: number;
}

// include/net/tcp_states.h
const TCP_STATES: Record<number, string> = {
  1: "ESTABLISHED",
  2: "SYN_SENT",
  3: "SYN_RECV",
  4: "FIN_WAIT1",
  5: "FIN_WAIT2",
  6: "TIME_WAIT",
  7: "CLOSE",
  8: "CLOSE_WAIT",
  9: "LAST_ACK",
  10: "LISTEN",
  11: "CLOSING",
  12: "NEW_SYN_RECV",
};

const LITTLE_ENDIAN = endianness() === "LE";

/** The kernel prints each 32-bit word of the address in host byte order. */
function wordBytes(hex8: string): number[] {
  const b = [0, 2, 4, 6].map((i) => parseInt(hex8.slice(i, i + 2), 16));
  return LITTLE_ENDIAN ? b.reverse() : b;
}

/** Decodes "0100007F" (v4) or 32 hex digits (v6). v4-mapped v6 (::ffff:a.b.c.d) comes back as plain v4. */
export function decodeAddress(hex: string): string {
  if (hex.length === 8) return wordBytes(hex).join(".");
  if (hex.length !== 32) throw new Error(`bad address "${hex}"`);
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) bytes.push(...wordBytes(hex.slice(w * 8, w * 8 + 8)));
  return formatHostIp(bytes);
}

/** "0100007F:1F90" → ["127.0.0.1", 8080]. */
export function decodeEndpoint(text: string): [string, number] {
  const colon = text.indexOf(":");
  if (colon < 0) throw new Error(`bad endpoint "${text}"`);
  return [decodeAddress(text.slice(0, colon)), parseInt(text.slice(colon + 1), 16)];
}

/**
 * Parses one /proc/net table. Malformed rows are skipped and counted in
 * `bad` rather than aborting the table.
 */
export function parseNetTable(protocol: NetProtocol, text: string): { entries: SocketEntry[]; bad: number } {
  const entries: SocketEntry[] = [];
  let bad = 0;
  const lines = text.split("\n");
  const isUdp = protocol.startsWith("udp");
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const f = line.split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    if (f.length < 10) {
      bad++;
      continue;
    }
    try {
      const [localAddress, localPort] = decodeEndpoint(f[1]!);
      const [remoteAddress, remotePort] = decodeEndpoint(f[2]!);
      const st = parseInt(f[3]!, 16);
      // UDP reuses TCP's numbers: 7 (CLOSE) is an unconnected socket, 1 a connected one.
      const state = isUdp && st === 7 ? "UNCONN" : (TCP_STATES[st] ?? `0x${f[3]}`);
      entries.push({ protocol, localAddress, localPort, remoteAddress, remotePort, state, uid: Number(f[7]), inode: Number(f[9]) });
    } catch {
      bad++;
    }
  }
  return { entries, bad };
}

import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { listPids } from "../platform/linux/processes";

export interface Connection {
  proto: "tcp" | "tcp6" | "udp" | "udp6";
  local: string;
  remote: string;
  state: string;
  uid: number;
  inode: number;
  /** Owning process, when the socket inode was found among open fds. */
  pid: number | null;
}

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
  "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
};

/** "0100007F:1F90" → "127.0.0.1:8080"; the kernel prints each 32-bit word in host (little-endian) order. */
export function decodeAddr(hex: string): string {
  const [addr = "", port = "0"] = hex.split(":");
  const words = addr.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  const p = parseInt(port, 16);
  if (bytes.length === 4) return `${bytes.join(".")}:${p}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return `[${groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::")}]:${p}`;
}

export function parseProcNet(text: string, proto: Connection["proto"]): Omit<Connection, "pid">[] {
  const out: Omit<Connection, "pid">[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !f[1] || !f[2] || !f[3]) continue;
    const state = proto.startsWith("tcp") ? (TCP_STATES[f[3]] ?? f[3]) : f[3] === "07" ? "UNCONN" : "CONNECTED";
    out.push({ proto, local: decodeAddr(f[1]), remote: decodeAddr(f[2]), state, uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}

/** socket inode → pid, from every process's fd table. */
function socketOwners(): Map<number, number> {
  const owners = new Map<number, number>();
  for (const pid of listPids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m?.[1] && !owners.has(Number(m[1]))) owners.set(Number(m[1]), pid);
      } catch {
        /* fd closed meanwhile */
      }
    }
  }
  return owners;
}

/** Sockets of the agent's network namespace, as /proc/net shows them. */
export function listConnections(): Connection[] {
  const owners = socketOwners();
  const all: Connection[] = [];
  for (const proto of ["tcp", "tcp6", "udp", "udp6"] as const) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${proto}`, "utf8");
    } catch {
      continue; // e.g. IPv6 disabled
    }
    for (const c of parseProcNet(text, proto)) all.push({ ...c, pid: owners.get(c.inode) ?? null });
  }
  return all;
}

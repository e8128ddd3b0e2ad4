import { NET_TABLES, decodeEndpoint, parseNetTable, type NetProtocol, type SocketEntry } from "../platform/linux/proc-net";
import { Procfs } from "../platform/linux/procfs";

export interface Connection {
  proto: NetProtocol;
  local: string;
  remote: string;
  state: string;
  uid: number;
  inode: number;
  /** Owning process, when the socket inode was found among open fds. */
  pid: number | null;
}

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

/** "127.0.0.1:8080", "[2001:db8::1]:80": an endpoint as evidence reports it. */
export function endpointText(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** "0100007F:1F90" → "127.0.0.1:8080", decoded by the one /proc/net reader in platform/linux. */
export function decodeAddr(hexEndpoint: string): string {
  return endpointText(...decodeEndpoint(hexEndpoint));
}

function toConnection(e: SocketEntry, pid: number | null): Connection {
  return {
    proto: e.protocol,
    local: endpointText(e.localAddress, e.localPort),
    remote: endpointText(e.remoteAddress, e.remotePort),
    state: e.state,
    uid: e.uid,
    inode: e.inode,
    pid,
  };
}

/** socket inode → pid, from every process's fd table. */
function socketOwners(procfs: Procfs): Map<number, number> {
  const owners = new Map<number, number>();
  for (const pid of procfs.listPids()) {
    for (const fd of procfs.fds(pid)) {
      const m = SOCKET_LINK.exec(procfs.fdTarget(pid, fd));
      if (m?.[1] && !owners.has(Number(m[1]))) owners.set(Number(m[1]), pid);
    }
  }
  return owners;
}

/** Sockets of the agent's network namespace, as /proc/net shows them. */
export function listConnections(procfs = new Procfs()): Connection[] {
  const owners = socketOwners(procfs);
  const all: Connection[] = [];
  for (const proto of NET_TABLES) {
    // "" when the table is absent (e.g. IPv6 disabled).
    for (const e of parseNetTable(proto, procfs.netTable(proto)).entries) all.push(toConnection(e, owners.get(e.inode) ?? null));
  }
  return all;
}

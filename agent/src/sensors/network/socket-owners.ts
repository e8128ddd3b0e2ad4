import type { Procfs } from "../../platform/linux/procfs";

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

/**
 * socket inode -> owning pid, found by reading /proc/pid/fd links. That is
 * the most expensive thing the network sensor does (~19 ms CPU for ~100
 * processes / 700 fds on this VM, where each readlink is a costly syscall), so
 * it is a search, not a rescan: only for inodes not yet known, visiting first
 * the processes that owned sockets before (servers accepting connections),
 * then processes new since the last search, then the rest, and stopping as
 * soon as every wanted inode is found. Inodes never found (the process exited,
 * or is not readable without root) cost one full pass, once.
 * When several processes share a socket (fork, SCM_RIGHTS) the lowest pid is
 * kept, which is usually the parent.
 */
export class SocketOwners {
  private readonly owners = new Map<number, number>();
  private socketPids = new Set<number>();
  private seenPids = new Set<number>();
  searches = 0;
  pidsVisited = 0;
  lastSearchMs = 0;

  constructor(private readonly procfs: Procfs) {}

  owner(inode: number): number | undefined {
    return this.owners.get(inode);
  }

  /** Finds owners for the unknown ones among `inodes`; returns whether a search ran. */
  resolve(inodes: Iterable<number>): boolean {
    const wanted = new Set<number>();
    for (const inode of inodes) if (inode !== 0 && !this.owners.has(inode)) wanted.add(inode);
    if (wanted.size === 0) return false;
    const t0 = performance.now();
    const pids = this.procfs.listPids();
    const prior = pids.filter((p) => this.socketPids.has(p));
    const fresh = pids.filter((p) => !this.socketPids.has(p) && !this.seenPids.has(p));
    const rest = pids.filter((p) => !this.socketPids.has(p) && this.seenPids.has(p));
    for (const pid of [...prior, ...fresh, ...rest]) {
      if (wanted.size === 0) break;
      this.visit(pid, wanted);
    }
    this.seenPids = new Set(pids);
    this.searches++;
    this.lastSearchMs = performance.now() - t0;
    return true;
  }

  /** Forgets sockets no longer in the tables, so the map stays as small as the connection table. */
  retain(live: ReadonlySet<number>): void {
    for (const inode of this.owners.keys()) if (!live.has(inode)) this.owners.delete(inode);
    this.socketPids = new Set(this.owners.values());
  }

  private visit(pid: number, wanted: Set<number>): void {
    this.pidsVisited++;
    let owns = false;
    for (const fd of this.procfs.fds(pid)) {
      const m = SOCKET_LINK.exec(this.procfs.fdTarget(pid, fd));
      if (!m) continue;
      const inode = Number(m[1]);
      owns = true;
      const current = this.owners.get(inode);
      if (current === undefined || pid < current) this.owners.set(inode, pid);
      wanted.delete(inode);
    }
    if (owns) this.socketPids.add(pid);
  }
}

import type { Procfs } from "../../platform/linux/procfs";

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

/**
 * socket inode -> owning pid, found by reading every /proc/pid/fd link.
 * That scan is the most expensive thing the network sensor does, so it runs
 * only when an inode shows up that the last scan did not see, and at most
 * once per call to refreshIfUnknown(). When several processes share a socket
 * (fork, SCM_RIGHTS) the lowest pid wins, which is usually the parent.
 */
export class SocketOwners {
  private owners = new Map<number, number>();
  scans = 0;
  lastScanMs = 0;

  constructor(private readonly procfs: Procfs) {}

  owner(inode: number): number | undefined {
    return this.owners.get(inode);
  }

  /** Rescans when any of `inodes` is unknown; returns whether a scan ran. */
  refreshIfUnknown(inodes: Iterable<number>): boolean {
    for (const inode of inodes) {
      if (inode !== 0 && !this.owners.has(inode)) {
        this.scan();
        return true;
      }
    }
    return false;
  }

  private scan(): void {
    const t0 = performance.now();
    const owners = new Map<number, number>();
    const pids = this.procfs.listPids().sort((a, b) => a - b);
    for (const pid of pids) {
      for (const fd of this.procfs.fds(pid)) {
        const m = SOCKET_LINK.exec(this.procfs.fdTarget(pid, fd));
        if (!m) continue;
        const inode = Number(m[1]);
        if (!owners.has(inode)) owners.set(inode, pid);
      }
    }
    this.owners = owners;
    this.scans++;
    this.lastScanMs = performance.now() - t0;
  }
}

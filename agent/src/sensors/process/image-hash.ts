import type { FileHasher } from "../../platform/linux/file-hasher";
import type { Procfs } from "../../platform/linux/procfs";

/**
 * The SHA-256 of the image a process executed, for the kernel-fed exec sources (eBPF, audit): the
 * /proc/<pid>/exe magic link reaches the exact inode executed; once the process is gone, the path
 * is the best left. Bounded by `waitMs` so a slow or huge file never holds the event back: the
 * event then goes out with no hash ("").
 */
export async function hashExecutedImage(hasher: FileHasher, procfs: Procfs, pid: number, exe: string, waitMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(""), waitMs);
  });
  const hashing = (async () => {
    const viaLink = await hasher.hash(procfs.exeLinkPath(pid));
    if (viaLink.outcome !== "error") return viaLink.sha256;
    return exe.startsWith("/") ? (await hasher.hash(exe)).sha256 : "";
  })();
  const sha = await Promise.race([hashing, timeout]);
  clearTimeout(timer);
  return sha;
}

import { existsSync, mkdirSync, readFileSync, rmdirSync } from "node:fs";
import { cgroup2MountPoint } from "../../src/platform/linux/cgroup-directory";

/** The host's cgroup2 mount, or why tests that create cgroups cannot run here. */
export function cgroup2Root(): { root: string } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: "not root (creating a cgroup needs it)" };
  const root = cgroup2MountPoint(readFileSync("/proc/self/mountinfo", "utf8"));
  return root === null ? { skip: "no cgroup2 mount" } : { root };
}

/**
 * Cgroups made for a test under the real cgroup2 mount (paths from the mount's root, as the kernel
 * reports them), removed again by `remove()`, innermost first, once their processes have left.
 */
export class TestCgroups {
  private readonly made: string[] = [];
  constructor(readonly root: string) {}

  /** Creates `path` (and its parents); returns the directory on disk. */
  make(path: string): string {
    const parts = path.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const dir = `${this.root}/${parts.slice(0, i).join("/")}`;
      if (existsSync(dir)) continue;
      mkdirSync(dir);
      this.made.push(dir);
    }
    return `${this.root}${path}`;
  }

  /** rmdir fails with EBUSY until the kernel has seen the last process leave: retried a while. */
  async remove(): Promise<void> {
    for (const dir of this.made.splice(0).reverse()) {
      for (let i = 0; i < 250 && existsSync(dir); i++) {
        try {
          rmdirSync(dir);
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      if (existsSync(dir)) throw new Error(`test cgroup ${dir} left behind`);
    }
  }
}

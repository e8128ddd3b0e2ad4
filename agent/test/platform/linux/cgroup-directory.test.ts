import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CgroupDirectory, cgroup2MountPoint } from "../../../src/platform/linux/cgroup-directory";
import { cgroup2Root, TestCgroups } from "../../helpers/test-cgroup";

const ID = "0123456789abcdef".repeat(4);
const ino = (path: string): bigint => statSync(path, { bigint: true }).ino;

/**
 * The walk reads only directory names and inode numbers, which every filesystem has: a tree of
 * plain directories in a temp dir stands in for the cgroup2 mount (whose directories' inodes are
 * the kernel's cgroup ids), and a temp dir with <pid>/cgroup files for /proc. The real cgroup2
 * mount is used at the end, as root.
 */
describe("cgroup ids named by walking the mount", () => {
  const base = mkdtempSync(join(tmpdir(), "vigil-cgroups-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  const tree = (dirs: string[]): string => {
    const root = join(base, `root${n++}`);
    for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
    mkdirSync(root, { recursive: true });
    return root;
  };

  it("a container's cgroup, found by its directory's inode and read for its id", async () => {
    const root = tree([`system.slice/docker-${ID}.scope`, "system.slice/ssh.service"]);
    const dir = new CgroupDirectory({ root, procRoot: join(base, "no-proc") });
    const id = ino(join(root, `system.slice/docker-${ID}.scope`));
    expect(dir.lookup(id)).toBeUndefined();
    expect(await dir.resolve(id)).toMatchObject({ path: `/system.slice/docker-${ID}.scope`, containerId: ID, containerRuntime: "docker" });
    // Cached: the next exec in it is a lookup, and the same walk named its neighbours.
    expect(dir.lookup(id)?.containerId).toBe(ID);
    expect(dir.lookup(ino(join(root, "system.slice/ssh.service")))?.systemdUnit).toBe("ssh.service");
    expect(dir.lookup(ino(root))?.path).toBe("/");
    expect(dir.stats).toMatchObject({ walks: 1, unresolved: 0, truncated: false });
  });

  it("a live process's /proc/<pid>/cgroup names it without a walk, once its inode checks out", async () => {
    const root = tree([`machine.slice/libpod-${ID}.scope`, "moved.slice"]);
    const proc = join(base, `proc${n++}`);
    mkdirSync(join(proc, "100"), { recursive: true });
    mkdirSync(join(proc, "101"), { recursive: true });
    writeFileSync(join(proc, "100", "cgroup"), "0::/moved.slice\n"); // moved on since its exec
    writeFileSync(join(proc, "101", "cgroup"), `0::/machine.slice/libpod-${ID}.scope\n`);
    const dir = new CgroupDirectory({ root, procRoot: proc });
    const id = ino(join(root, `machine.slice/libpod-${ID}.scope`));
    // pid 100 names a directory whose inode is not the id: not trusted. pid 101's is; 999 is gone.
    expect(await dir.resolve(id, [999, 100, 101])).toMatchObject({ containerId: ID, containerRuntime: "podman" });
    expect(dir.stats).toMatchObject({ walks: 0, fromProc: 1, entries: 1 });
  });

  it("stops at the depth bound and at the entry bound, and says it was cut", async () => {
    const deep = tree(["a/b/c/d/e"]);
    const shallow = new CgroupDirectory({ root: deep, procRoot: join(base, "no-proc"), maxDepth: 3 });
    expect(await shallow.resolve(ino(join(deep, "a/b/c")))).toMatchObject({ path: "/a/b/c" });
    expect((await shallow.resolve(ino(join(deep, "a/b/c/d")))).path).toBe(""); // below the bound (and the walk just ran)
    expect(shallow.stats.unresolved).toBe(1);

    const wide = tree(Array.from({ length: 50 }, (_, i) => `s${i}.slice/u${i}.service`));
    const small = new CgroupDirectory({ root: wide, procRoot: join(base, "no-proc"), maxEntries: 20 });
    await small.resolve(1n);
    expect(small.stats.entries).toBe(20);
    expect(small.stats.truncated).toBe(true);
    // Breadth first: the bound keeps top-level cgroups rather than the first subtree's depths.
    expect(small.lookup(ino(join(wide, "s0.slice/u0.service")))).toBeUndefined();
  });

  it("a flood of unknown ids walks once per interval, and ever less often while walks find none of them", async () => {
    const root = tree(["system.slice"]);
    let now = 0;
    const dir = new CgroupDirectory({ root, procRoot: join(base, "no-proc"), minWalkIntervalMs: 1000, maxWalkIntervalMs: 8000, now: () => now });
    // 5,000 ids no cgroup has (made and removed at once, say), all at the same moment.
    const flood = (from: number) => Promise.all(Array.from({ length: 5000 }, (_, i) => dir.resolve(BigInt(1_000_000 + from + i))));
    const walksAt = async (t: number): Promise<number> => {
      now = t;
      await flood(t);
      return dir.stats.walks;
    };
    expect(await walksAt(0)).toBe(1); // all 5,000 joined the one walk; it named none: next in 2 s
    expect(await walksAt(1999)).toBe(1);
    expect(await walksAt(2000)).toBe(2); // 4 s
    expect(await walksAt(5999)).toBe(2);
    expect(await walksAt(6000)).toBe(3); // 8 s, the ceiling
    expect(await walksAt(13_999)).toBe(3);
    expect(await walksAt(14_000)).toBe(4);
    expect(await walksAt(21_999)).toBe(4);
    expect(await walksAt(22_000)).toBe(5); // still 8 s
    expect(dir.stats.unresolved).toBe(9 * 5000);
    expect(dir.stats.deferred).toBe(4 * 5000);

    // A real new cgroup: the walk that names it puts the interval back to 1 s.
    mkdirSync(join(root, `system.slice/docker-${ID}.scope`));
    now = 30_000;
    expect((await dir.resolve(ino(join(root, `system.slice/docker-${ID}.scope`)))).containerId).toBe(ID);
    expect(dir.stats.walks).toBe(6);
    expect(await walksAt(31_000)).toBe(7);
  });

  it("no cgroup2 mount: ids stay unnamed, nothing is walked", async () => {
    const dir = new CgroupDirectory({ root: null });
    expect(await dir.resolve(12345n, [process.pid])).toMatchObject({ path: "", containerId: "" });
    expect(dir.stats.walks).toBe(0);
  });

  it("finds the cgroup2 mount in mountinfo, with escaped names, whole-tree mounts first", () => {
    const lines = [
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
      "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
      "41 22 0:37 /sub /mnt/bound rw,relatime - cgroup2 cgroup2 rw",
      "40 30 0:37 / /sys/fs/cgroup/my\\040unified rw,relatime shared:9 - cgroup2 cgroup2 rw",
    ];
    expect(cgroup2MountPoint(lines.join("\n"))).toBe("/sys/fs/cgroup/my unified");
    expect(cgroup2MountPoint(lines.slice(0, 3).join("\n"))).toBe("/mnt/bound");
    expect(cgroup2MountPoint(lines.slice(0, 2).join("\n"))).toBeNull();
  });
});

const real = cgroup2Root();
if ("skip" in real) console.log(`SKIP real cgroup2 test: ${real.skip}`);

describe.skipIf("skip" in real)("on the real cgroup2 mount", () => {
  it("a cgroup's id is its directory's inode: named from a process in it, or by a walk", async () => {
    const { root } = real as { root: string };
    const cgroups = new TestCgroups(root);
    const path = `/vigil-dir-test-${process.pid}.slice/docker-${ID}.scope`;
    const scope = cgroups.make(path);
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      writeFileSync(join(scope, "cgroup.procs"), String(sleeper.pid));
      const id = ino(scope);
      const byProc = new CgroupDirectory();
      expect(byProc.root).toBe(root);
      expect(await byProc.resolve(id, [sleeper.pid!])).toMatchObject({ path, containerId: ID, containerRuntime: "docker" });
      expect(byProc.stats).toMatchObject({ fromProc: 1, walks: 0 });
      const byWalk = new CgroupDirectory();
      expect((await byWalk.resolve(id)).path).toBe(path);
      expect(byWalk.stats.walks).toBe(1);
    } finally {
      sleeper.kill("SIGKILL");
      await new Promise((r) => sleeper.once("exit", r));
      await cgroups.remove();
    }
  });
});

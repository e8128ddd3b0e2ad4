import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileAction, type FileEvent } from "@vigil/proto";
import { FileHasher } from "../../../src/platform/linux";
import { FileSensor } from "../../../src/sensors/file";
import { RecordingSink, waitFor } from "../process/recorder";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

function find(sink: RecordingSink, action: FileAction, path: string): FileEvent | undefined {
  for (const e of sink.events) if (e.body.$case === "file" && e.body.file.action === action && e.body.file.path === path) return e.body.file;
  return undefined;
}
const fileEvents = (sink: RecordingSink) => sink.events.flatMap((e) => (e.body.$case === "file" ? [e.body.file] : []));

describe("FileSensor against a real temp directory", () => {
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
    sensor = new FileSensor({ paths: [watched, join(watched, "missing-*")], stateDir: state, renameWindowMs: 300 });
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
    sensor = new FileSensor({ paths: [watched], renameWindowMs: 300 });
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
    sensor = new FileSensor({ paths: [watched] });
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
    const first = new FileSensor({ paths: [watched], stateDir: state });
    await first.start(new RecordingSink());
    await first.stop();

    writeFileSync(join(watched, "edit"), "after!\n");
    unlinkSync(join(watched, "gone"));
    writeFileSync(join(watched, "new"), "hello\n");

    const hasher = new FileHasher();
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched], stateDir: state, hasher });
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
    sensor = new FileSensor({ paths: [watched] });
    await sensor.start(sink);
    const link = join(watched, "ld.so.preload");
    symlinkSync("/etc/hostname", link);
    const ev = await waitFor("CREATE of the link", () => find(sink, FileAction.FILE_ACTION_CREATE, link));
    expect(ev.sha256After).toBe("");
    expect(ev.mode & 0o170000).toBe(0o120000); // S_IFLNK
  });

  it("survives a corrupt saved baseline: reports it and rebuilds", async () => {
    writeFileSync(join(state, "file-baseline.json"), "{not json");
    writeFileSync(join(watched, "a"), "a");
    const sink = new RecordingSink();
    sensor = new FileSensor({ paths: [watched], stateDir: state });
    await sensor.start(sink);
    expect(sensor.health().detail).toContain("ignored corrupt");
    expect(sensor.stats().files).toBe(1);
    writeFileSync(join(watched, "b"), "b");
    await waitFor("CREATE after rebuild", () => find(sink, FileAction.FILE_ACTION_CREATE, join(watched, "b")));
  });
});

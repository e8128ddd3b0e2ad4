import { appendFileSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmdirSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileTailer, type FileTailerOptions } from "../../../src/sensors/tail";
import { numbered, tempDir, waitFor } from "../auth/helpers";

let dir: string;
let cleanup: () => void;
let log: string;
let statePath: string;
const tailers: FileTailer[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  log = path.join(dir, "auth.log");
  statePath = path.join(dir, "state.json");
});
afterEach(async () => {
  for (const t of tailers.splice(0)) await t.stop();
  cleanup();
});

/** A started tailer on `log` that collects lines and status problems. */
async function tail(extra: Partial<FileTailerOptions> = {}) {
  const lines: string[] = [];
  const problems: string[] = [];
  const t = new FileTailer({
    path: log,
    statePath,
    pollMs: 15,
    rotateGraceMs: 150,
    onLines: (l) => void lines.push(...l),
    onStatus: (p) => void problems.push(p),
    ...extra,
  });
  tailers.push(t);
  await t.start();
  return { t, lines, problems };
}

const append = (file: string, lines: string[]) => appendFileSync(file, lines.map((l) => `${l}\n`).join(""));

describe("FileTailer", () => {
  it("starts at the end on first start, then follows appended lines", async () => {
    append(log, ["old 1", "old 2"]);
    const { lines } = await tail();
    append(log, ["new 1", "new 2"]);
    await waitFor(() => lines.length >= 2, "appended lines");
    append(log, ["new 3"]);
    await waitFor(() => lines.length >= 3, "third line");
    expect(lines).toEqual(["new 1", "new 2", "new 3"]);
  });

  it("reads a line as soon as it is written (directory change notice), not at the next poll", async () => {
    const { lines } = await tail({ pollMs: 60_000 });
    append(log, ["now"]);
    // The poll timer is a minute away: only the change notice can deliver it within the wait.
    await waitFor(() => lines.length >= 1, "line woken by the change notice");
    expect(lines).toEqual(["now"]);
    // Rotation: the new file at the same path wakes it too.
    renameSync(log, `${log}.1`);
    append(log, ["after rotation"]);
    await waitFor(() => lines.includes("after rotation"), "line in the new file");
  });
  it("fromStart reads existing content; joining mid-line at the end skips that line's tail", async () => {
    append(log, ["a", "b"]);
    const { lines } = await tail({ fromStart: true });
    await waitFor(() => lines.length >= 2, "existing lines");
    expect(lines).toEqual(["a", "b"]);

    const log2 = path.join(dir, "other.log");
    writeFileSync(log2, "complete\nhalf-writ");
    const other = await tail({ path: log2, statePath: path.join(dir, "s2.json") });
    appendFileSync(log2, "ten\nnext\n");
    await waitFor(() => other.lines.length >= 1, "next line");
    expect(other.lines).toEqual(["next"]);
  });

  it("a line written in two chunks is one line, delivered after its newline", async () => {
    writeFileSync(log, "");
    const { t, lines } = await tail();
    appendFileSync(log, "Accepted password for al");
    await t.poll();
    await t.poll();
    expect(lines).toEqual([]);
    appendFileSync(log, "ice\n");
    await waitFor(() => lines.length >= 1, "completed line");
    expect(lines).toEqual(["Accepted password for alice"]);
    // The saved offset covers only complete lines, and is written after the hand-over.
    const savedOffset = () => JSON.parse(readFileSync(statePath, "utf8")).offset as number;
    await waitFor(() => savedOffset() > 0, "offset saved");
    expect(savedOffset()).toBe(Buffer.byteLength("Accepted password for alice\n"));
  });

  it("rotation (rename + new file) loses and duplicates nothing, including lines written to the old file after the rename", async () => {
    writeFileSync(log, "");
    const { lines } = await tail();
    append(log, numbered("pre", 50));
    await waitFor(() => lines.length >= 50, "pre-rotation lines");
    append(log, numbered("pre", 10, 50)); // maybe not read yet when the rename happens
    renameSync(log, `${log}.1`);
    append(`${log}.1`, numbered("late", 5)); // the writer has not reopened yet
    writeFileSync(log, "");
    append(log, numbered("post", 20));
    await waitFor(() => lines.length >= 85, "all lines");
    expect([...lines].sort()).toEqual([...numbered("pre", 60), ...numbered("late", 5), ...numbered("post", 20)].sort());
    expect(lines.slice(0, 60)).toEqual(numbered("pre", 60)); // the old file is finished first
  });

  it("copytruncate loses and duplicates nothing", async () => {
    writeFileSync(log, "");
    const { t, lines } = await tail();
    append(log, numbered("before", 30));
    await waitFor(() => lines.length >= 30, "lines before truncation");
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    await t.poll(); // size < offset: back to 0
    append(log, numbered("after", 3));
    await waitFor(() => lines.length >= 33, "lines after truncation");
    expect(lines).toEqual([...numbered("before", 30), ...numbered("after", 3)]);
  });

  it("truncation that is rewritten past the old offset between polls is caught by the fingerprint", async () => {
    writeFileSync(log, "");
    const { t, lines } = await tail();
    append(log, ["short one"]);
    await waitFor(() => lines.length >= 1, "first line");
    await t.stop();
    tailers.length = 0;
    // Truncated and rewritten with more bytes than we had read: size alone cannot tell.
    writeFileSync(log, "");
    append(log, ["different content that is longer", "and more"]);
    const again = await tail();
    await waitFor(() => again.lines.length >= 2, "rewritten file from the start");
    expect(again.lines).toEqual(["different content that is longer", "and more"]);
  });

  it("resumes at the saved offset after a restart: nothing re-emitted, nothing missed", async () => {
    writeFileSync(log, "");
    const first = await tail();
    append(log, numbered("one", 10));
    await waitFor(() => first.lines.length >= 10, "first run lines");
    await first.t.stop();
    tailers.length = 0;
    append(log, numbered("while-down", 4));
    const second = await tail();
    append(log, ["after restart"]);
    await waitFor(() => second.lines.length >= 5, "second run lines");
    expect(second.lines).toEqual([...numbered("while-down", 4), "after restart"]);
  });

  it("after a restart across a rotation, finishes the rotated file then reads the new one", async () => {
    writeFileSync(log, "");
    const first = await tail();
    append(log, numbered("a", 3));
    await waitFor(() => first.lines.length >= 3, "first run");
    await first.t.stop();
    tailers.length = 0;
    append(log, numbered("unread-old", 2));
    renameSync(log, `${log}.1`);
    append(log, numbered("new", 2));
    const second = await tail();
    await waitFor(() => second.lines.length >= 4, "old tail + new file");
    expect(second.lines).toEqual([...numbered("unread-old", 2), ...numbered("new", 2)]);
  });

  it("caps overlong lines and keeps going", async () => {
    writeFileSync(log, "");
    const { lines } = await tail({ maxLineBytes: 100, chunkBytes: 64 });
    appendFileSync(log, `${"x".repeat(1000)}\nshort\n`);
    await waitFor(() => lines.length >= 2, "lines");
    expect(lines).toEqual(["x".repeat(100), "short"]);
  });

  it("waits for a missing file and reads it whole when it appears", async () => {
    const { lines, problems } = await tail();
    expect(problems.at(-1)).toMatch(/waiting for .*auth\.log to appear/);
    append(log, ["first", "second"]);
    await waitFor(() => lines.length >= 2, "lines of the new file");
    expect(lines).toEqual(["first", "second"]);
    await waitFor(() => problems.at(-1) === "", "problem cleared");
  });

  it("a corrupt state file is reported and ignored", async () => {
    append(log, ["x"]);
    writeFileSync(statePath, "{not json");
    const { lines, problems } = await tail();
    expect(problems[0]).toMatch(/corrupt tail state/);
    append(log, ["y"]);
    await waitFor(() => lines.length >= 1, "line");
    expect(lines).toEqual(["y"]);
  });

  it("an unwritable state file is reported once and lines keep flowing", async () => {
    writeFileSync(log, "");
    mkdirSync(statePath); // rename onto a directory fails, even for root
    const { lines, problems } = await tail();
    append(log, ["one", "two"]);
    await waitFor(() => lines.length >= 2, "lines");
    append(log, ["three"]);
    await waitFor(() => lines.length >= 3, "more lines");
    expect(problems.filter((p) => p.startsWith("cannot save offset"))).toHaveLength(1);
    expect(problems.at(-1)).toMatch(/^cannot save offset to .*state\.json: E/);
  });

  it("a path it cannot read is reported with the reason, and it recovers", async () => {
    mkdirSync(log); // reading a directory fails with EISDIR even for root
    const { problems, lines } = await tail();
    await waitFor(() => problems.some((p) => /cannot read .*auth\.log: EISDIR/.test(p)), "EISDIR problem");
    rmdirSync(log);
    writeFileSync(log, "");
    // It joins the readable file at its end, as on a first start.
    await waitFor(() => problems.at(-1) === "", "problem cleared");
    append(log, ["back"]);
    await waitFor(() => lines.length >= 1, "line after recovery");
    expect(lines).toEqual(["back"]);
  });
});

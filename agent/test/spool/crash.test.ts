import { spawn } from "node:child_process";
import * as path from "node:path";
import { buildSync } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { drain, open, seqInPayload, tempDir } from "./helpers";

// The writer is bundled to plain JS once: starting node with a TypeScript loader
// costs seconds per child on a busy machine, a bundle starts in tens of ms.
let WRITER = "";
beforeAll(() => {
  WRITER = path.join(tempDir(), "crash-writer.js");
  buildSync({ entryPoints: [path.join(__dirname, "fixtures", "crash-writer.ts")], bundle: true, platform: "node", format: "cjs", outfile: WRITER, logLevel: "error" });
});

/** Runs the writer until it reports `atLeast` appended records, then kill -9. Returns the last reported seq. */
function runAndKill(dir: string, mode: "steady" | "full", atLeast: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, mode], { stdio: ["ignore", "pipe", "pipe"] });
    let reported = 0;
    let stderr = "";
    let buffered = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const l of lines) reported = Math.max(reported, Number(l.split(" ")[1]));
      if (reported >= atLeast && child.exitCode === null && !child.killed) child.kill("SIGKILL");
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve(reported);
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

describe("kill -9 while appending", () => {
  it("reopens consistent: contiguous seqs after the ack, no corrupt record, no seq reused", async () => {
    const dir = tempDir();
    for (const target of [1000, 2500]) {
      const reported = await runAndKill(dir, "steady", target);
      const spool = open(dir);
      const { ackedSeq, lastSeq, discardedBytes } = spool.stats();
      expect(lastSeq).toBeGreaterThanOrEqual(reported);
      const seqs = drain(spool).map((r) => {
        expect(seqInPayload(r)).toBe(r.seq);
        return r.seq;
      });
      expect(seqs[0]).toBe(ackedSeq + 1);
      expect(seqs).toEqual(Array.from({ length: lastSeq - ackedSeq }, (_, i) => ackedSeq + 1 + i));
      // A kill -9 cannot tear a write() that already returned; the page cache keeps it.
      expect(discardedBytes).toBe(0);
      expect(spool.append([{ kind: "process", priority: 0, encode: (s) => Buffer.from(`process#${s};`) }])).toEqual([lastSeq + 1]);
      spool.close();
    }
  });

  it("killed while the full spool compacts: every missing seq is counted as dropped", async () => {
    const dir = tempDir();
    for (const target of [300, 700]) {
      await runAndKill(dir, "full", target);
      const spool = open(dir, { maxBytes: 64 * 1024, segmentBytes: 8 * 1024 });
      expect(spool.warnings).toEqual([]);
      const seqs = drain(spool).map((r) => {
        expect(seqInPayload(r)).toBe(r.seq);
        return r.seq;
      });
      const dropped = Object.values(spool.dropped()).reduce((a, b) => a + b, 0);
      expect(dropped).toBeGreaterThan(0);
      // Nothing acked and nothing refused in this run: seq 1..last is either on disk or counted.
      expect(seqs.length + dropped).toBe(seqs[seqs.length - 1]);
      spool.close();
    }
  });
});

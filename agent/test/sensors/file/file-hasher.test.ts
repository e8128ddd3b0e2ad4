import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileHasher } from "../../../src/platform/linux";

describe("FileHasher on real files", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-hash-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("hashes once per (dev, inode, mtime, size) and again after a change", async () => {
    const f = join(dir, "bin");
    writeFileSync(f, "v1");
    const hasher = new FileHasher();
    expect((await hasher.hash(f)).sha256).toBe(createHash("sha256").update("v1").digest("hex"));
    expect(await hasher.hash(f)).toMatchObject({ outcome: "cached" });
    expect(hasher.stats().hashed).toBe(1);
    writeFileSync(f, "v2");
    utimesSync(f, new Date(), new Date(Date.now() + 5000));
    expect((await hasher.hash(f)).sha256).toBe(createHash("sha256").update("v2").digest("hex"));
    expect(hasher.stats().hashed).toBe(2);
  });

  it("skips files over the bound, without reading them", async () => {
    const big = join(dir, "big");
    writeFileSync(big, "");
    truncateSync(big, 2048); // sparse
    const hasher = new FileHasher({ maxFileBytes: 1024 });
    expect(await hasher.hash(big)).toMatchObject({ sha256: "", outcome: "too-large" });
    expect(hasher.stats().bytesHashed).toBe(0);
  });

  it("does not block on a FIFO, refuses symlinks when asked, and reports missing files", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const link = join(dir, "link");
    writeFileSync(join(dir, "target"), "t");
    symlinkSync(join(dir, "target"), link);
    const hasher = new FileHasher();
    expect(await hasher.hash(fifo)).toMatchObject({ sha256: "", outcome: "not-regular" });
    expect(await hasher.hash(link, { noFollow: true, useCache: false })).toMatchObject({ sha256: "", outcome: "error" });
    expect(await hasher.hash(join(dir, "nope"))).toMatchObject({ sha256: "", outcome: "error" });
  });

  it("refuses work beyond its queue bound instead of growing", async () => {
    const hasher = new FileHasher({ maxQueued: 2, concurrency: 1 });
    const files = Array.from({ length: 6 }, (_, i) => {
      const p = join(dir, `q${i}`);
      writeFileSync(p, `content ${i}`);
      return p;
    });
    const results = await Promise.all(files.map((p) => hasher.hash(p, { useCache: false })));
    const refused = results.filter((r) => r.outcome === "queue-full").length;
    expect(refused).toBeGreaterThan(0);
    expect(results.filter((r) => r.outcome === "hashed").length + refused).toBe(6);
    expect(hasher.stats().refused).toBe(refused);
  });
});

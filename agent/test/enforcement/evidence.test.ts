import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectEvidenceHandler } from "../../src/enforcement/evidence";
import { decodeAddr } from "../../src/enforcement/net-conns";

const dir = mkdtempSync(join(tmpdir(), "vigil-ev-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ctx = { commandId: "e", local: false };
const h = collectEvidenceHandler();

describe("collect_evidence", () => {
  it("lists processes, including this one with its start time", async () => {
    const out = await h.run(h.validate({ processes: true }), "enforce", ctx);
    const procs = out.output.processes as { pid: number; startTimeMs: number; cmdline: string }[];
    const me = procs.find((p) => p.pid === process.pid);
    expect(me?.cmdline).toContain("node");
    // Started before now, and not before the machine booted a year ago.
    expect(me?.startTimeMs).toBeLessThanOrEqual(Date.now());
    expect(me?.startTimeMs).toBeGreaterThan(Date.now() - 365 * 86_400_000);
  });

  it("finds a real listening and an established socket (v4 and v6) with the owning pid", async () => {
    const srv4 = createServer((s) => s.on("error", () => undefined)).listen(0, "127.0.0.1");
    const srv6 = createServer().listen(0, "::1");
    await Promise.all([new Promise((r) => srv4.once("listening", r)), new Promise((r) => srv6.once("listening", r))]);
    const port4 = (srv4.address() as AddressInfo).port;
    const port6 = (srv6.address() as AddressInfo).port;
    const client = createConnection(port4, "127.0.0.1");
    await new Promise((r) => client.once("connect", r));
    try {
      const out = await h.run(h.validate({ connections: true }), "enforce", ctx);
      const conns = out.output.connections as { proto: string; local: string; remote: string; state: string; pid: number | null }[];
      expect(conns).toContainEqual(expect.objectContaining({ proto: "tcp", local: `127.0.0.1:${port4}`, state: "LISTEN", pid: process.pid }));
      expect(conns).toContainEqual(expect.objectContaining({ proto: "tcp", remote: `127.0.0.1:${port4}`, state: "ESTABLISHED", pid: process.pid }));
      expect(conns).toContainEqual(expect.objectContaining({ proto: "tcp6", local: `[::1]:${port6}`, state: "LISTEN" }));
    } finally {
      client.destroy();
      srv4.close();
      srv6.close();
    }
  });

  it("decodes kernel address notation", () => {
    expect(decodeAddr("0100007F:1F90")).toBe("127.0.0.1:8080");
    expect(decodeAddr("B80D0120000000000000000001000000:0050")).toBe("[2001:db8::1]:80");
  });

  it("lists a pid's open files", async () => {
    const path = join(dir, "held-open");
    writeFileSync(path, "x");
    const fd = openSync(path, "r");
    try {
      const out = await h.run(h.validate({ openFilesPid: process.pid }), "enforce", ctx);
      expect((out.output.openFiles as { files: { fd: number; target: string }[] }).files).toContainEqual({ fd, target: path });
    } finally {
      closeSync(fd);
    }
    const gone = await h.run(h.validate({ openFilesPid: 4_000_000 }), "enforce", ctx);
    expect(gone.output.openFiles).toMatchObject({ pid: 4_000_000, error: expect.stringMatching(/ENOENT/) });
  });

  it("hashes regular files and refuses devices and FIFOs without blocking", async () => {
    const path = join(dir, "sample.bin");
    const data = Buffer.from("evidence ".repeat(100_000));
    writeFileSync(path, data);
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const out = await h.run(h.validate({ sha256Paths: [path, "/dev/zero", fifo, join(dir, "missing")] }), "enforce", ctx);
    expect(out.output.sha256).toEqual([
      { path, sha256: createHash("sha256").update(data).digest("hex"), size: data.length },
      { path: "/dev/zero", error: "not a regular file" },
      { path: fifo, error: "not a regular file" },
      { path: join(dir, "missing"), error: expect.stringMatching(/ENOENT/) },
    ]);
  });

  it("returns a file's bytes up to the limit, saying when it truncated", async () => {
    const path = join(dir, "ten");
    writeFileSync(path, "0123456789");
    const out = await h.run(h.validate({ filePath: path, fileMaxBytes: 4 }), "enforce", ctx);
    expect(out.output.file).toMatchObject({ path, size: 10, truncated: true, base64: Buffer.from("0123").toString("base64") });
    const whole = await h.run(h.validate({ filePath: path }), "enforce", ctx);
    expect(whole.output.file).toMatchObject({ truncated: false, base64: Buffer.from("0123456789").toString("base64") });
  });

  it("rejects bad requests naming the field, and monitor mode collects nothing", async () => {
    expect(() => h.validate({})).toThrow(/at least one/);
    expect(() => h.validate({ filePath: "etc/passwd" })).toThrow(/^filePath: must be an absolute path/);
    expect(() => h.validate({ sha256Paths: ["/a", "/b\0c"] })).toThrow(/^sha256Paths\[1\]/);
    expect(() => h.validate({ filePath: "/etc/hostname", fileMaxBytes: 50_000_000 })).toThrow(/^fileMaxBytes/);
    const mon = await h.run(h.validate({ processes: true }), "monitor", ctx);
    expect(mon.output).toEqual({ mode: "monitor", wouldDo: ["collect process list"] });
  });
});

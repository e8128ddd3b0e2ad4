import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { type AddressInfo, createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectEvidenceHandler } from "../../src/enforcement/evidence";
import { decodeAddr } from "../../src/enforcement/net-conns";

const dir = mkdtempSync(join(tmpdir(), "vigil-ev-"));
/** The agent's own state dir, with a key in it as the real one has. */
const stateDir = mkdtempSync(join(tmpdir(), "vigil-ev-state-"));
const agentKey = join(stateDir, "tls", "agent.key");
mkdirSync(join(stateDir, "tls"));
writeFileSync(agentKey, "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAgent\n-----END PRIVATE KEY-----\n", { mode: 0o600 });
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
});
const ctx = { commandId: "e", local: false };
const h = collectEvidenceHandler({ stateDir });
const reason = "incident 42: check the dropper";

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
      { path: "/dev/zero", error: "refused: /dev/ is protected" },
      { path: fifo, error: "refused: not a regular file" },
      { path: join(dir, "missing"), error: expect.stringMatching(/ENOENT/) },
    ]);
  });

  it("returns a file's bytes up to the limit, saying when it truncated", async () => {
    const path = join(dir, "ten");
    writeFileSync(path, "0123456789");
    const out = await h.run(h.validate({ filePath: path, fileMaxBytes: 4, reason }), "enforce", ctx);
    expect(out.output.file).toMatchObject({ path, size: 10, truncated: true, base64: Buffer.from("0123").toString("base64") });
    const whole = await h.run(h.validate({ filePath: path, reason }), "enforce", ctx);
    expect(whole.output.file).toMatchObject({ truncated: false, base64: Buffer.from("0123456789").toString("base64") });
  });

  it("rejects bad requests naming the field, and monitor mode collects nothing", async () => {
    expect(() => h.validate({})).toThrow(/at least one/);
    expect(() => h.validate({ filePath: "etc/passwd" })).toThrow(/^filePath: must be an absolute path/);
    expect(() => h.validate({ sha256Paths: ["/a", "/b\0c"] })).toThrow(/^sha256Paths\[1\]/);
    expect(() => h.validate({ filePath: "/etc/hostname", fileMaxBytes: 50_000_000, reason })).toThrow(/^fileMaxBytes/);
    const mon = await h.run(h.validate({ processes: true }), "monitor", ctx);
    expect(mon.output).toEqual({ mode: "monitor", wouldDo: ["collect process list"] });
  });

  const fileOf = async (filePath: string): Promise<unknown> => (await h.run(h.validate({ filePath, reason }), "enforce", ctx)).output.file;
  const hashOf = async (path: string): Promise<unknown> => ((await h.run(h.validate({ sha256Paths: [path] }), "enforce", ctx)).output.sha256 as unknown[])[0];

  it("refuses a file's contents without a reason, and paths with . or .. components", () => {
    expect(() => h.validate({ filePath: "/etc/hostname" })).toThrow(/^reason: required/);
    expect(() => h.validate({ filePath: "/etc/hostname", reason: "   " })).toThrow(/^reason: required/);
    expect(() => h.validate({ filePath: "/etc/../etc/shadow", reason })).toThrow(/^filePath: must not contain \. or \.\. components/);
    expect(() => h.validate({ filePath: "/etc/./shadow", reason })).toThrow(/^filePath: must not contain/);
    expect(() => h.validate({ sha256Paths: ["/etc/../etc/gshadow"] })).toThrow(/^sha256Paths\[0\]: must not contain/);
  });

  it("never reads host credentials, by name, through a symlink, or through /proc/self/root (the agent runs as root)", async () => {
    // The attack works without the deny list: this test process (root) can read it.
    expect(readFileSync("/etc/shadow").length).toBeGreaterThan(0);
    expect(await fileOf("/etc/shadow")).toEqual({ path: "/etc/shadow", error: "refused: /etc/shadow holds credentials" });
    const outcome = await h.run(h.validate({ filePath: "/etc/shadow", processes: true, reason }), "enforce", ctx);
    expect(outcome).toMatchObject({ ok: false, reason: "filePath /etc/shadow: refused: /etc/shadow holds credentials" });
    expect(outcome.output.processes).toBeDefined();
    const link = join(dir, "innocent.txt");
    symlinkSync("/etc/shadow", link);
    expect(await fileOf(link)).toEqual({ path: link, error: "refused: resolves to /etc/shadow: /etc/shadow holds credentials" });
    expect(await fileOf("/proc/self/root/etc/shadow")).toMatchObject({ error: "refused: /proc/ is protected" });
    // The magic link reached through an innocent name is resolved too.
    const viaRoot = join(dir, "via-root");
    symlinkSync("/proc/self/root/etc", viaRoot);
    expect(await fileOf(join(viaRoot, "shadow"))).toMatchObject({ error: "refused: resolves to /etc/shadow: /etc/shadow holds credentials" });
    expect(await fileOf("/proc/self/environ")).toMatchObject({ error: "refused: /proc/ is protected" });
    expect(await fileOf("/proc/1/root/etc/shadow")).toMatchObject({ error: "refused: /proc/ is protected" });
    expect(await fileOf("/dev/zero")).toMatchObject({ error: "refused: /dev/ is protected" });
    expect(await hashOf("/etc/gshadow")).toMatchObject({ error: "refused: /etc/gshadow holds credentials" });
    expect(await fileOf("/etc/ssh/ssh_host_ed25519_key")).toMatchObject({ error: expect.stringMatching(/^refused: (SSH host private keys are protected|ENOENT)/) });
    expect(await fileOf("/root/.ssh/id_ed25519")).toMatchObject({ error: expect.stringMatching(/^(refused: SSH private keys are protected|ENOENT)/) });
    // Credentials other tools keep in the clear, planted here so the test does not depend on this host.
    const home = join(dir, "home", "alice");
    for (const [rel, why] of [
      [".aws/credentials", "stored credentials"],
      [".pgpass", "stored credentials"],
      [".docker/config.json", "stored credentials"],
      [".kube/config", "stored credentials"],
      [".ssh/id_rsa", "SSH private keys"],
    ]) {
      mkdirSync(join(home, rel, ".."), { recursive: true });
      writeFileSync(join(home, rel), "secret=1");
      expect(await fileOf(join(home, rel)), rel).toMatchObject({ error: `refused: ${why} are protected` });
    }
    writeFileSync(join(home, ".ssh", "id_rsa.pub"), "ssh-rsa AAAA alice");
    writeFileSync(join(home, ".ssh", "authorized_keys"), "ssh-rsa AAAA mallory");
    expect(await fileOf(join(home, ".ssh", "id_rsa.pub"))).toMatchObject({ truncated: false });
    expect(await fileOf(join(home, ".ssh", "authorized_keys"))).toMatchObject({ truncated: false });
    expect(await fileOf("/etc/NetworkManager/system-connections/home.nmconnection")).toMatchObject({ error: "refused: network secrets are protected" });
  });

  it("never reads the agent's own state and keys, nor any private key wherever it sits", async () => {
    expect(await fileOf(agentKey)).toEqual({ path: agentKey, error: `refused: ${stateDir}/ is protected` });
    expect(await fileOf(join(stateDir, "seen-commands.json"))).toMatchObject({ error: expect.stringMatching(/^refused: /) });
    const viaLink = join(dir, "key-link");
    symlinkSync(agentKey, viaLink);
    expect(await fileOf(viaLink)).toMatchObject({ error: `refused: resolves to ${agentKey}: ${stateDir}/ is protected` });
    // A hard link is the same inode under another name: refused by identity.
    const hard = join(dir, "key-hardlink");
    linkSync(agentKey, hard);
    expect(await fileOf(hard)).toMatchObject({ error: `refused: the same file as ${agentKey}, which is protected` });
    expect(await hashOf(hard)).toMatchObject({ error: `refused: the same file as ${agentKey}, which is protected` });
    // Another service's TLS key in an unprotected place: refused by what it is.
    const pem = join(dir, "server.pem");
    writeFileSync(pem, "certificate text\n-----BEGIN EC PRIVATE KEY-----\nxyz\n-----END EC PRIVATE KEY-----\n");
    expect(await fileOf(pem)).toMatchObject({ error: "refused: the file holds a private key" });
    // The controller's database, if it runs on this host.
    const db = join(dir, "vigil.db");
    writeFileSync(db, "SQLite format 3\0");
    expect(await fileOf(db)).toMatchObject({ error: "refused: the Vigil database is protected" });
  });

  it("protects a state dir reached through a symlink by its real path too", async () => {
    const real = mkdtempSync(join(tmpdir(), "vigil-ev-realstate-"));
    try {
      writeFileSync(join(real, "notes"), "state");
      const alias = join(dir, "state-alias");
      symlinkSync(real, alias);
      const viaAlias = collectEvidenceHandler({ stateDir: alias });
      const out = await viaAlias.run(viaAlias.validate({ filePath: join(real, "notes"), reason }), "enforce", ctx);
      expect(out.output.file).toMatchObject({ error: `refused: ${real}/ is protected` });
    } finally {
      rmSync(real, { recursive: true, force: true });
    }
  });

  it("takes extra protected paths from the config, and refuses FIFOs without blocking", async () => {
    const secretDir = join(dir, "controller-data");
    mkdirSync(secretDir);
    writeFileSync(join(secretDir, "notes"), "x");
    const strict = collectEvidenceHandler({ stateDir, denyPaths: [secretDir] });
    const out = await strict.run(strict.validate({ filePath: join(secretDir, "notes"), reason }), "enforce", ctx);
    expect(out.output.file).toMatchObject({ error: `refused: ${secretDir}/ is protected` });
    const fifo = join(dir, "fifo2");
    execFileSync("mkfifo", [fifo]);
    expect(await fileOf(fifo)).toMatchObject({ error: "refused: not a regular file" });
  });

  it("a local user swapping a directory for a symlink while the agent opens the file never gets a protected file out (TOCTOU)", async () => {
    // The protected file is not one of the known secrets (no inode match): only the check of
    // the opened descriptor's path stands between the race and a leak.
    const vault = join(dir, "vault");
    mkdirSync(vault);
    writeFileSync(join(vault, "report"), "TOP-SECRET-VAULT");
    const strict = collectEvidenceHandler({ stateDir, denyPaths: [vault] });
    const race = join(dir, "race");
    mkdirSync(race);
    const realDir = join(race, "real");
    mkdirSync(realDir);
    writeFileSync(join(realDir, "report"), "harmless");
    symlinkSync(vault, join(race, "link"));
    const d = join(race, "d");
    // The attacker: flips d between the harmless directory and a symlink to the vault, as fast as it can.
    const swapper = spawn(
      process.execPath,
      [
        "-e",
        `
      const fs = require("fs"); const [real, link, d] = process.argv.slice(1);
      for (;;) { try { fs.renameSync(real, d); fs.renameSync(d, real); fs.renameSync(link, d); fs.renameSync(d, link); } catch {} }
    `,
        realDir,
        join(race, "link"),
        d,
      ],
      { stdio: "ignore" },
    );
    const seen = new Map<string, number>();
    try {
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const out = await strict.run(strict.validate({ filePath: join(d, "report"), reason }), "enforce", ctx);
        const file = out.output.file as { base64?: string; error?: string };
        const got =
          file.base64 !== undefined
            ? Buffer.from(file.base64, "base64").toString()
            : String(file.error)
                .replace(/\(now .*\)$/, "(now …)")
                .replace(/ENOENT.*/, "ENOENT");
        seen.set(got, (seen.get(got) ?? 0) + 1);
      }
    } finally {
      swapper.kill("SIGKILL");
    }
    console.log("race outcomes:", Object.fromEntries(seen));
    expect([...seen.keys()].some((k) => k.includes("TOP-SECRET"))).toBe(false);
    // The race was really run: both the harmless file and refusals came back.
    expect(seen.get("harmless") ?? 0).toBeGreaterThan(0);
    expect([...seen.keys()].some((k) => k.startsWith("refused: "))).toBe(true);
  });
});

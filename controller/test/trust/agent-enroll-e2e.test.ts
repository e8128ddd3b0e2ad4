import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/main";
import { AGENT_BUNDLE, spawnAgent, type AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { waitFor } from "../support/wait";

const run = promisify(execFile);

async function cliToken(ctl: TestController, args: string[] = []): Promise<{ token: string; caFingerprint: string }> {
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    expect(await main(["token", "create", "--json", "--database", ctl.config.databaseUrl, "--data-dir", ctl.dir, ...args])).toBe(0);
  } finally {
    process.stdout.write = write;
  }
  return JSON.parse(out) as { token: string; caFingerprint: string };
}

async function enrollProcess(ctl: TestController, stateDir: string, token: string, pin?: string): Promise<{ code: number; out: string }> {
  const args = [AGENT_BUNDLE, "enroll", "--controller", `127.0.0.1:${ctl.grpcPort}`, "--state-dir", stateDir, ...(pin ? ["--ca-pin", pin] : [])];
  // The token travels in the environment, as an installer would pass it (not visible in `ps`).
  return run(process.execPath, args, { env: { ...process.env, VIGIL_ENROLL_TOKEN: token } }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

describe("the real agent: enroll, then run over mTLS, renew", () => {
  let ctl: TestController;
  let agent: AgentProcess | undefined;
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "vigil-enroll-"));
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    // Short certificates so renewal and the expiry of the old one happen within the test.
    ctl = await startTestController({ mtls: true, env: { VIGIL_AGENT_CERT_TTL: "8s", VIGIL_REVOCATION_POLL: "500ms" } });
  });
  afterAll(async () => {
    await agent?.stop();
    await ctl?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("refuses a controller whose CA does not match --ca-pin, and spends nothing", async () => {
    const { token } = await cliToken(ctl);
    const r = await enrollProcess(ctl, tmp(), token, "00".repeat(32));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/not the pinned/);
    expect((await ctl.security.trust.tokens.list()).find((t) => token.includes(t.id))?.usesLeft).toBe(1);
  });

  it("enrolls with a pinned CA, stores its identity 0600, streams with its certificate and renews it", async () => {
    const { token, caFingerprint } = await cliToken(ctl, ["--tags", "e2e"]);
    const stateDir = tmp();
    const r = await enrollProcess(ctl, stateDir, token, caFingerprint.toUpperCase().match(/../g)!.join(":"));
    expect(r.out).toMatch(/enrolled id=/);
    expect(r.code).toBe(0);
    const identity = JSON.parse(readFileSync(join(stateDir, "tls", "identity.json"), "utf8")) as { agentId: string; key: string; cert: string };
    for (const f of [identity.key, identity.cert, "ca.crt", "identity.json"]) expect(statSync(join(stateDir, "tls", f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(stateDir, "agent-id"), "utf8").trim()).toBe(identity.agentId);

    const watch = tmp();
    const authLog = join(tmp(), "auth.log");
    writeFileSync(authLog, "");
    agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", watch, "--auth-log", authLog], { stateDir, env: { VIGIL_LOG_LEVEL: "info" } });
    const row = await waitFor("the agent online under its certificate's id", async () => {
      const a = await ctl.registry.get(identity.agentId);
      return a && ctl.registry.isOnline(identity.agentId) ? a : undefined;
    }, 30_000);
    expect(row.tags).toContain("e2e");

    // 8 s certificates renew at ~5 s; the old one expires and the agent reconnects with the new one.
    await waitFor("renewal", () => agent!.output().includes("client certificate renewed"), 20_000);
    const renewed = JSON.parse(readFileSync(join(stateDir, "tls", "identity.json"), "utf8")) as { cert: string };
    expect(renewed.cert).not.toBe(identity.cert);
    await waitFor("the stream on the old certificate closed", () => agent!.output().includes("certificate expired"), 20_000);
    await waitFor("reconnected with the renewed certificate", () => ctl.registry.isOnline(identity.agentId) || undefined, 20_000);
    const audit = (await ctl.audit.query({ limit: 100 })).filter((x) => x.target === `agent:${identity.agentId}`).map((x) => x.action);
    expect(audit).toEqual(expect.arrayContaining(["agent.enrolled", "agent.certificate_renewed"]));
  }, 90_000);
});

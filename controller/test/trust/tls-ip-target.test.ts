import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_BUNDLE, spawnAgent, type AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { waitFor } from "../support/wait";

const run = promisify(execFile);
const WARNING = /Setting the TLS ServerName to an IP address|DEP0123/;

async function enroll(ctl: TestController, stateDir: string): Promise<{ code: number; out: string }> {
  const { token } = await ctl.security.trust.tokens.create({ ttlMs: 600_000, uses: 1, tags: [], createdBy: "test" });
  const args = [AGENT_BUNDLE, "enroll", "--controller", `127.0.0.1:${ctl.grpcPort}`, "--state-dir", stateDir, "--ca-pin", ctl.security.trust.ca.fingerprint];
  return run(process.execPath, args, { env: { ...process.env, VIGIL_ENROLL_TOKEN: token } }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

/**
 * The agent dials its controller by IP (127.0.0.1): SNI carries a host name, not the IP, so Node's
 * "Setting the TLS ServerName to an IP address" deprecation warning never appears; and the
 * certificate is still checked against the IP dialled.
 */
describe("TLS to a controller addressed by IP", () => {
  const dirs: string[] = [];
  const ctls: TestController[] = [];
  let agent: AgentProcess | undefined;
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "vigil-iptarget-"));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    await agent?.stop();
    for (const c of ctls) await c.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("enrolls and streams over mTLS without the ServerName warning", async () => {
    const ctl = await startTestController({ mtls: true });
    ctls.push(ctl);
    const stateDir = tmp();
    const r = await enroll(ctl, stateDir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toMatch(WARNING);
    const authLog = join(tmp(), "auth.log");
    writeFileSync(authLog, "");
    agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", tmp(), "--auth-log", authLog], { stateDir });
    await waitFor("the agent online over mTLS", () => ctl.registry.onlineCount() === 1 || undefined, 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent!.output()}`);
    });
    expect(agent.output()).toMatch(/vigil-agent running/);
    expect(agent.output()).not.toMatch(WARNING);
  });

  it("still refuses a certificate that does not name the IP dialled", async () => {
    // This controller's certificate names 127.0.0.2 and localhost, not 127.0.0.1.
    const ctl = await startTestController({ mtls: true, env: { VIGIL_TLS_NAMES: "localhost,127.0.0.2" } });
    ctls.push(ctl);
    const r = await enroll(ctl, tmp());
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list|ERR_TLS_CERT_ALTNAME_INVALID|altnames/);
    expect(r.out).not.toMatch(WARNING);
  });
});

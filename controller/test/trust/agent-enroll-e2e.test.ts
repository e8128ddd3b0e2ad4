import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/main";
import type { AuthenticatedPeer } from "../../src/trust/mtls-authenticator";
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
  /** Every certificate a stream authenticated with, in order (the revocation watcher is told of each). */
  const authenticated: AuthenticatedPeer[] = [];
  const queries = { started: 0, done: 0, failed: [] as string[] };
  beforeAll(async () => {
    // Short certificates so renewal and the expiry of the old one happen within the test; long
    // enough that a slow agent start on a loaded machine still connects before its first one expires.
    ctl = await startTestController({ mtls: true, env: { VIGIL_AGENT_CERT_TTL: "20s", VIGIL_REVOCATION_POLL: "500ms" } });
    const watcher = ctl.security.trust.watcher;
    const track = watcher.track.bind(watcher);
    watcher.track = (peer) => {
      authenticated.push(peer);
      track(peer);
    };
    // Counted for the failure message only: how the watcher's revocation queries fared.
    const certs = ctl.security.trust.certs;
    const revokedSince = certs.revokedSince.bind(certs);
    certs.revokedSince = (since) => {
      queries.started++;
      return revokedSince(since).then(
        (r) => {
          queries.done++;
          return r;
        },
        (err: unknown) => {
          queries.failed.push(String(err));
          throw err;
        },
      );
    };
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
    const identity = JSON.parse(readFileSync(join(stateDir, "tls", "identity.json"), "utf8")) as { agentId: string; key: string; cert: string; notAfterMs: number };
    for (const f of [identity.key, identity.cert, "ca.crt", "identity.json"]) expect(statSync(join(stateDir, "tls", f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(stateDir, "agent-id"), "utf8").trim()).toBe(identity.agentId);

    const watch = tmp();
    const authLog = join(tmp(), "auth.log");
    writeFileSync(authLog, "");
    agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", watch, "--auth-log", authLog], { stateDir, env: { VIGIL_LOG_LEVEL: "info" } });
    const row = await waitFor(
      "the agent online under its certificate's id",
      async () => {
        const a = await ctl.registry.get(identity.agentId);
        return a && ctl.registry.isOnline(identity.agentId) ? a : undefined;
      },
      60_000,
    );
    expect(row.tags).toContain("e2e");
    const oldCert = authenticated.find((p) => p.agentId === identity.agentId)!;
    expect(oldCert.notAfter).toBe(identity.notAfterMs);
    const streamOnOld = ctl.registry.session(identity.agentId);
    expect(streamOnOld).toBeDefined();

    // The agent renews at 2/3 of the lifetime; it must do so while the old certificate still works.
    // Deadlines follow the certificate, not a fixed window from now: a slow start leaves less time.
    const untilExpiry = () => Math.max(0, oldCert.notAfter - Date.now());
    await waitFor("renewal", () => agent!.output().includes("client certificate renewed"), untilExpiry() + 5_000);
    const renewed = JSON.parse(readFileSync(join(stateDir, "tls", "identity.json"), "utf8")) as { cert: string; notAfterMs: number };
    expect(renewed.cert).not.toBe(identity.cert);
    expect(renewed.notAfterMs).toBeGreaterThan(oldCert.notAfter);

    // The controller closes the stream on the old certificate once it expires (the watcher polls
    // every 500 ms), and the agent comes back on a new stream authenticated with the renewed one.
    const onRenewed = await waitFor(
      "the stream on the old certificate closed and the agent back on the renewed certificate",
      () => {
        const last = authenticated.filter((p) => p.agentId === identity.agentId).at(-1);
        const current = ctl.registry.session(identity.agentId);
        return last && last.serial !== oldCert.serial && current && current !== streamOnOld && ctl.registry.isOnline(identity.agentId) ? last : undefined;
      },
      untilExpiry() + 30_000,
    ).catch((err: Error) => {
      const streams = authenticated.map((p) => `${p.serial.slice(0, 8)} until ${new Date(p.notAfter).toISOString()}`).join(", ");
      const q = `revocation queries: ${queries.started} started, ${queries.done} done, ${queries.failed.length} failed ${queries.failed.slice(-3).join("; ")}`;
      throw new Error(`${err.message}\nstreams authenticated: ${streams}\n${q}\nagent output (tail):\n${agent!.output().slice(-4000)}`);
    });
    expect(onRenewed.notAfter).toBeGreaterThan(oldCert.notAfter);
    const audit = (await ctl.audit.query({ limit: 100 })).filter((x) => x.target === `agent:${identity.agentId}`).map((x) => x.action);
    expect(audit).toEqual(expect.arrayContaining(["agent.enrolled", "agent.certificate_renewed"]));
  }, 150_000);
});

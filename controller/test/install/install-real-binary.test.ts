import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { waitFor } from "../support/wait";
import { REPO, run, scratch, SCRIPT } from "./install-support";

const SEA = join(REPO, "dist", "vigil-agent");
const BUNDLE = join(REPO, "dist", "vigil-agent.cjs");
if (!existsSync(BUNDLE)) console.warn("skipping the bundle install test: dist/vigil-agent.cjs missing (npm run bundle:agent)");

/**
 * The real single-executable agent (dist/vigil-agent, ~100 MB), downloaded from
 * the controller by the served script, verified and installed into a scratch
 * root; enrolled for real when this build has `enroll`.
 */
describe("install script with the real agent binary", () => {
  let ctl: TestController;
  let root: string;

  beforeAll(async () => {
    if (!existsSync(SEA)) {
      console.warn("dist/vigil-agent missing: building it (npm run build:agent)");
      const b = await run("npm", ["run", "build:agent"], { timeoutMs: 240_000 });
      if (b.code !== 0) throw new Error(`npm run build:agent failed:\n${b.stderr.slice(-2000)}`);
    }
    ctl = await startTestController({ mtls: true, https: true, env: { VIGIL_AGENT_BINARY: SEA } });
    root = scratch("vigil-root-real-");
  }, 300_000);
  afterAll(async () => {
    await ctl?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("downloads, verifies, installs and enrolls (when the build can)", async () => {
    const { token } = await ctl.security.trust.tokens.create({ ttlMs: 600_000, uses: 1, tags: [], createdBy: "test" });
    // As install-command prints it: pinned fetch, the token from the environment (not argv).
    const res = await run("sh", ["-c", 'curl -fsSLk --pinnedpubkey "$3" "$1/install.sh" | dash -s -- --root "$2"', "sh", ctl.httpUrl, root, ctl.httpTls!.pin()], {
      timeoutMs: 120_000,
      env: { VIGIL_ENROLL_TOKEN: token },
    });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/sha256 verified: [0-9a-f]{64}/);
    const installed = join(root, "usr/local/bin/vigil-agent");
    const version = (await run(installed, ["version"])).stdout.trim();
    expect(version).toBe((await run(SEA, ["version"])).stdout.trim());
    expect(version).not.toBe("");

    const canEnroll = /^ {2}enroll\b/m.test((await run(SEA, ["--help"])).stdout);
    if (canEnroll) {
      const identity = JSON.parse(readFileSync(join(root, "var/lib/vigil/tls/identity.json"), "utf8")) as { agentId: string; caFingerprint: string };
      expect(identity.caFingerprint.replace(/:/g, "").toLowerCase()).toBe(ctl.security.trust.ca.fingerprint.replace(/:/g, "").toLowerCase());
      expect(identity.agentId).toMatch(/\S/);
    } else {
      console.warn("dist/vigil-agent has no `enroll` command (an older build): checked that the script skips enrollment");
      expect(res.stderr).toContain("no 'enroll' command; skipping enrollment");
    }
  });

  // The current agent code (the esbuild bundle behind the SEA, run by this Node) through the
  // installer's offline path: real enrollment over mTLS, then the installed config runs the agent.
  it.skipIf(!existsSync(BUNDLE))("offline install of the current agent bundle: real enrollment, then it connects with mTLS", async () => {
    const dir = scratch("vigil-bundle-");
    const r2 = scratch("vigil-root-bundle-");
    try {
      copyFileSync(BUNDLE, join(dir, "vigil-agent.cjs"));
      // The bundle form is two files: the agent's script and, beside it, the payload it loads on demand (enroll's x509).
      copyFileSync(join(dirname(BUNDLE), "vigil-agent-payload.cjs"), join(dir, "vigil-agent-payload.cjs"));
      const launcher = join(dir, "vigil-agent");
      writeFileSync(launcher, `#!/bin/sh\nexec '${process.execPath}' '${join(dir, "vigil-agent.cjs")}' "$@"\n`);
      chmodSync(launcher, 0o755);
      if (!/^ {2}enroll\b/m.test((await run(launcher, ["--help"])).stdout)) throw new Error("the agent bundle has no enroll command");
      const { token } = await ctl.security.trust.tokens.create({ ttlMs: 600_000, uses: 1, tags: ["from-token"], createdBy: "test" });
      const pin = ctl.security.trust.ca.fingerprint;
      const tokenFile = join(dir, "token");
      writeFileSync(tokenFile, token, { mode: 0o600 });
      const res = await run("dash", [SCRIPT, "--root", r2, "--binary", launcher, "--controller", `127.0.0.1:${ctl.grpcPort}`, "--ca-pin", pin, "--token-file", tokenFile, "--tags", "install-test"], {
        timeoutMs: 60_000,
      });
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect(res.stdout).toContain("vigil-agent enrolled id=");
      const identity = JSON.parse(readFileSync(join(r2, "var/lib/vigil/tls/identity.json"), "utf8")) as { agentId: string };

      // Run it as the unit would, with the state dir under the scratch root and light sensors.
      const agent = spawn(
        join(r2, "usr/local/bin/vigil-agent"),
        ["run", "--config", join(r2, "etc/vigil/agent.yaml"), "--state-dir", join(r2, "var/lib/vigil"), "--watch", dir, "--auth-log", join(dir, "auth.log")],
        { stdio: "ignore" },
      );
      try {
        const seen = await waitFor(
          "installed agent online",
          async () => {
            const a = (await ctl.get(`/api/v1/agents/${identity.agentId}`)).body;
            return a?.online ? a : undefined;
          },
          30_000,
          200,
        );
        // The config's tags are the host's word: shown apart, never what guard rails read.
        expect(seen.selfReportedTags).toContain("install-test");
        expect(seen.tags).toEqual(["from-token"]);
      } finally {
        agent.kill("SIGTERM");
        await new Promise((r) => agent.once("exit", r));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(r2, { recursive: true, force: true });
    }
  });
});

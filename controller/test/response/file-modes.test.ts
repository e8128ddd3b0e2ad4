import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startController } from "../../src/app/bootstrap";
import { loadConfig } from "../../src/config/config";
import { createLogger } from "../../src/logging/logger";
import { startTestController } from "../support/controller";
import { request } from "../support/http";

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

/** Every file and directory below `dir` that group or others can read, write or enter. */
function exposed(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if ((st.mode & 0o077) !== 0 && !p.endsWith("ca.crt")) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * The database holds webhook secrets, API key hashes and collected evidence; the data dir
 * the CA and command-signing keys. A local user must read none of it (once any could: 0644).
 */
describe("the controller's files are its own user's alone", () => {
  it("a started controller (mTLS, a webhook secret, traffic through the WAL) has nothing readable by others", async () => {
    const ctl = await startTestController({ mtls: true });
    try {
      const hook = await request(ctl, "POST", "/api/v1/webhooks", { name: "x", url: "http://127.0.0.1:9/x", enabled: false });
      expect(hook.status).toBe(201);
      const db = join(ctl.dir, "vigil.db");
      for (const f of [db, `${db}-wal`, `${db}-shm`]) {
        expect(existsSync(f), f).toBe(true);
        expect(mode(f), f).toBe("600");
      }
      expect(mode(ctl.dir)).toBe("700");
      expect(mode(join(ctl.dir, "keys"))).toBe("700");
      expect(mode(join(ctl.dir, "keys", "command-signing.pem"))).toBe("600");
      expect(mode(join(ctl.dir, "ca"))).toBe("700");
      expect(mode(join(ctl.dir, "ca", "ca.key"))).toBe("600");
      expect(exposed(ctl.dir)).toEqual([]);
    } finally {
      await ctl.dispose();
    }
  });

  it("an existing install with a 0644 database, journals and keys is tightened at start", async () => {
    const parent = mkdtempSync(join(tmpdir(), "vigil-modes-"));
    dirs.push(parent);
    const dataDir = join(parent, "data");
    const boot = () =>
      startController(loadConfig({ http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir, database: `sqlite:${join(dataDir, "vigil.db")}`, logLevel: "warn", insecureGrpc: true }, process.env), {
        logger: createLogger("error"),
      });
    const first = await boot();
    await first.stop();
    // What an older version (or a careless copy) left behind.
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, "keys"), 0o755);
    for (const f of readdirSync(dataDir)) if (f.startsWith("vigil.db")) chmodSync(join(dataDir, f), 0o644);
    chmodSync(join(dataDir, "keys", "command-signing.pem"), 0o644);
    expect(exposed(dataDir).length).toBeGreaterThan(3);

    const second = await boot();
    try {
      expect(exposed(dataDir)).toEqual([]);
      expect(mode(join(dataDir, "vigil.db"))).toBe("600");
    } finally {
      await second.stop();
    }
  });

  it("never tightens a shared directory the database was put in", async () => {
    const shared = mkdtempSync(join(tmpdir(), "vigil-shared-"));
    dirs.push(shared);
    chmodSync(shared, 0o1777);
    const dataDir = join(shared, "data");
    mkdirSync(dataDir);
    const ctl = await startController(
      loadConfig({ http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir, database: `sqlite:${join(shared, "vigil.db")}`, logLevel: "warn", insecureGrpc: true }, process.env),
      { logger: createLogger("error") },
    );
    try {
      expect((statSync(shared).mode & 0o7777).toString(8)).toBe("1777");
      expect(mode(join(shared, "vigil.db"))).toBe("600");
    } finally {
      await ctl.stop();
    }
  });
});
